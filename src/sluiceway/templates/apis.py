"""API Gateway REST APIs from a template: ``AWS::ApiGateway::RestApi`` with its Resources,
Methods and Stage (or an OpenAPI ``Body``, as SAM's ``AWS::Serverless::Api`` becomes), served
at ``/<StageName>/<path>`` as AWS serves ``https://<id>.execute-api.<region>.amazonaws.com/
<StageName>/<path>``.

A method with a Lambda proxy integration (``AWS_PROXY``) is its function's HTTP trigger; one
with an AWS service integration (``AWS``, to SQS, SNS or DynamoDB) is a service route with its
mapping templates; a ``MOCK`` integration (CORS preflights, mostly) is listed as not emulated.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sluiceway.apigateway.spec import IntegrationResponse, ServiceRouteSpec
from sluiceway.awslambda.spec import FunctionAuthorizer
from sluiceway.core.ids import short_id
from sluiceway.templates import authorizers, convert
from sluiceway.templates.build import Build
from sluiceway.templates.errors import TemplateError
from sluiceway.templates.roles import role_of

REST_API = "AWS::ApiGateway::RestApi"
_SWAGGER_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def rest_api(build: Build, logical: str) -> None:
    stage = _stage(build, logical)
    props = build.props(logical)
    body = props.get("Body")
    if isinstance(body, dict):
        _definition(build, logical, stage, body)
    elif props.get("BodyS3Location") is not None:
        raise TemplateError(
            build.where(logical, "BodyS3Location"),
            "the definition is in S3, which does not exist locally",
            "inline it as Body (or DefinitionUri to a local file with SAM)",
        )
    for method in build.of_type("AWS::ApiGateway::Method"):
        method_props = build.props(method)
        if (
            build.origin(method_props.get("RestApiId"), build.where(method, "RestApiId"), REST_API)
            != logical
        ):
            continue
        path = _resource_path(build, logical, method_props.get("ResourceId"), build.where(method))
        verb = str(method_props.get("HttpMethod", "")).upper()
        auth = authorizers.rest_method(build, method, method_props)
        integration = convert.mapping(
            build.where(method, "Integration"), method_props.get("Integration")
        )
        keys = None
        if convert.boolean(
            build.where(method, "ApiKeyRequired"), method_props.get("ApiKeyRequired")
        ):
            keys = api_keys(build, logical, stage)
        _integration(
            build,
            build.where(method),
            verb,
            stage,
            path,
            integration,
            auth,
            _cfn_keys,
            keys,
        )


def _stage(build: Build, api: str) -> str:
    for stage in build.of_type("AWS::ApiGateway::Stage"):
        props = build.props(stage)
        if build.origin(props.get("RestApiId"), build.where(stage, "RestApiId"), REST_API) == api:
            return str(props.get("StageName"))
    for deployment in build.of_type("AWS::ApiGateway::Deployment"):
        props = build.props(deployment)
        if (
            props.get("StageName")
            and build.origin(props.get("RestApiId"), build.where(deployment, "RestApiId"), REST_API)
            == api
        ):
            return str(props["StageName"])
    build.note(f"{build.where(api)}: no Stage deploys it; served under /local")
    return "local"


def _local(stage: str, path: str) -> str:
    return f"/{stage}" if path == "/" else f"/{stage}{path}"


def _resource_path(build: Build, api: str, resource_id: Any, where: str) -> str:
    root = build.resolver.resolve({"Fn::GetAtt": [api, "RootResourceId"]}, where)
    if resource_id == root:
        return "/"
    logical = build.origin(resource_id, f"{where} property ResourceId", "AWS::ApiGateway::Resource")
    props = build.props(logical)
    parent = _resource_path(build, api, props.get("ParentId"), build.where(logical))
    part = str(props.get("PathPart"))
    return f"/{part}" if parent == "/" else f"{parent}/{part}"


# How a CloudFormation Method's Integration and a swagger x-amazon-apigateway-integration
# spell the same settings.
_cfn_keys = {
    "type": "Type",
    "uri": "Uri",
    "credentials": "Credentials",
    "templates": "RequestTemplates",
    "parameters": "RequestParameters",
    "passthrough": "PassthroughBehavior",
    "responses": "IntegrationResponses",
    "status": "StatusCode",
    "pattern": "SelectionPattern",
    "response_templates": "ResponseTemplates",
    "response_parameters": "ResponseParameters",
}
_swagger_keys = {
    "type": "type",
    "uri": "uri",
    "credentials": "credentials",
    "templates": "requestTemplates",
    "parameters": "requestParameters",
    "passthrough": "passthroughBehavior",
    "responses": "responses",
    "status": "statusCode",
    "pattern": "",
    "response_templates": "responseTemplates",
    "response_parameters": "responseParameters",
}


def _integration(
    build: Build,
    where: str,
    verb: str,
    stage: str,
    path: str,
    integration: dict[str, Any],
    auth: Any,
    keys: dict[str, str],
    api_key_values: tuple[str, ...] | None = None,
) -> None:
    """One method's integration: `path` of the API, served under `stage`."""
    kind = str(integration.get(keys["type"], "")).upper()
    uri = str(integration.get(keys["uri"], ""))
    if kind == "AWS_PROXY" and ":lambda:path/" in uri:
        function = build.function_of(uri.split("/functions/", 1)[-1], f"{where} Integration Uri")

        def on_http(name: str, common: dict[str, Any], handler: Any) -> None:
            common["timeout"] = min(common["timeout"], 29)
            build.app.on_http(
                verb, path, auth=auth, name=name, stage=stage, api_keys=api_key_values, **common
            )(handler)

        build.trigger(function, f"API {verb} {_local(stage, path)}", on_http)
        return
    served = _local(stage, path)
    if kind == "AWS" and isinstance(auth, FunctionAuthorizer):
        raise TemplateError(
            where,
            "a Lambda authorizer on an AWS service integration is not emulated yet",
            "authorize it with a Cognito user pool for the local run, or proxy to a function",
        )
    if kind == "AWS":
        spec = _service_route(build, where, verb, served, integration, auth, keys)
        if api_key_values is not None:
            spec = replace(spec, api_key_required=True, api_keys=api_key_values)
        build.app.service_route(spec)
        return
    build.note(f"{where}: a {kind or 'missing'} integration on {verb} {served} is not emulated")


def _service_route(
    build: Build,
    where: str,
    verb: str,
    path: str,
    integration: dict[str, Any],
    auth: Any,
    keys: dict[str, str],
) -> ServiceRouteSpec:
    uri = str(integration.get(keys["uri"], ""))
    parts = uri.split(":", 5)
    if len(parts) < 6 or not parts[0] == "arn" or parts[2] != "apigateway":
        raise TemplateError(
            f"{where} Integration Uri",
            f"{uri!r} is not arn:aws:apigateway:<region>:<service>:action/<Action> or :path/...",
            "give the service integration's Uri",
        )
    service, rest = parts[4], parts[5]
    form, _, value = rest.partition("/")
    action = value.split("&", 1)[0] if form == "action" else None
    uri_path = value if form == "path" else None
    credentials = integration.get(keys["credentials"])
    role = None
    if credentials is not None:
        role = role_of(build, f"{where} Integration Credentials", credentials)
    responses = []
    for i, raw in enumerate(_responses(integration.get(keys["responses"]))):
        entry = convert.mapping(f"{where} IntegrationResponses[{i}]", raw)
        pattern = entry.get(keys["pattern"]) if keys["pattern"] else entry.get("__pattern")
        responses.append(
            IntegrationResponse(
                convert.integer(
                    f"{where} IntegrationResponses[{i}]", entry.get(keys["status"]), 200
                ),
                None if pattern in (None, "", "default") else str(pattern),
                tuple(convert.mapping(where, entry.get(keys["response_templates"])).items()),
                tuple(
                    (k.removeprefix("method.response.header."), str(v).strip("'"))
                    for k, v in convert.mapping(
                        where, entry.get(keys["response_parameters"])
                    ).items()
                    if k.startswith("method.response.header.")
                ),
            )
        )
    return ServiceRouteSpec(
        method=verb,
        path=path,
        service=service,
        action=action,
        uri_path=uri_path,
        templates=tuple(
            (str(k), str(v))
            for k, v in convert.mapping(where, integration.get(keys["templates"])).items()
        ),
        passthrough=str(integration.get(keys["passthrough"], "WHEN_NO_MATCH")).upper(),
        parameters=tuple(
            (str(k), str(v))
            for k, v in convert.mapping(where, integration.get(keys["parameters"])).items()
        ),
        responses=tuple(responses),
        role=role,
        auth=auth,
    )


def _responses(raw: Any) -> list[Any]:
    """IntegrationResponses as a list (swagger keys them by selection pattern)."""
    if isinstance(raw, dict):
        return [{**entry, "__pattern": pattern} for pattern, entry in raw.items()]
    return raw if isinstance(raw, list) else []


def _definition(build: Build, api: str, stage: str, body: dict[str, Any]) -> None:
    """The methods of an OpenAPI (swagger 2 or OpenAPI 3) definition."""
    where = build.where(api, "Body")
    for path, item in convert.mapping(f"{where} paths", body.get("paths")).items():
        for verb, operation in convert.mapping(f"{where} {path}", item).items():
            method = "ANY" if verb == "x-amazon-apigateway-any-method" else verb.upper()
            if verb not in _SWAGGER_METHODS and method != "ANY":
                continue
            operation = convert.mapping(f"{where} {path} {verb}", operation)
            integration = operation.get("x-amazon-apigateway-integration")
            if not isinstance(integration, dict):
                build.note(f"{where}: {method} {path} has no integration; not served")
                continue
            auth = authorizers.swagger(build, f"{where} {path} {verb}", body, operation)
            keyed = authorizers.swagger_api_key(f"{where} {path} {verb}", body, operation)
            _integration(
                build,
                f"{where} {method} {path}",
                method,
                stage,
                path,
                integration,
                auth,
                _swagger_keys,
                api_keys(build, api, stage) if keyed else None,
            )


def api_keys(build: Build, api: str, stage: str) -> tuple[str, ...]:
    """The values of the enabled API keys that usage plans (or an ApiKey's StageKeys) give
    `api`'s `stage`; each is listed at start, since AWS keeps them out of the template."""
    api_id = build.resolver.resolve({"Ref": api}, build.where(api))
    keys: list[str] = []
    for plan in build.of_type("AWS::ApiGateway::UsagePlan"):
        stages = convert.listing(build.where(plan, "ApiStages"), build.props(plan).get("ApiStages"))
        if not any(s.get("ApiId") == api_id and s.get("Stage") == stage for s in stages):
            continue
        plan_id = build.resolver.resolve({"Ref": plan}, build.where(plan))
        for link in build.of_type("AWS::ApiGateway::UsagePlanKey"):
            props = build.props(link)
            if props.get("UsagePlanId") == plan_id:
                keys.append(_key(build, props.get("KeyId"), build.where(link, "KeyId")))
    for key in build.of_type("AWS::ApiGateway::ApiKey"):
        stage_keys = convert.listing(
            build.where(key, "StageKeys"), build.props(key).get("StageKeys")
        )
        if any(s.get("RestApiId") == api_id and s.get("StageName") == stage for s in stage_keys):
            key_id = build.resolver.resolve({"Ref": key}, build.where(key))
            keys.append(_key(build, key_id, build.where(key)))
    if not keys:
        build.note(f"{build.where(api)}: methods require an API key, but no usage plan gives one")
    return tuple(dict.fromkeys(k for k in keys if k))


def _key(build: Build, key_id: Any, where: str) -> str:
    logical = build.origin(key_id, where, "AWS::ApiGateway::ApiKey")
    props = build.props(logical)
    if not convert.boolean(build.where(logical, "Enabled"), props.get("Enabled"), False):
        return ""
    value = str(props.get("Value") or short_id(build.pseudo.stack_name, logical, length=40))
    build.api_keys[logical] = value
    return value
