"""KeyConditionExpression: ``pk = :v`` and at most one condition on the sort key."""

from __future__ import annotations

from dataclasses import dataclass

from sluiceway.core.attrvalue import AttributeValue, Item
from sluiceway.core.errors import ValidationError
from sluiceway.dynamodb.expressions import _values
from sluiceway.dynamodb.expressions.condition import (
    BeginsWith,
    Between,
    Compare,
    Contains,
    Exists,
    In,
    Logical,
    Node,
    Not,
    Operand,
    PathOperand,
    SizeOperand,
    TypeIs,
    ValueOperand,
    parse_condition,
)
from sluiceway.dynamodb.expressions.usage import Names, Usage, Values
from sluiceway.dynamodb.keys import SortKeyCondition, SortOp

_SAME: dict[str, SortOp] = {"=": "=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_FLIPPED: dict[str, SortOp] = {"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_KIND = "KeyConditionExpression"


@dataclass(frozen=True)
class KeyCondition:
    """A parsed KeyConditionExpression: the partition key's value and the sort-key condition."""

    partition_value: AttributeValue
    sort: SortKeyCondition | None

    def matches_sort(self, value: AttributeValue | None) -> bool:
        """Whether a sort-key value satisfies the sort condition (True when there is none)."""
        if self.sort is None:
            return True
        op, bounds = self.sort.op, self.sort.values
        if op == "between":
            return _values.compare(">=", value, bounds[0]) and _values.compare(
                "<=", value, bounds[1]
            )
        if op == "begins_with":
            return _values.begins_with(value, bounds[0])
        return _values.compare(op, value, bounds[0])

    def matches(self, item: Item, partition_key: str, sort_key: str | None) -> bool:
        """Whether `item` lies in the queried range (for an index read by scanning)."""
        if not _values.equal(item.get(partition_key), self.partition_value):
            return False
        return self.sort is None or self.matches_sort(item.get(sort_key or ""))


def parse_key_condition(
    text: str,
    names: Names | None,
    values: Values | None,
    usage: Usage | None = None,
    *,
    partition_key: str,
    sort_key: str | None,
) -> KeyCondition:
    """Parse a query's key condition against the key names of the table or index queried."""
    root = parse_condition(text, names, values, usage, kind=_KIND).root
    conditions: dict[str, tuple[SortOp, tuple[AttributeValue, ...]]] = {}
    for leaf in _leaves(root):
        name, op, bounds = _key_condition(leaf)
        if name in conditions:
            raise ValidationError("KeyConditionExpressions must only contain one condition per key")
        conditions[name] = (op, bounds)
    if partition_key not in conditions:
        raise ValidationError(f"Query condition missed key schema element: {partition_key}")
    op, (partition_value, *_) = conditions.pop(partition_key)
    if op != "=":
        raise ValidationError("Query key condition not supported")
    sort = None
    for name, (op, bounds) in conditions.items():
        if name != sort_key:
            if sort_key is not None and sort_key not in conditions:
                raise ValidationError(f"Query condition missed key schema element: {sort_key}")
            raise ValidationError("Query key condition not supported")
        sort = SortKeyCondition(op, bounds)
    return KeyCondition(partition_value, sort)


def _leaves(root: Node) -> list[Node]:
    """The conditions joined by AND, left to right; any other operator is an error."""
    leaves: list[Node] = []
    pending = [root]
    while pending:
        node = pending.pop()
        if isinstance(node, Logical) and node.op == "AND":
            pending += reversed(node.operands)
            continue
        if isinstance(node, Logical | Not | In | Exists | TypeIs | Contains) or (
            isinstance(node, Compare) and node.op == "<>"
        ):
            raise ValidationError(
                f"Invalid operator used in KeyConditionExpression: {_operator_name(node)}"
            )
        leaves.append(node)
    return leaves


def _operator_name(node: Node) -> str:
    if isinstance(node, Logical):
        return node.op
    if isinstance(node, Not):
        return "NOT"
    if isinstance(node, In):
        return "IN"
    if isinstance(node, Exists):
        return "attribute_not_exists" if node.negated else "attribute_exists"
    if isinstance(node, TypeIs):
        return "attribute_type"
    if isinstance(node, Contains):
        return "contains"
    return "<>"


def _key_condition(node: Node) -> tuple[str, SortOp, tuple[AttributeValue, ...]]:
    operands: tuple[Operand, ...]
    op: SortOp
    if isinstance(node, Compare):
        subject, other, op = node.left, node.right, _SAME[node.op]
        if isinstance(other, PathOperand) and not isinstance(subject, PathOperand):
            subject, other, op = other, subject, _FLIPPED[node.op]  # ":v < sk" is "sk > :v"
        operands = (other,)
    elif isinstance(node, Between):
        subject, operands, op = node.subject, (node.low, node.high), "between"
    elif isinstance(node, BeginsWith):
        subject, operands, op = node.subject, (node.prefix,), "begins_with"
    else:
        raise ValidationError(
            f"Invalid operator used in KeyConditionExpression: {_operator_name(node)}"
        )
    for operand in (subject, *operands):
        if isinstance(operand, SizeOperand):
            raise ValidationError("Invalid operator used in KeyConditionExpression: size")
    if not isinstance(subject, PathOperand):
        raise ValidationError(
            "Invalid condition in KeyConditionExpression: No key attribute specified"
        )
    bounds = tuple(_value(operand) for operand in operands)
    if len(subject.path) > 1:
        raise ValidationError("KeyConditionExpressions cannot have conditions on nested attributes")
    return str(subject.path[0]), op, bounds


def _value(operand: Operand) -> AttributeValue:
    if not isinstance(operand, ValueOperand):
        raise ValidationError(
            "Invalid condition in KeyConditionExpression: Multiple attribute names used in one "
            "condition"
        )
    return operand.value
