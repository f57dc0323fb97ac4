"""`app.iot()`: publishing to MQTT from handlers through the durable outbox, and the
`iot-router` blueprint (seed 004) run in-process on the virtual clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import EngineFactory
from mqtt_devices import Subscriber, new_topic
from sluiceway import AccessDenied, App, DeclarationError, ValidationError
from sluiceway.blueprints import iot_router
from sluiceway.core.clock import VirtualClock
from sluiceway.iot.broker import EmbeddedBroker
from sluiceway.local import Admin, LocalEngine
from sluiceway.testing.plugin import Launcher
from support import free_port

SEED_MESSAGE = {
    "ClientID": "DemoClient",
    "QRCode": "vwWT)Np=+6-vGzTiopED",
    "Time": "20231201T231010",
    "STATE": "ACTIVE",
    "LOCATION": "LT100LN200",
    "TEST": "demo message 26-09 - message 1",
}


def mqtt_deliveries(engine: LocalEngine) -> list[dict[str, Any]]:
    with Admin(engine.settings.data_dir) as admin:
        return [
            {"topic": v.destination, "status": v.status, "text": v.text, "error": v.last_error}
            for v in admin.deliveries()
            if v.protocol == "mqtt"
        ]


@pytest.fixture
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as running:
        yield running


def relay_app(topics: list[str]) -> tuple[App, Any]:
    app = App("relay")
    inbox = app.queue("inbox")
    iot = app.iot(topics=topics)

    @app.on_queue(inbox, uses=[iot.publishes])
    def relay(event: dict[str, Any], context: Any) -> None:
        for record in event["Records"]:
            message = json.loads(record["body"])
            iot.publish(message["topic"], message["payload"], qos=message.get("qos", 1))

    return app, inbox


# -- declaring ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "topics",
    [["devices/#/inbox"], ["$aws/things/x"], ["a/b/c/d/e/f/g/h/i"], [], ["x" * 257]],
    ids=["hash-not-last", "reserved", "eight-slashes", "empty", "too-long"],
)
def test_a_bad_allowlist_is_refused_at_declaration(topics: list[str]) -> None:
    with pytest.raises(DeclarationError, match="iot"):
        App("bad").iot(topics=topics)


def test_iot_is_declared_once() -> None:
    app = App("twice")
    app.iot()
    with pytest.raises(DeclarationError, match="declared twice"):
        app.iot()


def test_a_handler_without_the_permission_is_denied_naming_it(
    make_engine: EngineFactory, broker: EmbeddedBroker
) -> None:
    app = App("nopermission")
    inbox = app.queue("inbox")
    iot = app.iot()
    seen: list[Exception] = []

    @app.on_queue(inbox)
    def relay(event: dict[str, Any], context: Any) -> None:
        try:
            iot.publish("MyTopic", b"x")
        except AccessDenied as error:
            seen.append(error)

    engine = make_engine(app, mqtt=broker.url)
    inbox.send_message("{}")
    engine.drain()
    assert len(seen) == 1
    assert "iot:Publish" in str(seen[0])
    assert "iot.publishes" in str(seen[0])
    assert mqtt_deliveries(engine) == []


# -- publishing -----------------------------------------------------------------------------


def test_a_published_message_reaches_a_subscribed_device_byte_for_byte(
    make_engine: EngineFactory, broker: EmbeddedBroker
) -> None:
    topic = new_topic()
    app, inbox = relay_app([topic])
    engine = make_engine(app, mqtt=broker.url)
    with Subscriber(broker.port, topic) as device:
        inbox.send_message(json.dumps({"topic": topic, "payload": SEED_MESSAGE}))
        inbox.send_message(json.dumps({"topic": topic, "payload": "ünïcødé ✓", "qos": 0}))
        engine.drain()
        first, second = device.wait_for(2)
    assert json.loads(first.payload) == SEED_MESSAGE
    assert first.qos == 1
    assert second.payload == "ünïcødé ✓".encode()
    assert [d["status"] for d in mqtt_deliveries(engine)] == ["delivered", "delivered"]
    assert mqtt_deliveries(engine)[1]["text"] == "ünïcødé ✓"


@pytest.mark.parametrize(
    ("topic", "problem"),
    [
        ("devices/+/inbox", "wildcards"),
        ("$aws/things/x/shadow/update", "reserved"),
        ("a/b/c/d/e/f/g/h/i", "7"),
        ("Other", "matches none of the declared topics"),
        ("devices/\x00", "control character"),
    ],
    ids=["wildcard", "reserved", "too-deep", "not-allowed", "nul"],
)
def test_a_topic_refused_by_the_rules_or_the_allowlist_is_never_stored(
    make_engine: EngineFactory, broker: EmbeddedBroker, topic: str, problem: str
) -> None:
    app = App("guarded")
    inbox = app.queue("inbox")
    iot = app.iot(topics=["devices/#", "MyTopic"])
    errors: list[str] = []

    @app.on_queue(inbox, uses=[iot.publishes])
    def relay(event: dict[str, Any], context: Any) -> None:
        try:
            iot.publish(topic, b"{}")
        except ValidationError as error:
            errors.append(str(error))

    engine = make_engine(app, mqtt=broker.url)
    inbox.send_message("{}")
    engine.drain()
    assert len(errors) == 1
    assert problem in errors[0]
    assert mqtt_deliveries(engine) == []


def test_qos_2_and_oversized_payloads_are_refused(make_engine: EngineFactory) -> None:
    app = App("limits")
    iot = app.iot()
    engine = make_engine(app)
    app.bind(engine)
    with pytest.raises(ValidationError, match="no QoS 2"):
        iot.publish("MyTopic", b"x", qos=2)
    with pytest.raises(ValidationError, match="128 KB"):
        iot.publish("MyTopic", b"x" * (128 * 1024))


def test_while_the_broker_is_down_messages_wait_and_then_leave_in_order(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    port = free_port()
    topic = new_topic()
    app, inbox = relay_app([topic])
    engine = make_engine(app, mqtt=f"mqtt://127.0.0.1:{port}")  # nothing listens yet
    for n in range(12):
        inbox.send_message(json.dumps({"topic": topic, "payload": {"n": n}}))
    engine.drain()
    waiting = mqtt_deliveries(engine)
    assert [d["status"] for d in waiting] == ["pending"] * 12
    assert "unreachable" in (waiting[0]["error"] or "")

    with EmbeddedBroker(port=port) as broker, Subscriber(broker.port, topic) as device:
        clock.advance(1.0)  # the retry after a failed connection
        engine.drain(advance_time=True)
        arrived = device.wait_for(12)
    assert [json.loads(m.payload)["n"] for m in arrived] == list(range(12))
    assert {d["status"] for d in mqtt_deliveries(engine)} == {"delivered"}


def test_the_embedded_broker_runs_when_no_broker_is_given(make_engine: EngineFactory) -> None:
    topic = new_topic()
    app, inbox = relay_app([topic])
    engine = make_engine(app)
    assert engine.broker is not None
    with Subscriber(engine.broker.port, topic) as device:
        inbox.send_message(json.dumps({"topic": topic, "payload": "hello"}))
        engine.drain()
        (message,) = device.wait_for(1)
    assert message.payload == b"hello"
    engine.close()
    assert engine.broker is None


# -- the iot-router blueprint ------------------------------------------------------------------


@pytest.fixture
def router(make_engine: EngineFactory, broker: EmbeddedBroker) -> LocalEngine:
    return make_engine(iot_router.app, mqtt=broker.url)


def test_the_router_publishes_a_message_to_its_clients_topic(
    router: LocalEngine, broker: EmbeddedBroker
) -> None:
    with Admin(router.settings.data_dir) as admin:
        admin.put_item("clients", {"ClientID": "DemoClient", "Topic": "MyTopic"})
    with Subscriber(broker.port, "MyTopic") as device:
        body = json.dumps(SEED_MESSAGE)
        iot_router.messages.send_message(body)
        router.drain()
        (message,) = device.wait_for(1)
    assert message.payload == body.encode()
    assert message.topic == "MyTopic"


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({**SEED_MESSAGE, "ClientID": "Nobody"}, "'Nobody' is not in the clients table"),
        ({"QRCode": "x"}, "has no ClientID"),
        ({"ClientID": "Rogue"}, "matches none of the declared topics"),
    ],
    ids=["unknown-client", "no-client-id", "topic-not-allowed"],
)
def test_a_message_that_cannot_be_routed_lands_in_the_dlq_after_three_receives(
    sluiceway: Launcher,
    capsys: pytest.CaptureFixture[str],
    message: dict[str, str],
    reason: str,
) -> None:
    app = sluiceway.run("iot-router")
    iot_router.clients.put_item({"ClientID": "Rogue", "Topic": "admin/reboot"})
    iot_router.clients.put_item({"ClientID": "DemoClient", "Topic": "MyTopic"})
    iot_router.messages.send_message(json.dumps(message))
    iot_router.messages.send_message(json.dumps(SEED_MESSAGE))  # its batch mate goes through
    app.advance(3 * 30)  # DeviceMessages: visibility timeout 30 s, three receives
    assert app.messages("DeviceMessages") == []
    (dead,) = app.dead_letters()
    assert json.loads(dead.body) == message
    routed = [line for line in capsys.readouterr().out.splitlines() if "not routed" in line]
    assert len(routed) == 3
    assert all(reason in m for m in routed), routed
    assert [m.topic for m in app.mqtt] == ["MyTopic"]
    assert app.mqtt[0].json() == SEED_MESSAGE
