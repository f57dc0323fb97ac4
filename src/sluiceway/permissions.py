"""What each function may do, derived from the graph.

`grants_for` is the single source of truth: the local engine enforces it on every handle call
and the AWS renderer turns the same grants into IAM statements scoped to resource ARNs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, assert_never

from sluiceway.core.errors import AccessDenied
from sluiceway.specs import (
    DirectSource,
    FunctionSpec,
    HttpSource,
    Permission,
    QueueSource,
    StreamSource,
    TopicSource,
)

ResourceKind = Literal["queue", "table", "stream", "topic", "sms", "iot"]

TABLE_READ_ACTIONS = frozenset(
    {
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:Scan",
        "dynamodb:BatchGetItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:DescribeTable",
    }
)
TABLE_WRITE_ACTIONS = frozenset(
    {
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:DescribeTable",
    }
)
QUEUE_SEND_ACTIONS = frozenset({"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"})
QUEUE_CONSUME_ACTIONS = frozenset(
    {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
    }
)
STREAM_READ_ACTIONS = frozenset(
    {
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
    }
)
TOPIC_PUBLISH_ACTIONS = frozenset({"sns:Publish"})
IOT_PUBLISH_ACTIONS = frozenset({"iot:Publish"})

# The IAM action each handle method needs, and the permission that grants it.
ACTION_OF_METHOD: dict[str, tuple[ResourceKind, str, str]] = {
    "put_item": ("table", "dynamodb:PutItem", "writes"),
    "delete_item": ("table", "dynamodb:DeleteItem", "writes"),
    "get_item": ("table", "dynamodb:GetItem", "reads"),
    "query": ("table", "dynamodb:Query", "reads"),
    "scan": ("table", "dynamodb:Scan", "reads"),
    "send_message": ("queue", "sqs:SendMessage", "sends"),
    "change_message_visibility": ("queue", "sqs:ChangeMessageVisibility", "consumes"),
    "publish": ("topic", "sns:Publish", "publishes"),
    "publish_sms": ("sms", "sns:Publish", "sends"),
    "publish_iot": ("iot", "iot:Publish", "publishes"),
}


@dataclass(frozen=True)
class Grant:
    kind: ResourceKind
    name: str
    actions: frozenset[str]


def source_grants(function: FunctionSpec) -> tuple[Grant, ...]:
    """What a function's event source needs (granted implicitly, like AWS's roles): reading
    its queue or stream, and sending to its on-failure destination. Topics, HTTP routes and
    pipes invoke the function; that right belongs to the caller, not the function."""
    source = function.source
    match source:
        case QueueSource():
            return (Grant("queue", source.queue, QUEUE_CONSUME_ACTIONS),)
        case StreamSource():
            grants = [Grant("stream", source.table, STREAM_READ_ACTIONS)]
            if source.on_failure is not None and source.on_failure.kind == "queue":
                grants.append(
                    Grant("queue", source.on_failure.name, frozenset({"sqs:SendMessage"}))
                )
            elif source.on_failure is not None:
                grants.append(Grant("topic", source.on_failure.name, TOPIC_PUBLISH_ACTIONS))
            return tuple(grants)
        case TopicSource() | HttpSource() | DirectSource():
            return ()
        case _:
            assert_never(source)


def grants_for(function: FunctionSpec) -> tuple[Grant, ...]:
    """Every grant a function holds: its event source's plus its `uses=` permissions."""
    declared = tuple(Grant(p.kind, p.name, p.actions) for p in function.uses)
    return merge(source_grants(function) + declared)


def merge(grants: Iterable[Grant]) -> tuple[Grant, ...]:
    merged: dict[tuple[str, str], set[str]] = {}
    for grant in grants:
        merged.setdefault((grant.kind, grant.name), set()).update(grant.actions)
    return tuple(
        Grant(kind, name, frozenset(actions))  # type: ignore[arg-type]
        for (kind, name), actions in sorted(merged.items())
    )


def allows(grants: Iterable[Grant], kind: ResourceKind, name: str, action: str) -> bool:
    return any(g.kind == kind and g.name == name and action in g.actions for g in grants)


def permission(kind: ResourceKind, name: str, verb: str) -> Permission:
    """The `Permission` a handle exposes as e.g. `orders.writes`."""
    actions = {
        ("table", "reads"): TABLE_READ_ACTIONS,
        ("table", "writes"): TABLE_WRITE_ACTIONS,
        ("queue", "sends"): QUEUE_SEND_ACTIONS,
        ("queue", "consumes"): QUEUE_CONSUME_ACTIONS,
        ("topic", "publishes"): TOPIC_PUBLISH_ACTIONS,
        ("sms", "sends"): TOPIC_PUBLISH_ACTIONS,
        ("iot", "publishes"): IOT_PUBLISH_ACTIONS,
    }[(kind, verb)]
    return Permission(kind, name, actions, f"{name}.{verb}")


def denied(function: str, method: str, name: str, *, then: str = "") -> AccessDenied:
    """The AccessDenied for `function` calling handle `method` on resource `name` without the
    permission: what it lacked, on what, and the `uses=` entry that grants it."""
    kind, action, verb = ACTION_OF_METHOD[method]
    if kind == "sms":
        resource, grant = "phone numbers", "app.sms.sends"
    elif kind == "iot":
        resource, grant = "IoT topics", "iot.publishes (iot = app.iot(...))"
    else:
        resource, grant = f"{kind} '{name}'", f"{name}.{verb}"
    return AccessDenied(
        function,
        action,
        resource,
        f"add {grant} to uses=[...] in the decorator of '{function}'{then}",
    )
