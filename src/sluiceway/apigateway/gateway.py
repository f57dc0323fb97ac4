"""The HTTP gateway: the app's routes, behind its web ACL, each to its integration
(`integrations.py`), and the user pools' token endpoint.

A raw ASGI app, so the ingest path carries no framework: check the headers, read the body
within its limit, parse it once, and answer 200 only after the message is committed to disk.
The runtime serves it behind its own pages (`sluiceway.local.web`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from sluiceway.apigateway import proxy, service_integration
from sluiceway.apigateway.asgi import (
    ClientGone,
    Receive,
    Scope,
    Send,
    answer_json,
    read_body,
    replay,
    request_headers,
)
from sluiceway.apigateway.info import RouteInfo
from sluiceway.apigateway.ingest import Rejection
from sluiceway.apigateway.integrations import GatewayEngine, Integrations, SendBatcher
from sluiceway.apigateway.service_integration import ServiceIntegrations
from sluiceway.cognito.token_endpoint import MAX_TOKEN_REQUEST_BYTES
from sluiceway.core import attrvalue, ids
from sluiceway.core.settings import Settings
from sluiceway.dynamodb.info import TableInfo
from sluiceway.sqs.info import QueueInfo
from sluiceway.wafv2.evaluator import Firewall
from sluiceway.wafv2.request import WebRequest

# Token requests checked at once (each a scrypt of a core's time for a secret).
TOKEN_THREADS = 2

log = logging.getLogger("sluiceway.gateway")


class Gateway(Integrations, ServiceIntegrations):
    """The ASGI application of the app's API (the runtime's `RuntimeApp` serves it)."""

    def __init__(self, engine: GatewayEngine) -> None:
        self.engine = engine
        registry = engine.registry
        assert registry is not None
        self.routes: dict[tuple[str, str], tuple[RouteInfo, QueueInfo]] = {
            key: (route, registry.queue(route.queue))
            for key, route in registry.routes.items()
            if route.queue is not None
        }
        self.table_routes: dict[tuple[str, str], tuple[RouteInfo, TableInfo]] = {
            key: (route, registry.table(route.table))
            for key, route in registry.routes.items()
            if route.table is not None
        }
        self.router = proxy.Router(engine.graph.functions)
        self.service_routes = service_integration.compile_routes(engine.graph.service_routes)
        graph = engine.graph
        self.http_api_only = bool(self.router.routes or graph.service_routes) and not (
            self.routes
            or self.table_routes
            or any(not route.v2 for route in self.router.routes)
            or any(not r.action_parameters for r in graph.service_routes)
        )
        self.account_id = engine.region.account_id
        self.api_id = ids.short_id("api", engine.graph.name)
        self._token_pool = ThreadPoolExecutor(TOKEN_THREADS, thread_name_prefix="sluiceway-token")
        self.requests = 0
        self.sends = SendBatcher(engine.store)
        acl = engine.graph.firewall
        self.firewall = (
            None
            if acl is None
            else Firewall(
                acl.rules,
                acl.default_action,
                clock=engine.clock,
                gateway_hosts=_own_hosts(engine.settings),
            )
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.requests += 1
        path: str = scope["path"]
        target = self.routes.get((scope["method"], path))
        try:
            if self.firewall is not None and not path.startswith(_UNGUARDED):
                passed = await self._screen(self.firewall, scope, receive, send)
                if passed is None:
                    return
                receive = passed
            if target is not None:
                await self._ingest(target[0], target[1], scope, receive, send)
            elif (into := self.table_routes.get((scope["method"], path))) is not None:
                await self._put(into[0], into[1], scope, receive, send)
            elif path == "/oauth2/token" or path.endswith("/.well-known/jwks.json"):
                await self._oauth(scope, receive, send)
            elif (found := self.router.find(scope["method"], path)) is not None:
                await self._proxy(found[0], found[1], scope, receive, send)
            elif (
                mapped := service_integration.find(self.service_routes, scope["method"], path)
            ) is not None:
                await self._service(mapped[0], mapped[1], scope, receive, send, self._authorized)
            elif (found := self.router.find(scope["method"], path, default=True)) is not None:
                await self._proxy(found[0], found[1], scope, receive, send)
            else:
                await self._unrouted(send)
        except ClientGone:
            return
        except Exception:
            # Never a stack trace in an answer: the log has it, the client gets a 500.
            log.exception("%s %s failed", scope["method"], path)
            with contextlib.suppress(Exception):  # the answer may have started already
                await answer_json(send, 500, {"message": "internal error", "code": "InternalError"})

    async def _unrouted(self, send: Send) -> None:
        """No route for this method and path: what API Gateway answers. A REST API (the
        app's routes, as rendered, and a template's RestApi) answers any unknown method or
        path 403 Missing Authentication Token; an app whose routes are all an HTTP API's
        answers 404 Not Found, as API Gateway v2 does."""
        if self.http_api_only:
            await answer_json(send, 404, {"message": "Not Found"})
            return
        await answer_json(
            send,
            403,
            {"message": "Missing Authentication Token"},
            [(b"x-amzn-errortype", b"MissingAuthenticationTokenException")],
        )

    @property
    def aws_call(self) -> service_integration.AwsCall | None:  # type: ignore[override]
        return self.engine.aws_integration

    async def _screen(
        self, firewall: Firewall, scope: Scope, receive: Receive, send: Send
    ) -> Receive | None:
        """The web ACL, before routing and any authorizer (WAF sits in front of API
        Gateway). Returns what the route reads the body from (the body itself, when a rule
        had to read it), or None once a blocked request got its 403."""
        client = scope.get("client") or ("", 0)
        request = WebRequest(
            method=scope["method"],
            path=scope.get("raw_path", scope["path"].encode()).decode("latin-1"),
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=[
                (k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]
            ],
            client_ip=client[0],
        )
        verdict = firewall.evaluate_head(request)
        if verdict is None:
            try:
                body = await read_body(receive, request_headers(scope), self._body_limit(scope))
            except Rejection as rejection:
                await answer_json(send, rejection.status, rejection.body())
                return None
            verdict = firewall.evaluate_body(request, body)
            receive = replay(body)
        if verdict.blocked:
            log.info(
                "firewall: %s %s from %s blocked by rule %s",
                scope["method"],
                scope["path"],
                client[0],
                verdict.rule,
            )
            await answer_json(send, 403, verdict.body())
            return None
        return receive

    def _body_limit(self, scope: Scope) -> int:
        """The largest body the request's route takes (what the firewall may read first)."""
        key = (scope["method"], scope["path"])
        if (queue_route := self.routes.get(key)) is not None:
            return queue_route[1].spec.maximum_message_size
        if key in self.table_routes:
            return attrvalue.MAX_ITEM_BYTES
        return proxy.MAX_BODY_BYTES

    async def _oauth(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The user pools' token endpoint and their signing keys (JWKS)."""
        identity = self.engine.identity
        assert identity is not None
        path = scope["path"]
        if path.endswith("/.well-known/jwks.json"):
            prefix = path.removesuffix("/.well-known/jwks.json").strip("/")
            if scope["method"] != "GET" or (prefix and identity.pool_of_id(prefix) is None):
                await answer_json(send, 404, {"message": f"no keys at {path}", "code": "NotFound"})
                return
            await answer_json(send, 200, identity.keys.jwks())
            return
        headers = request_headers(scope)
        try:
            body = await read_body(receive, headers, MAX_TOKEN_REQUEST_BYTES)
        except Rejection as rejection:
            await answer_json(
                send,
                rejection.status,
                {"error": "invalid_request", "error_description": rejection.message},
            )
            return
        client = scope.get("client") or ("", 0)
        # Off the event loop: a client secret is checked with a deliberately slow scrypt,
        # which would hold every other request up. A pool of its own bounds how many cores
        # a flood of guesses can take (and the throttle refuses most of them before that).
        status, answer, extra = await asyncio.get_running_loop().run_in_executor(
            self._token_pool,
            functools.partial(
                identity.token,
                scope["method"],
                headers,
                body,
                scope.get("query_string", b""),
                source=client[0],
            ),
        )
        # Cache-Control: no-store is on every answer already (RFC 6749 §5.1 asks for it).
        kept = [(k.lower(), v) for k, v in extra if k.lower() != "cache-control"]
        await answer_json(
            send, status, answer, [(k.encode(), v.encode("latin-1")) for k, v in kept]
        )


# Not behind the web ACL: the user pools' token endpoint and keys (Cognito's domain, not the
# API, on AWS). The runtime's own pages are not either: they are served ahead of the gateway.
_UNGUARDED = ("/oauth2/", "/.well-known/")


def _own_hosts(settings: Settings) -> set[str]:
    """The names the gateway is reached by (the firewall's Host_localhost rule spares them)."""
    hosts = {"localhost", "127.0.0.1", "::1", settings.host}
    public = urlsplit(settings.base_url).hostname
    if public:
        hosts.add(public)
    return hosts
