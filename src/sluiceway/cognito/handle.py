"""The user pool handle: what `app.user_pool(...)` returns."""

from __future__ import annotations

from collections.abc import Mapping

from sluiceway.cognito.spec import AuthSpec, ResourceServerSpec, UserPoolSpec
from sluiceway.cognito.validation import resource_server
from sluiceway.core.errors import DeclarationError
from sluiceway.core.handle import Declarer, Handle


class UserPool(Handle):
    """A Cognito user pool for OAuth2 client credentials: app clients (created with
    ``sluiceway clients create``) get access tokens for its resource servers' scopes, and a
    route requires one with ``auth=pool.requires("devices/send")``.

    >>> pool = app.user_pool("devices", domain="sibesg")                     # doctest: +SKIP
    >>> pool.resource_server("devices", scopes={"send": "post messages"})   # doctest: +SKIP
    """

    def __init__(self, app: Declarer, name: str, domain: str | None, token_validity: int) -> None:
        super().__init__(app)
        self.name = name
        self.domain = domain
        self.token_validity = token_validity
        self._servers: dict[str, ResourceServerSpec] = {}

    @property
    def spec(self) -> UserPoolSpec:
        return UserPoolSpec(
            self.name, self.domain, tuple(self._servers.values()), self.token_validity
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

    def requires(self, *scopes: str) -> AuthSpec:
        """What a route or function asks of a request: an access token of this pool with
        one of `scopes` (as API Gateway's authorization scopes: any one suffices)."""
        where = f"user pool '{self.name}'"
        if not scopes:
            raise DeclarationError(
                where, "requires() needs a scope", "e.g. pool.requires('devices/send')"
            )
        unknown = sorted(set(scopes) - self.scopes)
        if unknown:
            raise DeclarationError(
                where,
                f"scope {', '.join(unknown)} is not defined by its resource servers",
                "declare it with pool.resource_server(identifier, scopes={...}) first",
            )
        return AuthSpec(self.name, tuple(scopes))

    def __repr__(self) -> str:
        return f"UserPool({self.name!r})"
