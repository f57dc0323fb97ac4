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

A function behind an HTTP route is rendered by `function_routes`: a Lambda proxy operation
on this REST API (payload format 1.0), or a SAM ``HttpApi`` event on the app's HTTP API (2.0).

Each route's role allows only what its integration does: send to its queue, or update an item
of its table (`route_grants`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, assert_never
from urllib.parse import quote

from sluiceway.apigateway import table_routes
from sluiceway.apigateway.spec import QueueTarget, RouteSpec, TableTarget
from sluiceway.awslambda.spec import FunctionSpec, HttpSource
from sluiceway.cognito import render as cognito
from sluiceway.cognito.spec import AuthSpec
from sluiceway.core.cfn import get_att, sub
from sluiceway.core.errors import RenderError
from sluiceway.core.naming import logical_id
from sluiceway.core.permissions import ACTION_OF_METHOD, Grant
from sluiceway.core.render import names
from sluiceway.core.render.checks import RenderedFields, check_rendered
from sluiceway.core.render.fragment import Context, Fragment
from sluiceway.core.render.roles import document, trust
from sluiceway.dynamodb.spec import TableSpec

RENDERED_FIELDS: RenderedFields = {
    RouteSpec: frozenset({"method", "path", "target", "forward_headers", "auth"}),
    QueueTarget: frozenset({"queue"}),
    TableTarget: frozenset({"table", "model", "overwrite"}),
    **cognito.RENDERED_FIELDS,
}

VALIDATOR = "body-is-a-json-object"
OBJECT_SCHEMA = "JsonObject"
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


def describe(route: RouteSpec) -> str:
    return f"route {route.method} {route.path}"


def route_id(route: RouteSpec) -> str:
    return logical_id(f"route-{route.method.lower()}-{route.path}")


def route_role_id(route: RouteSpec) -> str:
    return logical_id(f"route-{route.method.lower()}-{route.path}-role")


def route_model_id(route: RouteSpec) -> str:
    """The API Gateway model a table route's body is validated against."""
    return logical_id(f"route-{route.method.lower()}-{route.path}-model")


def operation(route: RouteSpec, table: TableSpec | None = None) -> dict[str, Any]:
    """The OpenAPI operation for one route, with its integration (`table`: a table route's
    table)."""
    target = route.target
    match target:
        case QueueTarget():
            rendered = _queue_operation(route, target)
        case TableTarget():
            rendered = _table_operation(route, target, _table_of(target, table))
        case _:
            assert_never(target)
    return secured(rendered, route.auth)


def _table_of(target: TableTarget, table: TableSpec | None) -> TableSpec:
    """The table a table route's render was handed, checked to be the route's."""
    if table is None or table.name != target.table:
        raise AssertionError(f"{target} rendered with table {table}")
    return table


def secured(operation: dict[str, Any], auth: AuthSpec | None) -> dict[str, Any]:
    """The operation with its security requirement (after its summary), when it has one."""
    security = cognito.requirement(auth)
    if security is None:
        return operation
    head = {k: operation[k] for k in ("operationId", "summary")}
    return {**head, "security": security, **operation}


def models(route: RouteSpec, table: TableSpec | None = None) -> dict[str, Any]:
    """The schemas (API Gateway models) one route's operation refers to, by name."""
    target = route.target
    match target:
        case QueueTarget():
            return {}  # the shared JsonObject
        case TableTarget():
            mapping = table_routes.item_mapping(route, target, _table_of(target, table))
            return {route_model_id(route): mapping.model}
        case _:
            assert_never(target)


def _queue_operation(route: RouteSpec, target: QueueTarget) -> dict[str, Any]:
    queue = names.resource_id(target.queue)
    return {
        "operationId": route_id(route),
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
            "credentials": get_att(route_role_id(route), "Arn"),
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


def _table_operation(route: RouteSpec, target: TableTarget, table: TableSpec) -> dict[str, Any]:
    mapping = table_routes.item_mapping(route, target, table)
    model = route_model_id(route)
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
        "operationId": route_id(route),
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
            "credentials": get_att(route_role_id(route), "Arn"),
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
    *,
    pools: Sequence[str] = (),
    firewall: bool = False,
) -> dict[str, Any]:
    """The whole OpenAPI document: the authorizers of the user `pools` its routes require,
    and the refusals of those authorizers and, with a `firewall`, of its managed rules."""
    components: dict[str, Any] = {"schemas": {OBJECT_SCHEMA: {"type": "object"}, **schemas}}
    responses = {kind: _refusal(status, code) for kind, (status, code) in GATEWAY_RESPONSES.items()}
    if pools:
        components["securitySchemes"] = cognito.security_schemes(pools)
        for kind, (status, code) in AUTH_RESPONSES.items():
            responses[kind] = _refusal(status, code)
            responses[kind]["responseParameters"] = {
                "gatewayresponse.header.WWW-Authenticate": f"'{CHALLENGE}'"
            }
    if firewall:
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


def pools_required(routes: Iterable[RouteSpec], functions: Iterable[FunctionSpec]) -> list[str]:
    """The pools some route or HTTP function requires a token of, each once, in the order
    they are first named."""
    required: dict[str, None] = {}
    for route in routes:
        if route.auth is not None:
            required[route.auth.pool] = None
    for function in functions:
        if isinstance(function.source, HttpSource) and isinstance(function.source.auth, AuthSpec):
            required[function.source.auth.pool] = None  # (a Lambda authorizer is refused)
    return list(required)


def route_grants(route: RouteSpec) -> tuple[Grant, ...]:
    """What a route's integration does on the caller's behalf: one SendMessage to its queue
    (the action the local engine checks for `send_message`), or one UpdateItem on its table
    (UpdateItem, not PutItem, so the answer can name the stored key: `table_routes`)."""
    target = route.target
    match target:
        case QueueTarget():
            _, action, _ = ACTION_OF_METHOD["send_message"]
            return (Grant("queue", target.queue, frozenset({action})),)
        case TableTarget():
            return (Grant("table", target.table, frozenset({"dynamodb:UpdateItem"})),)
        case _:
            assert_never(target)


def route_role(route: RouteSpec) -> dict[str, Any]:
    """The role API Gateway assumes to call SQS or DynamoDB for one route."""
    does = "put the request on its queue"
    if isinstance(route.target, TableTarget):
        does = "put the request body into its table"
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": f"Lets {route.method} {route.path} {does}",
            "AssumeRolePolicyDocument": trust("apigateway.amazonaws.com"),
            "Policies": [
                {"PolicyName": "sluiceway-route", "PolicyDocument": document(route_grants(route))}
            ],
        },
    }


def render_route(spec: RouteSpec, context: Context, table: TableSpec | None = None) -> Fragment:
    """One route: its operation on the REST API and the role its integration assumes
    (`table`: a table route's table)."""
    check_rendered(spec, describe(spec), RENDERED_FIELDS)
    check_rendered(spec.target, describe(spec), RENDERED_FIELDS)
    if spec.auth is not None:
        check_rendered(spec.auth, describe(spec), RENDERED_FIELDS)
    api_logical = names.api_id(context.app)
    return Fragment(
        resources={route_role_id(spec): route_role(spec)},
        paths={spec.path: {spec.method.lower(): operation(spec, table)}},
        schemas=models(spec, table),
        outputs={
            names.output_id(route_id(spec), "url"): {
                "Description": f"{spec.method} here to reach the route {spec.method} {spec.path}",
                "Value": sub(
                    f"https://${{{api_logical}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}"
                    f"/{context.stage}{spec.path}"
                ),
            }
        },
    )


def render_api(
    app_name: str,
    paths: dict[str, dict[str, Any]],
    schemas: dict[str, Any],
    stage: str,
    *,
    pools: Sequence[str] = (),
    firewall: bool = False,
) -> Fragment:
    """The REST API holding every route (regional, like the seed's POC-API), with the
    authorizers of the `pools` its routes require."""
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
                    "DefinitionBody": definition(
                        app_name, paths, schemas, pools=pools, firewall=firewall
                    ),
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
