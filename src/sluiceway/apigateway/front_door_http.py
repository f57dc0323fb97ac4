"""One client connection of the front door process: HTTP/1.1 requests parsed as they arrive,
the hot path's served (a `POST` to a queue route), anything else handed over to the runtime."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sluiceway.apigateway import ingest
from sluiceway.apigateway.front_door_state import Door
from sluiceway.apigateway.info import RouteInfo
from sluiceway.apigateway.ingest import Rejection
from sluiceway.core import traces
from sluiceway.core.faults import crash_point
from sluiceway.sqs.info import QueueInfo

log = logging.getLogger("sluiceway.front_door")

_HEADER = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([^\x00-\x08\x0a-\x1f\x7f]*?)[ \t]*")
_COMMON = (
    b"content-type: application/json\r\n"
    b"x-content-type-options: nosniff\r\n"
    b"cache-control: no-store\r\n"
    b"referrer-policy: no-referrer\r\n"
    b"x-frame-options: DENY\r\n"
    b"content-security-policy: default-src 'none'; frame-ancestors 'none'\r\n"
)
_UNAVAILABLE = b'{"message": "the message could not be stored; retry", "code": "Unavailable"}'


@dataclass(frozen=True, slots=True)
class _Request:
    route: RouteInfo
    queue: QueueInfo
    headers: dict[str, str]
    length: int
    close: bool


class Connection(asyncio.Protocol):
    """One client connection: requests parsed as they arrive, answered in order."""

    def __init__(self, door: Door) -> None:
        self.door = door
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.busy = False  # a request is being stored: what follows waits its turn
        self.client = ""
        self.timer: asyncio.TimerHandle | None = None
        self.request: _Request | None = None  # its head read, its body still arriving
        self.idle = False  # answered, nothing more sent yet: the keep-alive timer runs

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        peer = transport.get_extra_info("peername")
        self.client = peer[0] if isinstance(peer, tuple) else ""
        self.door.connections.add(self)
        self._arm(self.door.config.header_seconds, self._too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.door.connections.discard(self)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.idle:
            self.idle = False
            self._arm(self.door.config.header_seconds, self._too_slow)
        if not self.busy:
            self._advance()

    # -- parsing ------------------------------------------------------------------------------
    def _advance(self) -> None:
        while not self.busy and self.buffer and self.transport is not None:
            request = self.request
            if request is None:
                end = self.buffer.find(b"\r\n\r\n")
                limit = self.door.config.max_header_bytes + self.door.config.max_url_bytes
                if end < 0 or end > limit:
                    if len(self.buffer) > limit:
                        self._hand_over()  # the edge answers 431 or 414
                    return
                request = self._parse(self.buffer[:end])
                if request is None:
                    self._hand_over()
                    return
                self.buffer = self.buffer[end + 4 :]
                if self._refused_early(request):
                    return
                self.request = request
                if len(self.buffer) < request.length:
                    self._arm(self.door.config.body_seconds, self._too_slow)
            if len(self.buffer) < request.length:
                return
            body = self.buffer[: request.length]
            self.buffer = self.buffer[request.length :]
            self.request = None
            self._serve(request, body)

    def _parse(self, head: bytes) -> _Request | None:
        """The request, if it is one this process serves; None to hand it over."""
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3 or parts[2] != b"HTTP/1.1":
            return None
        if len(parts[1]) > self.door.config.max_url_bytes:
            return None
        path, _, _ = parts[1].partition(b"?")
        found = self.door.routes.get((parts[0], path))
        if found is None or b"%" in path:
            return None
        route, queue = found
        if route.auth is not None:
            return None  # the authorizer's keys live in the runtime
        single = route.single_headers
        headers: dict[str, str] = {}
        for line in lines[1:]:
            matched = _HEADER.fullmatch(line)
            if matched is None:
                return None
            name = matched.group(1).decode("latin-1").lower()
            value = matched.group(2).decode("latin-1")
            if name in headers:
                if name in single:
                    return None  # the gateway names the ambiguity
                headers[name] = f"{headers[name]}, {value}"
            else:
                headers[name] = value
        if "transfer-encoding" in headers or "expect" in headers:
            return None
        if "x-amz-target" in headers or headers.get("authorization", "").startswith("AWS4-"):
            return None  # an AWS API request (`local.aws_api`), whatever its path
        declared = headers.get("content-length", "0")
        if not declared.isdigit():
            return None
        close = headers.get("connection", "").lower() == "close"
        return _Request(route, queue, headers, int(declared), close)

    def _refused_early(self, request: _Request) -> bool:
        """The gateway's checks before the body: its content type, its declared length."""
        try:
            ingest.check_content_type(request.headers.get("content-type"))
            if request.length > request.queue.spec.maximum_message_size:
                limit = request.queue.spec.maximum_message_size
                ingest.reject(413, "PayloadTooLarge", f"the body is larger than {limit} bytes")
        except Rejection as rejection:
            # The body is not read: the connection cannot be reused.
            self._answer(request, rejection.status, _json(rejection.body()), b"", True)
            return True
        return False

    # -- serving ------------------------------------------------------------------------------
    def _serve(self, request: _Request, body: bytes) -> None:
        started = time.perf_counter()
        headers = request.headers
        traceparent = headers.get("traceparent")
        trace = traces.trace_of(traceparent)
        try:
            message = ingest.prepare(
                request.queue,
                request.route,
                content_type=headers.get("content-type"),
                body=body,
                headers=headers,
                trace_id=trace,
            )
        except Rejection as rejection:
            self._answer(request, rejection.status, _json(rejection.body()), b"", request.close)
            self._seen(request, rejection.status, started, None)
            return
        self.busy = True
        self._disarm()
        answer = self.door.store(
            request.queue, message, request.route.label, traces.parent_of(traceparent)
        )
        trace_header = b"%s: %s\r\n" % (traces.TRACE_HEADER, trace.encode())

        def stored(done: asyncio.Future[dict[str, str]]) -> None:
            self.busy = False
            error = done.exception()
            if error is None:
                crash_point("after-commit-before-reply")
                self._answer(request, 200, _json(done.result()), trace_header, request.close)
                self._seen(request, 200, started, trace)
            else:
                log.error("could not store a message for %s: %s", request.route.label, error)
                self._answer(request, 503, _UNAVAILABLE, b"retry-after: 1\r\n", request.close)
                self._seen(request, 503, started, None)
            self._advance()

        answer.add_done_callback(stored)

    def _seen(self, request: _Request, status: int, started: float, trace: str | None) -> None:
        seconds = time.perf_counter() - started
        route = request.route
        self.door.seen(route.method, route.path, status, seconds, trace, self.client)

    def _answer(
        self, request: _Request | None, status: int, body: bytes, extra: bytes, close: bool
    ) -> None:
        transport = self.transport
        if transport is None:
            return
        door = self.door
        transport.write(
            b"".join(
                (
                    door.status_line(status),
                    door.date.now(),
                    _COMMON,
                    b"content-length: %d\r\n" % len(body),
                    extra,
                    b"connection: close\r\n\r\n" if close else b"\r\n",
                    body,
                )
            )
        )
        if close:
            transport.close()
        elif self.buffer:
            self._arm(self.door.config.header_seconds, self._too_slow)  # the next request has begun
        else:
            # As uvicorn behind the edge: the keep-alive timeout closes an idle connection,
            # unless the edge's header deadline for the next request comes first (a 408).
            self.idle = True
            config = self.door.config
            if config.header_seconds < config.keep_alive_seconds:
                self._arm(config.header_seconds, self._too_slow)
            else:
                self._arm(config.keep_alive_seconds, self._idle)

    # -- handing over -------------------------------------------------------------------------
    def _hand_over(self) -> None:
        transport = self.transport
        if transport is None:
            return
        if transport.get_write_buffer_size():
            # An answer is still going out: closing our end now would drop it.
            self.door.loop.call_later(0.005, self._hand_over)
            return
        self._disarm()
        transport.pause_reading()
        sock = transport.get_extra_info("socket")
        data, self.buffer = self.buffer, b""
        if not self.door.hand_over(sock, data):
            transport.abort()
            return
        # The runtime holds the connection now; this process lets go of its descriptor only
        # (no shutdown, no reset: the runtime's copy keeps the connection open).
        transport.abort()

    # -- deadlines ----------------------------------------------------------------------------
    def _arm(self, seconds: float, then: Callable[[], None]) -> None:
        self._disarm()
        self.timer = self.door.loop.call_later(seconds, then)

    def _disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _idle(self) -> None:
        """A kept-alive connection that sent nothing more: closed, as uvicorn does."""
        self.timer = None
        if self.transport is not None and self.idle:
            self.transport.close()

    def _too_slow(self) -> None:
        """The edge's deadline: headers (or a body) that trickle in too slowly get 408."""
        self.timer = None
        if self.transport is None or self.busy:
            return
        part = "headers" if self.request is None else "body"
        body = _json({"message": f"the request {part} came too slowly", "code": "RequestTimeout"})
        self._answer(None, 408, body, b"", True)


def _json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()
