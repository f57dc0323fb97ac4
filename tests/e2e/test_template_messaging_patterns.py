"""Five more public SAM and CloudFormation patterns (aws-samples/serverless-patterns, MIT-0,
unchanged in tests/data/templates/) run with `sluiceway run`, each driven as its README says and
checked for the effect it promises: queues with dead-letter queues and partial batch failures,
an SNS fan-out with filter policies and raw delivery, Pipes from a stream to an email topic and
from a queue to a queue with a filter, and an inline-code function invoked through Lambda's API."""

from __future__ import annotations

import email
import json
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from runtime import RuntimeProcess, template_outputs

from sluiceway.core.wire.credentials import Keyring

pytestmark = pytest.mark.slow

PATTERNS = Path(__file__).parent.parent / "data" / "templates"


@contextmanager
def running(tmp_path: Path, target: Path, *args: str) -> Iterator[tuple[RuntimeProcess, Any]]:
    data = tmp_path / "data"
    runtime = RuntimeProcess(data, [str(target), *args]).start(timeout=60)
    try:
        admin = Keyring.load(data / "keys").admin

        def client(service: str) -> Any:
            return boto3.client(
                service,
                endpoint_url=runtime.url,
                region_name="us-east-1",
                aws_access_key_id=admin.access_key,
                aws_secret_access_key=admin.secret_key,
            )

        yield runtime, client
    finally:
        assert runtime.stop() == 0


def log_lines(tmp_path: Path) -> list[dict[str, Any]]:
    lines = (tmp_path / "runtime.log").read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def eventually(check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_sqs_lambda_python_sam_processes_a_message(tmp_path: Path) -> None:
    with running(tmp_path, PATTERNS / "sqs-lambda-python-sam") as (runtime, client):
        queue = template_outputs(runtime)["outputs"]["ProcessingQueueURL"]
        sqs = client("sqs")
        sqs.send_message(QueueUrl=queue, MessageBody="hello")
        found = eventually(
            lambda: [r for r in log_lines(tmp_path) if "Processed message: hello" in r["message"]]
        )
        assert found, log_lines(tmp_path)[-5:]
        attributes = eventually(
            lambda: (
                a
                if (
                    a := sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])[
                        "Attributes"
                    ]
                )["ApproximateNumberOfMessages"]
                == "0"
                and a["ApproximateNumberOfMessagesNotVisible"] == "0"
                else None
            )
        )
        assert attributes, "the processed message is still on the queue"
        assert json.loads(attributes["RedrivePolicy"])["maxReceiveCount"] == 3


def test_sns_sqs_fanout_routes_each_metric_by_its_filter_policy(tmp_path: Path) -> None:
    with running(tmp_path, PATTERNS / "sns-sqs-fanout") as (runtime, client):
        outputs = template_outputs(runtime)["outputs"]
        sns, sqs = client("sns"), client("sqs")
        urls = {
            name: sqs.get_queue_url(QueueName=outputs[f"{name}SqsQueueName"])["QueueUrl"]
            for name in ("AllMetrics", "Temperature", "Humidity")
        }
        message = '{"MetricValue": "20 C", "Location": "Bangalore"}'
        sns.publish(
            TopicArn=outputs["SNStopicARN"],
            Message=message,
            MessageAttributes={"MetricType": {"DataType": "String", "StringValue": "Temperature"}},
        )
        for name in ("AllMetrics", "Temperature"):
            got = sqs.receive_message(QueueUrl=urls[name], WaitTimeSeconds=20)["Messages"]
            assert [m["Body"] for m in got] == [message]  # raw delivery: the message itself
        assert "Messages" not in sqs.receive_message(QueueUrl=urls["Humidity"], WaitTimeSeconds=1)


def test_a_pipe_from_a_table_stream_emails_only_the_national_team(tmp_path: Path) -> None:
    pattern = PATTERNS / "eventbridge-pipes-dynamodbstream-sns"
    args = ["--auto-confirm", "--parameter-overrides", "Email=test@example.com"]
    with running(tmp_path, pattern, *args) as (_, client):
        dynamodb = client("dynamodb")
        for player, nation in (("Lionel Messi", "Argentina"), ("Serge Gnabry", "Germany")):
            dynamodb.put_item(
                TableName="WorldCupTable",
                Item={
                    "PlayerName": {"S": player},
                    "Nationality": {"S": nation},
                    "GoalsScored": {"S": "1"},
                },
            )
        maildir = tmp_path / "data" / "maildir" / "new"

        def notifications() -> list[Any]:
            mails = [email.message_from_bytes(p.read_bytes()) for p in maildir.glob("*")]
            return [m for m in mails if "Lionel Messi" in str(m.get_payload())]

        (mail,) = eventually(notifications)
        assert mail["To"] == "test@example.com"
        time.sleep(1)  # the German player's record has had its chance to pass the filter
        bodies = [str(p.read_bytes()) for p in maildir.glob("*")]
        assert not [b for b in bodies if "Gnabry" in b]


def test_a_pipe_copies_only_red_and_blue_messages_to_the_target_queue(tmp_path: Path) -> None:
    pattern = PATTERNS / "sqs-eventbridgepipes-sqs-msg-copy-data-filter-sam"
    with running(tmp_path, pattern) as (_, client):
        sqs = client("sqs")
        source = sqs.get_queue_url(QueueName="source-queue")["QueueUrl"]
        target = sqs.get_queue_url(QueueName="target-queue")["QueueUrl"]
        for n, color in enumerate(("red", "blue", "yellow", "green"), 1):
            sqs.send_message(QueueUrl=source, MessageBody=json.dumps({"id": n, "color": color}))
        copied: list[dict[str, Any]] = []
        deadline = time.monotonic() + 30
        while len(copied) < 2 and time.monotonic() < deadline:
            got = sqs.receive_message(QueueUrl=target, WaitTimeSeconds=5, MaxNumberOfMessages=10)
            copied += [json.loads(m["Body"]) for m in got.get("Messages", [])]
        assert sorted(json.loads(r["body"])["color"] for r in copied) == ["blue", "red"]
        assert {r["eventSource"] for r in copied} == {"aws:sqs"}
        assert "Messages" not in sqs.receive_message(QueueUrl=target, WaitTimeSeconds=2)


def test_an_inline_function_answers_a_lambda_invoke(tmp_path: Path) -> None:
    pattern = tmp_path / "pattern"  # inline code is written beside the template
    shutil.copytree(PATTERNS / "sfn-lambda-function-crossaccount", pattern)
    target = pattern / "lambda-function.yaml"
    args = ["--parameter-overrides", "FirstAccountID=111111111111", "StepFunctionRoleName=sfn-role"]
    with running(tmp_path, target, *args) as (_, client):
        answer = client("lambda").invoke(FunctionName="crossAccLambdaFunction", Payload=b"{}")
        result = json.loads(answer["Payload"].read())
        assert result == {"statusCode": 200, "body": '"Hello from Lambda in account B!"'}
