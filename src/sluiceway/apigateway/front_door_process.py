"""The front door: `sluiceway run`'s ingest routes, in a process of their own.

`python -m sluiceway.apigateway.front_door_process LISTEN ROWS HANDOVER` (file descriptors the
runtime passes down) accepts the app's HTTP connections on the runtime's listening socket.
What it serves itself is the hot path: a `POST` to a route whose target is a queue. It
reads the request, checks it exactly as the gateway does (`ingest.prepare`: content type,
size, a UTF-8 JSON object, forwarded headers), and commits the prepared message to its inbox
(`inbox.py`: a SQLite file of its own, group commit, fsync) before it answers 200; 503 if the
inbox could not commit. It then tells the runtime over ROWS, and the runtime's single writer
takes the message into the database, exactly once, milliseconds later.

Every other request (the console, `/_sluiceway/`, functions behind API Gateway's proxy
integration, table routes, routes behind an authorizer, and anything unusual in its framing:
chunked bodies, `Expect`, HTTP/1.0, a percent-encoded path, a repeated framing header, a head
past the edge's limits) is *handed over*: the connection itself goes to the runtime over
HANDOVER (SCM_RIGHTS), with the bytes read from it so far, and the runtime's gateway (uvicorn
behind the edge's checks) carries on as if it had accepted it. The client sees one server.

Why a process, and why an inbox: handlers, pollers and the writer share the runtime's GIL; a
front door there, or one that waits for the runtime's writer, waits behind the pipeline, so a
burst was acknowledged only as fast as it was processed. Here ingest has a GIL, a disk commit
and a scheduler share of its own, and the function environments run at a lower priority: a
burst is acknowledged first and processed as the pipeline catches up, which is what the queue
is for.

The runtime restarts the front door if it dies (the listening socket stays open in the
runtime, so connections wait in its backlog meanwhile). It dies with the runtime
(PR_SET_PDEATHSIG, and the end of ROWS).
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, cast

from sluiceway.apigateway import ingest
from sluiceway.apigateway.inbox import Inbox
from sluiceway.apigateway.info import RouteInfo
from sluiceway.apigateway.ingest import Rejection
from sluiceway.core import faults, logs, traces
from sluiceway.core.faults import crash_point
from sluiceway.core.frames import Frames, die_with_parent, encode
from sluiceway.sqs import messages
from sluiceway.sqs.info import QueueInfo

log = logging.getLogger("sluiceway.front_door")

HANDOVER_PIECE = 1 << 16  # a handed-over connection's bytes go in messages of at most this
HANDOVER_HEAD = struct.Struct("!I")  # a handed-over connection's byte count, before them
_HEADER = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([^\x00-\x08\x0a-\x1f\x7f]*?)[ \t]*")
_COMMON = (
    b"content-type: application/json\r\n"
    b"x-content-type-options: nosniff\r\n"
    b"cache-control: no-store\r\n"
    b"referrer-policy: no-referrer\r\n"
    b"x-frame-options: DENY\r\n"
    b"content-security-policy: default-src 'none'; frame-ancestors 'none'\r\n"
)
_COMMITTED = encode(("committed",))
_UNAVAILABLE = b'{"message": "the message could not be stored; retry", "code": "Unavailable"}'


@dataclass(frozen=True)
class FrontDoorConfig:
    """What the runtime sends first: the routes to serve, keyed by (method, path) as bytes,
    and how to log."""

    routes: dict[tuple[bytes, bytes], tuple[RouteInfo, QueueInfo]]
    log_format: str
    log_level: int
    header_seconds: float  # the edge's deadlines (edge.py), and uvicorn's keep-alive
    body_seconds: float
    keep_alive_seconds: float
    max_url_bytes: int  # the edge's limits: a request past them is handed over for its 414/431
    max_header_bytes: int
    data_dir: str  # where the inbox is (inbox.py)
    durability: str


@dataclass(frozen=True, slots=True)
class _Request:
    route: RouteInfo
    queue: QueueInfo
    headers: dict[str, str]
    length: int
    close: bool


def _status_line(status: int) -> bytes:
    return f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode()


class _Date:
    """The `date` header, formatted once a second."""

    def __init__(self) -> None:
        self.second = 0
        self.header = b""

    def now(self) -> bytes:
        second = int(time.time())
        if second != self.second:
            self.second = second
            self.header = f"date: {formatdate(second, usegmt=True)}\r\n".encode()
        return self.header


class Door:
    """The process's state: its routes, its inbox, and the channels to the runtime."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        config: FrontDoorConfig,
        rows: asyncio.Transport,
        handover: socket.socket,
    ) -> None:
        self.loop = loop
        self.routes = config.routes
        self.config = config
        self.rows = rows
        self.handover = handover
        self.date = _Date()
        self.statuses: dict[int, bytes] = {}
        self.connections: set[Connection] = set()
        self._seen: list[tuple[str, str, int, float, str | None, str]] = []
        self.closing = False
        self.inbox = Inbox(config.data_dir, config.durability, loop, self._committed)

    # -- to the inbox -------------------------------------------------------------------------
    def store(
        self, queue: QueueInfo, message: messages.Outgoing, route: str, parent: str | None
    ) -> asyncio.Future[dict[str, str]]:
        """Store `message` in the inbox with the next group commit; the future is its answer
        once that is on disk. (A route to a FIFO queue never gets here: the gateway's checks
        refuse a message without a MessageGroupId.)"""
        assert message.group_id is None
        detail: str | None = None
        if message.trace_id is not None:
            # As the gateway's SendBatcher writes it: no json.dumps needed for these values.
            detail = f'{{"queue": "{queue.name}", "message_id": "{message.message_id}"'
            detail += f', "parent_span_id": "{parent}"}}' if parent else "}"
        return self.inbox.add(queue.id, message, route, detail, message.response())

    def _committed(
        self, futures: list[tuple[asyncio.Future[Any], Any]], error: BaseException | None
    ) -> None:
        """The inbox committed a group (or could not): answer its requests, and tell the
        runtime there is something to import."""
        for future, answer in futures:
            if future.done():
                continue
            if error is None:
                future.set_result(answer)
            else:
                future.set_exception(error)
        if error is None and not self.rows.is_closing():
            self.rows.write(_COMMITTED)

    # -- to the runtime's gateway -------------------------------------------------------------
    def hand_over(self, sock: Any, data: bytes) -> bool:
        """Give the runtime the connection `sock` and the bytes read from it so far. False
        if the runtime did not take it (the caller drops the connection)."""
        header = HANDOVER_HEAD.pack(len(data))
        fds = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [sock.fileno()]))]
        try:
            self.handover.sendmsg([header + data[:HANDOVER_PIECE]], fds)
            for start in range(HANDOVER_PIECE, len(data), HANDOVER_PIECE):
                self.handover.sendall(data[start : start + HANDOVER_PIECE])
        except OSError as error:
            log.warning("could not hand a connection to the runtime: %s", error)
            return False
        return True

    def seen(
        self, method: str, path: str, status: int, seconds: float, trace: str | None, client: str
    ) -> None:
        """Report a finished request (for /metrics and the console), batched."""
        self._seen.append((method, path, status, seconds, trace, client))
        if len(self._seen) == 1:
            self.loop.call_soon(self._report)  # one frame for what this turn answered

    def _report(self) -> None:
        seen, self._seen = self._seen, []
        if seen and not self.rows.is_closing():
            self.rows.write(encode(("seen", seen)))

    def status_line(self, status: int) -> bytes:
        line = self.statuses.get(status)
        if line is None:
            line = self.statuses[status] = _status_line(status)
        return line


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


class _RowsLink(asyncio.Protocol):
    """The runtime's side of ROWS as this process sees it: answers to batches."""

    def __init__(self, on_frame: Callable[[Any], None], on_lost: Callable[[], None]) -> None:
        self.frames = Frames()
        self.on_frame = on_frame
        self.on_lost = on_lost

    def data_received(self, data: bytes) -> None:
        for frame in self.frames.feed(data):
            self.on_frame(frame)

    def connection_lost(self, exc: Exception | None) -> None:
        self.on_lost()


async def serve(listen: socket.socket, rows: socket.socket, handover: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    config_ready: asyncio.Future[FrontDoorConfig] = loop.create_future()
    door: Door | None = None
    stopped = asyncio.Event()

    def on_frame(frame: Any) -> None:
        if frame[0] == "config":
            config_ready.set_result(frame[1])

    def on_lost() -> None:
        if not config_ready.done():
            config_ready.set_exception(EOFError("the runtime is gone"))
        stopped.set()

    transport, _ = await loop.connect_accepted_socket(lambda: _RowsLink(on_frame, on_lost), rows)
    config = await config_ready
    logs.configure(config.log_format)  # type: ignore[arg-type]
    logging.getLogger("sluiceway").setLevel(config.log_level)
    door = Door(loop, config, transport, handover)
    server = await loop.create_server(lambda: Connection(door), sock=listen, backlog=2048)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set)
    transport.write(encode(("ready",)))
    await stopped.wait()
    # Stop accepting; let the requests being stored get their answers (the runtime's writer
    # is still up: it stops the front door before itself).
    server.close()
    deadline = time.monotonic() + 5.0
    while any(c.busy for c in door.connections) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    door._report()
    door.inbox.close()
    for connection in list(door.connections):
        if connection.transport is not None:
            connection.transport.close()
    await asyncio.sleep(0)
    transport.close()


def main(argv: list[str]) -> None:
    die_with_parent()
    faults.die_together_with(os.getppid())
    listen = socket.socket(fileno=int(argv[0]))
    rows = socket.socket(fileno=int(argv[1]))
    handover = socket.socket(fileno=int(argv[2]))
    handover.setblocking(True)
    handover.settimeout(2.0)
    try:
        import uvloop
    except ImportError:
        run: Callable[..., Any] = asyncio.run
    else:
        run = uvloop.run
    with contextlib.suppress(EOFError):
        run(serve(listen, rows, handover))


if __name__ == "__main__":
    main(sys.argv[1:])
