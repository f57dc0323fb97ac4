"""Which expression attribute names and values the expressions of one request used."""

from __future__ import annotations

import re
from collections.abc import Mapping

from sluiceway.core.attrvalue import AttributeValue
from sluiceway.core.errors import ValidationError

Names = Mapping[str, str]
"""ExpressionAttributeNames: ``{"#n": "name"}``."""
Values = Mapping[str, AttributeValue]
"""ExpressionAttributeValues: ``{":v": {"S": "x"}}``."""

_NAME_KEY = re.compile(r"#[A-Za-z0-9_]+\Z")
_VALUE_KEY = re.compile(r":[A-Za-z0-9_]+\Z")


class Usage:
    """The placeholders one request's expressions used, checked once all are parsed.

    >>> usage = Usage()
    >>> condition = parse_condition("#s = :s", names, values, usage)     # doctest: +SKIP
    >>> usage.check(names, values)   # raises if a name or value was never used  # doctest: +SKIP
    """

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.values: set[str] = set()

    def check(self, names: Names | None, values: Values | None) -> None:
        """Raise DynamoDB's ValidationException for malformed or unused names and values."""
        if names is not None:
            if not names:
                raise ValidationError("ExpressionAttributeNames must not be empty")
            for key in names:
                if not _NAME_KEY.match(key):
                    raise ValidationError(
                        f'ExpressionAttributeNames contains invalid key: Syntax error; key: "{key}"'
                    )
        if values is not None:
            if not values:
                raise ValidationError("ExpressionAttributeValues must not be empty")
            for key in values:
                if not _VALUE_KEY.match(key):
                    raise ValidationError(
                        "ExpressionAttributeValues contains invalid key: "
                        f'Syntax error; key: "{key}"'
                    )
        _check_unused("ExpressionAttributeNames", names, self.names)
        _check_unused("ExpressionAttributeValues", values, self.values)


def _check_unused(what: str, given: Mapping[str, object] | None, used: set[str]) -> None:
    unused = [key for key in given or {} if key not in used]
    if unused:
        raise ValidationError(
            f"Value provided in {what} unused in expressions: keys: {{{', '.join(unused)}}}"
        )
