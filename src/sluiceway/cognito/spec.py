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
class UserPoolSpec:
    """A Cognito user pool used for machine-to-machine OAuth2 (client credentials): its
    domain prefix, resource servers, and how long access tokens live."""

    name: str
    domain: str | None = None
    resource_servers: tuple[ResourceServerSpec, ...] = ()
    access_token_validity: int = 3600


@dataclass(frozen=True)
class AuthSpec:
    """A route's authorizer: an access token of `pool` carrying one of `scopes` (API
    Gateway's COGNITO_USER_POOLS authorizer with AuthorizationScopes)."""

    pool: str
    scopes: tuple[str, ...]
