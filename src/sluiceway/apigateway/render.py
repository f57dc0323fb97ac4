"""The REST API: an OpenAPI definition with API Gateway's integrations, one per route.

A queue route is API Gateway's SQS service integration, set up so the client sees what the
local gateway answers:

* only ``application/json`` is mapped and passthrough is ``never`` (anything else: 415), and a
  request validator requires the body to be a JSON object (otherwise: 400);
* the request template form-encodes ``Action=SendMessage`` with the body exactly as sent
  (URL-encoded, so ``&``, ``+`` and ``=`` survive) and one ``MessageAttribute.N`` triple per
  forwarded header that is present, matched case-insensitively, numbered without gaps;
* the integration response turns SQS's ``SendMessageResponse`` into
  ``{"MessageId", "MD5OfMessageBody"[, "MD5OfMessageAttributes"]}``; SQS's 4xx become a 400
  and its 5xx a 503 with ``Retry-After``, with the local gateway's ``{"message", "code"}``.

A route or function declared with ``auth=pool.requires(...)`` carries the pool's Cognito
authorizer and its scopes (`cognito`); the API then answers API Gateway's 401 and 403 in the
local gateway's shape with a ``WWW-Authenticate: Bearer`` challenge, and a request the
firewall blocks without a response of its own in the same shape (`waf`).

A table route is API Gateway's DynamoDB UpdateItem integration, its body validated against
the route's model and mapped to an item property by property, answered with the stored key
(`table_routes` says which models can be, and what the deployed API answers differently).

A function's payload format 2.0 route is no part of the REST API: it is a SAM ``HttpApi``
event on the app's HTTP API (API Gateway v2, `render_http_api`), beside the REST API when the
app has both.
"""

from __future__ import annotations

import re
from typing import Any, assert_never
from urllib.parse import quote

from sluiceway.apigateway import table_routes
from sluiceway.apigateway.spec import QueueTarget, RouteSpec, TableTarget
from sluiceway.app.graph import AppGraph
from sluiceway.aws import iam, names
from sluiceway.aws.checks import check_rendered, describe
from sluiceway.aws.errors import RenderError
from sluiceway.aws.fragment import Fragment, Target
from sluiceway.awslambda.spec import FunctionSpec, HttpSource
from sluiceway.cognito import render as cognito
from sluiceway.cognito.spec import AuthSpec
from sluiceway.core.cfn import get_att, ref, sub

VALIDATOR = "body-is-a-json-object"
OBJECT_SCHEMA = "JsonObject"
_PARAMETER = re.compile(r"\{([A-Za-z0-9._~-]+)\+?\}")
_SQS_ATTRIBUTE_NAME = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.")

SEND_MESSAGE_RESPONSE = (
    "#set($result = $input.path('$.SendMessageResponse.SendMessageResult'))"
    '{"MessageId": "$result.MessageId", "MD5OfMessageBody": "$result.MD5OfMessageBody"'
    '#if("$!result.MD5OfMessageAttributes" != ""), '
    '"MD5OfMessageAttributes": "$result.MD5OfMessageAttributes"#end}'
)
QUEUE_REFUSED_RESPONSE = (
    "#set($error = $input.path('$.Error'))"
    '#if("$!error.Code" == ""){"message": "the queue refused the message", '
    '"code": "QueueRejected"}'
    "#else{\"message\": $input.json('$.Error.Message'), "
    "\"code\": $input.json('$.Error.Code')}#end"
)
UNAVAILABLE_RESPONSE = (
    '{"message": "the message could not be stored; retry", "code": "Unavailable"}'
)

# API Gateway's own refusals, in the local gateway's {"message", "code"} shape. An unknown
# method or path keeps API Gateway's own answer (403 Missing Authentication Token), which the
# local gateway gives too.
GATEWAY_RESPONSES = {
    "UNSUPPORTED_MEDIA_TYPE": (415, "UnsupportedMediaType"),
    "BAD_REQUEST_BODY": (400, "BadRequestBody"),
}
# The authorizer's refusals (with an app that requires tokens): as the local authorizer's.
AUTH_RESPONSES = {"UNAUTHORIZED": (401, "Unauthorized"), "ACCESS_DENIED": (403, "Forbidden")}
# RFC 6750's challenge, in the local authorizer's realm.
CHALLENGE = 'Bearer realm="sluiceway"'
# A request a managed rule group blocked (the firewall's own rules answer for themselves).
FIREWALL_RESPONSE = '{"message": "Forbidden: blocked by the firewall", "code": "FirewallBlocked"}'


def operation(route: RouteSpec, graph: AppGraph) -> dict[str, Any]:
    """The OpenAPI operation for one route, with its integration."""
    target = route.target
    match target:
        case QueueTarget():
            rendered = _queue_operation(route, target)
        case TableTarget():
            rendered = _table_operation(route, target, graph)
        case _:
            assert_never(target)
    return _secured(rendered, route.auth)


def _secured(operation: dict[str, Any], auth: AuthSpec | None) -> dict[str, Any]:
    """The operation with its security requirement (after its summary), when it has one."""
    security = cognito.requirement(auth)
    if security is None:
        return operation
    head = {k: operation[k] for k in ("operationId", "summary")}
    return {**head, "security": security, **operation}


def models(route: RouteSpec, graph: AppGraph) -> dict[str, Any]:
    """The schemas (API Gateway models) one route's operation refers to, by name."""
    target = route.target
    match target:
        case QueueTarget():
            return {}  # the shared JsonObject
        case TableTarget():
            mapping = table_routes.item_mapping(route, target, graph.table(target.table))
            return {names.route_model_id(route): mapping.model}
        case _:
            assert_never(target)


def _queue_operation(route: RouteSpec, target: QueueTarget) -> dict[str, Any]:
    queue = names.resource_id(target.queue)
    return {
        "operationId": names.route_id(route),
        "summary": f"Put the request body on queue {target.queue}",
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{OBJECT_SCHEMA}"}}
            },
        },
        "x-amazon-apigateway-request-validator": VALIDATOR,
        "responses": {
            "200": {"description": "The message is stored"},
            "400": {"description": "The request or the message was refused"},
            "503": {
                "description": "The queue is unavailable; retry",
                "headers": {"Retry-After": {"schema": {"type": "string"}}},
            },
        },
        "x-amazon-apigateway-integration": {
            "type": "aws",
            "httpMethod": "POST",
            "uri": sub(
                "arn:${AWS::Partition}:apigateway:${AWS::Region}:sqs:path/${AWS::AccountId}/"
                f"${{{queue}.QueueName}}"
            ),
            "credentials": get_att(names.route_role_id(route), "Arn"),
            "requestParameters": {
                "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'",
                # SQS answers the query API in JSON when asked; the response template reads it.
                "integration.request.header.Accept": "'application/json'",
            },
            "requestTemplates": {"application/json": request_template(route)},
            "passthroughBehavior": "never",
            "responses": {
                "default": {
                    "statusCode": "200",
                    "responseTemplates": {"application/json": SEND_MESSAGE_RESPONSE},
                },
                r"4\d{2}": {
                    "statusCode": "400",
                    "responseTemplates": {"application/json": QUEUE_REFUSED_RESPONSE},
                },
                r"5\d{2}": {
                    "statusCode": "503",
                    "responseParameters": {"method.response.header.Retry-After": "'1'"},
                    "responseTemplates": {"application/json": UNAVAILABLE_RESPONSE},
                },
            },
        },
    }


def _table_operation(route: RouteSpec, target: TableTarget, graph: AppGraph) -> dict[str, Any]:
    table = graph.table(target.table)
    mapping = table_routes.item_mapping(route, target, table)
    model = names.route_model_id(route)
    responses: dict[str, Any] = {
        "200": {"description": "The item is stored"},
        "400": {"description": "The body or the item was refused"},
    }
    if not target.overwrite:
        responses["409"] = {"description": "An item with this key exists already"}
    responses["503"] = {
        "description": "The table is unavailable; retry",
        "headers": {"Retry-After": {"schema": {"type": "string"}}},
    }
    return {
        "operationId": names.route_id(route),
        "summary": f"Put the request body into table {target.table} as an item",
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}}},
        },
        "x-amazon-apigateway-request-validator": VALIDATOR,
        "responses": responses,
        "x-amazon-apigateway-integration": {
            "type": "aws",
            "httpMethod": "POST",
            "uri": sub(
                "arn:${AWS::Partition}:apigateway:${AWS::Region}:dynamodb:action/UpdateItem"
            ),
            "credentials": get_att(names.route_role_id(route), "Arn"),
            "requestTemplates": {
                "application/json": table_routes.request_template(table, mapping, target.overwrite)
            },
            "passthroughBehavior": "never",
            "responses": {
                "default": {
                    "statusCode": "200",
                    "responseTemplates": {"application/json": table_routes.stored_response(table)},
                },
                r"4\d{2}": {
                    "statusCode": "400",
                    "responseTemplates": {
                        "application/json": table_routes.refused_response(table, target.overwrite)
                    },
                },
                r"5\d{2}": {
                    "statusCode": "503",
                    "responseParameters": {"method.response.header.Retry-After": "'1'"},
                    "responseTemplates": {"application/json": table_routes.UNAVAILABLE_RESPONSE},
                },
            },
        },
    }


def proxy_operation(function: FunctionSpec, source: HttpSource) -> dict[str, Any]:
    """The OpenAPI operation of a function behind an HTTP route (Lambda proxy integration):
    the request goes to the function as API Gateway's proxy event, its answer to the client."""
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in path_parameters(source.path)
    ]
    operation: dict[str, Any] = {
        "operationId": names.resource_id(function.name),
        "summary": f"Answered by function {function.name}",
    }
    if parameters:
        operation["parameters"] = parameters
    operation["responses"] = {"default": {"description": "What the function answers"}}
    operation["x-amazon-apigateway-integration"] = {
        "type": "aws_proxy",
        "httpMethod": "POST",
        "uri": sub(
            "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
            f"${{{names.resource_id(function.name)}.Arn}}/invocations"
        ),
        "passthroughBehavior": "when_no_match",
    }
    # (a Lambda authorizer, a template's, is refused before: `check_rendered`)
    return _secured(operation, source.auth if isinstance(source.auth, AuthSpec) else None)


def method_key(method: str) -> str:
    """The key of a method in an OpenAPI path item (API Gateway's own for ANY)."""
    return "x-amazon-apigateway-any-method" if method == "ANY" else method.lower()


def path_parameters(path: str) -> list[str]:
    """The names of a path's ``{name}`` and greedy ``{name+}`` segments."""
    return [m.group(1) for m in _PARAMETER.finditer(path)]


def invoke_source_arn(api_logical: str, method: str, path: str) -> dict[str, str]:
    """The execute-api ARN of one route of the API, for the permission that lets API
    Gateway invoke the function behind it: any stage, the method, the path with each
    parameter as ``*``."""
    verb = "*" if method == "ANY" else method
    resource = _PARAMETER.sub("*", path).lstrip("/")
    return sub(
        "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
        f"${{{api_logical}}}/*/{verb}/{resource}"
    )


def request_template(route: RouteSpec) -> str:
    """The mapping template, on one line: a line break would become part of the form."""
    parts = ["Action=SendMessage&MessageBody=$util.urlEncode($input.body)"]
    if route.forward_headers:
        parts.append("#set($n = 0)#set($headers = $input.params().header)")
    for header in route.forward_headers:
        if not set(header) <= _SQS_ATTRIBUTE_NAME:
            raise RenderError(
                f"route {route.method} {route.path}: header {header!r} cannot be an SQS "
                "message attribute name; forward headers whose names are letters, digits, "
                "'_', '-' and '.' only"
            )
        name = quote(header, safe="")
        parts.append(
            '#set($value = "")'
            "#foreach($name in $headers.keySet())"
            f'#if($name.toLowerCase() == "{header.lower()}")#set($value = $headers.get($name))#end'
            "#end"
            '#if($value != "")#set($n = $n + 1)'
            f"&MessageAttribute.${{n}}.Name={name}"
            "&MessageAttribute.${n}.Value.DataType=String"
            "&MessageAttribute.${n}.Value.StringValue=$util.urlEncode($value)"
            "#end"
        )
    return "".join(parts)


def definition(
    title: str,
    paths: dict[str, dict[str, Any]],
    schemas: dict[str, Any],
    graph: AppGraph | None = None,
) -> dict[str, Any]:
    """The whole OpenAPI document: with `graph`, the authorizers its routes require and the
    refusals of those authorizers and of its firewall."""
    components: dict[str, Any] = {"schemas": {OBJECT_SCHEMA: {"type": "object"}, **schemas}}
    responses = {kind: _refusal(status, code) for kind, (status, code) in GATEWAY_RESPONSES.items()}
    if graph is not None:
        schemes = cognito.security_schemes(graph)
        if schemes:
            components["securitySchemes"] = schemes
            for kind, (status, code) in AUTH_RESPONSES.items():
                responses[kind] = _refusal(status, code)
                responses[kind]["responseParameters"] = {
                    "gatewayresponse.header.WWW-Authenticate": f"'{CHALLENGE}'"
                }
        if graph.firewall is not None:
            responses["WAF_FILTERED"] = {
                "statusCode": "403",
                "responseTemplates": {"application/json": FIREWALL_RESPONSE},
            }
    return {
        "openapi": "3.0.1",
        "info": {"title": title, "version": "1.0"},
        "paths": paths,
        "components": components,
        "x-amazon-apigateway-request-validators": {
            VALIDATOR: {"validateRequestBody": True, "validateRequestParameters": False}
        },
        "x-amazon-apigateway-gateway-responses": responses,
    }


def _refusal(status: int, code: str) -> dict[str, Any]:
    return {
        "statusCode": str(status),
        "responseTemplates": {
            "application/json": f'{{"message": $context.error.messageString, "code": "{code}"}}'
        },
    }


# -- the template pieces: routes and the REST API holding them ----------------------------


def has_api(graph: AppGraph) -> bool:
    """Whether the app has a REST API: a route, or a function behind HTTP with payload
    format 1.0."""
    return bool(graph.routes) or any(
        isinstance(f.source, HttpSource) and f.source.payload_format_version == "1.0"
        for f in graph.functions
    )


def has_http_api(graph: AppGraph) -> bool:
    """Whether the app has an HTTP API: a function behind HTTP with payload format 2.0."""
    return any(
        isinstance(f.source, HttpSource) and f.source.payload_format_version == "2.0"
        for f in graph.functions
    )


def render_route(spec: RouteSpec, target: Target) -> Fragment:
    check_rendered(spec, describe(spec))
    check_rendered(spec.target, describe(spec))
    if spec.auth is not None:
        check_rendered(spec.auth, describe(spec))
    api_logical = names.api_id(target.graph.name)
    return Fragment(
        resources={names.route_role_id(spec): iam.route_role(spec)},
        paths={spec.path: {spec.method.lower(): operation(spec, target.graph)}},
        schemas=models(spec, target.graph),
        outputs={
            names.output_id(names.route_id(spec), "url"): {
                "Description": f"{spec.method} here to reach the route {spec.method} {spec.path}",
                "Value": sub(
                    f"https://${{{api_logical}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}"
                    f"/{target.stage}{spec.path}"
                ),
            }
        },
    )


def render_api(
    graph: AppGraph, paths: dict[str, dict[str, Any]], schemas: dict[str, Any], stage: str
) -> Fragment:
    """The REST API holding every route (regional, like the seed's POC-API), with the
    authorizers its routes require."""
    app_name = graph.name
    logical = names.api_id(app_name)
    return Fragment(
        resources={
            logical: {
                "Type": "AWS::Serverless::Api",
                "Properties": {
                    "Name": app_name,
                    "StageName": stage,
                    # Set, so SAM does not add its extra stage named "Stage".
                    "OpenApiVersion": "3.0.1",
                    "EndpointConfiguration": {"Type": "REGIONAL"},
                    "DefinitionBody": definition(app_name, paths, schemas, graph),
                },
            }
        },
        outputs={
            names.output_id(logical, "url"): {
                "Description": f"Base URL of the {app_name} API",
                "Value": sub(
                    f"https://${{{logical}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}"
                    f"/{stage}"
                ),
            }
        },
        derived=(f"{logical}{stage}Stage",),
    )


# -- the HTTP API (API Gateway v2): payload format 2.0 routes -------------------------------


def http_api_event(function: FunctionSpec, source: HttpSource, app_name: str) -> dict[str, Any]:
    """A 2.0 route as its function's SAM event (``Type: HttpApi``) on the app's HTTP API;
    SAM makes the route, its Lambda integration and the permission to invoke the function.
    A route with ``auth=`` is refused: an HTTP API's Cognito authorizer is a JWT authorizer,
    which this render does not write yet."""
    if source.auth is not None:
        raise RenderError(
            f"function '{function.name}' (on_http {source.method} {source.path}): auth= on a "
            "payload_format_version='2.0' route does not render yet (an HTTP API's JWT "
            "authorizer); drop auth= or use payload_format_version='1.0'"
        )
    route = {} if source.path == "$default" else {"Method": source.method, "Path": source.path}
    return {
        "Type": "HttpApi",
        "Properties": {
            "ApiId": ref(names.http_api_id(app_name)),
            **route,
            "PayloadFormatVersion": "2.0",
        },
    }


def http_api_url(app_name: str, path: str = "") -> dict[str, str]:
    """The URL of the HTTP API's ``$default`` stage (no stage in the path), or of one path."""
    logical = names.http_api_id(app_name)
    return sub(f"https://${{{logical}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}{path}")


def render_http_api(graph: AppGraph) -> Fragment:
    """The HTTP API holding the app's 2.0 routes (SAM writes their routes from the functions'
    ``HttpApi`` events), on its ``$default`` stage, as the local 2.0 event says; beside the
    REST API when the app has both."""
    logical = names.http_api_id(graph.name)
    return Fragment(
        resources={
            logical: {
                "Type": "AWS::Serverless::HttpApi",
                "Properties": {"Name": f"{graph.name}-http"},
            }
        },
        outputs={
            names.output_id(logical, "url"): {
                "Description": f"Base URL of the {graph.name} HTTP API",
                "Value": http_api_url(graph.name),
            }
        },
        derived=(f"{logical}ApiGatewayDefaultStage",),
    )
