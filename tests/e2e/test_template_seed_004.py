"""Seed 004's own SAM application (aws-samples/serverless-patterns apigw-sqs-lambda-iot, MIT-0,
copied unchanged into tests/data/templates/), run with `sluiceway run template.yaml`: a message
POSTed to the API goes through the API Gateway -> SQS service integration (its Velocity
template), the queue's event source mapping and the template's Python handler (boto3's
iot-data client, pointed at the IoT endpoint the parameters name) to the MQTT topic."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from runtime import RuntimeProcess, template_outputs

from mqtt_devices import Subscriber, system_mosquitto
from support import wait_until

pytestmark = pytest.mark.slow

PATTERN = Path(__file__).parent.parent / "data" / "templates" / "apigw-sqs-lambda-iot"


def test_a_message_posted_to_the_api_arrives_on_the_topic_the_parameters_name(
    tmp_path: Path,
) -> None:
    port = system_mosquitto()
    topic = f"sluiceway-test/{tmp_path.name}/devices"
    runtime = RuntimeProcess(
        tmp_path / "data",
        [
            str(PATTERN / "template.yaml"),
            "--mqtt",
            f"mqtt://127.0.0.1:{port}",
            "--parameter-overrides",
            "IOTEndpoint=https://a1b2c3d4e5f6g7-ats.iot.us-east-1.amazonaws.com",
            f"IOTTopic={topic}",
        ],
    ).start(timeout=60)
    try:
        endpoint = template_outputs(runtime)["outputs"]["AppApiEndpoint"]
        assert endpoint == f"{runtime.url}/Prod"
        wait_until(lambda: f"    AppApiEndpoint  {endpoint}" in runtime.output)  # printed too
        with Subscriber(port, topic) as device:
            answer = httpx.post(endpoint, json={"text": "hello, device"}, timeout=30)
            assert answer.status_code == 200, answer.text
            assert "SendMessageResponse" in answer.text  # the SQS answer, passed through
            message = device.wait_for(1, timeout=30)[0]
        # The handler publishes json.dumps(body) where the body is not {"topic", "message"}.
        assert json.loads(json.loads(message.payload)) == {"text": "hello, device"}
    finally:
        assert runtime.stop() == 0
