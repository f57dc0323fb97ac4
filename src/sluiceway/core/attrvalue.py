"""The DynamoDB AttributeValue codec: Python values <-> AttributeValue JSON.

Python side, as boto3's resource API has it: ``str``, numbers (``int``, ``Decimal``;
``float`` is accepted where boto3 refuses it, through its shortest exact text), ``bytes``,
``bool``, ``None``, ``list``, ``dict`` and non-empty ``set``s. Numbers come back as
``Decimal``, as in boto3.

Wire side: ``{"S": "x"}``, ``{"N": "1.5"}`` (numbers are strings), ``{"B": "<base64>"}``,
``{"BOOL": true}``, ``{"NULL": true}``, ``{"M": {...}}``, ``{"L": [...]}``, ``{"SS": [...]}``,
``{"NS": [...]}``, ``{"BS": [...]}``.
"""

from __future__ import annotations

import base64
import decimal
import math
import re
from collections.abc import Mapping, Set
from decimal import Decimal
from typing import Any, Literal

from sluiceway.core.errors import ValidationError

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]
KeyType = Literal["S", "N", "B"]

MAX_ITEM_BYTES = 400 * 1024
MAX_NUMBER_DIGITS = 38
_MAX_POSITIVE = Decimal("9.9999999999999999999999999999999999999E+125")
_MIN_POSITIVE = Decimal("1E-130")
_NUMBER_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\Z")
_CONTEXT = decimal.Context(prec=MAX_NUMBER_DIGITS + 2, traps=[decimal.InvalidOperation])


# -- numbers -------------------------------------------------------------------------------


def normalize_number(value: str | int | float | Decimal) -> str:
    """The canonical text DynamoDB stores for a number, after checking its limits."""
    if isinstance(value, bool):
        raise ValidationError("a boolean is not a number; use BOOL")
    if isinstance(value, str) and not _NUMBER_TEXT.match(value):
        raise ValidationError(f"{value!r} is not a valid number")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"number {value!r} is not finite; DynamoDB rejects NaN/Infinity")
        value = repr(value)
    try:
        number = Decimal(value) if not isinstance(value, Decimal) else value
    except decimal.InvalidOperation:
        raise ValidationError(f"{value!r} is not a valid number") from None
    if not number.is_finite():
        raise ValidationError(f"number {value!r} is not finite; DynamoDB rejects NaN/Infinity")
    if number.is_zero():
        return "0"
    sign, digits, exponent = number.normalize(_CONTEXT).as_tuple()
    assert isinstance(exponent, int)
    if len(digits) > MAX_NUMBER_DIGITS:
        raise ValidationError(
            f"number {value!s} has {len(digits)} significant digits; DynamoDB keeps at most 38"
        )
    magnitude = abs(number)
    if magnitude > _MAX_POSITIVE or magnitude < _MIN_POSITIVE:
        raise ValidationError(
            f"number {value!s} is outside DynamoDB's range (1E-130 .. 9.99...E+125 by magnitude)"
        )
    text = "".join(map(str, digits))
    # value = int(text) * 10**exponent; plain notation unless absurdly long
    if exponent >= 0:
        body = text + "0" * exponent if len(text) + exponent <= 40 else None
    else:
        point = len(text) + exponent
        if point > 0:
            body = f"{text[:point]}.{text[point:]}"
        else:
            body = "0." + "0" * (-point) + text if point > -30 else None
    if body is None:
        power = len(text) - 1 + exponent
        mantissa = f"{text[0]}.{text[1:]}" if len(text) > 1 else text
        body = f"{mantissa}E{power:+d}"
    return ("-" if sign else "") + body


# -- Python -> wire ---------------------------------------------------------------------------


def serialize(value: Any, *, where: str = "value") -> AttributeValue:
    """One Python value as an AttributeValue."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": _utf8(value, where)}
    if isinstance(value, int | float | Decimal):
        return {"N": _number(value, where)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"B": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, Mapping):
        return {"M": serialize_item(value, where=where)}
    if isinstance(value, list | tuple):
        return {"L": [serialize(v, where=f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, Set):
        return _serialize_set(value, where)
    raise ValidationError(
        f"{where}: a {type(value).__name__} cannot be stored in DynamoDB "
        "(use str, int, Decimal, float, bytes, bool, None, list, dict or set)"
    )


def _utf8(text: str, where: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(
            f"{where}: the string is not valid UTF-8 (an unpaired surrogate)"
        ) from None
    return text


def serialize_item(item: Mapping[str, Any], *, where: str = "item") -> Item:
    """A Python mapping as an item (a mapping of attribute names to AttributeValues)."""
    out: Item = {}
    for name, value in item.items():
        if not isinstance(name, str):
            raise ValidationError(f"{where}: attribute names must be strings, got {name!r}")
        if not name:
            raise ValidationError(f"{where}: an attribute name must not be empty")
        out[name] = serialize(value, where=f"{where}.{name}")
    return out


def _number(value: int | float | Decimal, where: str) -> str:
    try:
        return normalize_number(value)
    except ValidationError as error:
        raise ValidationError(f"{where}: {error}") from None


def _serialize_set(values: Set[Any], where: str) -> AttributeValue:
    if not values:
        raise ValidationError(f"{where}: DynamoDB does not store empty sets")
    if all(isinstance(v, str) for v in values):
        return {"SS": sorted(_utf8(v, where) for v in values)}
    if all(isinstance(v, int | float | Decimal) and not isinstance(v, bool) for v in values):
        numbers = {_number(v, where) for v in values}
        return {"NS": sorted(numbers, key=Decimal)}
    if all(isinstance(v, bytes) for v in values):
        return {"BS": [base64.b64encode(v).decode("ascii") for v in sorted(values)]}
    raise ValidationError(f"{where}: a set must hold only strings, only numbers or only bytes")


# -- wire -> Python ---------------------------------------------------------------------------


def deserialize(value: AttributeValue) -> Any:
    """One AttributeValue as a Python value (numbers as Decimal, as boto3 returns them)."""
    ((kind, data),) = value.items()
    if kind == "S":
        return data
    if kind == "N":
        return Decimal(data)
    if kind == "BOOL":
        return bool(data)
    if kind == "NULL":
        return None
    if kind == "M":
        return deserialize_item(data)
    if kind == "L":
        return [deserialize(v) for v in data]
    if kind == "B":
        return base64.b64decode(data)
    if kind == "SS":
        return set(data)
    if kind == "NS":
        return {Decimal(v) for v in data}
    if kind == "BS":
        return {base64.b64decode(v) for v in data}
    raise ValidationError(f"unknown AttributeValue type {kind!r}")


def deserialize_item(item: Mapping[str, AttributeValue]) -> dict[str, Any]:
    """An item (or a stream image such as ``NewImage``) as a plain Python dict."""
    return {name: deserialize(value) for name, value in item.items()}


def to_plain_json(value: Any) -> Any:
    """A deserialized value made JSON-ready: numbers to int/float, bytes to base64, sets sorted.

    >>> json.dumps(plain(orders.get_item({"orderID": "o-1"})))     # doctest: +SKIP
    """
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {k: to_plain_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain_json(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((to_plain_json(v) for v in value), key=lambda v: (str(type(v)), v))
    return value


# -- checking wire values -------------------------------------------------------------------


def validate_attribute_value(value: Any, *, where: str = "value") -> AttributeValue:
    """Check that `value` is a well-formed AttributeValue; return it with numbers normalized."""
    if not isinstance(value, dict) or len(value) != 1:
        raise ValidationError(f"{where}: an AttributeValue is an object with exactly one type key")
    ((kind, data),) = value.items()
    if kind == "S":
        if not isinstance(data, str):
            raise ValidationError(f"{where}: S must be a string")
        return value
    if kind == "N":
        if not isinstance(data, str):
            raise ValidationError(f"{where}: N must be a number written as a string")
        return {"N": _number_text(data, where)}
    if kind in ("BOOL", "NULL"):
        if not isinstance(data, bool) or (kind == "NULL" and data is not True):
            raise ValidationError(f"{where}: {kind} must be true" + ("/false" * (kind == "BOOL")))
        return value
    if kind == "B":
        _check_base64(data, where)
        return value
    if kind == "M":
        if not isinstance(data, dict):
            raise ValidationError(f"{where}: M must be an object")
        return {
            "M": {k: validate_attribute_value(v, where=f"{where}.{k}") for k, v in data.items()}
        }
    if kind == "L":
        if not isinstance(data, list):
            raise ValidationError(f"{where}: L must be an array")
        return {
            "L": [validate_attribute_value(v, where=f"{where}[{i}]") for i, v in enumerate(data)]
        }
    if kind in ("SS", "NS", "BS"):
        if not isinstance(data, list) or not data:
            raise ValidationError(f"{where}: {kind} must be a non-empty array")
        if len(set(map(str, data))) != len(data):
            raise ValidationError(f"{where}: {kind} must not contain duplicates")
        if kind == "NS":
            return {"NS": [_number_text(v, where) for v in data]}
        for v in data:
            if kind == "SS" and not isinstance(v, str):
                raise ValidationError(f"{where}: SS must hold strings")
            if kind == "BS":
                _check_base64(v, where)
        return value
    raise ValidationError(f"{where}: unknown AttributeValue type {kind!r}")


def _number_text(data: Any, where: str) -> str:
    if not isinstance(data, str) or not _NUMBER_TEXT.match(data):
        raise ValidationError(f"{where}: {data!r} is not a valid number")
    return _number(Decimal(data), where)


def _check_base64(data: Any, where: str) -> None:
    if not isinstance(data, str):
        raise ValidationError(f"{where}: binary values are base64 strings")
    try:
        base64.b64decode(data, validate=True)
    except ValueError:
        raise ValidationError(f"{where}: {data[:20]!r} is not valid base64") from None


# -- sizes and keys ---------------------------------------------------------------------------


def item_size(item: Mapping[str, AttributeValue]) -> int:
    """The item's size as DynamoDB counts it toward the 400 KB limit (names plus values)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: AttributeValue) -> int:
    ((kind, data),) = value.items()
    if kind == "S":
        return len(str(data).encode())
    if kind == "N":
        return _number_size(data)
    if kind == "B":
        return len(base64.b64decode(data))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in data.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in data)
    if kind == "SS":
        return sum(len(v.encode()) for v in data)
    if kind == "NS":
        return sum(_number_size(v) for v in data)
    if kind == "BS":
        return sum(len(base64.b64decode(v)) for v in data)
    return 0


def _number_size(text: str) -> int:
    digits = len(text.lstrip("-").replace(".", "").split("E")[0].strip("0")) or 1
    return (digits + 1) // 2 + 1


def key_bytes(value: AttributeValue, key_type: KeyType) -> bytes:
    """An order-preserving byte encoding of a key value (memcmp order = DynamoDB order).

    Strings sort by UTF-8 bytes and binaries by their bytes, as DynamoDB sorts them; numbers
    are encoded so that byte order is numeric order, which lets SQLite's index serve queries.
    """
    data = value[key_type]
    if key_type == "S":
        return str(data).encode()
    if key_type == "B":
        return base64.b64decode(data)
    return _number_key(Decimal(data))


def _number_key(number: Decimal) -> bytes:
    if number.is_zero():
        return b"\x01"
    sign, digits, exponent = number.normalize(_CONTEXT).as_tuple()
    assert isinstance(exponent, int)
    # value = 0.d1d2... * 10**scale with d1 != 0
    scale = len(digits) + exponent
    text = bytes(48 + d for d in digits)
    if not sign:
        return b"\x02" + (scale + 1000).to_bytes(2, "big") + text
    inverted = bytes(48 + 9 - d for d in digits)
    return b"\x00" + (65535 - (scale + 1000)).to_bytes(2, "big") + inverted + b"\xff"


plain = to_plain_json
