"""The HTTP gateway: the app's routes, plus the few pages the runtime serves itself.

A raw ASGI app, so the ingest path carries no framework: check the headers, read the body
within its limit, parse it once, and answer 200 only after the message is committed to disk.
The commit is awaited, not run here: the store's writer batches concurrent requests into one
transaction and one fsync.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

from sluiceway.apigateway import ingest, proxy
from sluiceway.apigateway.info import RouteInfo
from sluiceway.apigateway.ingest import Rejection
from sluiceway.awslambda.invoke import TaskTimedOut
from sluiceway.awslambda.spec import HttpSource
from sluiceway.cognito.errors import AuthError
from sluiceway.cognito.spec import AuthSpec
from sluiceway.cognito.token_endpoint import MAX_TOKEN_REQUEST_BYTES
from sluiceway.core import attrvalue, events, ids, traces
from sluiceway.core.errors import ConditionalCheckFailed, NotFound
from sluiceway.core.faults import crash_point
from sluiceway.core.settings import Settings
from sluiceway.core.store import Tx
from sluiceway.dynamodb import tables
from sluiceway.dynamodb.info import TableInfo
from sluiceway.local import event_stream, metrics
from sluiceway.local.console import Console
from sluiceway.local.engine import LocalEngine
from sluiceway.sns import subscriptions
from sluiceway.sns.signing import CERT_PATH
from sluiceway.sqs import messages, queues
from sluiceway.sqs.info import QueueInfo
from sluiceway.wafv2.evaluator import Firewall
from sluiceway.wafv2.request import WebRequest

log = logging.getLogger("sluiceway.gateway")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON = b"application/json"
_HTML = b"text/html; charset=utf-8"
# On every answer of the runtime's own: nothing sniffs, caches, frames or runs it.
_COMMON_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
]


class ClientGone(Exception):
    pass


class SendBatcher:
    """Messages accepted in one turn of the event loop go to the store as ONE op (one
    statement for a standard queue), instead of one op each: the writer's per-op work and
    its wake-ups were half of what a durable 200 cost. Each request still waits for the
    commit that holds its message; if that commit fails, every request of the batch gets
    its 503, and nothing of the batch was stored."""

    def __init__(self, engine: LocalEngine) -> None:
        self.engine = engine
        self._batch: list[tuple[QueueInfo, messages.Outgoing, asyncio.Future[dict[str, str]]]] = []
        self._hops: list[tuple[str, str, str, str]] = []

    def send(
        self,
        queue: QueueInfo,
        message: messages.Outgoing,
        route: str = "",
        parent: str | None = None,
    ) -> asyncio.Future[dict[str, str]]:
        """Store `message` in the next batch; with its trace, the HTTP hop of `route` (and
        the caller's span id, `parent`, from its traceparent)."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[dict[str, str]] = loop.create_future()
        self._batch.append((queue, message, answer))
        if message.trace_id is not None:
            # The detail as JSON text, without json.dumps: a queue name, a message id (a
            # UUID) and a span id (hex) need no escaping.
            detail = f'{{"queue": "{queue.name}", "message_id": "{message.message_id}"'
            detail += f', "parent_span_id": "{parent}"}}' if parent else "}"
            self._hops.append((message.trace_id, "http", route, detail))
        if len(self._batch) == 1:
            loop.call_soon(self._flush)
        return answer

    def _flush(self) -> None:
        batch, self._batch = self._batch, []
        hops, self._hops = self._hops, []
        sends = [(queue, message) for queue, message, _ in batch]

        def store(tx: Tx) -> list[dict[str, str]]:
            answers = queues.send_many(tx, sends)
            if hops:
                traces.hops_many(tx, hops)
            return answers

        try:
            stored = self.engine.store.awrite(store)
        except Exception as error:  # the store is closed or fenced
            for _, _, answer in batch:
                if not answer.done():
                    answer.set_exception(error)
            return

        def answer_all(done: asyncio.Future[list[dict[str, str]]]) -> None:
            error = done.exception()
            for n, (_, _, answer) in enumerate(batch):
                if answer.done():
                    continue
                if error is None:
                    answer.set_result(done.result()[n])
                else:
                    answer.set_exception(error)

        stored.add_done_callback(answer_all)


class Gateway:
    """The ASGI application `sluiceway run` serves."""

    def __init__(self, engine: LocalEngine) -> None:
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
        self.methods: dict[str, list[str]] = {}
        for method, path in [*self.routes, *self.table_routes]:
            self.methods.setdefault(path, []).append(method)
        self.router = proxy.Router(engine.graph.functions)
        self.requests = 0
        self.sends = SendBatcher(engine)
        # The web console (the runtime's own, like /_sluiceway/; not behind the app's ACL).
        self.console = Console(engine) if engine.settings.console else None
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
        if scope["path"] == event_stream.PATH:  # a stream, not a request to count or time
            await event_stream.serve(self.engine.bus, scope, receive, send)
            return
        started = time.perf_counter()
        status, headers = 0, []

        async def noted(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status, headers = message["status"], message["headers"]
            await send(message)

        try:
            await self._dispatch(scope, receive, noted)
        finally:
            elapsed = time.perf_counter() - started
            metrics.observe_request(self, scope, status, elapsed, headers)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.requests += 1
        path: str = scope["path"]
        target = self.routes.get((scope["method"], path))
        try:
            if path == metrics.PATH and scope["method"] == "GET":
                # The runtime's own (apps may not declare it), not behind the app's web ACL.
                await metrics.serve(self, send)
                return
            if (
                self.firewall is not None
                and not path.startswith(_UNGUARDED)
                and not (self.console is not None and self.console.owns(path))
            ):
                passed = await self._screen(self.firewall, scope, receive, send)
                if passed is None:
                    return
                receive = passed
            if target is not None:
                await self._ingest(target[0], target[1], scope, receive, send)
            elif (into := self.table_routes.get((scope["method"], path))) is not None:
                await self._put(into[0], into[1], scope, receive, send)
            elif path.startswith("/_sluiceway/"):
                await self._runtime_page(scope, send)
            elif path == "/oauth2/token" or path.endswith("/.well-known/jwks.json"):
                await self._oauth(scope, receive, send)
            elif (found := self.router.find(scope["method"], path)) is not None:
                await self._proxy(found[0], found[1], scope, receive, send)
            elif self.console is not None and self.console.owns(path):
                await self.console(scope, receive, send)
            elif path in self.methods or self.router.allowed(path):
                allow = ", ".join(sorted({*self.methods.get(path, ()), *self.router.allowed(path)}))
                await _json(
                    send,
                    405,
                    {
                        "message": f"{scope['method']} is not allowed on {path}",
                        "code": "MethodNotAllowed",
                    },
                    [(b"allow", allow.encode())],
                )
            else:
                await _json(
                    send,
                    404,
                    {"message": f"no route for {scope['method']} {path}", "code": "NotFound"},
                )
        except ClientGone:
            return
        except Exception:
            # Never a stack trace in an answer: the log has it, the client gets a 500.
            log.exception("%s %s failed", scope["method"], path)
            with contextlib.suppress(Exception):  # the answer may have started already
                await _json(send, 500, {"message": "internal error", "code": "InternalError"})

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
                body = await _read_body(receive, _headers(scope), self._body_limit(scope))
            except Rejection as rejection:
                await _json(send, rejection.status, rejection.body())
                return None
            verdict = firewall.evaluate_body(request, body)
            receive = _replay(body)
        if verdict.blocked:
            log.info(
                "firewall: %s %s from %s blocked by rule %s",
                scope["method"],
                scope["path"],
                client[0],
                verdict.rule,
            )
            await _json(send, 403, verdict.body())
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

    async def _ingest(
        self, route: RouteInfo, queue: QueueInfo, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if route.auth is not None and not await self._authorized(route.auth, scope, send):
            return
        try:
            headers = _headers(scope, route.single_headers)
            ingest.check_content_type(headers.get("content-type"))
            body = await _read_body(receive, headers, queue.spec.maximum_message_size)
            trace = traces.trace_of(headers.get("traceparent"))
            message = ingest.prepare(
                queue,
                route,
                content_type=headers.get("content-type"),
                body=body,
                headers=headers,
                trace_id=trace,
            )
        except Rejection as rejection:
            await _json(send, rejection.status, rejection.body())
            return
        try:
            parent = traces.parent_of(headers.get("traceparent"))
            answer = await self.sends.send(queue, message, route.label, parent)
            crash_point("after-commit-before-reply")
        except Exception:
            log.exception("could not store a message for %s %s", route.method, route.path)
            await _json(
                send,
                503,
                {"message": "the message could not be stored; retry", "code": "Unavailable"},
                [(b"retry-after", b"1")],
            )
            return
        await _json(send, 200, answer, [(traces.TRACE_HEADER, trace.encode())])

    async def _put(
        self, route: RouteInfo, table: TableInfo, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """API Gateway's DynamoDB integration, with PutItem's meaning: the body is the item;
        answered once the item (and its stream record) is on disk."""
        if route.auth is not None and not await self._authorized(route.auth, scope, send):
            return
        try:
            headers = _headers(scope)
            ingest.check_content_type(headers.get("content-type"))
            body = await _read_body(receive, headers, attrvalue.MAX_ITEM_BYTES)
            prepared = ingest.prepare_item(
                table, route, content_type=headers.get("content-type"), body=body
            )
        except Rejection as rejection:
            await _json(send, rejection.status, rejection.body())
            return
        trace = traces.trace_of(headers.get("traceparent"))
        detail = {"table": table.name, "key": prepared.key}
        if (parent := traces.parent_of(headers.get("traceparent"))) is not None:
            detail["parent_span_id"] = parent

        def put(tx: Tx) -> None:
            traces.hop(tx, trace, "http", route.label, detail)
            tables.put(tx, table, prepared.item, if_not_exists=not route.overwrite, trace_id=trace)

        try:
            await self.engine.store.awrite(put)
        except ConditionalCheckFailed:
            await _json(
                send,
                409,
                {
                    "message": f"an item with this key already exists in table '{table.name}'",
                    "code": "ConditionalCheckFailed",
                    "key": prepared.key,
                },
            )
            return
        except Exception:
            log.exception("could not store an item for %s %s", route.method, route.path)
            await _json(
                send,
                503,
                {"message": "the item could not be stored; retry", "code": "Unavailable"},
                [(b"retry-after", b"1")],
            )
            return
        await _json(send, 200, {"key": prepared.key}, [(traces.TRACE_HEADER, trace.encode())])

    async def _proxy(
        self,
        route: proxy.FunctionRoute,
        params: dict[str, str],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        """API Gateway's Lambda proxy integration: the request as the proxy event, the
        function's answer as the response."""
        request_id = ids.uuid4()
        traceparent = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"traceparent"), None
        )
        trace_id = traces.trace_of(traceparent)
        trace = [
            (b"x-amzn-requestid", request_id.encode()),
            (traces.TRACE_HEADER, trace_id.encode()),
        ]
        source = route.function.source
        guard = source.auth if isinstance(source, HttpSource) else None
        if guard is not None and not await self._authorized(guard, scope, send, trace):
            return
        try:
            headers = _headers(scope)
            body = await _read_body(receive, headers, proxy.MAX_BODY_BYTES)
        except Rejection as rejection:
            await _json(send, rejection.status, rejection.body(), trace)
            return
        # The request's own hop, with how long its answer took (its invocation follows it).
        hop: dict[str, Any] = {"function": route.function.name, "request_id": request_id}
        if (parent := traces.parent_of(traceparent)) is not None:
            hop["parent_span_id"] = parent
        at_ms, seq, started = (
            int(self.engine.clock.now() * 1000),
            traces.next_seq(),
            time.perf_counter(),
        )
        try:
            client = scope.get("client") or ("127.0.0.1", 0)
            event = events.apigw_proxy_event(
                method=scope["method"],
                path=scope["path"],
                resource=route.resource,
                path_parameters=params,
                query=parse_qsl(
                    scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True
                ),
                headers=[
                    (_title(k.decode("latin-1")), v.decode("latin-1")) for k, v in scope["headers"]
                ],
                body=body,
                source_ip=client[0],
                request_id=request_id,
                request_time_ms=int(self.engine.clock.now() * 1000),
                account_id=self.engine.region.account_id,
            )
            loop = asyncio.get_running_loop()
            outcome = await loop.run_in_executor(
                None, self.engine.invoke_http, route.function, event, trace_id
            )
            if not outcome.ok:
                if isinstance(outcome.error, TaskTimedOut):
                    await _json(send, 504, {"message": "Endpoint request timed out"}, trace)
                else:
                    await _json(send, 502, {"message": "Internal server error"}, trace)
                return
            try:
                status, answer_headers, payload = proxy.answer(outcome.result)
            except proxy.MalformedAnswer as error:
                log.warning(
                    "function %s: malformed Lambda proxy response: %s", route.function.name, error
                )
                await _json(send, 502, {"message": "Internal server error"}, trace)
                return
            kept = [
                (k, v)
                for k, v in answer_headers
                if k not in (b"content-length", b"transfer-encoding")
            ]
            if not any(k == b"content-type" for k, _ in kept):
                kept.append((b"content-type", _JSON))
            headers_out = [*kept, (b"content-length", str(len(payload)).encode()), *trace]
            await send({"type": "http.response.start", "status": status, "headers": headers_out})
            await send({"type": "http.response.body", "body": payload})
        finally:
            took_ms = (time.perf_counter() - started) * 1000
            label = f"{scope['method']} {route.resource}"
            self.engine.store.traces.add(
                [traces.row(trace_id, at_ms, "http", label, hop, took_ms, seq)]
            )

    async def _authorized(
        self,
        requirement: AuthSpec,
        scope: Scope,
        send: Send,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> bool:
        """Check the request's access token against `requirement` (API Gateway's Cognito
        authorizer, before the body is read); answer 401/403 and return False if it fails."""
        identity = self.engine.identity
        assert identity is not None
        authorization = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None
        )
        try:
            identity.authorize(requirement, authorization)
        except AuthError as refusal:
            code = "Unauthorized" if refusal.status == 401 else "Forbidden"
            challenge = [(b"www-authenticate", refusal.www_authenticate.encode("latin-1"))]
            await _json(
                send,
                refusal.status,
                {"message": refusal.description, "code": code},
                [*challenge, *(extra or [])],
            )
            return False
        return True

    async def _oauth(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The user pools' token endpoint and their signing keys (JWKS)."""
        identity = self.engine.identity
        assert identity is not None
        path = scope["path"]
        if path.endswith("/.well-known/jwks.json"):
            prefix = path.removesuffix("/.well-known/jwks.json").strip("/")
            if scope["method"] != "GET" or (prefix and identity.pool_of_id(prefix) is None):
                await _json(send, 404, {"message": f"no keys at {path}", "code": "NotFound"})
                return
            await _json(send, 200, identity.keys.jwks())
            return
        headers = _headers(scope)
        try:
            body = await _read_body(receive, headers, MAX_TOKEN_REQUEST_BYTES)
        except Rejection as rejection:
            await _json(
                send,
                rejection.status,
                {"error": "invalid_request", "error_description": rejection.message},
            )
            return
        status, answer, extra = identity.token(
            scope["method"], headers, body, scope.get("query_string", b"")
        )
        # Cache-Control: no-store is on every answer already (RFC 6749 §5.1 asks for it).
        kept = [(k.lower(), v) for k, v in extra if k.lower() != "cache-control"]
        await _json(send, status, answer, [(k.encode(), v.encode("latin-1")) for k, v in kept])

    async def _runtime_page(self, scope: Scope, send: Send) -> None:
        path = scope["path"]
        query = {
            k: v[0] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()
        }
        if path == CERT_PATH and scope["method"] == "GET":
            pem = self.engine.signer.certificate()
            await _respond(send, 200, pem, b"application/x-pem-file", None)
        elif path == "/_sluiceway/health" and scope["method"] == "GET":
            await _json(send, 200, {"status": "ok", "app": self.engine.app.name})
        elif path == "/_sluiceway/firewall" and scope["method"] == "GET":
            if self.firewall is None:
                await _json(
                    send, 404, {"message": "the app declares no firewall", "code": "NotFound"}
                )
                return
            await _json(
                send,
                200,
                {
                    "default": self.firewall.acl.default_action,
                    "rules": self.firewall.counters(),
                    "tracked_keys": self.firewall.tracked_keys(),
                },
            )
        elif path == "/_sluiceway/sns/confirm" and scope["method"] == "GET":
            token = query.get("Token", "")
            try:
                arn = await self.engine.store.awrite(lambda tx: subscriptions.confirm(tx, token))
            except NotFound:
                await _page(
                    send, 404, "Not found", "No subscription waits for this confirmation link."
                )
                return
            await _page(
                send,
                200,
                "Subscription confirmed!",
                f"You have successfully subscribed.\nYour subscription's id is:\n{arn}",
            )
        elif path == "/_sluiceway/sns/unsubscribe" and scope["method"] == "GET":
            arn, token = query.get("SubscriptionArn", ""), query.get("Token", "")
            try:
                await self.engine.store.awrite(lambda tx: subscriptions.unsubscribe(tx, arn, token))
            except NotFound:
                await _page(send, 404, "Not found", "No such subscription.")
                return
            await _page(
                send,
                200,
                "Subscription removed!",
                f"Your subscription to the topic below has been deactivated:\n{arn}",
            )
        else:
            await _json(
                send, 404, {"message": f"no route for {scope['method']} {path}", "code": "NotFound"}
            )


# Not behind the web ACL: the runtime's own pages, and the user pools' token endpoint and
# keys (Cognito's domain, not the API, on AWS).
_UNGUARDED = ("/_sluiceway/", "/oauth2/", "/.well-known/")


def _own_hosts(settings: Settings) -> set[str]:
    """The names the gateway is reached by (the firewall's Host_localhost rule spares them)."""
    hosts = {"localhost", "127.0.0.1", "::1", settings.host}
    public = urlsplit(settings.base_url).hostname
    if public:
        hosts.add(public)
    return hosts


def _replay(body: bytes) -> Receive:
    """A `receive` that hands over a body already read."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _title(name: str) -> str:
    """ASGI lower-cases header names; API Gateway passes them as clients commonly send
    them ("Content-Type")."""
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


_SINGLE = frozenset({"content-length", "content-type", "transfer-encoding"})


def _headers(scope: Scope, single: frozenset[str] = _SINGLE) -> dict[str, str]:
    """The request's headers by lower-case name; repeated ones joined with ", ", except
    those in `single`, which may come once (which of two would count is ambiguous)."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name in headers:
            if name in single:
                ingest.reject(400, "AmbiguousHeaders", f"the {name} header is given more than once")
            headers[name] = f"{headers[name]}, {value}"
        else:
            headers[name] = value
    return headers


async def _read_body(receive: Receive, headers: dict[str, str], limit: int) -> bytes:
    declared = headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            ingest.reject(400, "InvalidContentLength", "Content-Length is not a number")
        if int(declared) > limit:
            # Refused before reading a byte of it.
            ingest.reject(413, "PayloadTooLarge", f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            ingest.reject(413, "PayloadTooLarge", f"the body is larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _json(
    send: Send, status: int, payload: Any, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    await _respond(send, status, json.dumps(payload).encode(), _JSON, extra)


async def _page(send: Send, status: int, title: str, text: str) -> None:
    body = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"</head><body><h1>{html.escape(title)}</h1><pre>{html.escape(text)}</pre></body></html>"
    )
    await _respond(send, status, body.encode(), _HTML, None)


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    extra: list[tuple[bytes, bytes]] | None,
) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        *_COMMON_HEADERS,
    ]
    if extra:
        headers += extra
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
