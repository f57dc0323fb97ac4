"""Topic rules (`app.topic_rule`, AWS::IoT::TopicRule) through the engine on the machine's
Mosquitto: a device's message runs each action once its rule selects it, durably (the
message is acknowledged to the broker only after its actions are committed)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

import mqtt_devices
from conftest import EngineFactory
from mqtt_devices import Subscriber
from sluiceway import App, DeclarationError
from sluiceway.iot.spec import (
    InvokeFunction,
    PublishToTopic,
    PutItem,
    PutKeyedItem,
    Republish,
    SendToQueue,
)
from sluiceway.local import Admin, LocalEngine
from support import wait_until


@pytest.fixture(scope="module")
def mosquitto() -> int:
    return mqtt_devices.system_mosquitto()


def publish(port: int, topic: str, payload: Any, qos: int = 1) -> None:
    """A device publishing one message (and waiting for the broker's PUBACK)."""
    device = paho.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv311)
    device.connect("127.0.0.1", port)
    device.loop_start()
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    device.publish(topic, data, qos=qos).wait_for_publish(10)
    device.disconnect()
    device.loop_stop()


def settle(engine: LocalEngine, done: Callable[[], bool]) -> None:
    """Drain until `done`: messages come from the broker's thread, not a commit."""

    def check() -> bool:
        engine.drain()
        return done()

    wait_until(check, timeout=15)


def base() -> str:
    return f"sluiceway-test/{uuid.uuid4().hex[:12]}"


def sensors_app(root: str) -> tuple[App, dict[str, list[Any]]]:
    app = App("sensors")
    seen: dict[str, list[Any]] = {"lambda": [], "sqs": [], "sns": []}
    queue = app.queue("hot-readings")
    topic = app.topic("alerts")
    readings = app.table("readings", partition_key="device")
    events = app.table("events", partition_key="device", sort_key=("at", "N"))

    @app.function()
    def record(event: dict[str, Any], context: Any) -> None:
        seen["lambda"].append(event)

    @app.on_queue(queue)
    def drain_queue(event: dict[str, Any], context: Any) -> None:
        seen["sqs"] += [json.loads(r["body"]) for r in event["Records"]]

    @app.on_topic(topic)
    def alerted(event: dict[str, Any], context: Any) -> None:
        seen["sns"] += [json.loads(r["Sns"]["Message"]) for r in event["Records"]]

    app.topic_rule(
        "hot",
        f"SELECT *, topic(4) AS device, timestamp() AS at FROM '{root}/sensors/+' "
        "WHERE temperature > 30 AND NOT status = 'test'",
        [
            InvokeFunction("record"),
            SendToQueue(queue.name),
            PublishToTopic(topic.name),
            PutItem(readings.name),
            PutKeyedItem(
                events.name,
                hash_key_field="device",
                hash_key_value="${topic(4)}",
                range_key_field="at",
                range_key_value="${timestamp()}",
                range_key_type="NUMBER",
                payload_field="data",
            ),
            Republish(f"{root}/alerts/${{topic(4)}}", qos=1),
        ],
    )
    return app, seen


def test_a_selected_message_runs_every_action_and_a_filtered_one_none(
    make_engine: EngineFactory, mosquitto: int
) -> None:
    root = base()
    app, seen = sensors_app(root)
    engine = make_engine(app, mqtt=f"mqtt://127.0.0.1:{mosquitto}")
    with Subscriber(mosquitto, f"{root}/alerts/#") as watcher:
        publish(mosquitto, f"{root}/sensors/dev-1", {"temperature": 20.5})  # not hot
        publish(mosquitto, f"{root}/sensors/dev-2", {"temperature": 31, "status": "test"})
        publish(mosquitto, f"{root}/sensors/dev-3", {"temperature": 31.5, "status": "ok"})
        settle(engine, lambda: bool(seen["lambda"] and seen["sqs"] and seen["sns"]))
        (alert,) = watcher.wait_for(1)
    expected = {"temperature": 31.5, "status": "ok", "device": "dev-3"}
    (event,) = seen["lambda"]
    assert {k: v for k, v in event.items() if k != "at"} == expected
    assert isinstance(event["at"], int)
    assert seen["sqs"] == [event]
    assert seen["sns"] == [event]
    assert alert.topic == f"{root}/alerts/dev-3"
    assert json.loads(alert.payload) == event
    with Admin(engine.settings.data_dir) as admin:
        (item,) = admin.scan("readings")
        assert item == {**expected, "temperature": Decimal("31.5"), "at": Decimal(event["at"])}
        (keyed,) = admin.scan("events")
        assert keyed["device"] == "dev-3"
        assert keyed["at"] == Decimal(event["at"])
        assert keyed["data"]["status"] == "ok"
    assert engine.topic_rules is not None
    assert engine.topic_rules.workers[0].matched == 1


def test_a_message_published_while_the_runtime_is_down_runs_when_it_is_back(
    make_engine: EngineFactory, mosquitto: int, data_dir: Any
) -> None:
    root = base()
    app, seen = sensors_app(root)
    first = make_engine(app, mqtt=f"mqtt://127.0.0.1:{mosquitto}")
    first.close()  # the rule's session stays on the broker, keeping its QoS 1 messages
    publish(mosquitto, f"{root}/sensors/dev-9", {"temperature": 40, "status": "ok"})
    engine = make_engine(app, mqtt=f"mqtt://127.0.0.1:{mosquitto}")
    settle(engine, lambda: bool(seen["lambda"]))
    assert seen["lambda"][0]["device"] == "dev-9"


def test_a_message_is_not_acknowledged_before_its_actions_commit(
    make_engine: EngineFactory, mosquitto: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = base()
    app, seen = sensors_app(root)
    engine = make_engine(app, mqtt=f"mqtt://127.0.0.1:{mosquitto}")
    assert engine.topic_rules is not None
    (worker,) = engine.topic_rules.workers
    failing = {"left": 1}
    real_write = worker.store.write

    def crash_once(op: Any) -> Any:
        if failing["left"]:
            failing["left"] -= 1
            raise OSError("disk gone")
        return real_write(op)

    monkeypatch.setattr(worker.store, "write", crash_once)
    publish(mosquitto, f"{root}/sensors/dev-5", {"temperature": 35, "status": "ok"})
    wait_until(lambda: bool(worker.subscriber.take(1)))
    with pytest.raises(OSError, match="disk gone"):
        worker.step()
    assert worker.subscriber.take(1), "the message stays unacknowledged"
    engine.close()  # as a crash: the broker still holds the message for the rule's session
    monkeypatch.undo()
    again = make_engine(app, mqtt=f"mqtt://127.0.0.1:{mosquitto}")
    settle(again, lambda: bool(seen["lambda"]))
    assert [e["device"] for e in seen["lambda"]] == ["dev-5"]


def test_the_embedded_broker_serves_rules_when_no_broker_is_given(
    make_engine: EngineFactory,
) -> None:
    app = App("embedded")
    table = app.table("seen", partition_key="id")
    app.topic_rule("keep", "SELECT id, topic() AS t FROM 'things/+/out'", [PutItem(table.name)])
    engine = make_engine(app)
    assert engine.broker is not None
    publish(engine.broker.port, "things/a/out", {"id": "m-1", "extra": 1})
    publish(engine.broker.port, "things/a/out", b"not json")  # DynamoDBv2 fails: logged

    def stored() -> list[dict[str, Any]]:
        with Admin(engine.settings.data_dir) as admin:
            return list(admin.scan("seen"))

    settle(engine, lambda: bool(stored()))
    assert stored() == [{"id": "m-1", "t": "things/a/out"}]


def test_a_disabled_rule_does_not_subscribe(make_engine: EngineFactory, mosquitto: int) -> None:
    app = App("disabled")
    queue = app.queue("q")
    app.topic_rule("off", "SELECT * FROM 'x/y'", [SendToQueue(queue.name)], enabled=False)
    engine = make_engine(app, mqtt=f"mqtt://127.0.0.1:{mosquitto}")
    assert engine.topic_rules is not None
    assert engine.topic_rules.workers == []


@pytest.mark.parametrize(
    ("sql", "actions", "problem"),
    [
        ("SELECT avg(t) AS a FROM 'x'", ["q"], "function avg() is not supported"),
        ("SELECT * FROM 'x' WHERE t * 2 > 1", ["q"], "arithmetic"),
        ("SELECT * FROM 'x'", [SendToQueue("nope")], "names no queue of this app"),
        ("SELECT * FROM 'x'", [InvokeFunction("ghost")], "names no function"),
        ("SELECT * FROM 'x/#'", [Republish("x/again")], "forever"),
        ("SELECT * FROM 'x'", [], "no actions"),
    ],
)
def test_a_rule_the_engine_cannot_run_is_refused_at_declaration(
    sql: str, actions: list[Any], problem: str
) -> None:
    app = App("refused")
    queue = app.queue("q")
    chosen = [SendToQueue(queue.name) if a == "q" else a for a in actions]
    with pytest.raises(DeclarationError, match="topic rule 'r'") as raised:
        app.topic_rule("r", sql, chosen)
    assert problem in str(raised.value)
