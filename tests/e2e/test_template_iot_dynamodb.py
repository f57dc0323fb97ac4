"""aws-samples/serverless-patterns iot-dynamodb (MIT-0, copied unchanged into
tests/data/templates/), run with `sluiceway run template.yaml`: its two AWS::IoT::TopicRule
resources put what a device publishes to the runtime's MQTT broker into DynamoDB, as the
pattern's README promises: the DynamoDB action (thingId from ``${topic(3)}``, timestamp from
``${timestamp()}``, the payload under device_data) into IoTExampleTableOne, the DynamoDBv2
action (the message as the item) into IoTExampleTableTwo."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from runtime import RuntimeProcess, cli

from support import wait_until

pytestmark = pytest.mark.slow

PATTERN = Path(__file__).parent.parent / "data" / "templates" / "iot-dynamodb"


def publish(port: int, topic: str, payload: dict[str, Any]) -> None:
    """What the README's MQTT test client does: one JSON message, QoS 1."""
    device = paho.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv311)
    device.connect("127.0.0.1", port)
    device.loop_start()
    device.publish(topic, json.dumps(payload).encode(), qos=1).wait_for_publish(10)
    device.disconnect()
    device.loop_stop()


def scan(table: str, data_dir: Path) -> list[dict[str, Any]]:
    done = cli("scan", table, "--json", data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_device_messages_become_items_of_both_tables(tmp_path: Path) -> None:
    data = tmp_path / "data"
    runtime = RuntimeProcess(data, [str(PATTERN / "template.yaml")]).start(timeout=60)
    try:
        wait_until(lambda: any("mqtt: embedded broker on" in line for line in runtime.output))
        banner = next(line for line in runtime.output if "mqtt: embedded broker on" in line)
        wait_until(lambda: any("_IoTToDDBv2Rule" in line for line in runtime.output))
        assert (
            "  topic rule iot_dynamodb_IoTToDDBv2Rule: SELECT * FROM "
            "'topics/ThingsGroupTwo/TestThing' -> DynamoDBv2 IoTExampleTableTwo"
        ) in runtime.output
        port = int(banner.split("mqtt://127.0.0.1:", 1)[1].split()[0].rstrip(")"))
        before = int(time.time() * 1000)
        publish(port, "topics/ThingsGroupOne/TestThing", {"temperature_F": "86"})
        event = {"eventId": "cf2b37c2-04c2-11ed-b293-aa665a182631", "temperature_F": "86"}
        publish(port, "topics/ThingsGroupTwo/TestThing", event)
        publish(port, "topics/ThingsGroupTwo/OtherThing", {"eventId": "not-this-topic"})

        wait_until(lambda: bool(scan("IoTExampleTableOne", data)), timeout=30)
        wait_until(lambda: bool(scan("IoTExampleTableTwo", data)), timeout=30)
        (one,) = scan("IoTExampleTableOne", data)
        assert one["thingId"] == "TestThing"
        assert before <= one["timestamp"] <= int(time.time() * 1000)
        assert one["device_data"] == {"temperature_F": "86"}
        assert scan("IoTExampleTableTwo", data) == [event]
    finally:
        assert runtime.stop() == 0
