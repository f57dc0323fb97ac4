"""What a mapping template's values look like to Velocity, as API Gateway's Java engine shows
them: maps and lists with Java's methods (`.size()`, `.keySet()`, `.containsKey()`), strings
with Java's (`.toLowerCase()`, `.trim()`), JSON read with JSONPath, and the `$util` functions.

airspeed looks a method up by the value's exact class in its `__additional_methods__` table (its
own extension point for Java methods); `_install_java_methods` registers this module's classes
there and adds the Java `String` and `Map` methods airspeed lacks, never replacing its own.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import airspeed.operators

# -- values ------------------------------------------------------------------------------------


class VtlMap(dict[str, Any]):
    """A map as Velocity prints it: Java's `{key=value, ...}`."""

    def __str__(self) -> str:
        return "{" + ", ".join(f"{key}={java_string(value)}" for key, value in self.items()) + "}"


class JsonList(list[Any]):
    """A list read from JSON: printed as JSON, as API Gateway's JSONPath results print."""

    def __str__(self) -> str:
        return compact_json(self)


class HeaderMap(VtlMap):
    """Request headers: looked up without regard to case, listed with the client's spelling."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        super().__init__(headers)
        self._names = {name.lower(): name for name in headers}

    def __getitem__(self, name: str) -> Any:
        return super().__getitem__(self._names.get(name.lower(), name))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._names

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(self._names.get(name.lower(), name), default)


def to_vtl(value: Any) -> Any:
    """`value` (JSON, or the request's context) with its maps and lists made Velocity's."""
    if isinstance(value, Mapping):
        return VtlMap({str(key): to_vtl(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return JsonList(to_vtl(item) for item in value)
    return value


def java_string(value: Any) -> str:
    """`value` as Velocity prints it (a missing value prints as nothing, as on API Gateway)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# -- JSONPath ------------------------------------------------------------------------------------

# The subset templates use: `$`, then `.name`, `['name']`, `["name"]` or `[0]`, any number of times.
_STEP = re.compile(r"""\.([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\]""")


class _Missing:
    """What a JSONPath finds where the document has nothing."""


MISSING = _Missing()


def _steps(path: str) -> Iterator[str | int]:
    if not path.startswith("$"):
        raise ValueError(f"JSONPath {path!r} does not start with '$'")
    position = 1
    while position < len(path):
        step = _STEP.match(path, position)
        if step is None:
            raise ValueError(f"unsupported JSONPath {path!r} at {path[position:]!r}")
        name, index, quoted, double_quoted = step.groups()
        if index is not None:
            yield int(index)
        else:
            yield next(part for part in (name, quoted, double_quoted) if part is not None)
        position = step.end()


def select(document: Any, path: str) -> Any:
    """The value at `path` in the JSON `document` (which may be MISSING), or MISSING. A path
    outside the subset is a ValueError, whatever the document."""
    value = document
    for step in tuple(_steps(path)):
        value = _child(value, step)
    return value


def _child(value: Any, step: str | int) -> Any:
    if isinstance(step, int) and isinstance(value, list) and step < len(value):
        return value[step]
    if isinstance(step, str) and isinstance(value, dict) and step in value:
        return value[step]
    return MISSING


# -- $util ---------------------------------------------------------------------------------------

# Apache Commons Lang's escapeJavaScript, which API Gateway's documentation describes: quotes
# (single ones too), backslash and slash get a backslash; control and non-ASCII characters
# become \uXXXX, one per UTF-16 unit.
_JS_ESCAPES = {
    "'": "\\'",
    '"': '\\"',
    "\\": "\\\\",
    "/": "\\/",
    "\b": "\\b",
    "\n": "\\n",
    "\t": "\\t",
    "\f": "\\f",
    "\r": "\\r",
}


def _escape_js_char(char: str) -> str:
    if char in _JS_ESCAPES:
        return _JS_ESCAPES[char]
    code = ord(char)
    if 0x20 <= code <= 0x7F:
        return char
    if code > 0xFFFF:
        high, low = divmod(code - 0x10000, 0x400)
        return f"\\u{0xD800 + high:04X}\\u{0xDC00 + low:04X}"
    return f"\\u{code:04X}"


class VelocityUtil:
    """`$util` of API Gateway's mapping templates."""

    def escapeJavaScript(self, value: Any) -> str:
        return "".join(_escape_js_char(char) for char in java_string(value))

    def parseJson(self, value: Any) -> Any:
        return to_vtl(json.loads(java_string(value)))

    def urlEncode(self, value: Any) -> str:
        # Java's URLEncoder: space as '+', and of the punctuation only . - * _ left alone.
        return quote_plus(java_string(value), safe="*").replace("~", "%7E")

    def urlDecode(self, value: Any) -> str:
        return unquote_plus(java_string(value))

    def base64Encode(self, value: Any) -> str:
        return base64.b64encode(java_string(value).encode()).decode("ascii")

    def base64Decode(self, value: Any) -> str:
        return base64.b64decode(java_string(value)).decode(errors="replace")


# -- Java methods ------------------------------------------------------------------------------


def _java_split(text: str, regex: str) -> JsonList:
    parts = re.split(regex, text)
    while parts and not parts[-1]:  # Java's String.split drops trailing empty strings
        parts.pop()
    return JsonList(parts)


_STRING_METHODS: dict[str, Callable[..., Any]] = {
    "toLowerCase": str.lower,
    "toUpperCase": str.upper,
    "trim": str.strip,
    "endsWith": str.endswith,
    "isEmpty": lambda text: not text,
    "equals": lambda text, other: text == other,
    "equalsIgnoreCase": lambda text, other: text.lower() == java_string(other).lower(),
    "toString": str,
    "split": _java_split,
    "charAt": lambda text, index: text[index],
    "lastIndexOf": str.rfind,
}

_MAP_METHODS: dict[str, Callable[..., Any]] = {
    "size": len,
    "isEmpty": lambda mapping: not mapping,
    "containsKey": lambda mapping, key: key in mapping,
}


def _install_java_methods() -> None:
    table: dict[type, dict[str, Callable[..., Any]]] = airspeed.operators.__additional_methods__
    for name, method in _STRING_METHODS.items():
        table[str].setdefault(name, method)
    for name, method in _MAP_METHODS.items():
        table[dict].setdefault(name, method)
    keys = {"keySet": lambda mapping: JsonList(mapping.keys())}
    table[VtlMap] = table[HeaderMap] = {**table[dict], **keys}
    table[JsonList] = dict(table[list])


_install_java_methods()
