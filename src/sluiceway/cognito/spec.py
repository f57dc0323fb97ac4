"""A Cognito user pool, its resource servers and scopes, and a route's authorizer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResourceServerSpec:
    """A Cognito resource server: an identifier (``devices``) and its scopes (``send`` ->
    the full scope ``devices/send``), each with a description."""

    identifier: str
    name: str
    scopes: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ClientSpec:
    """An app client the app declares (``AWS::Cognito::UserPoolClient`` with the
    client_credentials flow): it exists when the runtime starts, under a stable id, with a
    secret derived from the data directory's secret (``sluiceway clients secret <id>``)."""

    client_id: str
    name: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class UserPoolSpec:
    """A Cognito user pool used for machine-to-machine OAuth2 (client credentials): its
    domain prefix, resource servers, how long access tokens live, and its declared app
    clients (more are made at run time with ``sluiceway clients create``)."""

    name: str
    domain: str | None = None
    resource_servers: tuple[ResourceServerSpec, ...] = ()
    access_token_validity: int = 3600
    clients: tuple[ClientSpec, ...] = ()


@dataclass(frozen=True)
class AuthSpec:
    """A route's authorizer: an access token of `pool` carrying one of `scopes` (API
    Gateway's COGNITO_USER_POOLS authorizer with AuthorizationScopes). No scopes: any
    valid access token of the pool (API Gateway then also takes the pool's ID tokens,
    which are never issued locally). `audience`: when given, only tokens issued to these
    app clients (an HTTP API JWT authorizer's audience, checked on ``client_id``)."""

    pool: str
    scopes: tuple[str, ...]
    audience: tuple[str, ...] = ()
