"""The MQTT publisher that carries IoT deliveries (``iot.publish``) to a broker.

`MqttPublisher` plays for MQTT the part `SmtpMailer` plays for email: the delivery outbox
hands it one message at a time (``--mqtt mqtt://[user:password@]host[:port]`` or
``mqtts://...``) and it raises `DeliveryError` when the message did not get through:
``connection=True`` while the broker cannot be reached (the message waits in the outbox),
``permanent=True`` when the broker refused the message itself. When no broker is given, the
runtime embeds one (`sluiceway.iot.broker`).
"""

from __future__ import annotations

import json
import secrets
import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from sluiceway.sns.deliveries import Delivered, one_by_one
from sluiceway.sns.email import DeliveryError
from sluiceway.sns.outbox import Job

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}

# CONNACK "Unsupported Protocol Version" (0x84; paho maps a 3.1.1 broker's code 1 to it).
_UNSUPPORTED_PROTOCOL = 0x84
# PUBACK reason codes (MQTT 5, section 3.4.2.1) that say the message itself is refused, so
# sending it again cannot help: Not authorized, Topic Name invalid, Packet too large,
# Payload format invalid. The other failures (Unspecified error, Quota exceeded, ...) may
# pass later and are retried.
_REFUSED_FOR_GOOD = frozenset({0x87, 0x90, 0x95, 0x99})


@dataclass(frozen=True, slots=True)
class _Broker:
    """Where an ``--mqtt`` URL points, and how to authenticate and encrypt."""

    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None
    tls: ssl.SSLContext | None

    @property
    def display(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def parse_broker_url(url: str) -> _Broker:
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(
            f"--mqtt {_redact(url)!r}: use mqtt://[user:password@]host[:port] or mqtts://..."
        )
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = set(options) - {"ca", "insecure"}
    if unknown:
        raise ValueError(f"--mqtt: unknown option(s) {sorted(unknown)}; known: ca, insecure")
    if options and parts.scheme != "mqtts":
        raise ValueError("--mqtt: ?ca= and ?insecure= apply to mqtts:// only")
    tls = None
    if parts.scheme == "mqtts":
        tls = _tls_context(options.get("ca"), _flag(options.get("insecure", "0")))
    return _Broker(
        scheme=parts.scheme,
        host=parts.hostname,
        port=parts.port or DEFAULT_PORTS[parts.scheme],
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
        tls=tls,
    )


def _flag(value: str) -> bool:
    if value.lower() in ("1", "true", "yes"):
        return True
    if value.lower() in ("0", "false", "no", ""):
        return False
    raise ValueError(f"--mqtt: insecure={value!r}; use insecure=1 or insecure=0")


def _tls_context(ca: str | None, insecure: bool) -> ssl.SSLContext:
    """The system's CA bundle, or only the ``?ca=`` file (a test broker's own authority);
    ``?insecure=1`` checks neither the certificate nor the host name (self-signed brokers)."""
    try:
        context = ssl.create_default_context(cafile=ca)
    except (OSError, ssl.SSLError) as error:
        raise ValueError(f"--mqtt: cannot load the CA file {ca!r}: {error}") from error
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _redact(url: str) -> str:
    """The URL without its password, fit for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()


class MqttPublisher:
    """Publishes to one MQTT broker over one connection, opened on the first publish.

        publisher = MqttPublisher("mqtt://127.0.0.1:1883")
        publisher.publish("devices/DemoClient/inbox", b'{"QRCode": "..."}', qos=1)
        publisher.close()

    Safe to share between threads: publishes from several delivery workers go out on the
    same connection, each waiting only for its own acknowledgement.

    It speaks MQTT 5 when the broker does, so a broker that refuses a message (a PUBACK
    reason code of 0x80 or more, e.g. 0x87 Not authorized for a topic outside the client's
    ACL) is told apart from one that is down; a broker that answers "unsupported protocol
    version" (a 3.1.1-only broker such as `EmbeddedBroker`) gets MQTT 3.1.1, where a
    refusal cannot be seen. After a connection error the next publish reconnects.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        keepalive: int = 60,
        client_id: str | None = None,
    ) -> None:
        self.url = url
        self._broker = parse_broker_url(url)
        self.timeout = timeout
        self.keepalive = keepalive
        self.client_id = client_id or f"sluiceway-{secrets.token_hex(6)}"
        self._protocol: MQTTProtocolVersion | None = None  # learnt on the first connection
        self._connection: _Connection | None = None
        self._lock = threading.Lock()

    @property
    def display(self) -> str:
        """``mqtt://host:port``: where messages go, without credentials (for logs)."""
        return self._broker.display

    def publish(self, topic: str, payload: bytes, qos: int) -> None:
        """Send one message; return once the broker has it.

        QoS 1 returns on the broker's PUBACK, QoS 0 once the message is written to the
        socket. Raises `DeliveryError` (``connection=True`` when the broker is unreachable,
        the connection drops or no acknowledgement comes within `timeout`; then the message
        may or may not have arrived, so a retry is at-least-once). `ValueError` for a QoS
        other than 0 or 1.
        """
        if qos not in (0, 1):
            raise ValueError(f"qos {qos!r}: MQTT publishing here is QoS 0 or 1")
        connection = self._connected()
        try:
            connection.publish(topic, payload, qos, self.timeout)
        except DeliveryError as error:
            if error.connection:
                self._discard(connection)
            raise

    def close(self) -> None:
        """Disconnect; a later publish connects again."""
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _connected(self) -> _Connection:
        with self._lock:
            current = self._connection
            if current is not None and current.alive:
                return current
            self._connection = None
            if current is not None:
                current.close()
            self._connection = self._connect()
            return self._connection

    def _discard(self, connection: _Connection) -> None:
        with self._lock:
            if self._connection is connection:
                self._connection = None
        connection.close()

    def _connect(self) -> _Connection:
        protocols = (
            [self._protocol]
            if self._protocol is not None
            else [MQTTProtocolVersion.MQTTv5, MQTTProtocolVersion.MQTTv311]
        )
        refusal = "no protocol offered"
        for protocol in protocols:
            connection = _Connection(self._client(protocol), self.display)
            try:
                reason = connection.open(self._broker, self.keepalive, self.timeout)
            except BaseException:
                connection.close()
                raise
            if not reason.is_failure:
                self._protocol = protocol
                return connection
            connection.close()
            refusal = f"{reason} (0x{reason.value:02X})"
            if reason.value != _UNSUPPORTED_PROTOCOL:
                break
        # Bad credentials included: fixing them needs no change to the message, which waits.
        raise DeliveryError(
            f"MQTT broker {self.display} refused the connection: {refusal}", connection=True
        )

    def _client(self, protocol: MQTTProtocolVersion) -> paho.Client:
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=protocol,
            # 3.1.1 only (MQTT 5 says it with clean_start): no session outlives a connection.
            clean_session=True if protocol != MQTTProtocolVersion.MQTTv5 else None,
            # Reconnecting is ours to do: paho would re-send unacknowledged messages the
            # outbox already counts as failed.
            reconnect_on_failure=False,
        )
        client.connect_timeout = self.timeout
        if self._broker.username is not None:
            client.username_pw_set(self._broker.username, self._broker.password)
        if self._broker.tls is not None:
            client.tls_set_context(self._broker.tls)
        return client


def _close_abandoned_sockets(traceback: TracebackType | None) -> None:
    """Close the sockets paho opened before its connect failed (a TLS handshake refused,
    say): paho drops them unclosed, which leaks the descriptor until garbage collection."""
    while traceback is not None:
        for value in traceback.tb_frame.f_locals.values():
            if isinstance(value, socket.socket):
                value.close()
        traceback = traceback.tb_next


class _Connection:
    """One paho client, its network thread, and the publishes waiting on it.

    Never reconnected: when it is lost a new one replaces it, so paho never re-sends on its
    own a message that was already reported as failed (that would duplicate it).
    """

    def __init__(self, client: paho.Client, display: str) -> None:
        self.client = client
        self.display = display
        self._changed = threading.Condition()
        self._connack: ReasonCode | None = None
        self._lost: str | None = None
        self._acks: dict[int, ReasonCode] = {}
        client.on_connect = self._on_connect
        client.on_publish = self._on_publish
        client.on_disconnect = self._on_disconnect

    @property
    def alive(self) -> bool:
        return self._lost is None

    def open(self, broker: _Broker, keepalive: int, timeout: float) -> ReasonCode:
        """Connect and return the broker's CONNACK reason (refusals included)."""
        try:
            if self.client.protocol == MQTTProtocolVersion.MQTTv5:
                self.client.connect(broker.host, broker.port, keepalive, clean_start=True)
            else:
                self.client.connect(broker.host, broker.port, keepalive)
        except (OSError, ValueError) as error:  # ssl.CertificateError is a ValueError
            _close_abandoned_sockets(error.__traceback__)
            raise DeliveryError(
                f"MQTT broker {self.display} unreachable: {error}", connection=True
            ) from error
        self.client.loop_start()
        connack = self._wait(lambda: self._connack, timeout)
        if connack is None:
            raise DeliveryError(self._failure("CONNACK", timeout), connection=True)
        return connack

    def publish(self, topic: str, payload: bytes, qos: int, timeout: float) -> None:
        try:
            info = self.client.publish(topic, payload, qos)
        except ValueError as error:
            # paho refuses what no MQTT broker accepts: a wildcard or empty topic, a payload
            # over 256 MB.
            raise DeliveryError(
                f"MQTT cannot carry this message: {error}", permanent=True
            ) from None
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            # paho may have written the packet before it saw the connection go (the broker
            # can have it): as a PUBACK that never came, the outbox retries it later.
            raise DeliveryError(
                f"MQTT publish to {self.display} failed ({paho.error_string(info.rc)}): the "
                "connection was lost before the PUBACK, so the message may have arrived",
                connection=True,
            )
        ack = self._wait(lambda: self._acks.pop(info.mid, None), timeout)
        if ack is None:
            raise DeliveryError(
                self._failure("PUBACK" if qos else "write", timeout), connection=True
            )
        if ack.is_failure:
            raise DeliveryError(
                f"MQTT broker {self.display} refused the message on {topic!r}: "
                f"{ack} (0x{ack.value:02X})",
                permanent=ack.value in _REFUSED_FOR_GOOD,
            )

    def close(self) -> None:
        """Say goodbye if connected and stop the network thread; idempotent."""
        self.client.disconnect()
        self.client.loop_stop()
        with self._changed:
            self._lost = self._lost or "closed"
            self._changed.notify_all()

    def _wait(self, result: Callable[[], ReasonCode | None], timeout: float) -> ReasonCode | None:
        """`result()` once it is not None, or None when the connection is lost or time is up.
        An answer that came before the connection was lost still counts."""
        found: list[ReasonCode] = []

        def ready() -> bool:
            answer = result()
            if answer is not None:
                found.append(answer)
            return bool(found) or self._lost is not None

        with self._changed:
            self._changed.wait_for(ready, timeout)
        return found[0] if found else None

    def _failure(self, awaited: str, timeout: float) -> str:
        if self._lost is not None:
            return (
                f"connection to MQTT broker {self.display} lost before the {awaited}: {self._lost}"
            )
        return f"no {awaited} from MQTT broker {self.display} within {timeout:g} s"

    # paho's callbacks, called on its network thread.

    def _on_connect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: paho.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._changed:
            self._connack = reason
            self._changed.notify_all()

    def _on_publish(
        self,
        client: paho.Client,
        userdata: Any,
        mid: int,
        reason: ReasonCode,
        properties: Properties,
    ) -> None:
        with self._changed:
            self._acks[mid] = reason
            self._changed.notify_all()

    def _on_disconnect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: paho.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._changed:
            self._lost = str(reason)
            self._changed.notify_all()


# While the broker is down the head of the line is retried this often (not the usual
# doubling backoff), so delivery resumes within a second of the broker's return.
RECONNECT_RETRY_MS = 1000


class Publisher(Protocol):
    """What MQTT deliveries leave by: `MqttPublisher`, or a stand-in that records them
    (`sluiceway.testing`). `url` is the broker's, which the app's topic rules subscribe to."""

    @property
    def url(self) -> str: ...

    @property
    def display(self) -> str: ...

    def publish(self, topic: str, payload: bytes, qos: int) -> None: ...

    def close(self) -> None: ...


class MqttCarrier:
    """Carries ``mqtt`` deliveries (``iot.publish``) to the broker, in publish order: the
    outbox hands over the oldest waiting messages first and, once one fails to get through,
    the rest of the batch waits behind it."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher
        self.sent: Callable[[int], None] | None = None  # the engine's `SentLog.sent`

    def deliver_all(self, jobs: Sequence[Job]) -> list[Delivered]:
        return one_by_one(jobs, self._deliver, self.sent)

    def _deliver(self, job: Job) -> None:
        payload = job.message if isinstance(job.message, bytes) else (job.message or "").encode()
        qos = int(json.loads(job.attributes or "{}").get("qos", 0))
        try:
            self.publisher.publish(job.endpoint, payload, qos)
        except DeliveryError as error:
            if not error.connection:
                raise
            raise DeliveryError(
                str(error), connection=True, retry_in_ms=RECONNECT_RETRY_MS
            ) from None

    def recorded(self, job_id: int) -> None:
        return None

    def close(self) -> None:
        self.publisher.close()
