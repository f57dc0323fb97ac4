"""The runtime's side of the front door (`front_door_process.py`): starting it, taking in what
its inbox acknowledged, adopting the connections it hands over, and starting it again if it
dies.

Everything here runs on the runtime's event loop (uvicorn's), except the inbox's import: a
unit of the engine's background work (`inbox.Importer`), woken by the front door's
"committed" frames and run by `drain()` in tests. A handed-over connection becomes one of
uvicorn's own, fed the bytes the front door had read.

The front door is used when it can serve the app's ingest routes exactly as the gateway
would (`eligible`): not over TLS (the connection could not be handed over), and not with a
web ACL (its rate counters and its verdicts must see every request in one place).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, cast

from sluiceway.apigateway import inbox
from sluiceway.apigateway.front_door_config import HANDOVER_HEAD, HANDOVER_PIECE, FrontDoorConfig
from sluiceway.apigateway.inbox import Importer
from sluiceway.apigateway.info import RouteInfo, RouteRegistry
from sluiceway.apigateway.spec import QueueTarget, RouteSpec
from sluiceway.core import edge
from sluiceway.core.errors import SluicewayError
from sluiceway.core.frames import Frames, encode
from sluiceway.core.settings import Settings
from sluiceway.core.store import Store
from sluiceway.core.work import Work
from sluiceway.sqs.info import QueueInfo

log = logging.getLogger("sluiceway.front_door")

READY_SECONDS = 10.0
KEEP_ALIVE_SECONDS = 5.0  # as uvicorn's timeout_keep_alive (runtime.http_server)
RESTART_MAX_SECONDS = 5.0
STOP_SECONDS = 10.0
_BUFFER = 1 << 20  # socket buffers of the hand-over channel


class FrontDoorEngine(Protocol):
    """What the front door needs of the engine it feeds (`sluiceway.local.LocalEngine` is one)."""

    @property
    def registry(self) -> RouteRegistry | None: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def store(self) -> Store: ...

    def add_work(self, unit: Work) -> None: ...
    def notify(self, channels: set[str]) -> None: ...


# A request the front door answered: route, method, path, status, seconds, trace id, client.
Seen = Callable[[str, str, str, int, float, str | None, str | None], None]


def routes_for(engine: FrontDoorEngine) -> dict[tuple[bytes, bytes], tuple[RouteInfo, QueueInfo]]:
    """The routes the front door serves: every route to a queue."""
    registry = engine.registry
    assert registry is not None
    return {
        (method.encode(), path.encode()): (route, registry.queue(route.queue))
        for (method, path), route in registry.routes.items()
        if route.queue is not None
    }


class Declared(Protocol):
    """What `eligible` reads of the app graph (`AppGraph`)."""

    @property
    def firewall(self) -> object | None: ...

    @property
    def routes(self) -> tuple[RouteSpec, ...]: ...


def eligible(settings: Settings, graph: Declared, tls: bool) -> bool:
    """Whether `sluiceway run` gets a front door process (see the module)."""
    return (
        settings.front_door == "process"
        and not tls
        and graph.firewall is None
        and any(isinstance(route.target, QueueTarget) for route in graph.routes)
    )


Spawned = tuple[subprocess.Popen[bytes], socket.socket, socket.socket]


def spawn(listener: socket.socket) -> Spawned:
    """Start a front door process on `listener`: it, and the runtime's ends of ROWS and
    HANDOVER. `sluiceway run` calls this before the engine opens, so that the process's
    start-up (its imports) overlaps the engine's."""
    rows, rows_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    handover, handover_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    for end in (handover, handover_child):
        end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _BUFFER)
        end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _BUFFER)
    fds = (listener.fileno(), rows_child.fileno(), handover_child.fileno())
    process = subprocess.Popen(
        [sys.executable, "-m", "sluiceway.apigateway.front_door_process", *map(str, fds)],
        pass_fds=fds,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    rows_child.close()
    handover_child.close()
    return process, rows, handover


def abandon(spawned: Spawned) -> None:
    """Stop a front door that `spawn` started for a runtime that will not run after all."""
    process, rows, handover = spawned
    process.kill()
    process.wait()
    rows.close()
    handover.close()


def listen(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """The runtime's listening socket: the front door accepts on it; it stays open here so
    that connections wait in its backlog while a front door is being replaced."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError as error:
        sock.close()
        raise SluicewayError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    sock.set_inheritable(True)
    return sock


class FrontDoor:
    """The front door process of a runtime, kept running while the runtime lives."""

    def __init__(
        self,
        engine: FrontDoorEngine,
        listener: socket.socket,
        create_protocol: Callable[[], asyncio.Protocol],
        log_format: str,
        spawned: Spawned | None = None,
        *,
        observe: Seen,
    ) -> None:
        self.engine = engine
        self.observe = observe  # counts and tells the live events (the runtime's metrics)
        self.listener = listener
        self.create_protocol = create_protocol
        self.log_format = log_format
        registry = engine.registry
        assert registry is not None
        self.queues: dict[int, QueueInfo] = {q.id: q for q in registry.queues.values()}
        self.routes = routes_for(engine)
        # What the front door's inbox acknowledged goes into the database through this unit
        # of background work (inbox.py), woken by its "committed" frames.
        self.importer = Importer(
            engine.settings.data_dir, engine.settings.durability, engine.store, self.queues
        )
        engine.add_work(Work("front-door-inbox", self.importer.step, inbox.CHANNEL))
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handover: socket.socket | None = None
        self._pending: tuple[int, int, list[bytes]] | None = None  # fd, length, pieces
        self._ready: asyncio.Future[None] | None = None
        self._started_at = 0.0
        self._backoff = 0.0
        self._spawned = spawned

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    async def start(self, wait: bool = True) -> None:
        """Start the process (or take the one `spawn` started early) and return once it
        accepts connections; with `wait` False, at once (connections wait in the listening
        socket's backlog until it does; a front door that never gets ready is logged)."""
        self._loop = asyncio.get_running_loop()
        self._started_at = time.monotonic()
        spawned, self._spawned = self._spawned, None
        process, rows, handover = spawned or spawn(self.listener)
        self.process = process
        self._ready = self._loop.create_future()
        await self._loop.connect_accepted_socket(lambda: _Rows(self), rows)
        handover.setblocking(False)
        self._handover = handover
        self._loop.add_reader(handover, self._on_handover)
        threading.Thread(
            target=self._watch, args=(process,), name="front-door-watch", daemon=True
        ).start()
        if wait:
            await self._until_ready(process)
        else:
            self._loop.create_task(self._until_ready(process)).add_done_callback(_log_failure)

    async def _until_ready(self, process: subprocess.Popen[bytes]) -> None:
        assert self._ready is not None
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), READY_SECONDS)
        except TimeoutError:
            raise RuntimeError(
                f"the front door (pid {process.pid}) did not start within {READY_SECONDS:.0f} s"
            ) from None
        log.debug("front door ready (pid %d)", process.pid)

    def config(self) -> FrontDoorConfig:
        return FrontDoorConfig(
            routes=self.routes,
            log_format=self.log_format,
            log_level=logging.getLogger("sluiceway").getEffectiveLevel(),
            header_seconds=edge.HEADER_SECONDS,
            body_seconds=edge.BODY_SECONDS,
            keep_alive_seconds=KEEP_ALIVE_SECONDS,
            max_url_bytes=edge.MAX_URL_BYTES,
            max_header_bytes=edge.MAX_HEADER_BYTES,
            data_dir=str(self.engine.settings.data_dir),
            durability=self.engine.settings.durability,
        )

    def ready(self) -> None:
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None)

    async def stop(self) -> None:
        """SIGTERM: it stops accepting, lets the messages being stored get their answers, and
        exits; SIGKILL if it has not within `STOP_SECONDS`."""
        self._stopping = True
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(process.wait, STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)
        self._close_handover()
        self.listener.close()
        # The last of the inbox, so that a stopped runtime's database holds every message.
        await asyncio.to_thread(self.importer.drain)
        self.importer.close()

    # -- the process's death ----------------------------------------------------------------
    def _watch(self, process: subprocess.Popen[bytes]) -> None:
        code = process.wait()
        loop = self._loop
        if loop is not None and not self._stopping:
            with contextlib.suppress(RuntimeError):  # the loop is closed: the runtime ends
                loop.call_soon_threadsafe(self._died, process, code)

    def _died(self, process: subprocess.Popen[bytes], code: int) -> None:
        if self._stopping or process is not self.process:
            return
        if code == 0:
            # It stopped as asked (Ctrl-C reaches the whole process group): the runtime is
            # stopping too.
            log.debug("the front door (pid %d) stopped", process.pid)
            return
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        log.warning(
            "the front door (pid %d) died (%s); starting a new one (connections wait)",
            process.pid,
            how,
        )
        self._close_handover()
        self.restarts += 1
        # One that dies again at once waits longer each time (up to RESTART_MAX_SECONDS)
        # rather than spin; one that ran a while is started again at once.
        now = time.monotonic()
        lived = now - self._started_at
        self._backoff = (
            0.0
            if lived > RESTART_MAX_SECONDS
            else min(RESTART_MAX_SECONDS, max(0.05, self._backoff * 2))
        )
        loop = asyncio.get_running_loop()
        loop.call_later(self._backoff, self._restart)

    def _restart(self) -> None:
        if self._stopping:
            return
        task = asyncio.get_running_loop().create_task(self.start())
        task.add_done_callback(_log_failure)

    def _close_handover(self) -> None:
        handover, self._handover = self._handover, None
        if handover is not None and self._loop is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(handover)
            handover.close()
        if self._pending is not None:
            os.close(self._pending[0])
            self._pending = None

    # -- what the front door reports ---------------------------------------------------------
    def seen(self, requests: list[tuple[str, str, int, float, str | None, str]]) -> None:
        for method, path, status, seconds, trace, client in requests:
            self.observe(path, method, path, status, seconds, trace, client)

    # -- a handed-over connection -------------------------------------------------------------
    def _on_handover(self) -> None:
        sock = self._handover
        while sock is not None:
            try:
                if self._pending is None:
                    data, fds, _, _ = socket.recv_fds(sock, HANDOVER_HEAD.size + HANDOVER_PIECE, 4)
                    if not fds:
                        if not data:  # the front door is gone
                            self._close_handover()
                        return
                    for extra in fds[1:]:
                        os.close(extra)
                    (length,) = HANDOVER_HEAD.unpack_from(data)
                    self._pending = (fds[0], length, [data[HANDOVER_HEAD.size :]])
                else:
                    piece = sock.recv(HANDOVER_PIECE)
                    if not piece:
                        self._close_handover()
                        return
                    self._pending[2].append(piece)
            except (BlockingIOError, InterruptedError):
                return
            fd, length, pieces = self._pending
            if sum(map(len, pieces)) >= length:
                self._pending = None
                self._adopt(fd, b"".join(pieces))

    def _adopt(self, fd: int, data: bytes) -> None:
        connection = socket.socket(fileno=fd)
        connection.setblocking(False)
        protocol = self.create_protocol()
        protocol.adopted = data  # type: ignore[attr-defined]  # edge.GuardedHttpToolsProtocol
        loop = self._loop
        assert loop is not None
        task = loop.create_task(loop.connect_accepted_socket(lambda: protocol, connection))
        task.add_done_callback(_log_failure)


class _Rows(asyncio.Protocol):
    """The runtime's end of ROWS."""

    def __init__(self, door: FrontDoor) -> None:
        self.door = door
        self.frames = Frames()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self.transport.write(encode(("config", self.door.config())))

    def data_received(self, data: bytes) -> None:
        transport = self.transport
        assert transport is not None
        for frame in self.frames.feed(data):
            kind = frame[0]
            if kind == "seen":
                self.door.seen(frame[1])
            elif kind == "committed":
                self.door.engine.notify({inbox.CHANNEL})
            elif kind == "ready":
                self.door.ready()


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("front door: %s", task.exception())
