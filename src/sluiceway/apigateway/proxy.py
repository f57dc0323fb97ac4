"""API Gateway's Lambda proxy integration: routing requests to functions and mapping their
answers to HTTP, with API Gateway's rules (a REST API's, payload format 1.0, in `answer`; an
HTTP API's, payload format 2.0, in `answer_v2`).

Routing prefers the most specific template, as API Gateway does: literal segments beat
``{param}`` segments, which beat a greedy ``{param+}``. A function answers
``{"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}``; anything
else is a malformed proxy response and the client gets 502, as from API Gateway.

An HTTP API's function (format 2.0) may also return ``cookies``; and any JSON value without
a ``statusCode`` is the body of a 200 ``application/json`` answer.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sluiceway.apigateway.validation import DEFAULT_ROUTE
from sluiceway.awslambda.spec import FunctionSpec, HttpSource

MAX_BODY_BYTES = 6 * 1024 * 1024  # Lambda's synchronous payload limit
_ANSWER_KEYS = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}
_ANSWER_KEYS_V2 = _ANSWER_KEYS | {"cookies"}
JSON_TYPE = (b"content-type", b"application/json")

# What an HTTP API (format 2.0) answers when the function fails. AWS's developer guide gives
# no body text for these. The 503 {"message":"Service Unavailable"} on the integration's
# timeout is what a deployed HTTP API answered in cortexlabs/cortex#1225; the 500
# {"message":"Internal Server Error"} (a function error or a malformed answer; HTTP APIs'
# capitalisation, unlike a REST API's 502 {"message": "Internal server error"}) is from
# deployed HTTP APIs as reported, not from AWS's guide: check it against a real one.
HTTP_API_ERROR = (500, {"message": "Internal Server Error"})
HTTP_API_TIMEOUT = (503, {"message": "Service Unavailable"})
# A REST API's (format 1.0): 502 for a function error or a malformed answer, 504 on timeout.
REST_API_ERROR = (502, {"message": "Internal server error"})
REST_API_TIMEOUT = (504, {"message": "Endpoint request timed out"})
# Lambda throttled the invocation (429 TooManyRequestsException): a REST API's proxy
# integration answers 500 (its INTEGRATION_FAILURE response; the 429 is not passed on), an
# HTTP API its usual 500.
REST_API_THROTTLED = (500, {"message": "Internal server error"})


def failure(v2: bool, *, timed_out: bool, throttled: bool = False) -> tuple[int, dict[str, str]]:
    """What API Gateway answers when the function failed, timed out, was throttled or
    answered malformed: an HTTP API's (`v2`) or a REST API's status and body."""
    if v2:
        return HTTP_API_TIMEOUT if timed_out else HTTP_API_ERROR
    if throttled:
        return REST_API_THROTTLED
    return REST_API_TIMEOUT if timed_out else REST_API_ERROR


@dataclass(frozen=True)
class FunctionRoute:
    method: str
    resource: str
    pattern: re.Pattern[str]
    function: FunctionSpec
    rank: tuple[int, int, int]

    @property
    def stage(self) -> str | None:
        """A REST API stage's route: its stage (the request's path starts with it)."""
        source = self.function.source
        return source.stage if isinstance(source, HttpSource) else None

    @property
    def v2(self) -> bool:
        """Whether this is an HTTP API's route (payload format 2.0), not a REST API's."""
        source = self.function.source
        return isinstance(source, HttpSource) and source.payload_format_version == "2.0"

    def matches(self, method: str, path: str) -> dict[str, str] | None:
        if self.method not in (method, "ANY"):
            return None
        found = self.pattern.fullmatch(path)
        return None if found is None else found.groupdict()


def compile_route(function: FunctionSpec) -> FunctionRoute:
    source = function.source
    assert isinstance(source, HttpSource)
    pattern, rank = compile_path(source.served_path)
    return FunctionRoute(source.method, source.path, pattern, function, rank)


def compile_path(path: str) -> tuple[re.Pattern[str], tuple[int, int, int]]:
    """A route template's pattern (``{name}`` segments and a final greedy ``{name+}``) and
    its rank: more literal segments first, a greedy one last; an HTTP API's ``$default``
    route matches any path, after every other route."""
    if path == DEFAULT_ROUTE:
        return re.compile("/.*"), (1, 0, 0)
    parts = []
    literal = params = greedy = 0
    for segment in [] if path == "/" else path[1:].split("/"):
        if segment.startswith("{") and segment.endswith("+}"):
            parts.append(f"(?P<{segment[1:-2]}>.+)")
            greedy += 1
        elif segment.startswith("{"):
            parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
            params += 1
        else:
            parts.append(re.escape(segment))
            literal += 1
    return re.compile("/" + "/".join(parts)), (-literal, greedy, params)


class Router:
    def __init__(self, functions: Sequence[FunctionSpec]) -> None:
        routes = [compile_route(f) for f in functions if isinstance(f.source, HttpSource)]
        self.routes = sorted(routes, key=lambda r: r.rank)

    def find(
        self, method: str, path: str, *, default: bool = False
    ) -> tuple[FunctionRoute, dict[str, str]] | None:
        """The route answering `method` `path`: a declared one, or with `default` the
        ``$default`` route (which the gateway tries after its service routes)."""
        for route in self.routes:
            if (route.resource == DEFAULT_ROUTE) != default:
                continue
            params = route.matches(method, path)
            if params is not None:
                return route, params
        return None


class MalformedAnswer(ValueError):
    pass


def answer(result: Any) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """A proxy response as (status, headers, body); `MalformedAnswer` if API Gateway would
    refuse it."""
    if not isinstance(result, dict):
        raise MalformedAnswer(f"the function returned {type(result).__name__}, not an object")
    return _mapped(result, _ANSWER_KEYS)


def answer_v2(result: Any) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """An HTTP API's answer (payload format 2.0) as (status, headers, body).

    AWS's guide ("Lambda function response for format 2.0"): if the function "returns valid
    JSON and doesn't return a statusCode", API Gateway assumes ``isBase64Encoded`` false,
    ``statusCode`` 200, ``content-type`` application/json, and "body is the function's
    response"; its examples answer ``"Hello from Lambda!"`` with the body
    ``Hello from Lambda!`` (a string is the body itself, not its JSON) and
    ``{"message": "Hello from Lambda!"}`` with that object's JSON. A dict with a
    ``statusCode`` is mapped as format 1.0's, and each of its ``cookies`` becomes a
    ``set-cookie`` header. `MalformedAnswer` if API Gateway would refuse it."""
    if isinstance(result, dict) and "statusCode" in result:
        status, headers, payload = _mapped(result, _ANSWER_KEYS_V2)
        cookies = result.get("cookies") or []
        if not isinstance(cookies, list):
            raise MalformedAnswer("cookies is not a list")
        return status, [*headers, *(_header("set-cookie", c) for c in cookies)], payload
    if isinstance(result, str):
        return 200, [JSON_TYPE], result.encode()
    try:
        text = json.dumps(result, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise MalformedAnswer(f"the function's answer is not JSON: {error}") from None
    return 200, [JSON_TYPE], text.encode()


def _mapped(
    result: dict[str, Any], allowed: set[str]
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    unknown = set(result) - allowed
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
