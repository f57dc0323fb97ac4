"""API Gateway's integrations: SQS (SendMessage), DynamoDB (PutItem) and the Lambda proxy,
each behind the route's Cognito authorizer; and the engine they call (`GatewayEngine`).

The commit is awaited, not run here: the store's writer batches concurrent requests into one
transaction and one fsync, and a queue route answers 200 only once its message is on disk.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from sluiceway.apigateway import ingest, lambda_authorizer, proxy
from sluiceway.apigateway.asgi import (
    JSON,
    Receive,
    Scope,
    Send,
    answer_json,
    read_body,
    request_headers,
)
from sluiceway.apigateway.info import RouteInfo, RouteRegistry
from sluiceway.apigateway.ingest import Rejection
from sluiceway.apigateway.proxy_events import proxy_event
from sluiceway.apigateway.service_integration import AwsCall, api_key_accepted
from sluiceway.apigateway.spec import ServiceRouteSpec
from sluiceway.awslambda.invoke import Outcome, TaskTimedOut, Throttled
from sluiceway.awslambda.spec import FunctionAuthorizer, FunctionSpec, HttpSource
from sluiceway.cognito.errors import AuthError
from sluiceway.cognito.identity import Identity
from sluiceway.cognito.spec import AuthSpec
from sluiceway.core import attrvalue, ids, naming, traces
from sluiceway.core.clock import Clock
from sluiceway.core.errors import ConditionalCheckFailed
from sluiceway.core.faults import crash_point
from sluiceway.core.settings import Settings
from sluiceway.core.store import Store, Tx
from sluiceway.dynamodb import tables
from sluiceway.dynamodb.info import TableInfo
from sluiceway.sqs import messages, queues
from sluiceway.sqs.info import QueueInfo
from sluiceway.wafv2.rules import WebACL

log = logging.getLogger("sluiceway.gateway")


class GatewayGraph(Protocol):
    """What the gateway reads of the app's graph (`sluiceway.app.graph.AppGraph` is one)."""

    @property
    def name(self) -> str: ...
    @property
    def functions(self) -> tuple[FunctionSpec, ...]: ...
    @property
    def service_routes(self) -> tuple[ServiceRouteSpec, ...]: ...
    @property
    def firewall(self) -> WebACL | None: ...


class GatewayEngine(Protocol):
    """What the gateway needs of the engine behind it (`sluiceway.local.LocalEngine` is one)."""

    @property
    def registry(self) -> RouteRegistry | None: ...
    @property
    def graph(self) -> GatewayGraph: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def store(self) -> Store: ...
    @property
    def identity(self) -> Identity | None: ...
    @property
    def region(self) -> naming.Region: ...
    @property
    def aws_integration(self) -> AwsCall | None: ...

    def invoke_http(
        self, function: FunctionSpec, event: dict[str, Any], trace_id: str | None = None
    ) -> Outcome: ...


class SendBatcher:
    """Messages accepted in one turn of the event loop go to the store as ONE op (one
    statement for a standard queue), instead of one op each: the writer's per-op work and
    its wake-ups were half of what a durable 200 cost. Each request still waits for the
    commit that holds its message; if that commit fails, every request of the batch gets
    its 503, and nothing of the batch was stored."""

    def __init__(self, store: Store) -> None:
        self.store = store
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
            stored = self.store.awrite(store)
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


class Integrations:
    """The integrations, as the gateway's methods (`Gateway` routes a request to one)."""

    engine: GatewayEngine
    sends: SendBatcher
    api_id: str  # the API's id in the events (AWS's 10-character shape)

    async def _ingest(
        self, route: RouteInfo, queue: QueueInfo, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if route.auth is not None and not await self._authorized(route.auth, scope, send):
            return
        try:
            headers = request_headers(scope, route.single_headers)
            ingest.check_content_type(headers.get("content-type"))
            body = await read_body(receive, headers, queue.spec.maximum_message_size)
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
            await answer_json(send, rejection.status, rejection.body())
            return
        try:
            parent = traces.parent_of(headers.get("traceparent"))
            answer = await self.sends.send(queue, message, route.label, parent)
            crash_point("after-commit-before-reply")
        except Exception:
            log.exception("could not store a message for %s %s", route.method, route.path)
            await answer_json(
                send,
                503,
                {"message": "the message could not be stored; retry", "code": "Unavailable"},
                [(b"retry-after", b"1")],
            )
            return
        await answer_json(send, 200, answer, [(traces.TRACE_HEADER, trace.encode())])

    async def _put(
        self, route: RouteInfo, table: TableInfo, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """API Gateway's DynamoDB integration, with PutItem's meaning: the body is the item;
        answered once the item (and its stream record) is on disk."""
        if route.auth is not None and not await self._authorized(route.auth, scope, send):
            return
        try:
            headers = request_headers(scope)
            ingest.check_content_type(headers.get("content-type"))
            body = await read_body(receive, headers, attrvalue.MAX_ITEM_BYTES)
            prepared = ingest.prepare_item(
                table, route, content_type=headers.get("content-type"), body=body
            )
        except Rejection as rejection:
            await answer_json(send, rejection.status, rejection.body())
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
            await answer_json(
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
            await answer_json(
                send,
                503,
                {"message": "the item could not be stored; retry", "code": "Unavailable"},
                [(b"retry-after", b"1")],
            )
            return
        await answer_json(send, 200, {"key": prepared.key}, [(traces.TRACE_HEADER, trace.encode())])

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
        assert isinstance(source, HttpSource)
        if source.api_keys is not None and not api_key_accepted(source.api_keys, scope):
            # API Gateway's answer to a missing or unknown key, before any authorizer.
            await answer_json(send, 403, {"message": "Forbidden"}, trace)
            return
        guard = source.auth
        claims: dict[str, object] | None = None
        decided: dict[str, Any] | None = None  # a Lambda authorizer's principal and context
        if isinstance(guard, FunctionAuthorizer):
            decided = await self._lambda_authorized(
                guard, route, params, scope, send, trace, trace_id
            )
            if decided is None:
                return
        elif guard is not None:
            claims = await self._claims(guard, scope, send, trace)
            if claims is None:
                return
        try:
            headers = request_headers(scope)
            body = await read_body(receive, headers, proxy.MAX_BODY_BYTES)
        except Rejection as rejection:
            await answer_json(send, rejection.status, rejection.body(), trace)
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
            event = proxy_event(
                route,
                params,
                scope,
                body,
                request_id,
                int(self.engine.clock.now() * 1000),
                self.engine.region.account_id,
                self.api_id,
                claims,
                decided,
            )
            loop = asyncio.get_running_loop()
            outcome = await loop.run_in_executor(
                None, self.engine.invoke_http, route.function, event, trace_id
            )
            v2 = route.v2
            if not outcome.ok:
                failed = proxy.failure(
                    v2,
                    timed_out=isinstance(outcome.error, TaskTimedOut),
                    throttled=isinstance(outcome.error, Throttled),
                )
                await answer_json(send, *failed, trace)
                return
            try:
                mapped = proxy.answer_v2 if v2 else proxy.answer
                status, answer_headers, payload = mapped(outcome.result)
            except proxy.MalformedAnswer as error:
                log.warning(
                    "function %s: malformed Lambda proxy response: %s", route.function.name, error
                )
                await answer_json(send, *proxy.failure(v2, timed_out=False), trace)
                return
            kept = [
                (k, v)
                for k, v in answer_headers
                if k not in (b"content-length", b"transfer-encoding")
            ]
            if not any(k == b"content-type" for k, _ in kept):
                kept.append((b"content-type", JSON))
            headers_out = [*kept, (b"content-length", str(len(payload)).encode()), *trace]
            await send({"type": "http.response.start", "status": status, "headers": headers_out})
            await send({"type": "http.response.body", "body": payload})
        finally:
            took_ms = (time.perf_counter() - started) * 1000
            label = f"{scope['method']} {route.resource}"
            self.engine.store.traces.add(
                [traces.row(trace_id, at_ms, "http", label, hop, took_ms, seq)]
            )

    async def _lambda_authorized(
        self,
        authorizer: FunctionAuthorizer,
        route: proxy.FunctionRoute,
        params: dict[str, str],
        scope: Scope,
        send: Send,
        trace: list[tuple[bytes, bytes]],
        trace_id: str,
    ) -> dict[str, Any] | None:
        """A Lambda authorizer's decision on this request (`lambda_authorizer`)."""
        region = self.engine.region
        path = scope["path"]
        if route.stage is not None:
            path = path[len(route.stage) + 1 :] or "/"
        arn = lambda_authorizer.method_arn(
            region.region,
            region.account_id,
            self.api_id,
            route.stage or "local",
            scope["method"],
            path,
        )
        function = next(
            (f for f in self.engine.graph.functions if f.name == authorizer.function), None
        )
        now_ms = int(self.engine.clock.now() * 1000)

        def request_event() -> dict[str, Any]:
            event = proxy_event(
                route, params, scope, b"", ids.uuid4(), now_ms, region.account_id, self.api_id
            )
            del event["body"], event["isBase64Encoded"]
            return event

        return await lambda_authorizer.authorize(
            self.engine,
            authorizer,
            function,
            arn,
            request_headers(scope),
            request_event,
            send,
            trace,
            trace_id,
        )

    async def _authorized(
        self,
        requirement: AuthSpec,
        scope: Scope,
        send: Send,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> bool:
        """`_claims`, for a route whose integration has no use for them."""
        return await self._claims(requirement, scope, send, extra) is not None

    async def _claims(
        self,
        requirement: AuthSpec,
        scope: Scope,
        send: Send,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> dict[str, object] | None:
        """The claims of the request's access token, checked against `requirement` (API
        Gateway's Cognito authorizer, before the body is read); None, once 401/403 is
        answered, if it fails."""
        identity = self.engine.identity
        assert identity is not None
        authorization = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None
        )
        try:
            return identity.authorize(requirement, authorization)
        except AuthError as refusal:
            code = "Unauthorized" if refusal.status == 401 else "Forbidden"
            challenge = [(b"www-authenticate", refusal.www_authenticate.encode("latin-1"))]
            await answer_json(
                send,
                refusal.status,
                {"message": refusal.description, "code": code},
                [*challenge, *(extra or [])],
            )
            return None
