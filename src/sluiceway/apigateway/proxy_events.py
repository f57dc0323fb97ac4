"""The request as a Lambda proxy route's function gets it: a REST API's proxy event (payload
format 1.0) or an HTTP API's (2.0), with the headers API Gateway adds and what an authorizer
decided (`sluiceway.core.events` writes the events' shapes)."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qsl

from sluiceway.apigateway import proxy
from sluiceway.apigateway.asgi import Scope, title_case
from sluiceway.apigateway.validation import DEFAULT_ROUTE
from sluiceway.core import events, ids


def proxy_event(
    route: proxy.FunctionRoute,
    params: dict[str, str],
    scope: Scope,
    body: bytes,
    request_id: str,
    now_ms: int,
    account_id: str,
    api_id: str,
    claims: dict[str, object] | None = None,
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The request as the route's function gets it: a REST API's proxy event (payload
    format 1.0), or an HTTP API's (2.0) when the route's source says so; with the headers
    API Gateway adds, and an authorizer's `claims`."""
    client = scope.get("client") or ("127.0.0.1", 0)
    query = scope.get("query_string", b"").decode("latin-1")
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
    headers = _with_gateway_headers(headers, scope, client[0], now_ms)
    domain = next((v for k, v in headers if k.lower() == "host"), "localhost")
    if route.v2:
        scopes = claims.get("scope") if claims is not None else None
        return events.apigw_http_event(
            method=scope["method"],
            path=scope["path"],
            route_key=(
                route.resource
                if route.resource == DEFAULT_ROUTE
                else f"{route.method} {route.resource}"
            ),
            path_parameters=params,
            raw_query_string=query,
            headers=headers,
            body=body,
            source_ip=client[0],
            request_id=request_id,
            request_time_ms=now_ms,
            account_id=account_id,
            domain_name=domain,
            api_id=api_id,
            protocol=f"HTTP/{scope.get('http_version', '1.1')}",
            claims=claims,
            scopes=scopes.split() if isinstance(scopes, str) else None,
        )
    path = scope["path"]
    if route.stage is not None:  # served at /<stage><path>; the event's path is the API's
        path = path[len(route.stage) + 1 :] or "/"
    return events.apigw_proxy_event(
        method=scope["method"],
        path=path,
        stage=route.stage or "local",
        resource=route.resource,
        path_parameters=params,
        query=parse_qsl(query, keep_blank_values=True),
        headers=[(title_case(k), v) for k, v in headers],
        body=body,
        source_ip=client[0],
        request_id=request_id,
        request_time_ms=now_ms,
        account_id=account_id,
        api_id=api_id,
        domain_name=domain,
        extended_request_id=base64.b64encode(ids.random_bytes(11)).decode(),
        claims=claims,
        authorizer=authorizer,
    )


def _with_gateway_headers(
    headers: list[tuple[str, str]], scope: Scope, client: str, now_ms: int
) -> list[tuple[str, str]]:
    """The request's headers with those API Gateway adds: ``X-Forwarded-For`` (the client's
    address after any the request carried), ``-Port``, ``-Proto`` and ``X-Amzn-Trace-Id``."""
    names = {k.lower() for k, _ in headers}
    kept = [(k, v) for k, v in headers if k.lower() not in _FORWARDED]
    earlier = [v for k, v in headers if k.lower() == "x-forwarded-for"]
    server = scope.get("server") or ("localhost", 80)
    scheme = scope.get("scheme", "http")
    port = server[1] if server[1] is not None else (443 if scheme == "https" else 80)
    added = [
        ("x-forwarded-for", ", ".join([*earlier, client])),
        ("x-forwarded-port", str(port)),
        ("x-forwarded-proto", scheme),
    ]
    if "x-amzn-trace-id" not in names:
        trace = f"Root=1-{now_ms // 1000:08x}-{ids.random_bytes(12).hex()}"
        added.append(("x-amzn-trace-id", trace))
    return [*kept, *added]


_FORWARDED = ("x-forwarded-for", "x-forwarded-port", "x-forwarded-proto")
