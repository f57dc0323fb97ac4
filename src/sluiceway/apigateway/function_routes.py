"""A function behind an HTTP route, on AWS: a Lambda proxy operation on the app's REST API
(payload format 1.0) with the permission letting API Gateway invoke the function from that
route only, or for payload format 2.0 a SAM ``HttpApi`` event on the app's HTTP API (API
Gateway v2, `render_http_api`), beside the REST API when the app has both."""

from __future__ import annotations

import re
from typing import Any

from sluiceway.apigateway.render import secured
from sluiceway.awslambda.render import invoke_permission
from sluiceway.awslambda.spec import FunctionSpec, HttpSource
from sluiceway.cognito import render as cognito
from sluiceway.cognito.spec import AuthSpec
from sluiceway.core.cfn import ref, sub
from sluiceway.core.errors import RenderError
from sluiceway.core.render import names
from sluiceway.core.render.checks import check_rendered
from sluiceway.core.render.fragment import Context, Fragment

_PARAMETER = re.compile(r"\{([A-Za-z0-9._~-]+)\+?\}")


def render_function_route(
    function: FunctionSpec, source: HttpSource, context: Context, where: str
) -> Fragment:
    """What invokes `function` from its HTTP route: for payload format 2.0 its ``HttpApi``
    event; for 1.0 its operation on the REST API and the permission to invoke it. Either way
    an output with the route's URL."""
    if source.auth is not None:
        check_rendered(source.auth, where, cognito.RENDERED_FIELDS)
    logical = names.resource_id(function.name)
    url_output = names.output_id(function.name, "url")
    described = f"{source.method} {source.path}, answered by {function.name}"
    if source.payload_format_version == "2.0":
        path = "/" if source.path == "$default" else source.path
        return Fragment(
            events={logical: {names.HTTP_API_EVENT: http_api_event(function, source, context.app)}},
            derived=(f"{logical}{names.HTTP_API_EVENT}Permission",),
            outputs={
                url_output: {"Description": described, "Value": http_api_url(context.app, path)}
            },
        )
    api_logical = names.api_id(context.app)
    return Fragment(
        paths={source.path: {method_key(source.method): proxy_operation(function, source)}},
        resources={
            names.invoke_permission_id(function.name): invoke_permission(
                logical,
                "apigateway.amazonaws.com",
                invoke_source_arn(api_logical, source.method, source.path),
            )
        },
        outputs={
            url_output: {
                "Description": described,
                "Value": sub(
                    f"https://${{{api_logical}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}"
                    f"/{context.stage}{source.path}"
                ),
            }
        },
    )


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
    return secured(operation, source.auth if isinstance(source.auth, AuthSpec) else None)


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


def render_http_api(app_name: str) -> Fragment:
    """The HTTP API holding the app's 2.0 routes (SAM writes their routes from the functions'
    ``HttpApi`` events), on its ``$default`` stage, as the local 2.0 event says; beside the
    REST API when the app has both."""
    logical = names.http_api_id(app_name)
    return Fragment(
        resources={
            logical: {
                "Type": "AWS::Serverless::HttpApi",
                "Properties": {"Name": f"{app_name}-http"},
            }
        },
        outputs={
            names.output_id(logical, "url"): {
                "Description": f"Base URL of the {app_name} HTTP API",
                "Value": http_api_url(app_name),
            }
        },
        derived=(f"{logical}ApiGatewayDefaultStage",),
    )
