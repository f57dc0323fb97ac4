"""aws-samples/serverless-patterns' IoT rule patterns (MIT-0, copied unchanged into
tests/data/templates/), run with `sluiceway run template.yaml`; a device publishes to the
runtime's embedded MQTT broker, as the patterns' READMEs do with the console's test client:

* iot-dynamodb: its two AWS::IoT::TopicRule resources put the message into DynamoDB: the
  DynamoDB action (thingId from ``${topic(3)}``, timestamp from ``${timestamp()}``, the
  payload under device_data) into IoTExampleTableOne, the DynamoDBv2 action (the message as
  the item) into IoTExampleTableTwo;
* iot-sns-sqs-sam (plain CloudFormation): the Sns action publishes the message to the topic,
  whose SQS subscription puts it in the queue;
* iot-lambda's SAM IoTRule event, with a Python handler in place of its Node.js one (no
  public pattern pairs a topic rule with a Python function): the function logs the event."""

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

PATTERNS = Path(__file__).parent.parent / "data" / "templates"


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


def broker_port(runtime: RuntimeProcess) -> int:
    """The embedded broker's port, from the banner."""
    wait_until(lambda: any("mqtt: embedded broker on" in line for line in runtime.output))
    banner = next(line for line in runtime.output if "mqtt: embedded broker on" in line)
    return int(banner.split("mqtt://127.0.0.1:", 1)[1].split()[0])


def test_device_messages_become_items_of_both_tables(tmp_path: Path) -> None:
    data = tmp_path / "data"
    template = PATTERNS / "iot-dynamodb" / "template.yaml"
    runtime = RuntimeProcess(data, [str(template)]).start(timeout=60)
    try:
        port = broker_port(runtime)
        wait_until(lambda: any("_IoTToDDBv2Rule" in line for line in runtime.output))
        assert (
            "  topic rule iot_dynamodb_IoTToDDBv2Rule: SELECT * FROM "
            "'topics/ThingsGroupTwo/TestThing' -> DynamoDBv2 IoTExampleTableTwo"
        ) in runtime.output
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


def test_a_device_message_reaches_the_queue_through_the_topic(tmp_path: Path) -> None:
    import boto3

    from sluiceway.core.wire.credentials import Keyring

    data = tmp_path / "data"
    template = PATTERNS / "iot-sns-sqs-sam" / "template.yaml"
    runtime = RuntimeProcess(data, [str(template)]).start(timeout=60)
    try:
        port = broker_port(runtime)
        publish(port, "device/data", {"default": "Hello from AWS IoT console"})
        admin = Keyring.load(data / "keys").admin
        sqs = boto3.client(
            "sqs",
            endpoint_url=runtime.url,
            region_name="us-east-1",
            aws_access_key_id=admin.access_key,
            aws_secret_access_key=admin.secret_key,
        )
        queue = sqs.get_queue_url(QueueName="IotSnsSqsCfnQueue")["QueueUrl"]
        got = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=20)
        (message,) = got["Messages"]
        envelope = json.loads(message["Body"])
        assert envelope["Type"] == "Notification"
        assert envelope["TopicArn"].endswith(":IotSnsSqsCfnTopic")
        assert json.loads(envelope["Message"]) == {"default": "Hello from AWS IoT console"}
    finally:
        assert runtime.stop() == 0


SAM_IOT_RULE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  IOTProcessEventFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.12
      CodeUri: src/
      Events:
        MyIotThing:
          Type: IoTRule
          Properties:
            Sql: SELECT *, topic(3) AS thing FROM 'things/MyIotThing/+'
"""


def test_a_sam_iot_rule_event_invokes_the_python_function(tmp_path: Path) -> None:
    """serverless-patterns' iot-lambda (Node.js there), with its handler in Python: the
    function logs the event a device's message becomes."""
    (tmp_path / "app" / "src").mkdir(parents=True)
    (tmp_path / "app" / "template.yaml").write_text(SAM_IOT_RULE)
    (tmp_path / "app" / "src" / "app.py").write_text(
        "import json\n\ndef handler(event, context):\n    print('EVENT', json.dumps(event))\n"
    )
    data = tmp_path / "data"
    runtime = RuntimeProcess(data, [str(tmp_path / "app" / "template.yaml")]).start(timeout=60)
    try:
        publish(broker_port(runtime), "things/MyIotThing/telemetry", {"message": "Hello"})

        def events() -> list[dict[str, Any]]:
            records = [
                json.loads(line)
                for line in (tmp_path / "runtime.log").read_text().splitlines()
                if line.startswith("{")
            ]
            return [
                {**json.loads(r["message"].removeprefix("EVENT ")), "function": r["function"]}
                for r in records
                if str(r.get("message", "")).startswith("EVENT ")
            ]

        wait_until(lambda: bool(events()), timeout=30)
        assert events() == [
            {"message": "Hello", "thing": "telemetry", "function": "app-IOTProcessEventFunction"}
        ]
    finally:
        assert runtime.stop() == 0
