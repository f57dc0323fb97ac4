"""The MQTT subscription through which a topic rule sees what devices publish.

`RuleSubscriber` is one paho client per rule, subscribed at QoS 1 to the rule's FROM filter
on the broker the runtime publishes to (``--mqtt``'s or the embedded one). Its session is
persistent (a stable client id, ``clean_session=False``) and it acknowledges a message only
when told (`ack`), after the rule's actions are committed: a runtime that dies before that
gets the message again from the broker when it reconnects, so no message is lost (one may
run twice, as AWS's rules engine is at least once too).

    subscriber = RuleSubscriber("mqtt://127.0.0.1:1883", "sw-rule-1a2b", "sensors/+/data")
    subscriber.start(wait=10)          # connected and subscribed (or retrying in background)
    for received in subscriber.take(10):
        ...                            # run the rule, commit
        subscriber.ack(received)
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from sluiceway.iot.publisher import parse_broker_url

log = logging.getLogger("sluiceway.iot.rules")


@dataclass(frozen=True, slots=True)
class Received:
    topic: str
    payload: bytes
    mid: int
    qos: int
    connection: int  # which connection it came on: a mid is only valid on its own


class RuleSubscriber:
    def __init__(
        self,
        url: str,
        client_id: str,
        topic_filter: str,
        *,
        on_arrival: Callable[[], None] = lambda: None,
        keepalive: int = 30,
    ) -> None:
        self.topic_filter = topic_filter
        self.on_arrival = on_arrival
        self._broker = parse_broker_url(url)
        self._keepalive = keepalive
        self._lock = threading.Lock()
        self._pending: collections.deque[Received] = collections.deque()
        self._connection = 0
        self._subscribed = threading.Event()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            protocol=MQTTProtocolVersion.MQTTv311,
            manual_ack=True,
        )
        self.client.reconnect_delay_set(min_delay=1, max_delay=5)
        if self._broker.username is not None:
            self.client.username_pw_set(self._broker.username, self._broker.password)
        if self._broker.tls is not None:
            self.client.tls_set_context(self._broker.tls)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect

    @property
    def display(self) -> str:
        return self._broker.display

    def start(self, wait: float = 10.0) -> bool:
        """Connect and subscribe; True once subscribed within `wait` seconds. Otherwise the
        client keeps trying in the background (a broker that is down is waited for)."""
        self.client.connect_async(self._broker.host, self._broker.port, self._keepalive)
        self.client.loop_start()
        return self._subscribed.wait(wait)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def take(self, limit: int) -> list[Received]:
        """Up to `limit` messages that arrived and are not acknowledged, oldest first (they
        stay until `ack`)."""
        with self._lock:
            return list(self._pending)[:limit]

    def ack(self, received: Received) -> None:
        """Acknowledge `received` to the broker (PUBACK); it leaves the pending messages."""
        with self._lock:
            try:
                self._pending.remove(received)
            except ValueError:
                return  # its connection was lost: the broker sends it again
            current = received.connection == self._connection
        if current and received.qos > 0:
            self.client.ack(received.mid, received.qos)

    # paho's callbacks, on its network thread.

    def _on_connect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, *_: Any
    ) -> None:
        if reason.is_failure:
            log.warning("MQTT broker %s refused rule subscriber: %s", self.display, reason)
            return
        client.subscribe(self.topic_filter, qos=1)

    def _on_subscribe(self, client: paho.Client, userdata: Any, mid: int, *_: Any) -> None:
        self._subscribed.set()

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        with self._lock:
            self._pending.append(
                Received(
                    message.topic,
                    bytes(message.payload),
                    message.mid,
                    message.qos,
                    self._connection,
                )
            )
        self.on_arrival()

    def _on_disconnect(self, client: paho.Client, userdata: Any, *_: Any) -> None:
        # The broker redelivers what was not acknowledged when the session resumes.
        with self._lock:
            self._connection += 1
            self._pending.clear()
