"""The model's constraints (required, length, range, enum, pattern) checked as AWS's
Coral services do, with their message: ``1 validation error detected: Value null at
'tableName' failed to satisfy constraint: Member must not be null``."""

from __future__ import annotations

import functools
import re
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from sluiceway.core.wire.errors import WireError

MAX_REPORTED = 10


def check(shape: Shape | None, value: Any) -> None:
    """Raise ValidationException listing what `value` breaks of `shape`'s constraints."""
    if shape is None:
        return
    problems: list[str] = []
    _walk(shape, value, "", problems)
    if problems:
        count = len(problems)
        head = f"{count} validation error{'s' if count > 1 else ''} detected: "
        raise WireError("ValidationException", head + "; ".join(problems[:MAX_REPORTED]))


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "java.nio.HeapByteBuffer"
    if isinstance(value, (list, dict)):
        return str(value)[:200]
    return str(value)[:200]


@functools.cache
def _pattern(text: str) -> re.Pattern[str] | None:
    try:
        return re.compile(text)
    except re.error:
        return None


def _walk(shape: Shape, value: Any, where: str, problems: list[str]) -> None:
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            return
        for name in shape.required_members:
            if value.get(name) is None:
                problems.append(
                    f"Value null at '{_join(where, name)}' failed to satisfy constraint: "
                    "Member must not be null"
                )
        for name, member in shape.members.items():
            if value.get(name) is not None:
                _walk(member, value[name], _join(where, name), problems)
        return
    _bounds(shape, value, where, problems)
    if isinstance(shape, ListShape) and isinstance(value, list):
        for i, item in enumerate(value, 1):
            _walk(shape.member, item, f"{where}.{i}.member", problems)
    elif isinstance(shape, MapShape) and isinstance(value, dict):
        for key, item in value.items():
            _walk(shape.key, key, f"{where}.{key}.key", problems)
            _walk(shape.value, item, f"{where}.{key}.value", problems)
    elif shape.type_name == "string" and isinstance(value, str):
        enum = shape.metadata.get("enum")
        if enum and value not in enum:
            problems.append(
                f"Value '{_show(value)}' at '{where}' failed to satisfy constraint: Member "
                f"must satisfy enum value set: [{', '.join(enum)}]"
            )
        pattern = shape.metadata.get("pattern")
        compiled = _pattern(pattern) if pattern else None
        if compiled is not None and compiled.fullmatch(value) is None:
            problems.append(
                f"Value '{_show(value)}' at '{where}' failed to satisfy constraint: Member "
                f"must satisfy regular expression pattern: {pattern}"
            )


def _join(where: str, name: str) -> str:
    return f"{where}.{_camel(name)}" if where else _camel(name)


def _bounds(shape: Shape, value: Any, where: str, problems: list[str]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is None and high is None:
        return
    size: float
    if isinstance(value, (str, bytes, list, dict)):
        size = len(value)
        what = "length"
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        size, what = value, "value"
    else:
        return
    if low is not None and size < low:
        problems.append(
            f"Value '{_show(value)}' at '{where}' failed to satisfy constraint: Member must "
            f"have {what} greater than or equal to {low}"
        )
    if high is not None and size > high:
        problems.append(
            f"Value '{_show(value)}' at '{where}' failed to satisfy constraint: Member must "
            f"have {what} less than or equal to {high}"
        )
