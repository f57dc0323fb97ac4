"""What DynamoDB's operators mean on AttributeValues: equality, order, size and arithmetic."""

from __future__ import annotations

import base64
import decimal
from decimal import Decimal
from typing import Any

from sluiceway.core.attrvalue import MAX_NUMBER_DIGITS, AttributeValue, normalize_number
from sluiceway.core.errors import ValidationError

TYPE_NAMES = ("S", "SS", "N", "NS", "B", "BS", "BOOL", "NULL", "L", "M")
ORDERED_TYPES = ("N", "S", "B")

# The long names DynamoDB's messages about update operands use.
HUMAN_TYPES = {
    "S": "STRING",
    "N": "NUMBER",
    "B": "BINARY",
    "SS": "STRING SET",
    "NS": "NUMBER SET",
    "BS": "BINARY SET",
    "BOOL": "BOOLEAN",
    "NULL": "NULL",
    "L": "LIST",
    "M": "MAP",
}

# Exact for any sum or difference of two numbers in DynamoDB's range (1E-130 .. 1E+126).
_EXACT = decimal.Context(prec=300, traps=[decimal.InvalidOperation])
_LARGEST = Decimal("9.9999999999999999999999999999999999999E+125")
_SMALLEST = Decimal("1E-130")


def type_of(value: AttributeValue) -> str:
    """The type key of an AttributeValue: ``"S"``, ``"N"``, ``"M"`` ..."""
    return next(iter(value))


def _scalar(kind: str, data: Any) -> Any:
    if kind == "N":
        return Decimal(data)
    if kind == "B":
        return base64.b64decode(data)
    return data


def _comparable(value: AttributeValue) -> Any:
    kind = type_of(value)
    data = value[kind]
    if kind in ("SS", "NS", "BS"):
        return frozenset(_scalar(kind[0], member) for member in data)
    return _scalar(kind, data)


def equal(left: AttributeValue | None, right: AttributeValue | None) -> bool:
    """DynamoDB's ``=``: same type and same value (numbers by value, sets as sets)."""
    if left is None or right is None:
        return False
    kind = type_of(left)
    if kind != type_of(right):
        return False
    if kind == "L":
        ours, theirs = left["L"], right["L"]
        return len(ours) == len(theirs) and all(map(equal, ours, theirs))
    if kind == "M":
        ours, theirs = left["M"], right["M"]
        return ours.keys() == theirs.keys() and all(equal(ours[k], theirs[k]) for k in ours)
    return bool(_comparable(left) == _comparable(right))


def order_key(value: AttributeValue | None) -> tuple[str, Any] | None:
    """A key that orders numbers, strings and binaries as DynamoDB does; None for other types."""
    if value is None:
        return None
    kind = type_of(value)
    if kind not in ORDERED_TYPES:
        return None
    data = value[kind]
    # Strings order by their UTF-8 bytes, binaries by their bytes.
    return kind, str(data).encode() if kind == "S" else _scalar(kind, data)


def compare(op: str, left: AttributeValue | None, right: AttributeValue | None) -> bool:
    """``left op right`` for one of = <> < <= > >=; values of different types are unordered."""
    if op == "=":
        return equal(left, right)
    if op == "<>":
        return not equal(left, right)
    ours, theirs = order_key(left), order_key(right)
    if ours is None or theirs is None or ours[0] != theirs[0]:
        return False
    if op == "<":
        return bool(ours[1] < theirs[1])
    if op == "<=":
        return bool(ours[1] <= theirs[1])
    if op == ">":
        return bool(ours[1] > theirs[1])
    return bool(ours[1] >= theirs[1])


def size_of(value: AttributeValue | None) -> AttributeValue | None:
    """DynamoDB's ``size()``: characters of a string, bytes of a binary, members otherwise."""
    if value is None:
        return None
    kind = type_of(value)
    data = value[kind]
    if kind == "B":
        return {"N": str(len(base64.b64decode(data)))}
    if kind in ("S", "SS", "NS", "BS", "L", "M"):
        return {"N": str(len(data))}
    return None


def begins_with(value: AttributeValue | None, prefix: AttributeValue | None) -> bool:
    if value is None or prefix is None:
        return False
    kind = type_of(value)
    if kind not in ("S", "B") or type_of(prefix) != kind:
        return False
    return bool(_scalar(kind, value[kind]).startswith(_scalar(kind, prefix[kind])))


def contains(value: AttributeValue | None, operand: AttributeValue | None) -> bool:
    """A substring of a string, a member of a set, or an element of a list."""
    if value is None or operand is None:
        return False
    kind, other = type_of(value), type_of(operand)
    if kind == "L":
        return any(equal(element, operand) for element in value["L"])
    if kind in ("SS", "NS", "BS"):
        return other == kind[0] and _scalar(other, operand[other]) in _comparable(value)
    if kind in ("S", "B") and other == kind:
        return bool(_scalar(kind, operand[kind]) in _scalar(kind, value[kind]))
    return False


def number(value: Decimal) -> AttributeValue:
    """A computed number as an AttributeValue, with DynamoDB's errors when it does not fit."""
    if not value.is_zero():
        if abs(value) > _LARGEST:
            raise ValidationError(
                "Number overflow. Attempting to store a number with magnitude larger than "
                "supported range"
            )
        if abs(value) < _SMALLEST:
            raise ValidationError(
                "Number underflow. Attempting to store a number with magnitude smaller than "
                "supported range"
            )
        if len(value.normalize(_EXACT).as_tuple().digits) > MAX_NUMBER_DIGITS:
            raise ValidationError("Attempting to store more than 38 significant digits in a Number")
    return {"N": normalize_number(value)}


def add(left: str, right: str) -> AttributeValue:
    return number(_EXACT.add(Decimal(left), Decimal(right)))


def subtract(left: str, right: str) -> AttributeValue:
    return number(_EXACT.subtract(Decimal(left), Decimal(right)))


def set_union(current: AttributeValue, extra: AttributeValue) -> AttributeValue:
    """Members of `current` then those of `extra` it lacks (sets of one type)."""
    kind = type_of(current)
    seen = {_scalar(kind[0], member) for member in current[kind]}
    members = list(current[kind])
    for member in extra[kind]:
        key = _scalar(kind[0], member)
        if key not in seen:
            seen.add(key)
            members.append(member)
    return {kind: members}


def set_difference(current: AttributeValue, removed: AttributeValue) -> AttributeValue | None:
    """Members of `current` not in `removed`; None when nothing is left."""
    kind = type_of(current)
    gone = {_scalar(kind[0], member) for member in removed[kind]}
    members = [m for m in current[kind] if _scalar(kind[0], m) not in gone]
    return {kind: members} if members else None


def describe(value: AttributeValue) -> str:
    """A value as DynamoDB's messages quote it: ``AttributeValue: {N:5}``."""
    kind = type_of(value)
    return f"AttributeValue: {{{kind}:{value[kind]}}}"
