"""API Gateway's AWS service integrations (``Integration: {Type: AWS}``): the request mapped
by its Velocity template into SQS's, SNS's or DynamoDB's own request, sent to the runtime's
AWS API as the integration's role, and the answer mapped back by the integration response
whose SelectionPattern matches the service's status.

The service call goes through the same wire layer boto3's calls do (`GatewayEngine.
aws_integration`), so every action the local service implements is reachable from a template,
with the same validation and errors AWS would give the integration.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from sluiceway.apigateway import ingest, mapping, proxy
from sluiceway.apigateway.asgi import Receive, Scope, Send, answer_json, read_body, request_headers
from sluiceway.apigateway.spec import IntegrationResponse, ServiceRouteSpec
from sluiceway.core import ids
from sluiceway.core.policies import RolePolicy

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
JSON_TARGETS = {"dynamodb": "DynamoDB_20120810"}


@dataclass(frozen=True)
class AwsRequest:
    """The request an integration sends to a service, as the wire layer reads one."""

    service: str
    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes
    role: RolePolicy | None


AwsCall = Callable[[AwsRequest], Awaitable[tuple[int, bytes]]]


@dataclass(frozen=True)
class ServiceRoute:
    spec: ServiceRouteSpec
    pattern: re.Pattern[str]
    rank: tuple[int, int, int]

    def matches(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters when `method` `path` is this route's; a REST API ignores one
        trailing slash (``/dev/`` is the stage's root resource ``/``)."""
        if self.spec.method not in (method, "ANY"):
            return None
        found = self.pattern.fullmatch(path)
        if found is None and len(path) > 1 and path.endswith("/"):
            found = self.pattern.fullmatch(path[:-1])
        return None if found is None else found.groupdict()


def compile_routes(specs: tuple[ServiceRouteSpec, ...]) -> list[ServiceRoute]:
    routes = []
    for spec in specs:
        pattern, rank = proxy.compile_path(spec.path)
        routes.append(ServiceRoute(spec, pattern, rank))
    return sorted(routes, key=lambda r: r.rank)


def find(
    routes: list[ServiceRoute], method: str, path: str
) -> tuple[ServiceRoute, dict[str, str]] | None:
    for route in routes:
        params = route.matches(method, path)
        if params is not None:
            return route, params
    return None


def mapping_request(
    scope: Scope,
    headers: Mapping[str, str],
    body: bytes,
    params: Mapping[str, str],
    context: Mapping[str, Any],
) -> mapping.MappingRequest:
    return mapping.MappingRequest(
        body=body.decode("utf-8", "replace"),
        headers=dict(headers),
        query=dict(
            parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        ),
        path=dict(params),
        context=context,
    )


def request_context(
    scope: Scope, spec: ServiceRouteSpec, request_id: str, account: str
) -> dict[str, Any]:
    now = time.time()
    client = scope.get("client") or ("127.0.0.1", 0)
    stage = spec.path.strip("/").split("/", 1)[0] if spec.path != "/" else ""
    return {
        "requestId": request_id,
        "extendedRequestId": request_id,
        "httpMethod": scope["method"],
        "resourcePath": spec.path,
        "path": scope["path"],
        "stage": stage,
        "accountId": account,
        "apiId": "local",
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "requestTimeEpoch": int(now * 1000),
        "protocol": scope.get("http_version", "1.1"),
        "domainName": dict(scope.get("headers", [])).get(b"host", b"localhost").decode("latin-1"),
        "identity": {"sourceIp": client[0], "userAgent": ""},
        "authorizer": {},
    }


def integration_request(
    spec: ServiceRouteSpec, rendered: str, request: mapping.MappingRequest
) -> AwsRequest:
    """The service request: the rendered body, and the RequestParameters' headers and query."""
    headers: dict[str, str] = {}
    query: list[tuple[str, str]] = []
    path_values: dict[str, str] = {}
    for target, source in spec.parameters:
        value = _parameter_value(source, request)
        if value is None:
            continue
        if target.startswith("integration.request.header."):
            headers[target.removeprefix("integration.request.header.").lower()] = value
        elif target.startswith("integration.request.querystring."):
            query.append((target.removeprefix("integration.request.querystring."), value))
        elif target.startswith("integration.request.path."):
            path_values[target.removeprefix("integration.request.path.")] = value
    path = "/"
    if spec.uri_path is not None:
        path = "/" + re.sub(
            r"\{([^}]+)\}", lambda m: path_values.get(m.group(1), m.group(0)), spec.uri_path
        ).lstrip("/")
    if spec.action_parameters:
        form = [
            (name, _request_value(expression, request))
            for name, expression in spec.action_parameters
        ]
        rendered = urlencode([(k, v) for k, v in form if v is not None])
        headers["content-type"] = "application/x-www-form-urlencoded"
    prefix = JSON_TARGETS.get(spec.service)
    if prefix is not None and spec.action is not None:
        headers["x-amz-target"] = f"{prefix}.{spec.action}"
        headers["content-type"] = "application/x-amz-json-1.0"
    elif spec.action is not None:
        query.insert(0, ("Action", spec.action))
    headers.setdefault("content-type", "application/json")
    return AwsRequest(
        spec.service, "POST", path, urlencode(query), headers, rendered.encode(), spec.role
    )


def _parameter_value(source: str, request: mapping.MappingRequest) -> str | None:
    if len(source) >= 2 and source.startswith("'") and source.endswith("'"):
        return source[1:-1]
    for prefix, values in (
        ("method.request.header.", {k.lower(): v for k, v in request.headers.items()}),
        ("method.request.querystring.", request.query),
        ("method.request.path.", request.path),
    ):
        if source.startswith(prefix):
            key = source.removeprefix(prefix)
            return values.get(key.lower() if prefix.endswith("header.") else key)
    if source == "method.request.body":
        return request.body
    return None


def _request_value(expression: str, request: mapping.MappingRequest) -> str | None:
    """An HTTP API parameter mapping's value: ``$request.body`` (the body),
    ``$request.body.a.b`` (a member of a JSON body), ``$request.header.x``,
    ``$request.querystring.x``, ``$request.path.x``, ``$context.x``, or a literal."""
    if not expression.startswith("$"):
        return expression
    if expression == "$request.body":
        return request.body
    if expression.startswith("$request.body."):
        try:
            found: Any = json.loads(request.body or "null")
        except json.JSONDecodeError:
            return None
        for key in expression.removeprefix("$request.body.").split("."):
            found = found.get(key) if isinstance(found, dict) else None
        return None if found is None else found if isinstance(found, str) else json.dumps(found)
    sources: dict[str, Mapping[str, Any]] = {
        "$request.header.": {k.lower(): v for k, v in request.headers.items()},
        "$request.querystring.": request.query,
        "$request.path.": request.path,
        "$context.": request.context,
    }
    for prefix, values in sources.items():
        if expression.startswith(prefix):
            key = expression.removeprefix(prefix)
            value = values.get(key.lower() if prefix == "$request.header." else key)
            return None if value is None else str(value)
    return None


def select_response(responses: tuple[IntegrationResponse, ...], status: int) -> IntegrationResponse:
    """API Gateway's choice: the response whose SelectionPattern matches the service's
    status code, else the default one (no pattern), else a plain 200."""
    default = None
    for response in responses:
        if response.selection_pattern in (None, ""):
            default = default or response
        elif re.fullmatch(response.selection_pattern, str(status)):
            return response
    return default or IntegrationResponse(200)


def api_key_accepted(keys: Sequence[str], scope: Scope) -> bool:
    """Whether the request's ``x-api-key`` is one of `keys` (API Gateway's ApiKeyRequired,
    the keys its usage plans give the stage)."""
    given = next((v for k, v in scope["headers"] if k == b"x-api-key"), None)
    return given is not None and given.decode("latin-1") in keys


class ServiceIntegrations:
    """The Gateway's part that serves service routes (mixed into `Gateway`)."""

    service_routes: list[ServiceRoute]
    aws_call: AwsCall | None
    account_id: str

    async def _service(
        self,
        route: ServiceRoute,
        params: dict[str, str],
        scope: Scope,
        receive: Receive,
        send: Send,
        authorized: Callable[[Any, Scope, Send, list[tuple[bytes, bytes]]], Awaitable[bool]],
    ) -> None:
        spec = route.spec
        request_id = ids.uuid4()
        trace = [(b"x-amzn-requestid", request_id.encode())]
        if spec.api_key_required and not api_key_accepted(spec.api_keys, scope):
            # API Gateway's answer to a missing or unknown key, before any authorizer.
            await answer_json(send, 403, {"message": "Forbidden"}, trace)
            return
        if spec.auth is not None and not await authorized(spec.auth, scope, send, trace):
            return
        try:
            headers = request_headers(scope)
            body = await read_body(receive, headers, MAX_BODY_BYTES)
        except ingest.Rejection as rejection:
            await answer_json(send, rejection.status, rejection.body(), trace)
            return
        context = request_context(scope, spec, request_id, self.account_id)
        request = mapping_request(scope, headers, body, params, context)
        chosen = mapping.select_template(
            dict(spec.templates), headers.get("content-type"), spec.passthrough
        )
        if chosen == "unsupported":
            await answer_json(send, 415, {"message": "Unsupported Media Type"}, trace)
            return
        try:
            rendered = (
                body.decode("utf-8", "replace")
                if chosen is None
                else mapping.render(chosen, request)
            )
        except mapping.MappingTemplateError as error:
            await answer_json(
                send, 500, {"message": "Internal server error", "detail": str(error)}, trace
            )
            return
        assert self.aws_call is not None
        status, payload = await self.aws_call(integration_request(spec, rendered, request))
        response = select_response(spec.responses, status)
        templates = dict(response.templates)
        template = templates.get("application/json") or next(iter(templates.values()), None)
        out = payload
        if template:
            try:
                out = mapping.render_response(
                    template, payload.decode("utf-8", "replace"), request
                ).encode()
            except mapping.MappingTemplateError as error:
                await answer_json(
                    send, 500, {"message": "Internal server error", "detail": str(error)}, trace
                )
                return
        extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
        if not any(k == b"content-type" for k, _ in extra):
            extra.append((b"content-type", b"application/json"))
        headers_out = [*extra, (b"content-length", str(len(out)).encode()), *trace]
        await send(
            {"type": "http.response.start", "status": response.status, "headers": headers_out}
        )
        await send({"type": "http.response.body", "body": out})
