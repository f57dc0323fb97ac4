"""The runtime's live events: what `sluiceway tail` follows and the console updates from.

One `EventBus` per engine (``engine.bus``). Whoever sees something happen publishes it;
whoever wants to follow subscribes:

    >>> bus = EventBus()
    >>> bus.publish("request", {"method": "POST", "path": "/orders", "status": 200})
    >>> with bus.subscribe() as events:             # doctest: +SKIP
    ...     event = events.get(timeout=1.0)          # from a thread
    ...     async for event in events: ...           # or from the event loop

`publish(kind, data)` is safe from any thread and cheap: a `deque` append (the bus keeps the
last `HISTORY` events, for ``tail --since`` and for a page that opens late) plus a hand-over
to each subscriber. A subscriber that falls more than `BACKLOG` events behind loses the
oldest ones (`Subscription.dropped` counts them): a slow reader never slows the publishers
and never grows the runtime's memory.

The kinds published now, with their data:

- ``request``: method, path, route, status, duration_ms, client.
- ``invocation``: function, request_id, duration_ms, ok, error (a short text, or None).
- ``delivery``: id, protocol, endpoint, topic, delivery_kind ("notification" or
  "confirmation"), status ("delivered", "retrying" or "failed"), attempts, error.
- ``mapping``: name, state ("paused" or "resumed").

Each `Event` has a sequence number (`seq`, increasing), the time (`ts`, epoch seconds), the
kind and the data; `Event.json()` is the object the SSE stream and ``tail --json`` carry.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

HISTORY = 2000
BACKLOG = 10_000


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    ts: float
    kind: str
    data: dict[str, Any]

    def json(self) -> dict[str, Any]:
        return {**self.data, "seq": self.seq, "ts": self.ts, "kind": self.kind}


class Subscription:
    """The events published since it was made, in order; iterate it in the event loop, or
    `get` from a thread. `close()` (or leaving its ``with``) ends it; so does
    `EventBus.disconnect_all`, after which iteration stops and `get` returns None."""

    def __init__(self, bus: EventBus, backlog: int) -> None:
        self._bus = bus
        self._events: deque[Event] = deque()
        self._backlog = backlog
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self.closed = False
        self.dropped = 0
        self._replayed: set[int] = set()

    def _replay(self, events: list[Event]) -> None:
        """Put retained events first; a publish racing with `EventBus.subscribe` may still
        push one of them: it is not shown twice."""
        with self._lock:
            queued = {e.seq for e in self._events}
            replay = [e for e in events if e.seq not in queued]
            self._replayed = {e.seq for e in replay}
            self._events.extendleft(reversed(replay))
        if replay:
            self._signal()

    def _push(self, event: Event) -> None:
        with self._lock:
            if self._replayed and event.seq in self._replayed:
                self._replayed.discard(event.seq)
                return
            if len(self._events) >= self._backlog:
                self._events.popleft()
                self.dropped += 1
            self._events.append(event)
            first = len(self._events) == 1
        if first:
            self._signal()

    def _signal(self) -> None:
        self._ready.set()
        loop, wakeup = self._loop, self._wakeup
        if loop is not None and wakeup is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens
                loop.call_soon_threadsafe(wakeup.set)

    def _take(self) -> Event | None:
        with self._lock:
            if self._events:
                return self._events.popleft()
            self._ready.clear()
            return None

    def take_all(self) -> list[Event]:
        """Every event waiting now (none: an empty list), without waiting."""
        with self._lock:
            events = list(self._events)
            self._events.clear()
            self._ready.clear()
            return events

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event; None after `timeout` seconds without one, or once closed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            event = self._take()
            if event is not None or self.closed:
                return event
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return None
            self._ready.wait(left)

    async def next(self, timeout: float | None = None) -> Event | None:
        """`get` for the event loop."""
        if self._wakeup is None:
            self._loop = asyncio.get_running_loop()
            self._wakeup = asyncio.Event()
        while True:
            event = self._take()
            if event is not None or self.closed:
                return event
            self._wakeup.clear()
            if self._ready.is_set():  # pushed between the take and the clear
                continue
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout)
            except TimeoutError:
                return None

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while (event := await self.next()) is not None:
            yield event

    def close(self) -> None:
        self.closed = True
        self._bus._unsubscribe(self)
        self._signal()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventBus:
    """Live events of one runtime (see the module's docstring)."""

    def __init__(self, history: int = HISTORY) -> None:
        self._history: deque[Event] = deque(maxlen=history)
        self._subscribers: tuple[Subscription, ...] = ()
        self._lock = threading.Lock()
        self._seq = itertools.count(1)  # next() on a count is atomic under the GIL

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        event = Event(next(self._seq), time.time(), kind, data)
        self._history.append(event)
        for subscriber in self._subscribers:
            subscriber._push(event)

    def subscribe(self, *, since: float | None = None, backlog: int = BACKLOG) -> Subscription:
        """Follow events from now on; with `since` (epoch seconds), the retained events
        from then on come first."""
        subscription = Subscription(self, backlog)
        with self._lock:
            self._subscribers = (*self._subscribers, subscription)
        if since is not None:
            # After joining: an event is then either retained already or pushed (or both).
            subscription._replay(list(self.recent(since)))
        return subscription

    def recent(self, since: float = 0.0) -> Iterable[Event]:
        """The retained events published at or after `since` (epoch seconds), oldest first."""
        return [e for e in list(self._history) if e.ts >= since]

    def disconnect_all(self) -> None:
        """End every subscription (the runtime is shutting down: streams must finish). The
        bus still takes publishes and new subscribers."""
        for subscription in self._subscribers:
            subscription.close()

    def _unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscribers = tuple(s for s in self._subscribers if s is not subscription)
