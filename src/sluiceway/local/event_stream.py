"""``GET /_sluiceway/events``: the runtime's live events as server-sent events.

What `sluiceway tail` reads. Loopback clients only (the events name addresses, paths and
errors). Each event is one SSE message: ``id`` its sequence number, ``event`` its kind,
``data`` its JSON (`events_bus.Event.json`). ``?since=EPOCH_SECONDS`` first replays the
retained events from then on. A comment line every `HEARTBEAT` seconds keeps idle
connections (and proxies) open and notices a client that left; the stream ends when the
client goes or the runtime shuts down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from sluiceway.local.events_bus import Event, EventBus

PATH = "/_sluiceway/events"
HEARTBEAT = 15.0

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def is_loopback(host: str) -> bool:
    return host == "::1" or host.startswith(("127.", "::ffff:127."))


async def serve(
    bus: EventBus, scope: MutableMapping[str, Any], receive: Receive, send: Send
) -> None:
    client = scope.get("client") or ("", 0)
    if scope["method"] != "GET":
        await _refuse(send, 405, "MethodNotAllowed", "GET only")
        return
    if not is_loopback(client[0]):
        await _refuse(send, 403, "Forbidden", "the live events are served to loopback only")
        return
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    since: float | None = None
    if "since" in query:
        try:
            since = float(query["since"][0])
        except ValueError:
            since = math.nan
        if not math.isfinite(since):
            await _refuse(send, 400, "InvalidParameter", "since is epoch seconds")
            return
    with bus.subscribe(since=since) as events:

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            events.close()

        watcher = asyncio.create_task(watch())
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"text/event-stream; charset=utf-8"),
                        (b"cache-control", b"no-store"),
                        (b"x-content-type-options", b"nosniff"),
                        (b"x-accel-buffering", b"no"),
                    ],
                }
            )
            await _body(send, b": sluiceway events\n\n")
            while True:
                first = await events.next(timeout=HEARTBEAT)
                if first is None:
                    if events.closed:
                        break
                    await _body(send, b": keep-alive\n\n")
                    continue
                # Whatever else waits goes in the same write.
                batch = [first, *events.take_all()]
                await _body(send, b"".join(_message(event) for event in batch))
            with contextlib.suppress(Exception):  # the client may be gone already
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()


def _message(event: Event) -> bytes:
    data = json.dumps(event.json(), default=str, separators=(",", ":"))
    return f"id: {event.seq}\nevent: {event.kind}\ndata: {data}\n\n".encode()


async def _body(send: Send, chunk: bytes) -> None:
    await send({"type": "http.response.body", "body": chunk, "more_body": True})


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"message": message, "code": code}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
