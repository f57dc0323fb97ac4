"""The user pool handle: what `app.user_pool(...)` returns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sluiceway.cognito.clients import declared_client_id
from sluiceway.cognito.spec import AuthSpec, ClientSpec, ResourceServerSpec, UserPoolSpec
from sluiceway.cognito.validation import app_client, resource_server
from sluiceway.core.errors import DeclarationError
from sluiceway.core.handle import Declarer, Handle


class UserPool(Handle):
    """A Cognito user pool for OAuth2 client credentials: app clients (declared with
    `client`, or created with ``sluiceway clients create``) get access tokens for its
    resource servers' scopes, and a route requires one with
    ``auth=pool.requires("devices/send")``.

    >>> pool = app.user_pool("devices", domain="sibesg")                     # doctest: +SKIP
    >>> pool.resource_server("devices", scopes={"send": "post messages"})   # doctest: +SKIP
    """

    def __init__(self, app: Declarer, name: str, domain: str | None, token_validity: int) -> None:
        super().__init__(app)
        self.name = name
        self.domain = domain
        self.token_validity = token_validity
        self._servers: dict[str, ResourceServerSpec] = {}
        self._clients: dict[str, ClientSpec] = {}

    @property
    def spec(self) -> UserPoolSpec:
        return UserPoolSpec(
            self.name,
            self.domain,
            tuple(self._servers.values()),
            self.token_validity,
            tuple(self._clients.values()),
        )

    @property
    def scopes(self) -> frozenset[str]:
        """Every full scope (``identifier/name``) the pool's resource servers define."""
        return frozenset(
            f"{server.identifier}/{scope}"
            for server in self._servers.values()
            for scope, _ in server.scopes
        )

    def resource_server(
        self, identifier: str, *, scopes: Mapping[str, str], name: str | None = None
    ) -> None:
        """Declare a resource server: `scopes` maps a scope name to its description."""
        self._servers[identifier] = resource_server(
            f"user pool '{self.name}'", identifier, scopes, name, self._servers
        )

    def client(self, name: str, *, scopes: Sequence[str], client_id: str | None = None) -> str:
        """Declare an app client (client credentials) allowed `scopes`; returns its id.

        It exists whenever the runtime starts (made, or brought up to date, as the engine
        opens), with an id stable from the app, pool and client names unless `client_id`
        is given, and a secret derived from the data directory's own secret: print it with
        ``sluiceway clients secret <id>``. Declare the resource servers first."""
        where = f"user pool '{self.name}': app client {name!r}"
        chosen = client_id or declared_client_id(getattr(self.app, "name", ""), self.name, name)
        spec = app_client(where, chosen, name, tuple(scopes), self.scopes, self._clients)
        self._clients[spec.client_id] = spec
        return spec.client_id

    def requires_token(self, *, audience: Sequence[str] = ()) -> AuthSpec:
        """What a route asks of a request: any valid access token of this pool, whatever its
        scopes (API Gateway's COGNITO_USER_POOLS authorizer without AuthorizationScopes;
        there it also takes the pool's ID tokens, which are never issued locally)."""
        return AuthSpec(self.name, (), self._audience(audience))

    def requires(self, *scopes: str, audience: Sequence[str] = ()) -> AuthSpec:
        """What a route or function asks of a request: an access token of this pool with
        one of `scopes` (as API Gateway's authorization scopes: any one suffices) and, with
        `audience`, issued to one of those app client ids (an HTTP API JWT authorizer)."""
        where = f"user pool '{self.name}'"
        if not scopes:
            raise DeclarationError(
                where,
                "requires() needs a scope",
                "e.g. pool.requires('devices/send'); any token of the pool: pool.requires_token()",
            )
        unknown = sorted(set(scopes) - self.scopes)
        if unknown:
            raise DeclarationError(
                where,
                f"scope {', '.join(unknown)} is not defined by its resource servers",
                "declare it with pool.resource_server(identifier, scopes={...}) first",
            )
        return AuthSpec(self.name, tuple(scopes), self._audience(audience))

    def _audience(self, audience: Sequence[str]) -> tuple[str, ...]:
        if isinstance(audience, str) or not all(isinstance(a, str) and a for a in audience):
            raise DeclarationError(
                f"user pool '{self.name}'",
                f"audience={audience!r} is not a list of app client ids",
                "e.g. audience=[client_id]",
            )
        return tuple(audience)

    def __repr__(self) -> str:
        return f"UserPool({self.name!r})"
