"""IoT data plane Publish over the wire: the message reaches a device subscribed on the
broker, through the same outbox as `iot.publish`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import ServeFactory
from mqtt_devices import Subscriber, new_topic
from sluiceway import App
from sluiceway.iot.broker import EmbeddedBroker
from sluiceway.sns import outbox
from support import Wire


@pytest.fixture
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as running:
        yield running


def _app(topics: list[str]) -> App:
    app = App("wire-iot")
    iot = app.iot(topics=topics)

    @app.function(uses=[iot.publishes])
    def device_relay(event: Any, context: Any) -> None:
        return None

    @app.function()
    def bystander(event: Any, context: Any) -> None:
        return None

    return app


def _error(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response: Any = raised.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def _mqtt(wire: Wire) -> list[outbox.DeliveryView]:
    return [d for d in outbox.list_deliveries(wire.engine.store.reader()) if d.protocol == "mqtt"]


def test_a_published_message_reaches_the_subscribed_device(
    serve: ServeFactory, broker: EmbeddedBroker
) -> None:
    topic = new_topic()
    wire = serve(_app([topic]), mqtt=broker.url)
    client = wire.client("iot-data")
    body = json.dumps({"QRCode": "vwWT)Np=+6", "note": "ünïcødé ✓"}).encode()
    with Subscriber(broker.port, topic) as device:
        client.publish(topic=topic, qos=1, payload=body)
        wire.engine.drain()
        (message,) = device.wait_for(1)
    assert message.payload == body
    assert message.qos == 1
    assert message.topic == topic
    assert [d.status for d in _mqtt(wire)] == ["delivered"]


def test_a_function_publishes_only_to_the_declared_topics(
    serve: ServeFactory, broker: EmbeddedBroker
) -> None:
    topic = new_topic()
    wire = serve(_app([f"{topic}/+"]), mqtt=broker.url)
    relay = wire.client("iot-data", as_function="device_relay")
    relay.publish(topic=f"{topic}/inbox", payload=b"ok")
    with pytest.raises(ClientError) as raised:
        relay.publish(topic="elsewhere", payload=b"no")
    assert _error(raised) == ("ForbiddenException", 403)
    with pytest.raises(ClientError) as raised:
        wire.client("iot-data", as_function="bystander").publish(topic=f"{topic}/x", payload=b"")
    assert _error(raised) == ("ForbiddenException", 403)
    assert "iot:Publish" in str(raised.value)
    assert [d.destination for d in _mqtt(wire)] == [f"{topic}/inbox"]


@pytest.mark.parametrize(
    ("topic", "options"),
    [
        ("devices/+/inbox", {}),
        ("$aws/things/x/shadow/update", {}),
        ("a/b/c/d/e/f/g/h/i", {}),
        ("fine", {"qos": 2}),
        ("fine", {"retain": True}),
    ],
    ids=["wildcard", "reserved", "too-deep", "qos-2", "retain"],
)
def test_what_iot_core_refuses_is_refused_and_nothing_is_queued(
    serve: ServeFactory, broker: EmbeddedBroker, topic: str, options: dict[str, Any]
) -> None:
    wire = serve(_app(["#"]), mqtt=broker.url)
    with pytest.raises(ClientError) as raised:
        wire.client("iot-data").publish(topic=topic, payload=b"x", **options)
    assert _error(raised) == ("InvalidRequestException", 400)
    assert _mqtt(wire) == []


def test_a_payload_over_the_quota_is_too_large(serve: ServeFactory, broker: EmbeddedBroker) -> None:
    wire = serve(_app(["#"]), mqtt=broker.url)
    with pytest.raises(ClientError) as raised:
        wire.client("iot-data").publish(topic="big", payload=b"x" * (128 * 1024))
    assert _error(raised) == ("RequestEntityTooLargeException", 413)
    assert _mqtt(wire) == []


def test_an_app_without_iot_refuses_publish(serve: ServeFactory) -> None:
    wire = serve(App("no-iot"))
    with pytest.raises(ClientError) as raised:
        wire.client("iot-data").publish(topic="t", payload=b"x")
    assert _error(raised) == ("InvalidRequestException", 400)
