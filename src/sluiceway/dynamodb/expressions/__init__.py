"""DynamoDB's expression language, implemented once for every operation that takes expressions.

Each ``parse_*`` function reads one expression of a request, resolving its ``#name`` and
``:value`` placeholders, and raises ``ValidationError`` with the message DynamoDB gives for an
invalid one. A ``Usage`` shared by the expressions of one request then checks that every
placeholder supplied was used::

    usage = Usage()
    condition = parse_condition("attribute_not_exists(#id)", names, values, usage)
    update = parse_update("SET #n = #n + :one", names, values, usage)
    usage.check(names, values)
    if condition.evaluate(old):
        new = update.apply(old, key_names=("id",))

Items are in AttributeValue form (``{"id": {"S": "a"}, "n": {"N": "1"}}``); ``None`` stands
for an item that does not exist.
"""

from __future__ import annotations

from sluiceway.dynamodb.expressions.condition import Condition, parse_condition, parse_filter
from sluiceway.dynamodb.expressions.key_condition import KeyCondition, parse_key_condition
from sluiceway.dynamodb.expressions.paths import Path, value_of
from sluiceway.dynamodb.expressions.projection import Projection, parse_projection
from sluiceway.dynamodb.expressions.update import Update, parse_update
from sluiceway.dynamodb.expressions.usage import Names, Usage, Values

__all__ = [
    # placeholders
    "Names",
    "Values",
    "Usage",
    # conditions and filters
    "Condition",
    "parse_condition",
    "parse_filter",
    # queries
    "KeyCondition",
    "parse_key_condition",
    # updates
    "Update",
    "parse_update",
    # projections
    "Projection",
    "parse_projection",
    # document paths
    "Path",
    "value_of",
]
