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

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

from sluiceway.apigateway.front_door_config import FrontDoorConfig
from sluiceway.apigateway.front_door_http import Connection
from sluiceway.apigateway.front_door_state import Door
from sluiceway.core import faults, logs
from sluiceway.core.frames import Frames, die_with_parent, encode


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
    door.report()
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
