"""An app's user pools, run locally: app clients, the token endpoint, the authorizer.

The cryptography and the protocol checks are in `keys`, `clients`, `token_endpoint` and
`authorizer`; this module keeps the state:
signing keys under ``<data dir>/oauth/keys`` (rotated with ``sluiceway keys rotate``), app
clients in the ``oauth_clients`` table (a secret is shown once, kept as a salted hash), and
each pool's issuer. The app's declared clients (`ClientSpec`: a template's
``UserPoolClient``) are written there as the engine opens (`sync_declared`); their secrets
are derived from ``<data dir>/oauth/client-secrets.key`` (made on first use, mode 0600), so
they hold across restarts and ``sluiceway clients secret <id>`` prints them. An issuer has
Cognito's form,
``https://cognito-idp.<region>.amazonaws.com/<region>_<pool id>``, with a pool id derived
from the app and pool names: it does not change with the port, so a token stays valid across
restarts, and code that parses real issuers parses these. The runtime serves the keys at
``/.well-known/jwks.json`` and at ``/<pool id>/.well-known/jwks.json``.

Authorization follows API Gateway's Cognito authorizer: the token may come as ``Bearer
<token>`` or bare (as AWS's examples send it); any one of a route's scopes suffices. Where
the API Gateway answers 401 for a token without the scope, this answers 403
``insufficient_scope`` as RFC 6750 says (conformance.md records the difference).
"""

from __future__ import annotations

import base64
import collections
import hashlib
import json
import os
import secrets
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sluiceway.cognito.authorizer import bearer_token, verify_access_token
from sluiceway.cognito.clients import (
    OAuthClient,
    declared_client_secret,
    hash_secret,
    new_client_id,
    new_client_secret,
    verify_secret,
)
from sluiceway.cognito.errors import OAuthError
from sluiceway.cognito.keys import SigningKeys
from sluiceway.cognito.spec import AuthSpec, ClientSpec, UserPoolSpec
from sluiceway.cognito.throttle import DEFAULT_FAILURE_LIMIT, FailedAttempts
from sluiceway.cognito.token_endpoint import (
    NO_STORE_HEADERS,
    TokenRequest,
    grant,
    issue_access_token,
    parse_token_request,
    token_response,
)
from sluiceway.core.clock import Clock
from sluiceway.core.errors import NotFound, ValidationError
from sluiceway.core.store import Store, Tx


@dataclass(frozen=True)
class ClientView:
    """An app client as ``sluiceway clients list`` shows it (never its secret); a declared
    one's secret is printed by ``sluiceway clients secret``."""

    client_id: str
    name: str
    pool: str
    scopes: tuple[str, ...]
    created_at: int
    declared: bool = False


@dataclass(frozen=True)
class NewClient:
    """A client just made: the only time its secret is known."""

    client_id: str
    client_secret: str
    name: str
    pool: str
    scopes: tuple[str, ...]


SECRET_FILE = "client-secrets.key"
# The ids of the clients the engine made from declarations, so that one no longer declared
# is deleted (as CloudFormation deletes a client removed from the template).
_DECLARED_META = "oauth_declared_clients"


def pool_id(app: str, pool: str, region: str) -> str:
    """A Cognito-shaped user pool id (``us-east-1_AbC123xYz``), stable for an app's pool."""
    digest = hashlib.sha256(f"{app}/{pool}".encode()).digest()
    return f"{region}_{base64.b32encode(digest).decode()[:9].capitalize()}"


class Identity:
    """The user pools of one data directory."""

    def __init__(
        self,
        *,
        app: str,
        pools: Sequence[UserPoolSpec],
        store: Store,
        data_dir: Path,
        clock: Clock,
        region: str,
        failure_limit: int = DEFAULT_FAILURE_LIMIT,
    ) -> None:
        self.app = app
        self.pools = {pool.name: pool for pool in pools}
        self.store = store
        self.clock = clock
        self.region = region
        # Read afresh on each use, so a rotation made by the CLI shows at once.
        self.keys = SigningKeys(Path(data_dir) / "oauth" / "keys")
        self._secret_file = Path(data_dir) / "oauth" / SECRET_FILE
        # Failed client authentications per minute, per client id and per source address.
        self.failures = FailedAttempts(failure_limit, clock.now)
        # The token endpoint's outcomes (``/metrics``): issued, refused, throttled.
        self.outcomes: collections.Counter[str] = collections.Counter()
        self._outcomes_lock = threading.Lock()

    # -- names ------------------------------------------------------------------------------

    def pool_id(self, pool: str) -> str:
        return pool_id(self.app, pool, self.region)

    def issuer(self, pool: str) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.pool_id(pool)}"

    def pool_of_id(self, identifier: str) -> str | None:
        return next((name for name in self.pools if self.pool_id(name) == identifier), None)

    def scopes(self, pool: str) -> frozenset[str]:
        spec = self.pools[pool]
        return frozenset(
            f"{server.identifier}/{scope}"
            for server in spec.resource_servers
            for scope, _ in server.scopes
        )

    # -- app clients ------------------------------------------------------------------------

    def create_client(self, name: str, scopes: Sequence[str], pool: str | None = None) -> NewClient:
        """Make an app client allowed `scopes` (client credentials only)."""
        chosen = self._pool(pool)
        if not name or len(name) > 128:
            raise ValidationError("a client name is 1-128 characters")
        wanted = tuple(dict.fromkeys(scopes))
        if not wanted:
            raise ValidationError("a client needs at least one --scope")
        unknown = sorted(set(wanted) - self.scopes(chosen))
        if unknown:
            known = ", ".join(sorted(self.scopes(chosen))) or "none"
            raise ValidationError(
                f"user pool '{chosen}' defines no scope {', '.join(unknown)} (it has: {known})"
            )
        client_id, secret = new_client_id(), new_client_secret()
        hashed = hash_secret(secret)

        def create(tx: Tx) -> None:
            tx.execute(
                "INSERT INTO oauth_clients (client_id, pool, name, secret_hash, scopes, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (client_id, chosen, name, hashed, json.dumps(wanted), tx.now_ms),
            )

        self.store.write(create)
        return NewClient(client_id, secret, name, chosen, wanted)

    def clients(self) -> list[ClientView]:
        rows = self.store.reader().execute(
            "SELECT client_id, name, pool, scopes, created_at FROM oauth_clients "
            "ORDER BY created_at"
        )
        declared = self.declared()
        return [
            ClientView(cid, name, pool, tuple(json.loads(scopes)), created, cid in declared)
            for cid, name, pool, scopes, created in rows
        ]

    def declared(self) -> dict[str, tuple[str, ClientSpec]]:
        """The app's declared clients by id, each with its pool."""
        return {
            client.client_id: (pool.name, client)
            for pool in self.pools.values()
            for client in pool.clients
        }

    def client_secret(self, client_id: str) -> str:
        """A declared client's secret (a client made by ``sluiceway clients create`` showed
        its own once, and only its hash is kept)."""
        if client_id not in self.declared():
            made = any(view.client_id == client_id for view in self.clients())
            raise NotFound(
                f"app client {client_id!r} was made by `sluiceway clients create`: its secret "
                "was shown once and is not kept (make a new client)"
                if made
                else f"the app declares no app client with the id {client_id!r}"
            )
        return declared_client_secret(self._secret_key(), client_id)

    def sync_declared(self) -> None:
        """Make the declared clients, or bring them up to date (name, pool, scopes, secret),
        and delete those the app declared before but no longer does; idempotent. Secrets
        are hashed here, outside the write."""
        declared = self.declared()
        key = self._secret_key() if declared else b""
        query = "SELECT client_id, secret_hash FROM oauth_clients"
        stored: dict[str, str] = dict(self.store.reader().execute(query))
        hashes: dict[str, str] = {}
        for cid in declared:
            secret = declared_client_secret(key, cid)
            kept = stored.get(cid)
            if kept is None or not _verifies(secret, kept):
                hashes[cid] = hash_secret(secret)

        def sync(tx: Tx) -> None:
            row = tx.execute("SELECT value FROM meta WHERE key = ?", (_DECLARED_META,)).fetchone()
            for gone in set(json.loads(row[0]) if row else ()) - set(declared):
                tx.execute("DELETE FROM oauth_clients WHERE client_id = ?", (gone,))
            for cid, (pool, client) in declared.items():
                scopes = json.dumps(client.scopes)
                tx.execute(
                    "INSERT INTO oauth_clients (client_id, pool, name, secret_hash, scopes, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (client_id) DO UPDATE "
                    "SET pool = excluded.pool, name = excluded.name, scopes = excluded.scopes",
                    (cid, pool, client.name, hashes.get(cid, ""), scopes, tx.now_ms),
                )
                if cid in hashes:
                    tx.execute(
                        "UPDATE oauth_clients SET secret_hash = ? WHERE client_id = ?",
                        (hashes[cid], cid),
                    )
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (_DECLARED_META, json.dumps(sorted(declared))),
            )

        self.store.write(sync)

    def _secret_key(self) -> bytes:
        """The data directory's secret the declared clients' secrets derive from."""
        try:
            return self._secret_file.read_bytes()
        except FileNotFoundError:
            self._secret_file.parent.mkdir(parents=True, exist_ok=True)
            key = secrets.token_bytes(32)
            try:
                fd = os.open(self._secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # made by another process meanwhile
                return self._secret_file.read_bytes()
            try:
                os.write(fd, key)
            finally:
                os.close(fd)
            return key

    def delete_client(self, client_id: str) -> None:
        if client_id in self.declared():
            raise ValidationError(
                f"app client {client_id!r} is declared by the app (its template): it is made "
                "again at the next start; remove it from the app instead"
            )

        def delete(tx: Tx) -> int:
            return int(
                tx.execute("DELETE FROM oauth_clients WHERE client_id = ?", (client_id,)).rowcount
            )

        if not self.store.write(delete):
            raise NotFound(f"no app client has the id {client_id!r}")

    def _client(self, client_id: str) -> tuple[str, OAuthClient] | None:
        row = (
            self.store.reader()
            .execute(
                "SELECT pool, secret_hash, scopes FROM oauth_clients WHERE client_id = ?",
                (client_id,),
            )
            .fetchone()
        )
        if row is None:
            return None
        return row[0], OAuthClient(client_id, row[1], tuple(json.loads(row[2])))

    def _pool(self, pool: str | None) -> str:
        if pool is not None:
            if pool not in self.pools:
                raise ValidationError(f"the app declares no user pool '{pool}'")
            return pool
        if len(self.pools) != 1:
            names = ", ".join(self.pools) or "none"
            raise ValidationError(f"name the user pool with --pool (the app has: {names})")
        return next(iter(self.pools))

    # -- the token endpoint -----------------------------------------------------------------

    def token(
        self,
        method: str,
        headers: Mapping[str, str],
        body: bytes,
        query: bytes = b"",
        source: str = "",
    ) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        """``POST /oauth2/token``: (status, JSON body, headers) per RFC 6749. A client id or
        a `source` address with too many failed authentications in the last minute gets
        429 and ``Retry-After`` before its secret is checked (`throttle`)."""
        try:
            request = parse_token_request(method, headers, body, query=query)
            keys = (f"client:{request.client_id}", f"address:{source}")
            wait = self.failures.retry_after(keys)
            if wait is not None:
                self._count("throttled")
                raise OAuthError(
                    "too_many_requests",
                    "too many failed client authentications from this client or address; "
                    f"retry after {wait} s",
                    429,
                    headers=(("Retry-After", str(wait)),),
                )
            try:
                answer = self._issue(request)
            except OAuthError as refused:
                if refused.error == "invalid_client":
                    self.failures.failed(keys)
                raise
        except OAuthError as error:
            if error.status != 429:
                self._count("refused")
            return error.status, dict(error.body()), [*error.headers, *NO_STORE_HEADERS]
        self._count("issued")
        return 200, answer, list(NO_STORE_HEADERS)

    def _count(self, outcome: str) -> None:
        with self._outcomes_lock:
            self.outcomes[outcome] += 1

    def issue(
        self, client_id: str, client_secret: str, scopes: Sequence[str] | None
    ) -> dict[str, Any]:
        """What the token endpoint answers a client, without HTTP (``sluiceway token``
        when no runtime runs); raises `OAuthError`."""
        scoped = tuple(scopes) if scopes else None
        return self._issue(TokenRequest(client_id, client_secret, scoped, False))

    def _issue(self, request: TokenRequest) -> dict[str, Any]:
        found = self._client(request.client_id)
        pool, client = found if found is not None else (None, None)
        scopes = grant(request, client)
        if pool not in self.pools:
            raise OAuthError("invalid_client", "the client's user pool is no longer declared")
        token, expires = issue_access_token(
            self.keys,
            issuer=self.issuer(pool),
            client_id=request.client_id,
            scopes=scopes,
            now=self.clock.now(),
            lifetime=self.pools[pool].access_token_validity,
        )
        return dict(token_response(token, expires))

    # -- the authorizer ---------------------------------------------------------------------

    def authorize(self, requirement: AuthSpec, authorization: str | None) -> dict[str, object]:
        """The claims of a request's token that meets `requirement`; raises
        `AuthError` (401 or 403, with its ``WWW-Authenticate``)."""
        token = bearer_token(authorization, allow_raw=True)
        return verify_access_token(
            token,
            self.keys,
            issuer=self.issuer(requirement.pool),
            allowed_client_ids=requirement.audience or None,
            required_scopes=requirement.scopes,
            now=self.clock.now(),
            scope_match="any",
        )


def _verifies(secret: str, stored: str) -> bool:
    try:
        return verify_secret(secret, stored)
    except ValueError:  # not a hash: made anew
        return False
