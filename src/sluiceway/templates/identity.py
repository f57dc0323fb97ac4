"""Cognito from a template: ``AWS::Cognito::UserPool`` with its ``UserPoolDomain``,
``UserPoolResourceServer`` and ``UserPoolClient`` resources, as one `app.user_pool`.

What runs locally is machine-to-machine OAuth2: the resource servers' scopes, and app clients
with the ``client_credentials`` flow, which exist when the runtime starts under the id their
``Ref`` gives (their secret: ``sluiceway clients secret <id>``). The pool's id (its ``Ref``)
is the one the runtime's issuer names, so an HTTP API's JWT issuer matches. User sign-in
(sign-up, the hosted UI, the code and implicit flows, MFA, triggers...) is listed as not
emulated; a pool used only for it is declared nowhere, and an authorizer naming it stops the
start (`pool_handle`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sluiceway.cognito.handle import UserPool
from sluiceway.cognito.spec import AuthSpec
from sluiceway.core.errors import DeclarationError
from sluiceway.templates import convert
from sluiceway.templates.build import Build
from sluiceway.templates.errors import TemplateError

USER_POOL = "AWS::Cognito::UserPool"
DOMAIN = "AWS::Cognito::UserPoolDomain"
RESOURCE_SERVER = "AWS::Cognito::UserPoolResourceServer"
CLIENT = "AWS::Cognito::UserPoolClient"
# Seconds in each of TokenValidityUnits' units; Cognito reads AccessTokenValidity in hours
# unless told otherwise.
_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86_400}
# Pool properties about users; they change nothing for client credentials.
_SIGN_IN = (
    "AccountRecoverySetting",
    "AdminCreateUserConfig",
    "AliasAttributes",
    "AutoVerifiedAttributes",
    "DeviceConfiguration",
    "EmailConfiguration",
    "EnabledMfas",
    "LambdaConfig",
    "MfaConfiguration",
    "Policies",
    "Schema",
    "SmsConfiguration",
    "UserAttributeUpdateSettings",
    "UsernameAttributes",
    "UsernameConfiguration",
    "UserPoolAddOns",
    "VerificationMessageTemplate",
)


def user_pool(build: Build, logical: str) -> None:
    where = build.where(logical)
    props = build.props(logical)
    name = build.name(logical)
    pool_ref = build.resolver.resolve({"Ref": logical}, where)
    servers = _of_pool(build, RESOURCE_SERVER, pool_ref)
    clients = _of_pool(build, CLIENT, pool_ref)
    machine = [c for c in clients if _client_credentials(build, c)]
    for client in clients:
        if client not in machine:
            build.note(
                f"{build.where(client)}: its OAuth flows ("
                f"{', '.join(_flows(build, client)) or 'none'}) sign users in, which is not "
                "emulated; only client_credentials clients run"
            )
    used = [p for p in _SIGN_IN if props.get(p) is not None]
    if used:
        build.note(f"{where}: user sign-in ({', '.join(used)}) is not emulated")
    if not servers and not machine:
        build.note(
            f"{where}: used only for user sign-in (no resource server, no client_credentials "
            "client): not emulated"
        )
        return
    pool = build.app.user_pool(
        name,
        domain=_domain(build, pool_ref),
        access_token_validity=_validity(build, machine),
    )
    build.handles[logical] = pool
    for server in servers:
        try:
            _resource_server(build, server, pool)
        except DeclarationError as error:
            raise TemplateError(build.where(server), error.problem, error.fix) from None
    for client in machine:
        try:
            _client(build, client, pool)
        except DeclarationError as error:
            raise TemplateError(build.where(client), error.problem, error.fix) from None


def _of_pool(build: Build, kind: str, pool_ref: str) -> list[str]:
    return [
        logical
        for logical in build.of_type(kind)
        if build.props(logical).get("UserPoolId") == pool_ref
    ]


def _flows(build: Build, client: str) -> list[str]:
    where = build.where(client, "AllowedOAuthFlows")
    return [str(f) for f in convert.listing(where, build.props(client).get("AllowedOAuthFlows"))]


def _client_credentials(build: Build, client: str) -> bool:
    return "client_credentials" in _flows(build, client)


def _domain(build: Build, pool_ref: str) -> str | None:
    domains = _of_pool(build, DOMAIN, pool_ref)
    if not domains:
        return None
    if len(domains) > 1:
        build.note(f"user pool {pool_ref}: only the first of its domains is served locally")
    props = build.props(domains[0])
    if props.get("CustomDomainConfig") is not None:
        build.note(
            f"{build.where(domains[0])}: a custom domain is not emulated (the token endpoint "
            "is the runtime's /oauth2/token)"
        )
    domain = props.get("Domain")
    return domain if isinstance(domain, str) and "." not in domain else None


def _validity(build: Build, clients: list[str]) -> int:
    """The pool's access-token lifetime: its client_credentials clients' (Cognito sets it
    per client; locally it is the pool's, so they must agree)."""
    found: dict[int, str] = {}
    for client in clients:
        props = build.props(client)
        raw = props.get("AccessTokenValidity")
        if raw is None:
            found.setdefault(3600, client)
            continue
        units = convert.mapping(
            build.where(client, "TokenValidityUnits"), props.get("TokenValidityUnits")
        )
        unit = str(units.get("AccessToken", "hours"))
        if unit not in _UNITS:
            raise TemplateError(
                build.where(client, "TokenValidityUnits"),
                f"AccessToken is {unit!r}",
                "use seconds, minutes, hours or days",
            )
        amount = convert.integer(build.where(client, "AccessTokenValidity"), raw, 1)
        found.setdefault(amount * _UNITS[unit], client)
    if len(found) > 1:
        build.note(
            "app clients of one user pool differ in AccessTokenValidity; locally the pool's "
            f"tokens all live {min(found)} seconds"
        )
    return min(found) if found else 3600


def _resource_server(build: Build, logical: str, pool: UserPool) -> None:
    props = build.props(logical)
    scopes: dict[str, str] = {}
    for i, raw in enumerate(convert.listing(build.where(logical, "Scopes"), props.get("Scopes"))):
        entry = convert.mapping(build.where(logical, f"Scopes[{i}]"), raw)
        scopes[str(entry.get("ScopeName"))] = str(entry.get("ScopeDescription"))
    name = props.get("Name")
    pool.resource_server(
        build.name(logical), scopes=scopes, name=None if name is None else str(name)
    )


def _client(build: Build, logical: str, pool: UserPool) -> None:
    props = build.props(logical)
    where = build.where(logical)
    if props.get("GenerateSecret") not in (True, "true", "True"):
        raise TemplateError(
            build.where(logical, "GenerateSecret"),
            "a client_credentials client needs a secret (Cognito refuses one without)",
            "set GenerateSecret: true",
        )
    others = [f for f in _flows(build, logical) if f != "client_credentials"]
    if others:
        build.note(f"{where}: its {', '.join(others)} flow is not emulated")
    scopes = [
        str(s)
        for s in convert.listing(
            build.where(logical, "AllowedOAuthScopes"), props.get("AllowedOAuthScopes")
        )
    ]
    client_id = build.resolver.resolve({"Ref": logical}, where)
    pool.client(build.name(logical), scopes=scopes, client_id=client_id)
    build.note(
        f"{where}: app client {client_id} (client credentials); its secret: "
        f"sluiceway clients secret {client_id}"
    )


def pool_handle(build: Build, arn_or_id: Any, where: str) -> UserPool:
    """The declared pool a ProviderARN (or an issuer, or a pool id) names."""
    if isinstance(arn_or_id, str) and arn_or_id.startswith("https://cognito-idp."):
        arn_or_id = arn_or_id.rstrip("/").rsplit("/", 1)[-1]
    logical = build.origin(arn_or_id, where, USER_POOL)
    found = build.handles.get(logical)
    if not isinstance(found, UserPool):
        raise TemplateError(
            where,
            f"user pool '{logical}' is used only for user sign-in, whose tokens are not "
            "emulated (no resource server, no client_credentials client)",
            "add a UserPoolResourceServer and a client_credentials UserPoolClient, or drop the "
            "authorizer for the local run",
        )
    return found


def requirement(
    pool: UserPool, scopes: Sequence[str], where: str, audience: Sequence[str] = ()
) -> AuthSpec:
    """``pool.requires(*scopes)``, or any token of the pool when no scope is named (API
    Gateway then takes ID tokens too, which are never issued locally)."""
    try:
        if scopes:
            return pool.requires(*scopes, audience=audience)
        return pool.requires_token(audience=audience)
    except DeclarationError as error:
        raise TemplateError(where, error.problem, error.fix) from None
