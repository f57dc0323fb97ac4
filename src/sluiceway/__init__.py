"""sluiceway: declare an event-driven AWS backend once in Python; run it durably on one
machine, or deploy the same app to AWS.

    from sluiceway import App

    app = App("orders")
    queue = app.queue("POC-Queue")
    ...

The local engine lives in `sluiceway.local` (`LocalEngine`); this package holds only the
declarations and the pure helpers a handler may use, so importing it stays cheap.
"""

from sluiceway.app import App
from sluiceway.core.attrvalue import deserialize, deserialize_item, plain, serialize, serialize_item
from sluiceway.core.errors import (
    AccessDenied,
    ConditionalCheckFailed,
    DeclarationError,
    NotBound,
    NotFound,
    SluicewayError,
    ValidationError,
)
from sluiceway.core.specs import ParameterRef, Permission
from sluiceway.dynamodb.handle import Table
from sluiceway.dynamodb.keys import SortKey, SortKeyCondition
from sluiceway.dynamodb.spec import GlobalIndex, LocalIndex
from sluiceway.sns.handle import Sms, Topic
from sluiceway.sqs.handle import Queue

__all__ = [
    # declaring an app
    "App",
    "GlobalIndex",
    "LocalIndex",
    "ParameterRef",
    "Permission",
    "Queue",
    "SortKey",
    "SortKeyCondition",
    "Sms",
    "Table",
    "Topic",
    # DynamoDB AttributeValue codec (for stream images) and plain JSON for answers
    "deserialize",
    "deserialize_item",
    "plain",
    "serialize",
    "serialize_item",
    # errors
    "AccessDenied",
    "ConditionalCheckFailed",
    "DeclarationError",
    "NotBound",
    "NotFound",
    "SluicewayError",
    "ValidationError",
]
