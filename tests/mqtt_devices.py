"""MQTT for tests: the machine's Mosquitto, and a device (a subscriber that keeps what
arrives)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import uuid
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from support import wait_until

SYSTEM_MOSQUITTO = 1883


def accepting(port: int) -> bool:
    """Whether something listens on 127.0.0.1:`port`."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def require(*commands: str) -> None:
    """Fail (never skip: a skip in CI hides a failure) when a command the test runs is
    missing; `scripts/services` installs and starts what the tests need."""
    missing = [c for c in commands if shutil.which(c) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: run scripts/services")


def system_mosquitto() -> int:
    """The machine's Mosquitto on 127.0.0.1:1883 (scripts/services starts it), started as
    the system's daemon if it is down; its port."""
    if not accepting(SYSTEM_MOSQUITTO):
        require("mosquitto")
        subprocess.run(["mosquitto", "-d", "-c", "/etc/mosquitto/mosquitto.conf"], check=True)
        wait_until(lambda: accepting(SYSTEM_MOSQUITTO), timeout=10)
    return SYSTEM_MOSQUITTO


class Subscriber:
    """A paho client subscribed to one filter at QoS 1; `wait_for` blocks until messages
    arrive. With a `client_id` and ``clean_session=False`` the broker keeps its subscription
    (and queues its QoS 1 messages) while it is away, as a real device's session."""

    def __init__(
        self,
        port: int,
        topic_filter: str,
        *,
        username: str | None = None,
        password: str = "",
        client_id: str = "",
        clean_session: bool = True,
    ) -> None:
        self.port = port
        self.topic_filter = topic_filter
        self.messages: list[paho.MQTTMessage] = []
        self._changed = threading.Condition()
        self._subscribed = threading.Event()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_session,
            protocol=MQTTProtocolVersion.MQTTv311,
        )
        self.client.reconnect_delay_set(min_delay=1, max_delay=1)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def __enter__(self) -> Subscriber:
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        assert self._subscribed.wait(10), "no SUBACK"
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[paho.MQTTMessage]:
        with self._changed:
            arrived = self._changed.wait_for(lambda: len(self.messages) >= count, timeout)
            assert arrived, f"{len(self.messages)} of {count} messages arrived"
            return list(self.messages)

    def _on_connect(self, client: paho.Client, *args: Any) -> None:
        client.subscribe(self.topic_filter, qos=1)

    def _on_subscribe(self, client: paho.Client, userdata: Any, mid: int, *args: Any) -> None:
        self._subscribed.set()

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        with self._changed:
            self.messages.append(message)
            self._changed.notify_all()


def new_topic(name: str = "inbox") -> str:
    """A topic no other test (or earlier run) on the shared broker publishes to."""
    return f"sluiceway-test/{uuid.uuid4().hex[:12]}/{name}"
