"""An MQTT broker inside the process, for an app under test (`sluiceway.testing`).

`Loopback` stands for the broker both ways: it is the `Publisher` the app's MQTT deliveries
go to, and it hands each message at once to the topic rules subscribed to a matching filter
(`LoopbackSubscriber`, with `RuleSubscriber`'s take/ack). No socket, no network thread: a
message published in one step of `drain()` is there for its rules in the next, so a test of
topic rules is as deterministic as the rest of the engine.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable

from sluiceway.iot.rules import topic_matches
from sluiceway.iot.subscriber import Received

URL = "loopback://sluiceway.test"


class LoopbackSubscriber:
    """One rule's subscription to a `Loopback` (what a `RuleWorker` takes from)."""

    def __init__(self, topic_filter: str, on_arrival: Callable[[], None]) -> None:
        self.topic_filter = topic_filter
        self.on_arrival = on_arrival
        self._pending: collections.deque[Received] = collections.deque()
        self._lock = threading.Lock()

    @property
    def display(self) -> str:
        return URL

    def start(self, wait: float = 10.0) -> bool:
        return True

    def close(self) -> None:
        return None

    def put(self, topic: str, payload: bytes, qos: int) -> None:
        with self._lock:
            self._pending.append(Received(topic, payload, 0, qos, 0))
        self.on_arrival()

    def take(self, limit: int) -> list[Received]:
        with self._lock:
            return list(self._pending)[:limit]

    def ack(self, received: Received) -> None:
        with self._lock:
            self._pending.remove(received)


class Loopback:
    """The broker in this process (see the module's docstring)."""

    def __init__(self) -> None:
        self.subscribers: list[LoopbackSubscriber] = []

    @property
    def url(self) -> str:
        return URL

    @property
    def display(self) -> str:
        return "in this process (sluiceway.testing)"

    def subscribe(self, topic_filter: str, on_arrival: Callable[[], None]) -> LoopbackSubscriber:
        subscriber = LoopbackSubscriber(topic_filter, on_arrival)
        self.subscribers.append(subscriber)
        return subscriber

    def publish(self, topic: str, payload: bytes, qos: int) -> None:
        for subscriber in self.subscribers:
            if topic_matches(subscriber.topic_filter, topic):
                subscriber.put(topic, payload, qos)

    def close(self) -> None:
        return None
