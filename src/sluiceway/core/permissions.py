"""Grants and the checks against them: the IAM action each handle call needs, whether a
function's grants allow it, and the AccessDenied that says what is missing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sluiceway.core.errors import AccessDenied
from sluiceway.core.specs import Permission

ResourceKind = Literal["queue", "table", "stream", "topic", "sms", "iot"]


# The IAM action each handle method needs, and the permission that grants it.
ACTION_OF_METHOD: dict[str, tuple[ResourceKind, str, str]] = {
    "put_item": ("table", "dynamodb:PutItem", "writes"),
    "delete_item": ("table", "dynamodb:DeleteItem", "writes"),
    "get_item": ("table", "dynamodb:GetItem", "reads"),
    "query": ("table", "dynamodb:Query", "reads"),
    "scan": ("table", "dynamodb:Scan", "reads"),
    "update_item": ("table", "dynamodb:UpdateItem", "writes"),
    "batch_get_item": ("table", "dynamodb:BatchGetItem", "reads"),
    "batch_write_item": ("table", "dynamodb:BatchWriteItem", "writes"),
    "condition_check_item": ("table", "dynamodb:ConditionCheckItem", "reads"),
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


def permission(kind: ResourceKind, name: str, verb: str, actions: frozenset[str]) -> Permission:
    """The `Permission` a handle exposes as e.g. `orders.writes`: the service's `actions`."""
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
