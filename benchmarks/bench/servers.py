"""The servers the benchmarks load, each in its own process.

* ``ceiling``: a bare ASGI app that only answers 200, served by exactly the uvicorn server
  `sluiceway run` builds (``sluiceway.local.runtime.http_server``: httptools, uvloop, the
  same options), so the only difference from the runtime is the app.
* ``handoff``: the ceiling, answering each request only once a thread has handed it back
  (`Handoff`): the group-commit shape with no database, to split the distance to the
  ceiling into what the hand-off costs and what the rest costs.
* ``canned``: a raw uvloop protocol that answers every request with a fixed response and
  no HTTP parser: what a load generator can reach at most on this machine.
* ``smtp``: `LeanSmtp`, an SMTP server that accepts every message and appends
  ``<arrival time> <order id>`` (from the subject "New order <id>") to a file;
  ``aiosmtpd``: the same with aiosmtpd, for a cross-check.
* `Runtime`: `sluiceway run --port 0` as a user starts it.

Each prints ``PORT <n>`` when it listens (the runtime prints its own ready line).

    python -m bench.servers ceiling
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any, cast

from bench.common import PYTHON, VENV_BIN, bench_env, children, stop

READY = " ready on "

Scope = MutableMapping[str, Any]
ASGIReceive = Callable[[], Awaitable[MutableMapping[str, Any]]]
ASGISend = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_OK_HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"2")]


async def bare_app(scope: Scope, receive: ASGIReceive, send: ASGISend) -> None:
    """The ceiling: answer 200 and nothing else."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": _OK_HEADERS})
    await send({"type": "http.response.body", "body": b"{}"})


class Handoff:
    """The shape of a group commit without the database: each request parks a future with
    a thread that wakes for whatever is pending and answers all of it through the loop, as
    the store's writer does. Served like the ceiling, it measures what answering from
    another thread costs by itself."""

    def __init__(self) -> None:
        self.pending: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self.cond = threading.Condition()
        threading.Thread(target=self.answer_forever, daemon=True).start()

    def answer_forever(self) -> None:
        while True:
            with self.cond:
                while not self.pending:
                    self.cond.wait()
                batch, self.pending = self.pending, []
            loop = batch[0][0]
            loop.call_soon_threadsafe(_resolve_all, [future for _, future in batch])

    async def __call__(self, scope: Scope, receive: ASGIReceive, send: ASGISend) -> None:
        if scope["type"] != "http":
            return
        await receive()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self.cond:
            self.pending.append((loop, future))
            if len(self.pending) == 1:
                self.cond.notify()
        await future
        await send({"type": "http.response.start", "status": 200, "headers": _OK_HEADERS})
        await send({"type": "http.response.body", "body": b"{}"})


def _resolve_all(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():
            future.set_result(None)


def serve_ceiling(app: Any = bare_app) -> None:
    """Serve `app` (the bare app) on `sluiceway run`'s own server stack."""
    import sluiceway.local.runtime as runtime

    def ready(port: int) -> None:
        print(f"PORT {port}", flush=True)

    # The runtime's http_server builds RuntimeApp(engine); hand it the bare app instead, so the
    # server class and every uvicorn option are the runtime's own, whatever they become.
    runtime.RuntimeApp = lambda engine: app  # type: ignore[assignment,misc,return-value]
    # No engine: only its event bus is asked for, to end live streams at shutdown.
    no_engine = SimpleNamespace(bus=SimpleNamespace(disconnect_all=lambda: None))
    server = runtime.http_server(no_engine, "127.0.0.1", 0, ready)  # type: ignore[arg-type]
    server.run()


class CannedProtocol(asyncio.Protocol):
    """Answers each request (headers + Content-Length body) with a fixed 200."""

    RESPONSE = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        answers = 0
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = bytes(buffer[:end]).lower()
            at = head.find(b"content-length:")
            length = 0 if at < 0 else int(head[at + 15 :].split(b"\r\n", 1)[0])
            if len(buffer) < end + 4 + length:
                break
            del buffer[: end + 4 + length]
            answers += 1
        if answers and self.transport is not None:
            self.transport.write(self.RESPONSE * answers)


def serve_canned() -> None:
    import uvloop

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(CannedProtocol, "127.0.0.1", 0, backlog=2048)
        print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
        await server.serve_forever()

    uvloop.run(main())


_SUBJECT = re.compile(rb"^Subject: New order (\S+)", re.MULTILINE)


class Sink:
    """aiosmtpd handler: note when each order's email arrived."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.lines: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = time.time()
        found = _SUBJECT.search(envelope.content)
        order = found.group(1).decode() if found else "-"
        self.lines.append(f"{now:.6f} {order}\n")
        return "250 OK"

    async def flush_forever(self) -> None:
        while True:
            await asyncio.sleep(0.05)
            if self.lines:
                lines, self.lines = self.lines, []
                self.out.writelines(lines)
                self.out.flush()


def serve_aiosmtpd(arrivals: Path) -> None:
    from aiosmtpd.smtp import SMTP

    async def main() -> None:
        with arrivals.open("a") as out:
            sink = Sink(out)
            loop = asyncio.get_running_loop()
            server = await loop.create_server(
                lambda: SMTP(sink, hostname="bench.local"), "127.0.0.1", 0
            )
            print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
            await sink.flush_forever()

    asyncio.run(main())


class LeanSmtp(asyncio.Protocol):
    """An SMTP server (RFC 5321 with PIPELINING) that accepts every message: the sink the
    end-to-end figures use. It speaks the protocol a real relay speaks (greeting, EHLO, MAIL,
    RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT, commands out of order refused with
    503), in a few microseconds per message, so the sink's own CPU stays out of the way of
    what is measured on a 2-core machine. In production the relay is another machine."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.state = "greeted"  # greeted -> ready (after EHLO) -> mail -> rcpt -> data
        self.replies: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(b"220 bench.local ESMTP sink\r\n")

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        while True:
            if self.state == "data":
                end = buffer.find(b"\r\n.\r\n")
                if end < 0:
                    break
                content = bytes(buffer[:end]).replace(b"\r\n..", b"\r\n.")
                del buffer[: end + 5]
                self._message(content)
                continue
            end = buffer.find(b"\r\n")
            if end < 0:
                break
            line = bytes(buffer[:end])
            del buffer[: end + 2]
            if not self._command(line):
                break
        if self.replies and self.transport is not None:
            self.transport.write(b"".join(self.replies))
            self.replies.clear()

    def _command(self, line: bytes) -> bool:
        verb = line[:4].upper()
        reply = self.replies.append
        if verb in (b"EHLO", b"HELO"):
            self.state = "ready"
            if verb == b"EHLO":
                reply(b"250-bench.local\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 33554432\r\n")
            else:
                reply(b"250 bench.local\r\n")
        elif verb == b"MAIL":
            if self.state != "ready":
                reply(b"503 5.5.1 Bad sequence of commands\r\n")
            else:
                self.state = "mail"
                reply(b"250 2.1.0 OK\r\n")
        elif verb == b"RCPT":
            if self.state not in ("mail", "rcpt"):
                reply(b"503 5.5.1 Bad sequence of commands\r\n")
            else:
                self.state = "rcpt"
                reply(b"250 2.1.5 OK\r\n")
        elif verb == b"DATA":
            if self.state != "rcpt":
                reply(b"503 5.5.1 Bad sequence of commands\r\n")
            else:
                self.state = "data"
                reply(b"354 End data with <CR><LF>.<CR><LF>\r\n")
        elif verb == b"RSET":
            self.state = "ready" if self.state != "greeted" else "greeted"
            reply(b"250 2.0.0 OK\r\n")
        elif verb == b"NOOP":
            reply(b"250 2.0.0 OK\r\n")
        elif verb == b"QUIT":
            reply(b"221 2.0.0 Bye\r\n")
            if self.transport is not None:
                self.transport.write(b"".join(self.replies))
                self.replies.clear()
                self.transport.close()
            return False
        else:
            reply(b"500 5.5.2 Command not recognized\r\n")
        return True

    def _message(self, content: bytes) -> None:
        now = time.time()
        found = _SUBJECT.search(content)
        order = found.group(1).decode() if found else "-"
        self.sink.lines.append(f"{now:.6f} {order}\n")
        self.state = "ready"
        self.replies.append(b"250 2.0.0 OK queued\r\n")


def serve_lean_smtp(arrivals: Path) -> None:
    import uvloop

    async def main() -> None:
        with arrivals.open("a") as out:
            sink = Sink(out)
            loop = asyncio.get_running_loop()
            server = await loop.create_server(lambda: LeanSmtp(sink), "127.0.0.1", 0)
            print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
            await sink.flush_forever()

    uvloop.run(main())


# -- the parent's side -------------------------------------------------------------------


class Service:
    """One of the servers above in a subprocess."""

    def __init__(self, kind: str, *args: str) -> None:
        self.process = subprocess.Popen(
            [PYTHON, "-m", "bench.servers", kind, *args],
            stdout=subprocess.PIPE,
            text=True,
            env=bench_env(),
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            stop(self.process)
            raise RuntimeError(f"bench.servers {kind} did not start (said {line!r})")
        self.port = int(line.split()[1])
        self.pid = self.process.pid

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        stop(self.process)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SmtpSink(Service):
    """An SMTP server in its own process that notes each order email's arrival: `LeanSmtp`
    (``kind="smtp"``), or aiosmtpd (``kind="aiosmtpd"``) for a cross-check."""

    def __init__(self, arrivals: Path, kind: str = "smtp") -> None:
        arrivals.unlink(missing_ok=True)
        arrivals.touch()
        self.arrivals = arrivals
        super().__init__(kind, str(arrivals))

    @property
    def smtp_url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def read(self) -> list[tuple[float, str]]:
        """(arrival time, order id) of every email so far."""
        rows = []
        for line in self.arrivals.read_text().splitlines():
            when, _, order = line.partition(" ")
            rows.append((float(when), order))
        return rows

    def count(self) -> int:
        with self.arrivals.open("rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 16), b""))

    def wait_for(self, count: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        seen = self.count()
        while seen < count and time.monotonic() < deadline:
            time.sleep(0.05)
            seen = self.count()
        return seen


class Runtime:
    """`sluiceway run --port 0` (the orders app) on a fresh data directory."""

    def __init__(self, data_dir: Path, *args: str, timeout: float = 30.0) -> None:
        sluiceway = VENV_BIN / "sluiceway"
        command = [str(sluiceway)] if sluiceway.exists() else [PYTHON, "-m", "sluiceway"]
        self.data_dir = data_dir
        self.log = (data_dir.parent / f"{data_dir.name}.log").open("w")
        self.spawned = time.perf_counter()
        self.process = subprocess.Popen(
            [
                *command,
                "run",
                *args,
                "--port",
                "0",
                "--data-dir",
                str(data_dir),
                "--log-format",
                "json",
            ],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env=bench_env(),
        )
        self.pid = self.process.pid
        self.url = ""
        self.ready_after = 0.0
        self.banner: list[str] = []
        ready = threading.Event()
        stdout = self.process.stdout
        assert stdout is not None

        def read() -> None:
            for line in stdout:
                if READY in line and not ready.is_set():
                    self.ready_after = time.perf_counter() - self.spawned
                    self.url = line.split(READY, 1)[1].split()[0]
                    self.banner.append(line.rstrip())
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(timeout):
            self.close()
            raise RuntimeError(f"sluiceway run did not get ready; see {self.log.name}")

    def pids(self) -> list[int]:
        """The runtime and its children (the delivery process)."""
        return [self.pid, *children(self.pid)]

    def close(self) -> None:
        stop(self.process, timeout=30)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.log.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["ceiling", "handoff", "canned", "smtp", "aiosmtpd"])
    parser.add_argument("arrivals", nargs="?", default="")
    args = parser.parse_args()
    if args.kind == "ceiling":
        serve_ceiling()
    elif args.kind == "handoff":
        serve_ceiling(Handoff())
    elif args.kind == "canned":
        serve_canned()
    elif args.kind == "aiosmtpd":
        serve_aiosmtpd(Path(args.arrivals))
    else:
        serve_lean_smtp(Path(args.arrivals))


if __name__ == "__main__":
    sys.exit(main())
