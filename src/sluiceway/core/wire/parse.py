"""Requests into an operation's input, as boto3 would have passed it: one walk of the input
shape per protocol (json, query, rest-json). Wrong types are AWS's SerializationException
(json) or a ValidationError-like answer of the service (query); blobs come out as bytes,
timestamps as aware datetimes."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

from sluiceway.core.wire.errors import WireError, serialization

_SCALARS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null"


# -- json -----------------------------------------------------------------------------------


def json_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise serialization(f"the request body is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise serialization("the request body must be a JSON object")
    return data


def from_json(shape: Shape | None, value: Any, where: str = "") -> Any:
    """Check `value` against `shape` and convert what JSON cannot carry (blobs, times)."""
    if shape is None or value is None:
        return value
    kind = shape.type_name
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            raise serialization(f"{where or 'the request'} must be an object, got {_kind(value)}")
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            key = member.serialization.get("name", name)
            if key in value and value[key] is not None:
                out[name] = from_json(member, value[key], f"{where}.{name}" if where else name)
        return out
    if isinstance(shape, ListShape):
        if not isinstance(value, list):
            raise serialization(f"{where} must be an array, got {_kind(value)}")
        return [from_json(shape.member, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(shape, MapShape):
        if not isinstance(value, dict):
            raise serialization(f"{where} must be an object, got {_kind(value)}")
        return {k: from_json(shape.value, v, f"{where}.{k}") for k, v in value.items()}
    if kind == "blob":
        return _blob(value, where)
    if kind == "timestamp":
        return _timestamp(value, where)
    allowed = _SCALARS.get(kind)
    if allowed is not None:
        if isinstance(value, bool) and kind != "boolean":
            raise serialization(f"{where} must be {kind}, got a boolean")
        if not isinstance(value, allowed):
            raise serialization(f"{where} must be {_article(kind)}, got {_kind(value)}")
    return value


def _article(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _blob(value: Any, where: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise serialization(f"{where} must be base64 text, got {_kind(value)}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise serialization(f"{where} is not valid base64") from None


def _timestamp(value: Any, where: str) -> datetime:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            try:
                return datetime.fromtimestamp(float(value), UTC)
            except ValueError:
                raise serialization(f"{where} is not a timestamp") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise serialization(f"{where} must be a timestamp, got {_kind(value)}")


# -- query ----------------------------------------------------------------------------------


def from_query(
    op: OperationModel, params: Mapping[str, str], names: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Flattened form parameters (``Attributes.entry.1.key``, ``Entries.member.2.Id``) into
    the input structure. `names` restores query names a json model lost ("Shape.Member")."""
    shape = op.input_shape
    if shape is None:
        return {}
    result = _query_structure(shape, params, "", names or {})
    return result if isinstance(result, dict) else {}


def _query_name(parent: Shape, name: str, member: Shape, names: Mapping[str, str]) -> str:
    return names.get(f"{parent.name}.{name}") or member.serialization.get("name", name)


def _query_value(shape: Shape, params: Mapping[str, str], prefix: str, names: Any) -> Any:
    if isinstance(shape, StructureShape):
        return _query_structure(shape, params, prefix, names)
    if isinstance(shape, ListShape):
        return _query_list(shape, params, prefix, names, flattened=False)
    if isinstance(shape, MapShape):
        return _query_map(shape, params, prefix, names, flattened=False)
    if prefix not in params:
        return None
    return query_scalar(shape, params[prefix], prefix)


def _query_structure(
    shape: StructureShape, params: Mapping[str, str], prefix: str, names: Mapping[str, str]
) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    for name, member in shape.members.items():
        key = _query_name(shape, name, member, names)
        full = f"{prefix}.{key}" if prefix else key
        flattened = bool(member.serialization.get("flattened")) or f"{shape.name}.{name}" in names
        if isinstance(member, ListShape):
            value: Any = _query_list(member, params, full, names, flattened=flattened)
        elif isinstance(member, MapShape):
            value = _query_map(member, params, full, names, flattened=flattened)
        else:
            value = _query_value(member, params, full, names)
        if value is not None:
            out[name] = value
    if prefix and not out:
        return None
    return out


def _indexed(params: Mapping[str, str], prefix: str) -> list[int]:
    start = prefix + "."
    seen: set[int] = set()
    for key in params:
        if key.startswith(start):
            head = key[len(start) :].split(".", 1)[0]
            if head.isdigit():
                seen.add(int(head))
    return sorted(seen)


def _query_list(
    shape: ListShape, params: Mapping[str, str], prefix: str, names: Any, *, flattened: bool
) -> list[Any] | None:
    base = prefix if flattened else f"{prefix}.{shape.member.serialization.get('name', 'member')}"
    if not flattened and f"{prefix}" in params and params[prefix] == "":
        return []  # an empty list is sent as "Name="
    indexes = _indexed(params, base)
    if not indexes:
        return None
    return [_query_value(shape.member, params, f"{base}.{i}", names) for i in indexes]


def _query_map(
    shape: MapShape, params: Mapping[str, str], prefix: str, names: Any, *, flattened: bool
) -> dict[str, Any] | None:
    base = prefix if flattened else f"{prefix}.entry"
    # `names` may give a map's entry names too ("TagMap.key" -> "Key"), as for members.
    key_name = names.get(f"{shape.name}.key") or shape.key.serialization.get("name", "key")
    value_name = names.get(f"{shape.name}.value") or shape.value.serialization.get("name", "value")
    out: dict[str, Any] = {}
    for i in _indexed(params, base):
        key = params.get(f"{base}.{i}.{key_name}")
        if key is None:
            continue
        out[key] = _query_value(shape.value, params, f"{base}.{i}.{value_name}", names)
    return out or None


def query_scalar(shape: Shape, text: str, where: str) -> Any:
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
    except ValueError:
        raise WireError(
            "InvalidParameterValue", f"Value ({text}) for parameter {where} is invalid."
        ) from None
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise WireError(
                "InvalidParameterValue", f"Value ({text}) for parameter {where} is invalid."
            )
        return text.lower() == "true"
    if kind == "blob":
        return _blob(text, where)
    if kind == "timestamp":
        return _timestamp(text, where)
    return text
