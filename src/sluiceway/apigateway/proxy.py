"""API Gateway's Lambda proxy integration: routing requests to functions and mapping their
answers to HTTP, with API Gateway's rules.

Routing prefers the most specific template, as API Gateway does: literal segments beat
``{param}`` segments, which beat a greedy ``{param+}``. A function answers
``{"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}``; anything
else is a malformed proxy response and the client gets 502, as from API Gateway.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sluiceway.awslambda.spec import FunctionSpec, HttpSource

MAX_BODY_BYTES = 6 * 1024 * 1024  # Lambda's synchronous payload limit
_ANSWER_KEYS = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}


@dataclass(frozen=True)
class FunctionRoute:
    method: str
    resource: str
    pattern: re.Pattern[str]
    function: FunctionSpec
    rank: tuple[int, int, int]

    def matches(self, method: str, path: str) -> dict[str, str] | None:
        if self.method not in (method, "ANY"):
            return None
        found = self.pattern.fullmatch(path)
        return None if found is None else found.groupdict()


def compile_route(function: FunctionSpec) -> FunctionRoute:
    source = function.source
    assert isinstance(source, HttpSource)
    parts = []
    literal = params = greedy = 0
    for segment in [] if source.path == "/" else source.path[1:].split("/"):
        if segment.startswith("{") and segment.endswith("+}"):
            parts.append(f"(?P<{segment[1:-2]}>.+)")
            greedy += 1
        elif segment.startswith("{"):
            parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
            params += 1
        else:
            parts.append(re.escape(segment))
            literal += 1
    pattern = re.compile("/" + "/".join(parts))
    return FunctionRoute(source.method, source.path, pattern, function, (-literal, greedy, params))


class Router:
    def __init__(self, functions: Sequence[FunctionSpec]) -> None:
        routes = [compile_route(f) for f in functions if isinstance(f.source, HttpSource)]
        self.routes = sorted(routes, key=lambda r: r.rank)

    def find(self, method: str, path: str) -> tuple[FunctionRoute, dict[str, str]] | None:
        for route in self.routes:
            params = route.matches(method, path)
            if params is not None:
                return route, params
        return None

    def allowed(self, path: str) -> list[str]:
        """The methods some route answers on `path` (for a 405's Allow header)."""
        return sorted({r.method for r in self.routes if r.pattern.fullmatch(path)})


class MalformedAnswer(ValueError):
    pass


def answer(result: Any) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """A proxy response as (status, headers, body); `MalformedAnswer` if API Gateway would
    refuse it."""
    if not isinstance(result, dict):
        raise MalformedAnswer(f"the function returned {type(result).__name__}, not an object")
    unknown = set(result) - _ANSWER_KEYS
    if unknown:
        raise MalformedAnswer(f"unexpected keys {sorted(unknown)}")
    status = result.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise MalformedAnswer(f"statusCode {status!r} is not an HTTP status")
    headers: list[tuple[bytes, bytes]] = []
    for name, value in (result.get("headers") or {}).items():
        headers.append(_header(name, value))
    for name, values in (result.get("multiValueHeaders") or {}).items():
        if not isinstance(values, list):
            raise MalformedAnswer(f"multiValueHeaders[{name!r}] is not a list")
        headers += [_header(name, v) for v in values]
    body = result.get("body")
    if body is None:
        payload = b""
    elif not isinstance(body, str):
        raise MalformedAnswer("body must be a string")
    elif result.get("isBase64Encoded"):
        try:
            payload = base64.b64decode(body, validate=True)
        except ValueError:
            raise MalformedAnswer("isBase64Encoded is set but the body is not base64") from None
    else:
        payload = body.encode()
    return status, headers, payload


def _header(name: Any, value: Any) -> tuple[bytes, bytes]:
    if not isinstance(name, str) or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
        raise MalformedAnswer(f"header name {name!r} is not valid")
    text = value if isinstance(value, str) else str(value)
    if any(c in text for c in "\r\n\0"):
        raise MalformedAnswer(f"header {name} holds a line break")
    return name.lower().encode("latin-1"), text.encode("latin-1", "replace")
