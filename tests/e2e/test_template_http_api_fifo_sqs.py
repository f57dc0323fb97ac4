"""aws-samples/serverless-patterns apigw-http-api-fifo-sqs-lambda-sns-sam (MIT-0, unchanged in
tests/data/templates/): an HTTP API whose route is a first-class SQS-SendMessage integration
(requestParameters from the request body, as the API's role) into a FIFO queue with a FIFO
dead-letter queue; a Python function on the queue publishes each body to an SNS topic with
the subject "SQS Event Notification". The test subscribes a queue of its own to the topic, as
the README has a user subscribe their email."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import httpx
import pytest
from runtime import RuntimeProcess, template_outputs

from sluiceway.core.wire.credentials import Keyring

pytestmark = pytest.mark.slow

PATTERN = (
    Path(__file__).parent.parent / "data" / "templates" / "apigw-http-api-fifo-sqs-lambda-sns-sam"
)


def test_a_post_reaches_the_fifo_queue_the_function_and_the_topic(tmp_path: Path) -> None:
    data = tmp_path / "data"
    runtime = RuntimeProcess(data, [str(PATTERN)]).start(timeout=60)
    try:
        outputs = template_outputs(runtime)["outputs"]
        assert outputs["MyAPI"] == f"{runtime.url}/prod/"
        admin = Keyring.load(data / "keys").admin
        options = {
            "endpoint_url": runtime.url,
            "region_name": "us-east-1",
            "aws_access_key_id": admin.access_key,
            "aws_secret_access_key": admin.secret_key,
        }
        sqs, sns = boto3.client("sqs", **options), boto3.client("sns", **options)
        inbox = sqs.create_queue(QueueName="watcher")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])
        sns.subscribe(
            TopicArn=outputs["MySNSTopic"],
            Protocol="sqs",
            Endpoint=arn["Attributes"]["QueueArn"],
        )
        body = {"messagegroup": "orders", "item": "book"}
        answer = httpx.post(outputs["MyAPI"], json=body, timeout=30)
        assert answer.status_code == 200, answer.text
        assert "MessageId" in answer.text
        got = sqs.receive_message(QueueUrl=inbox, WaitTimeSeconds=20)["Messages"]
        envelope = json.loads(got[0]["Body"])
        assert envelope["Subject"] == "SQS Event Notification"
        assert json.loads(envelope["Message"]) == body
    finally:
        assert runtime.stop() == 0
