"""API Gateway HTTP APIs (``AWS::ApiGatewayV2::Api``, what SAM's ``AWS::Serverless::HttpApi``
and ``Type: HttpApi`` events become): routes from the OpenAPI ``Body`` or from ``Route`` and
``Integration`` resources, each Lambda integration its function's HTTP trigger with the
payload format it names (2.0 unless it says 1.0). The ``$default`` stage is served at the root,
as AWS serves it; another stage under ``/<StageName>``. The ``$default`` route (SAM's
``HttpApi`` event without ``Path``) answers every request no other route matches."""

from __future__ import annotations

from typing import Any

from sluiceway.apigateway.spec import ServiceRouteSpec
from sluiceway.templates import authorizers, convert
from sluiceway.templates.build import Build
from sluiceway.templates.roles import role_of

HTTP_API = "AWS::ApiGatewayV2::Api"
_VERBS = ("get", "put", "post", "delete", "patch", "head", "options")


def http_api(build: Build, logical: str) -> None:
    props = build.props(logical)
    where = build.where(logical)
    protocol = str(props.get("ProtocolType", "HTTP")).upper()
    if protocol != "HTTP":
        build.note(f"{where}: a {protocol} API is not emulated")
        return
    prefix = _prefix(build, logical)
    body = props.get("Body")
    if isinstance(body, dict):
        for path, item in convert.mapping(f"{where} Body paths", body.get("paths")).items():
            for verb, operation in convert.mapping(f"{where} Body {path}", item).items():
                method = "ANY" if verb == "x-amazon-apigateway-any-method" else verb.upper()
                if verb not in _VERBS and method != "ANY":
                    continue
                operation = convert.mapping(where, operation)
                integration = convert.mapping(
                    f"{where} {method} {path}", operation.get("x-amazon-apigateway-integration")
                )
                here = f"{where} {method} {path}"
                auth = authorizers.swagger(build, here, body, operation)
                _route(build, here, method, _join(prefix, path), integration, auth)
    for route in build.of_type("AWS::ApiGatewayV2::Route"):
        route_props = build.props(route)
        if build.origin(route_props.get("ApiId"), build.where(route, "ApiId"), HTTP_API) != logical:
            continue
        method, _, path = str(route_props.get("RouteKey", "")).partition(" ")
        target = str(route_props.get("Target", "")).removeprefix("integrations/")
        integration = _integration_resource(build, target, build.where(route, "Target"))
        auth = authorizers.http_route(build, route, route_props)
        _route(build, build.where(route), method, _join(prefix, path), integration, auth)


def _join(prefix: str, path: str) -> str:
    """A route's local path under its stage: ``/prod`` for the root of stage prod."""
    return path if not prefix else prefix if path == "/" else prefix + path


def _prefix(build: Build, api: str) -> str:
    for stage in build.of_type("AWS::ApiGatewayV2::Stage"):
        props = build.props(stage)
        if build.origin(props.get("ApiId"), build.where(stage, "ApiId"), HTTP_API) == api:
            name = str(props.get("StageName", "$default"))
            return "" if name == "$default" else f"/{name}"
    return ""


def _integration_resource(build: Build, target: str, where: str) -> dict[str, Any]:
    logical = build.origin(target, where, "AWS::ApiGatewayV2::Integration")
    props = build.props(logical)
    return {
        "type": props.get("IntegrationType"),
        "uri": props.get("IntegrationUri"),
        "payloadFormatVersion": props.get("PayloadFormatVersion", "2.0"),
        "integrationSubtype": props.get("IntegrationSubtype"),
        "requestParameters": props.get("RequestParameters"),
        "credentials": props.get("CredentialsArn"),
    }


def _route(
    build: Build, where: str, method: str, path: str, integration: dict[str, Any], auth: Any
) -> None:
    kind = str(integration.get("type", "")).upper()
    uri = str(integration.get("uri", ""))
    subtype = str(integration.get("integrationSubtype") or "")
    if kind == "AWS_PROXY" and subtype:
        _first_class(build, where, method, path, integration, subtype, auth)
        return
    if kind != "AWS_PROXY" or not (":lambda:" in uri or ":function:" in uri):
        build.note(f"{where}: a {kind or 'missing'} integration is not emulated")
        return
    if path.endswith("$default") or method == "$default":
        method, path = "ANY", "$default"  # the catch-all route, whatever the stage
    function = build.function_of(uri.split("/functions/", 1)[-1], f"{where} integration uri")
    version = str(integration.get("payloadFormatVersion", "2.0"))

    def on_http(name: str, common: dict[str, Any], handler: Any) -> None:
        common["timeout"] = min(common["timeout"], 29)
        build.app.on_http(
            method.upper(), path, auth=auth, payload_format_version=version, name=name, **common
        )(handler)

    build.trigger(function, f"HTTP API {method} {path}", on_http)


# The HTTP API first-class integrations sluiceway runs: subtype -> (service, action).
_SUBTYPES = {
    "SQS-SendMessage": ("sqs", "SendMessage"),
    "SQS-ReceiveMessage": ("sqs", "ReceiveMessage"),
    "SQS-DeleteMessage": ("sqs", "DeleteMessage"),
    "SQS-PurgeQueue": ("sqs", "PurgeQueue"),
}


def _first_class(
    build: Build,
    where: str,
    method: str,
    path: str,
    integration: dict[str, Any],
    subtype: str,
    auth: Any,
) -> None:
    """An AWS service integration of an HTTP API (``integrationSubtype``): its
    requestParameters become the action's parameters, sent as its ``credentials`` role."""
    found = _SUBTYPES.get(subtype)
    if found is None:
        build.note(f"{where}: the {subtype} integration is not emulated")
        return
    service, action = found
    parameters = convert.mapping(f"{where} requestParameters", integration.get("requestParameters"))
    credentials = integration.get("credentials")
    role = None if credentials is None else role_of(build, f"{where} credentials", credentials)
    build.app.service_route(
        ServiceRouteSpec(
            method=method.upper(),
            path=path,
            service=service,
            action=action,
            action_parameters=tuple((str(k), str(v)) for k, v in parameters.items()),
            role=role,
            auth=auth,
        )
    )
