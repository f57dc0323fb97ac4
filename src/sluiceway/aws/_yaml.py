"""A small YAML writer for the template: block style, readable, no dependency.

The template is plain data (dicts, lists, strings, ints, bools; intrinsics in their long form),
so a writer this size suffices. A string is written bare only when YAML cannot read it as
anything else; otherwise it is double-quoted with every character outside YAML's printable
set escaped, so any text reads back exactly (the tests check this against PyYAML).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_BARE = re.compile(r"[A-Za-z][A-Za-z0-9_./-]*(?::{1,2}[A-Za-z0-9_./-]+)*")
# Bare words YAML 1.1 reads as booleans or null.
_RESERVED = frozenset({"y", "yes", "n", "no", "true", "false", "on", "off", "null", "nan", "inf"})
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def dump(document: Mapping[str, Any]) -> str:
    """`document` as a YAML document (ending in a newline)."""
    lines: list[str] = []
    _mapping(document, 0, lines)
    return "\n".join(lines) + "\n"


def _mapping(value: Mapping[str, Any], indent: int, lines: list[str]) -> None:
    pad = " " * indent
    for key, item in value.items():
        if not isinstance(key, str):
            raise TypeError(f"a template key must be a string, not {key!r}")
        if _is_block(item):
            lines.append(f"{pad}{scalar(key)}:")
            _block(item, indent + 2, lines)
        else:
            lines.append(f"{pad}{scalar(key)}: {_inline(item)}")


def _sequence(value: Sequence[Any], indent: int, lines: list[str]) -> None:
    pad = " " * indent
    for item in value:
        if _is_block(item):
            start = len(lines)
            _block(item, indent + 2, lines)
            # The item's first line carries the dash: "- key: value" / "- - value".
            lines[start] = f"{pad}- {lines[start][indent + 2 :]}"
        else:
            lines.append(f"{pad}- {_inline(item)}")


def _block(value: Any, indent: int, lines: list[str]) -> None:
    if isinstance(value, Mapping):
        _mapping(value, indent, lines)
    else:
        _sequence(value, indent, lines)


def _is_block(value: Any) -> bool:
    if isinstance(value, Mapping):
        return bool(value)
    return isinstance(value, list | tuple) and bool(value)


def _inline(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, list | tuple):
        return "[]"
    return scalar(value)


def scalar(value: Any) -> str:
    """One scalar as YAML text."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if _BARE.fullmatch(value) and value.lower() not in _RESERVED:
            return value
        return _quoted(value)
    raise TypeError(f"cannot write a {type(value).__name__} into the template: {value!r}")


def _quoted(text: str) -> str:
    out = ['"']
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif _printable(char):
            out.append(char)
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


def _printable(char: str) -> bool:
    # YAML's printable set, minus the characters YAML 1.1 treats as line breaks
    # (NEL, LS, PS) and the byte-order mark, which are safer escaped.
    code = ord(char)
    return (
        0x20 <= code <= 0x7E
        or 0xA0 <= code <= 0xD7FF
        or (0xE000 <= code <= 0xFFFD and code not in (0xFEFF,))
        or 0x10000 <= code <= 0x10FFFF
    ) and code not in (0x2028, 0x2029)
