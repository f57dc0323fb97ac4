"""API Gateway authorizers from a template, as a route's ``auth=pool.requires(*scopes)``.

A REST API's ``COGNITO_USER_POOLS`` authorizer (an ``AWS::ApiGateway::Authorizer``, or the
``x-amazon-apigateway-authorizer`` of ``type: cognito_user_pools`` SAM writes for
``Auth: {Authorizers: {X: {UserPoolArn: ...}}}``) and an HTTP API's JWT authorizer whose
issuer is a user pool of the template (``AWS::ApiGatewayV2::Authorizer``, or ``type: jwt``)
both become the pool's requirement: an access token carrying one of the method's scopes, or,
when it names none, any access token of the pool. The token is read from the
``Authorization`` header; other identity sources and ``AWS_IAM`` are refused, naming the
method. A REST API's Lambda authorizer (TOKEN or REQUEST, ``CUSTOM``) becomes a
`FunctionAuthorizer` run by the gateway (`sluiceway.apigateway.lambda_authorizer`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sluiceway.awslambda.spec import FunctionAuthorizer
from sluiceway.cognito.spec import AuthSpec
from sluiceway.templates import convert
from sluiceway.templates.build import Build
from sluiceway.templates.errors import TemplateError
from sluiceway.templates.identity import pool_handle, requirement

REST_AUTHORIZER = "AWS::ApiGateway::Authorizer"
HTTP_AUTHORIZER = "AWS::ApiGatewayV2::Authorizer"
_LOCAL_FIX = (
    "use a Cognito user pool authorizer of this template (COGNITO_USER_POOLS, or JWT with the "
    "pool's issuer), or no authorization, for the local run"
)


def rest_method(
    build: Build, method: str, props: Mapping[str, Any]
) -> AuthSpec | FunctionAuthorizer | None:
    """An ``AWS::ApiGateway::Method``'s AuthorizationType, AuthorizerId and
    AuthorizationScopes."""
    kind = str(props.get("AuthorizationType", "NONE")).upper()
    if kind in ("NONE", ""):
        return None
    if kind not in ("COGNITO_USER_POOLS", "CUSTOM"):
        raise TemplateError(build.where(method, "AuthorizationType"), _refusal(kind), _LOCAL_FIX)
    where = build.where(method, "AuthorizerId")
    authorizer = build.origin(props.get("AuthorizerId"), where, REST_AUTHORIZER)
    found = build.props(authorizer)
    here = build.where(authorizer)
    if kind == "CUSTOM":
        if str(found.get("Type", "")).upper() not in ("TOKEN", "REQUEST"):
            raise TemplateError(
                build.where(method, "AuthorizationType"),
                f"CUSTOM names {here}, a {found.get('Type')} authorizer",
                "point a CUSTOM method at a TOKEN or REQUEST (Lambda) authorizer, or make it "
                "COGNITO_USER_POOLS for a user pool's",
            )
        return _lambda(
            build,
            here,
            str(found.get("Type")).upper(),
            found.get("AuthorizerUri"),
            found.get("IdentitySource", "method.request.header.Authorization"),
            found.get("IdentityValidationExpression"),
        )
    if str(found.get("Type", "")).upper() != "COGNITO_USER_POOLS":
        raise TemplateError(f"{here} property Type", _refusal(str(found.get("Type"))), _LOCAL_FIX)
    source = str(found.get("IdentitySource", "method.request.header.Authorization"))
    _header(f"{here} property IdentitySource", source.removeprefix("method.request.header."))
    pool = pool_handle(build, _one_provider(here, found.get("ProviderARNs")), here)
    scopes = _strings(build.where(method, "AuthorizationScopes"), props.get("AuthorizationScopes"))
    return requirement(pool, scopes, build.where(method, "AuthorizationScopes"))


def http_route(build: Build, route: str, props: Mapping[str, Any]) -> AuthSpec | None:
    """An ``AWS::ApiGatewayV2::Route``'s AuthorizationType, AuthorizerId and
    AuthorizationScopes."""
    kind = str(props.get("AuthorizationType", "NONE")).upper()
    if kind in ("NONE", ""):
        return None
    if kind != "JWT":
        raise TemplateError(build.where(route, "AuthorizationType"), _refusal(kind), _LOCAL_FIX)
    where = build.where(route, "AuthorizerId")
    authorizer = build.origin(props.get("AuthorizerId"), where, HTTP_AUTHORIZER)
    found = build.props(authorizer)
    here = build.where(authorizer)
    if str(found.get("AuthorizerType", "")).upper() != "JWT":
        raise TemplateError(
            f"{here} property AuthorizerType",
            _refusal(str(found.get("AuthorizerType"))),
            _LOCAL_FIX,
        )
    sources = _strings(f"{here} property IdentitySource", found.get("IdentitySource"))
    for source in sources or ["$request.header.Authorization"]:
        _header(f"{here} property IdentitySource", source.removeprefix("$request.header."))
    jwt = convert.mapping(f"{here} property JwtConfiguration", found.get("JwtConfiguration"))
    scopes = _strings(build.where(route, "AuthorizationScopes"), props.get("AuthorizationScopes"))
    return _jwt(build, here, jwt.get("Issuer"), jwt.get("Audience"), scopes)


def swagger(
    build: Build, where: str, body: Mapping[str, Any], operation: Mapping[str, Any]
) -> AuthSpec | FunctionAuthorizer | None:
    """An OpenAPI operation's ``security`` (or the definition's own), with the scheme it
    names from ``securityDefinitions`` (swagger 2) or ``components.securitySchemes``."""
    security = operation.get("security", body.get("security"))
    keyed = _api_key_schemes(where, body)
    requirements = [
        {k: v for k, v in convert.mapping(f"{where} security", entry).items() if k not in keyed}
        for entry in convert.listing(f"{where} security", security)
    ]
    requirements = [r for r in requirements if r and set(r) != {"NONE"}]
    if not requirements:
        return None
    if len(requirements) > 1 or len(requirements[0]) > 1:
        raise TemplateError(
            f"{where} security",
            "several authorizers on one method are not emulated",
            "keep one authorizer for the local run",
        )
    ((name, scopes),) = requirements[0].items()
    schemes = _schemes(where, body)
    here = f"{where} security scheme {name!r}"
    scheme = convert.mapping(here, schemes.get(name))
    authorizer = convert.mapping(here, scheme.get("x-amazon-apigateway-authorizer"))
    kind = str(authorizer.get("type", "")).lower()
    wanted = _strings(f"{where} security {name}", scopes)
    if kind == "cognito_user_pools":
        _header(f"{here} name", str(scheme.get("name", "Authorization")))
        pool = pool_handle(build, _one_provider(here, authorizer.get("providerARNs")), here)
        return requirement(pool, wanted, f"{where} security")
    if kind == "jwt":
        source = str(authorizer.get("identitySource", "$request.header.Authorization"))
        for part in source.split(","):
            _header(f"{here} identitySource", part.strip().removeprefix("$request.header."))
        jwt = convert.mapping(f"{here} jwtConfiguration", authorizer.get("jwtConfiguration"))
        return _jwt(build, here, jwt.get("issuer"), jwt.get("audience"), wanted)
    if kind in ("token", "request"):
        return _lambda(
            build,
            here,
            kind.upper(),
            authorizer.get("authorizerUri"),
            authorizer.get("identitySource", f"method.request.header.{scheme.get('name', '')}"),
            authorizer.get("identityValidationExpression"),
        )
    if scheme.get("x-amazon-apigateway-authtype") == "awsSigv4":
        problem = _refusal("AWS_IAM")
    elif str(scheme.get("type", "")).lower() == "apikey" and not authorizer:
        problem = "API keys (usage plans) are not emulated"
    else:
        problem = f"the security scheme {name!r} is not a Cognito or JWT authorizer"
    raise TemplateError(here, problem, _LOCAL_FIX)


def _lambda(
    build: Build, where: str, kind: str, uri: Any, sources: Any, validation: Any
) -> FunctionAuthorizer:
    """A TOKEN or REQUEST authorizer: its function (from the authorizer URI), the headers it
    reads, a TOKEN's validation expression."""
    if not isinstance(uri, str) or "/functions/" not in uri:
        raise TemplateError(
            f"{where} authorizerUri",
            f"{uri!r} is not a Lambda function's invocation URI",
            "point it at a function of this template (!Sub ...:function:${Fn.Arn}/invocations)",
        )
    function = build.function_of(uri.split("/functions/", 1)[1], f"{where} authorizerUri")
    headers = []
    for source in str(sources or "").split(","):
        source = source.strip()
        if not source.startswith("method.request.header."):
            raise TemplateError(
                f"{where} identitySource",
                f"{source!r}: only request headers are emulated as an identity source",
                "read the identity from a header (method.request.header.Name)",
            )
        headers.append(source.removeprefix("method.request.header."))
    if kind == "TOKEN" and len(headers) != 1:
        raise TemplateError(f"{where} identitySource", "a TOKEN authorizer reads one header", "")
    return FunctionAuthorizer(
        build.name(function),
        "TOKEN" if kind == "TOKEN" else "REQUEST",
        tuple(headers),
        validation if isinstance(validation, str) and validation else None,
    )


def swagger_api_key(where: str, body: Mapping[str, Any], operation: Mapping[str, Any]) -> bool:
    """Whether an OpenAPI operation's ``security`` requires the API key (``x-api-key``, the
    ``api_key`` scheme SAM writes for ``ApiKeyRequired``)."""
    keyed = _api_key_schemes(where, body)
    security = operation.get("security", body.get("security"))
    return any(
        set(convert.mapping(f"{where} security", entry)) & keyed
        for entry in convert.listing(f"{where} security", security)
    )


def _api_key_schemes(where: str, body: Mapping[str, Any]) -> set[str]:
    """The definition's API key schemes: ``type: apiKey`` in the x-api-key header."""
    return {
        name
        for name, scheme in _schemes(where, body).items()
        if isinstance(scheme, Mapping)
        and str(scheme.get("type", "")).lower() == "apikey"
        and str(scheme.get("name", "")).lower() == "x-api-key"
        and not scheme.get("x-amazon-apigateway-authorizer")
    }


def _schemes(where: str, body: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **convert.mapping(f"{where} securityDefinitions", body.get("securityDefinitions")),
        **convert.mapping(
            f"{where} components.securitySchemes",
            convert.mapping(f"{where} components", body.get("components")).get("securitySchemes"),
        ),
    }


def _jwt(build: Build, where: str, issuer: Any, audience: Any, scopes: Sequence[str]) -> AuthSpec:
    """An HTTP API JWT authorizer: its issuer must be a user pool of this template; its
    audience is checked on the access token's ``client_id`` (as API Gateway does)."""
    if not isinstance(issuer, str) or not issuer.startswith("https://cognito-idp."):
        raise TemplateError(
            f"{where} issuer",
            f"{issuer!r} is not the issuer of a Cognito user pool of this template",
            "give !Sub https://cognito-idp.${AWS::Region}.amazonaws.com/${UserPool}",
        )
    pool = pool_handle(build, issuer, f"{where} issuer")
    clients = _strings(f"{where} audience", audience)
    return requirement(pool, scopes, f"{where} AuthorizationScopes", audience=clients)


def _one_provider(where: str, arns: Any) -> Any:
    found = convert.listing(f"{where} ProviderARNs", arns)
    if len(found) != 1:
        raise TemplateError(
            f"{where} ProviderARNs",
            f"names {len(found)} user pools; locally an authorizer has exactly one",
            "name one user pool of this template",
        )
    return found[0]


def _header(where: str, header: str) -> None:
    if header.lower() != "authorization":
        raise TemplateError(
            where,
            f"the token is read from {header!r}; locally only the Authorization header",
            "send the token in Authorization (IdentitySource method.request.header.Authorization)",
        )


def _strings(where: str, value: Any) -> list[str]:
    return [str(item) for item in convert.listing(where, value)]


def _refusal(kind: str) -> str:
    if kind == "AWS_IAM":
        return "AWS_IAM authorization (SigV4-signed callers) is not emulated for template APIs"
    if kind in ("CUSTOM", "TOKEN", "REQUEST"):
        return f"{kind}: Lambda authorizers are not emulated for template APIs"
    return f"{kind} authorization is not emulated for template APIs"
