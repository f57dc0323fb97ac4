"""What an app under test sends out, kept for the test to assert on, and the peers' switches.

Each recorder stands where a real peer would (the SMTP server, the SMS provider, the SMS
webhook, the MQTT broker): the delivery outbox hands it each delivery exactly as it would
the real one, so retries, backoff and statuses are the engine's own. A peer switched off
(`Peer.down`) fails as an unreachable one does (``DeliveryError(connection=True)``): the
delivery waits in the outbox, and goes out once the peer is back and its retry is due.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import io
import json
import threading
import urllib.error
import urllib.request
import urllib.response
from dataclasses import dataclass
from typing import Any

from sluiceway.iot.publisher import Publisher
from sluiceway.sns.email import DeliveryError, Email
from sluiceway.sns.sms import Sms

PEERS = ("smtp", "sms", "webhook", "mqtt")


class Peer:
    """One peer's switch: `down` makes it unreachable; `status` is what a webhook answers."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.down = False
        self.status = 200

    def check(self, where: str) -> None:
        if self.down:
            raise DeliveryError(f"{where} unreachable (switched off by the test)", connection=True)


class Recorded(list[Any]):
    """A list another thread appends to (the delivery workers while the app serves)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def add(self, item: Any) -> None:
        with self._lock:
            self.append(item)


class RecordingMailer:
    """The SMTP server: each accepted email, parsed (`email.message.EmailMessage`)."""

    display = "recorded by sluiceway.testing"

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.sent = Recorded()

    def send(self, message: Email) -> None:
        self.peer.check("SMTP server")
        parsed = email.message_from_bytes(message.data, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        self.sent.add(parsed)

    def close(self) -> None:
        return None


class RecordingSms:
    """The SMS provider: each text handed over (`sluiceway.sns.sms.Sms`)."""

    display = "recorded by sluiceway.testing"

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.sent = Recorded()

    def send(self, sms: Sms) -> str:
        self.peer.check("SMS provider")
        self.sent.add(sms)
        return sms.message_id

    def close(self) -> None:
        return None


@dataclass(frozen=True)
class WebhookCall:
    """One HTTP request the runtime made to a webhook (``--sms https://...``)."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class RecordingWebhook:
    """Answers the runtime's webhook requests in place of the server at their URL: records
    each and answers `Peer.status` (a 2xx with ``{}``), or fails to connect when down."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.calls = Recorded()

    def __call__(self, request: urllib.request.Request, timeout: float | None = None) -> Any:
        url = request.full_url
        if self.peer.down:
            raise urllib.error.URLError(ConnectionRefusedError(111, "switched off by the test"))
        data = request.data if isinstance(request.data, bytes) else b""
        self.calls.add(WebhookCall(request.get_method(), url, dict(request.header_items()), data))
        headers = email.message.Message()
        headers["Content-Type"] = "application/json"
        if self.peer.status >= 300:
            raise urllib.error.HTTPError(url, self.peer.status, "test", headers, io.BytesIO())
        return urllib.response.addinfourl(io.BytesIO(b"{}"), headers, url, self.peer.status)


@dataclass(frozen=True)
class MqttMessage:
    """One message the runtime published over MQTT."""

    topic: str
    payload: bytes
    qos: int

    def json(self) -> Any:
        return json.loads(self.payload)


class RecordingPublisher:
    """The MQTT broker: each message published. With `forward` (the app has topic rules:
    the in-process broker they read, `iot.loopback`), each also goes there."""

    def __init__(self, peer: Peer, forward: Publisher | None) -> None:
        self.peer = peer
        self.forward = forward
        self.sent = Recorded()

    @property
    def url(self) -> str:
        return self.forward.url if self.forward is not None else "mqtt://sluiceway.test"

    @property
    def display(self) -> str:
        return "recorded by sluiceway.testing"

    def publish(self, topic: str, payload: bytes, qos: int) -> None:
        self.peer.check("MQTT broker")
        if self.forward is not None:
            self.forward.publish(topic, payload, qos)
        self.sent.add(MqttMessage(topic, payload, qos))

    def close(self) -> None:
        if self.forward is not None:
            self.forward.close()
