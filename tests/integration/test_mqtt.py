"""MQTT delivery: `MqttPublisher` against real brokers (the machine's Mosquitto, a second
Mosquitto with passwords, an ACL and TLS, the `EmbeddedBroker`) and against fake brokers
that misbehave on cue."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import paho.mqtt.client as paho
import pytest
import trustme
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

import mqtt_devices
from mqtt_devices import Subscriber, accepting, new_topic, require
from sluiceway.iot.broker import EmbeddedBroker
from sluiceway.iot.publisher import MqttPublisher
from sluiceway.sns.email import DeliveryError
from support import free_port, wait_until

BINARY = bytes(range(256)) * 4
JSON = json.dumps(
    {"ClientID": "DemoClient", "QRCode": "vwWT)Np=+6-vGzTiopED", "note": "ünïcødé ✓"},
    ensure_ascii=False,
).encode()
USER, PASSWORD = "shop", "p@ss:word"


# -- brokers --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def system_mosquitto() -> int:
    """The machine's Mosquitto on 127.0.0.1:1883."""
    return mqtt_devices.system_mosquitto()


@pytest.fixture
def embedded() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as broker:
        yield broker


@dataclass(frozen=True)
class AnyBroker:
    kind: str
    port: int

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


@pytest.fixture(params=["mosquitto", "embedded"])
def broker(request: pytest.FixtureRequest) -> AnyBroker:
    """The same behaviour is expected of both brokers a user may publish to."""
    if request.param == "mosquitto":
        return AnyBroker("mosquitto", request.getfixturevalue("system_mosquitto"))
    return AnyBroker("embedded", request.getfixturevalue("embedded").port)


@dataclass(frozen=True)
class SecuredMosquitto:
    """A second Mosquitto wanting a password, with an ACL, plain and TLS listeners."""

    port: int
    tls_port: int
    ca: Path
    url: str  # plain, with the credentials


@pytest.fixture(scope="module")
def secured_mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredMosquitto]:
    require("mosquitto", "mosquitto_passwd")
    home = tmp_path_factory.mktemp("mosquitto")
    subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(home / "passwd"), USER, PASSWORD], check=True
    )
    # The shop may publish under devices/ only; everyone who logged in may read.
    (home / "acl").write_text(f"user {USER}\ntopic write devices/#\ntopic read #\n")
    authority = trustme.CA()
    authority.cert_pem.write_to_path(str(home / "ca.pem"))
    server = authority.issue_cert("127.0.0.1", "localhost")
    server.private_key_and_cert_chain_pem.write_to_path(str(home / "server.pem"))
    port, tls_port = free_port(), free_port()
    config = home / "mosquitto.conf"
    config.write_text(
        f"per_listener_settings false\nallow_anonymous false\npersistence false\n"
        f"password_file {home / 'passwd'}\nacl_file {home / 'acl'}\nlog_dest stdout\n"
        + ("user root\n" if os.geteuid() == 0 else "")  # keep access to the 0700 temp dir
        + f"listener {port} 127.0.0.1\n"
        f"listener {tls_port} 127.0.0.1\ncafile {home / 'ca.pem'}\n"
        f"certfile {home / 'server.pem'}\nkeyfile {home / 'server.pem'}\n"
    )
    log_path = home / "mosquitto.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            ["mosquitto", "-c", str(config)], stdout=log_file, stderr=subprocess.STDOUT
        )
    # Mosquitto block-buffers a piped log, so readiness is both listeners accepting.
    try:
        wait_until(lambda: (accepting(port) and accepting(tls_port)) or process.poll() is not None)
    except AssertionError:
        process.kill()
        raise
    assert process.poll() is None, log_path.read_text()
    url = f"mqtt://{quote(USER)}:{quote(PASSWORD, safe='')}@127.0.0.1:{port}"
    yield SecuredMosquitto(port, tls_port, home / "ca.pem", url)
    process.terminate()
    process.wait(10)


# -- fake brokers that misbehave on cue -------------------------------------------------------

CONNACK_V5_ACCEPTED = bytes([0x20, 3, 0, 0, 0])
PUBLISH = 3


def read_packet(conn: socket.socket) -> tuple[int, bytes]:
    """One MQTT control packet: its type and everything after the fixed header."""
    first = _read_exactly(conn, 1)[0]
    length, shift = 0, 0
    while True:
        byte = _read_exactly(conn, 1)[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return first >> 4, _read_exactly(conn, length)


def _read_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


Behaviour = Callable[[socket.socket, list[bytes]], None]


class FakeBroker:
    """A TCP server speaking just enough MQTT to fail in one chosen way; `publishes` keeps
    the body of every PUBLISH it received, in order."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.publishes: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        self._thread.join(10)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with conn, contextlib.suppress(ConnectionError):
                self.behaviour(conn, self.publishes)


def hang_up_after_publish(conn: socket.socket, publishes: list[bytes]) -> None:
    read_packet(conn)  # CONNECT
    conn.sendall(CONNACK_V5_ACCEPTED)
    kind, body = read_packet(conn)
    assert kind == PUBLISH
    publishes.append(body)


def never_acknowledge(conn: socket.socket, publishes: list[bytes]) -> None:
    hang_up_after_publish(conn, publishes)
    read_packet(conn)  # wait for the client to give up and hang up


def never_answer_connect(conn: socket.socket, publishes: list[bytes]) -> None:
    read_packet(conn)
    read_packet(conn)


@pytest.fixture
def fake_broker() -> Iterator[Callable[[Behaviour], FakeBroker]]:
    made: list[FakeBroker] = []

    def make(behaviour: Behaviour) -> FakeBroker:
        made.append(FakeBroker(behaviour))
        return made[-1]

    yield make
    for broker in made:
        broker.close()


@pytest.fixture
def publishers() -> Iterator[Callable[..., MqttPublisher]]:
    """Make publishers that are all closed after the test."""
    made: list[MqttPublisher] = []

    def make(url: str, **options: Any) -> MqttPublisher:
        made.append(MqttPublisher(url, **options))
        return made[-1]

    yield make
    for publisher in made:
        publisher.close()


Publishers = Callable[..., MqttPublisher]


# -- delivery ---------------------------------------------------------------------------------


@pytest.mark.parametrize("qos", [0, 1])
@pytest.mark.parametrize("payload", [BINARY, JSON, b""], ids=["binary", "utf8-json", "empty"])
def test_a_subscriber_receives_the_published_bytes_intact(
    broker: AnyBroker, publishers: Publishers, qos: int, payload: bytes
) -> None:
    topic = new_topic()
    publisher = publishers(broker.url)
    with Subscriber(broker.port, topic) as device:
        publisher.publish(topic, payload, qos)
        (message,) = device.wait_for(1)
    assert (message.topic, message.payload) == (topic, payload)
    # amqtt delivers at the subscription's QoS (1) where MQTT says min(publish, subscription).
    assert message.qos == (qos if broker.kind == "mosquitto" else 1)


def test_publishes_from_several_threads_all_arrive_each_thread_in_order(
    broker: AnyBroker, publishers: Publishers
) -> None:
    topic = new_topic()
    publisher = publishers(broker.url)
    threads, each = 4, 25

    def worker(n: int) -> None:
        for i in range(each):
            publisher.publish(topic, f"{n}:{i}".encode(), 1)

    with Subscriber(broker.port, topic) as device:
        workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
        received = [m.payload.decode() for m in device.wait_for(threads * each)]
    assert len(received) == threads * each
    for n in range(threads):
        assert [r for r in received if r.startswith(f"{n}:")] == [f"{n}:{i}" for i in range(each)]


def test_one_connection_serves_many_publishes_and_close_lets_the_next_reconnect(
    embedded: EmbeddedBroker, publishers: Publishers
) -> None:
    topic = new_topic()
    publisher = publishers(embedded.url)
    with Subscriber(embedded.port, topic) as device:
        publisher.publish(topic, b"1", 1)
        publisher.publish(topic, b"2", 0)
        # QoS 0 is at most once: a close racing its write may drop it, so it is in before.
        device.wait_for(2)
        publisher.close()
        publisher.publish(topic, b"3", 1)
        received = device.wait_for(3)
    assert [m.payload for m in received] == [b"1", b"2", b"3"]


def test_qos_2_is_not_offered(publishers: Publishers) -> None:
    with pytest.raises(ValueError, match="QoS 0 or 1"):
        publishers("mqtt://127.0.0.1:1").publish("t", b"", 2)


# -- a broker that is down, goes away, or never answers ---------------------------------------


def test_an_unreachable_broker_is_a_connection_error_at_once(publishers: Publishers) -> None:
    publisher = publishers(f"mqtt://127.0.0.1:{free_port()}", timeout=5)
    started = time.monotonic()
    with pytest.raises(DeliveryError, match="unreachable") as failed:
        publisher.publish("devices/DemoClient/inbox", b"{}", 1)
    assert time.monotonic() - started < 2
    assert failed.value.connection
    assert not failed.value.permanent


def test_a_broker_that_never_answers_connect_fails_within_the_timeout(
    fake_broker: Callable[[Behaviour], FakeBroker], publishers: Publishers
) -> None:
    broker = fake_broker(never_answer_connect)
    publisher = publishers(broker.url, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(DeliveryError, match=r"no CONNACK .* within 0\.3 s") as failed:
        publisher.publish("devices/DemoClient/inbox", b"{}", 1)
    assert time.monotonic() - started < 2
    assert failed.value.connection


def test_a_broker_that_goes_away_fails_the_publish_and_after_its_return_the_next_reconnects(
    embedded: EmbeddedBroker, publishers: Publishers
) -> None:
    topic = new_topic()
    publisher = publishers(embedded.url, timeout=2)
    publisher.publish(topic, b"before", 1)
    embedded.stop()
    with pytest.raises(DeliveryError) as failed:
        publisher.publish(topic, b"while down", 1)
    assert failed.value.connection
    assert not failed.value.permanent
    embedded.start()  # the same port again
    with Subscriber(embedded.port, topic) as device:
        publisher.publish(topic, b"after", 1)
        (message,) = device.wait_for(1)
    assert message.payload == b"after"


def test_a_connection_lost_before_the_puback_fails_and_the_message_is_not_resent_on_its_own(
    fake_broker: Callable[[Behaviour], FakeBroker], publishers: Publishers
) -> None:
    broker = fake_broker(hang_up_after_publish)
    publisher = publishers(broker.url, timeout=5)
    with pytest.raises(DeliveryError, match="lost before the PUBACK") as failed:
        publisher.publish("devices/DemoClient/inbox", b"first", 1)
    assert failed.value.connection
    with pytest.raises(DeliveryError, match="lost before the PUBACK"):
        publisher.publish("devices/DemoClient/inbox", b"second", 1)
    # The new connection carried only the new message: retrying is the outbox's call.
    assert [body.endswith(b"first") for body in broker.publishes] == [True, False]
    assert broker.publishes[1].endswith(b"second")


def test_a_missing_puback_is_a_connection_error_after_the_timeout(
    fake_broker: Callable[[Behaviour], FakeBroker], publishers: Publishers
) -> None:
    broker = fake_broker(never_acknowledge)
    publisher = publishers(broker.url, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(DeliveryError, match=r"no PUBACK .* within 0\.3 s") as failed:
        publisher.publish("devices/DemoClient/inbox", b"{}", 1)
    assert time.monotonic() - started < 2
    assert failed.value.connection


# -- credentials, ACL refusals and TLS (a second Mosquitto) ----------------------------------


def test_credentials_in_the_url_log_in_and_stay_out_of_the_display(
    secured_mosquitto: SecuredMosquitto, publishers: Publishers
) -> None:
    topic = "devices/" + uuid.uuid4().hex
    publisher = publishers(secured_mosquitto.url)
    with Subscriber(secured_mosquitto.port, topic, username=USER, password=PASSWORD) as device:
        publisher.publish(topic, JSON, 1)
        (message,) = device.wait_for(1)
    assert message.payload == JSON
    assert publisher.display == f"mqtt://127.0.0.1:{secured_mosquitto.port}"


def test_a_wrong_password_keeps_the_message_waiting_rather_than_failing_it(
    secured_mosquitto: SecuredMosquitto, publishers: Publishers
) -> None:
    publisher = publishers(f"mqtt://{USER}:wrong@127.0.0.1:{secured_mosquitto.port}")
    with pytest.raises(DeliveryError, match="refused the connection") as failed:
        publisher.publish("devices/DemoClient/inbox", b"{}", 1)
    assert failed.value.connection
    assert not failed.value.permanent
    assert "wrong" not in str(failed.value)


def test_a_topic_the_broker_denies_is_refused_for_good_and_the_connection_carries_on(
    secured_mosquitto: SecuredMosquitto, publishers: Publishers
) -> None:
    topic = "devices/" + uuid.uuid4().hex
    publisher = publishers(secured_mosquitto.url)
    with Subscriber(secured_mosquitto.port, topic, username=USER, password=PASSWORD) as device:
        with pytest.raises(DeliveryError, match=r"Not authorized \(0x87\)") as refused:
            publisher.publish("admin/reboot", b"{}", 1)
        publisher.publish(topic, b"allowed", 1)
        (message,) = device.wait_for(1)
    assert refused.value.permanent
    assert not refused.value.connection
    assert message.payload == b"allowed"


def test_mqtts_trusts_the_ca_named_in_the_url(
    secured_mosquitto: SecuredMosquitto, publishers: Publishers
) -> None:
    topic = "devices/" + uuid.uuid4().hex
    url = (
        f"mqtts://{quote(USER)}:{quote(PASSWORD, safe='')}@127.0.0.1:"
        f"{secured_mosquitto.tls_port}?ca={secured_mosquitto.ca}"
    )
    publisher = publishers(url)
    with Subscriber(secured_mosquitto.port, topic, username=USER, password=PASSWORD) as device:
        publisher.publish(topic, BINARY, 1)
        (message,) = device.wait_for(1)
    assert message.payload == BINARY
    assert publisher.display == f"mqtts://127.0.0.1:{secured_mosquitto.tls_port}"


def test_mqtts_uses_the_system_ca_bundle_by_default(
    secured_mosquitto: SecuredMosquitto, publishers: Publishers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(secured_mosquitto.ca))
    credentials = f"{quote(USER)}:{quote(PASSWORD, safe='')}"
    publisher = publishers(f"mqtts://{credentials}@127.0.0.1:{secured_mosquitto.tls_port}")
    publisher.publish("devices/" + uuid.uuid4().hex, b"{}", 1)


def test_mqtts_refuses_a_certificate_it_cannot_verify(
    secured_mosquitto: SecuredMosquitto, publishers: Publishers
) -> None:
    credentials = f"{quote(USER)}:{quote(PASSWORD, safe='')}"
    publisher = publishers(f"mqtts://{credentials}@127.0.0.1:{secured_mosquitto.tls_port}")
    with pytest.raises(DeliveryError, match="certificate verify failed") as failed:
        publisher.publish("devices/DemoClient/inbox", b"{}", 1)
    assert failed.value.connection


def test_mqtts_insecure_accepts_a_self_signed_test_broker(
    secured_mosquitto: SecuredMosquitto, publishers: Publishers
) -> None:
    credentials = f"{quote(USER)}:{quote(PASSWORD, safe='')}"
    url = f"mqtts://{credentials}@127.0.0.1:{secured_mosquitto.tls_port}?insecure=1"
    publishers(url).publish("devices/" + uuid.uuid4().hex, b"{}", 1)


# -- the URL --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "display"),
    [
        ("mqtt://broker.local", "mqtt://broker.local:1883"),
        ("mqtts://broker.local", "mqtts://broker.local:8883"),
        ("mqtt://user:secret@broker.local:1884", "mqtt://broker.local:1884"),
        ("mqtt://[::1]:1883", "mqtt://[::1]:1883"),
    ],
)
def test_the_display_names_the_broker_without_credentials(url: str, display: str) -> None:
    assert MqttPublisher(url).display == display


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://broker.local", "use mqtt://"),
        ("mqtt://", "use mqtt://"),
        ("mqtt://user:secret@", "user:\\*\\*\\*@"),
        ("mqtts://broker.local?verify=0", "unknown option"),
        ("mqtt://broker.local?insecure=1", "mqtts:// only"),
        ("mqtts://broker.local?insecure=maybe", "insecure=1 or insecure=0"),
        ("mqtts://broker.local?ca=/nonexistent/ca.pem", "cannot load the CA file"),
    ],
)
def test_a_url_that_names_no_usable_broker_is_refused_at_once(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as refused:
        MqttPublisher(url)
    assert "secret" not in str(refused.value)


# -- the embedded broker --------------------------------------------------------------------


def test_the_embedded_broker_starts_and_stops_quickly_and_idempotently() -> None:
    broker = EmbeddedBroker()
    with pytest.raises(RuntimeError, match="until it is started"):
        _ = broker.url
    assert broker.start() is broker.start()
    assert broker.url == f"mqtt://127.0.0.1:{broker.port}"
    with Subscriber(broker.port, "#"):
        started = time.monotonic()
        broker.stop()
        assert time.monotonic() - started < 1
    broker.stop()


def test_the_embedded_broker_refuses_a_port_already_taken(embedded: EmbeddedBroker) -> None:
    with pytest.raises(OSError, match="address already in use"):
        EmbeddedBroker(port=embedded.port).start()


def test_the_embedded_broker_keeps_a_retained_message_for_a_late_subscriber(
    embedded: EmbeddedBroker,
) -> None:
    topic = new_topic("status")
    device = paho.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv311)
    device.connect("127.0.0.1", embedded.port)
    device.loop_start()
    device.publish(topic, b"online", qos=1, retain=True).wait_for_publish(10)
    device.disconnect()
    device.loop_stop()
    with Subscriber(embedded.port, topic) as late:
        (message,) = late.wait_for(1)
    assert (message.payload, message.retain) == (b"online", True)
