"""AWS IoT SQL's values and how its expressions evaluate on a message (the parser is
`sluiceway.iot.rule_sql`): *Undefined* for what the payload lacks, the syntax tree's nodes,
and AWS's rules for comparisons and the logical operators (a comparison with Undefined, or
``=`` between different types, is Undefined; AND/OR/NOT take booleans or "true"/"false")."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


class _Undefined:
    def __repr__(self) -> str:
        return "Undefined"


UNDEFINED: Any = _Undefined()
"""AWS IoT SQL's *Undefined*: no value (an attribute the payload lacks)."""


@dataclass(frozen=True)
class Message:
    """An MQTT message as the rules engine sees it."""

    topic: str
    payload: bytes
    timestamp_ms: int = 0
    client_id: str = "n/a"  # an MQTT subscriber is not told who published
    _parsed: list[Any] = field(default_factory=list, compare=False, repr=False)

    @property
    def document(self) -> Any:
        """The payload parsed as JSON, or Undefined when it is not JSON."""
        if not self._parsed:
            try:
                value = json.loads(self.payload)
            except ValueError:
                value = UNDEFINED
            self._parsed.append(value)
        return self._parsed[0]


# -- the syntax tree ---------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Attribute:
    path: tuple[str | int, ...]


@dataclass(frozen=True)
class Function:
    name: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Compare:
    op: str
    left: Any
    right: Any


@dataclass(frozen=True)
class Logic:
    op: str  # AND, OR
    left: Any
    right: Any


@dataclass(frozen=True)
class Not:
    operand: Any


# -- evaluation --------------------------------------------------------------------------


def evaluate(node: Any, message: Message) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Attribute):
        value = message.document
        for part in node.path:
            if isinstance(part, int):
                value = value[part] if isinstance(value, list) and part < len(value) else UNDEFINED
            else:
                value = value.get(part, UNDEFINED) if isinstance(value, dict) else UNDEFINED
            if value is UNDEFINED:
                return UNDEFINED
        return value
    if isinstance(node, Function):
        return _call(node, message)
    if isinstance(node, Compare):
        return _compare(node.op, evaluate(node.left, message), evaluate(node.right, message))
    if isinstance(node, Not):
        value = boolean(evaluate(node.operand, message))
        return UNDEFINED if value is UNDEFINED else not value
    assert isinstance(node, Logic)
    left = boolean(evaluate(node.left, message))
    right = boolean(evaluate(node.right, message))
    if left is UNDEFINED or right is UNDEFINED:
        return UNDEFINED
    return (left and right) if node.op == "AND" else (left or right)


def _call(node: Function, message: Message) -> Any:
    if node.name == "timestamp":
        return message.timestamp_ms
    if node.name == "clientid":
        return message.client_id
    if not node.args:
        return message.topic
    levels = message.topic.split("/")
    level = int(node.args[0].value)
    return levels[level - 1] if level <= len(levels) else UNDEFINED


def boolean(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return UNDEFINED


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_number(value: Any) -> Any:
    if _is_number(value):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return UNDEFINED
    return UNDEFINED


def _compare(op: str, left: Any, right: Any) -> Any:
    if left is UNDEFINED or right is UNDEFINED:
        return UNDEFINED
    if op in ("=", "<>"):
        same = (_is_number(left) and _is_number(right)) or (
            type(left) is type(right) and not _is_number(left)
        )
        if not same:
            return UNDEFINED
        return (left == right) if op == "=" else (left != right)
    if isinstance(left, str) and isinstance(right, str):
        pair: tuple[Any, Any] = (left, right)
    else:
        pair = (_as_number(left), _as_number(right))
        if pair[0] is UNDEFINED or pair[1] is UNDEFINED:
            return UNDEFINED
    a, b = pair
    return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
