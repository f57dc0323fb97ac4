"""aws-samples/serverless-patterns lambda-esm-sqs-filters-sam (MIT-0, unchanged in
tests/data/templates/): one SNS topic fans out (raw delivery) to six queues, each the event
source of a function whose mapping has a FilterCriteria (none, prefix, anything-but, cidr, AND
of numeric/exists, OR of three). As its README says, the test message of events/ is published
to the topic and every function runs; a message that matches no filter runs only the one
without a filter, and the others' queues drop it (Lambda deletes filtered-out messages)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import boto3
import httpx
import pytest
from runtime import RuntimeProcess

from sluiceway.core.wire.credentials import Keyring

pytestmark = pytest.mark.slow

PATTERN = Path(__file__).parent.parent / "data" / "templates" / "lambda-esm-sqs-filters-sam"
PREFIX = "lambda-esm-sqs-filters-sam-EsmSqsFilter"
KINDS = ("NoFilter", "Prefix", "AnythingBut", "IP", "And", "Or")
NO_MATCH = {
    "region": "eu-west-1",
    "sourceIPAddress": "192.168.0.1",
    "rating": 0,
    "fileName": "photo.png",
    "address": {"state": "GA"},
}


def test_the_filters_let_the_readme_message_through_and_drop_one_they_do_not_match(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    runtime = RuntimeProcess(data, [str(PATTERN / "template.yaml")]).start(timeout=60)
    try:
        wait_until(lambda: any("SNSArn" in line for line in runtime.output))
        (arn,) = [line.split()[-1] for line in runtime.output if "SNSArn" in line]
        admin = Keyring.load(data / "keys").admin
        keys = {
            "endpoint_url": runtime.url,
            "region_name": "us-east-1",
            "aws_access_key_id": admin.access_key,
            "aws_secret_access_key": admin.secret_key,
        }
        sns, sqs = boto3.client("sns", **keys), boto3.client("sqs", **keys)
        queues = [sqs.get_queue_url(QueueName=f"{PREFIX}Queue{k}")["QueueUrl"] for k in KINDS]

        def drained() -> bool:
            names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            return all(
                all(
                    v == "0"
                    for v in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)[
                        "Attributes"
                    ].values()
                )
                for url in queues
            )

        sns.publish(TopicArn=arn, Message=json.dumps(NO_MATCH))
        wait_until(lambda: invocations(runtime.url).get("NoFilter") == 1 and drained())
        assert invocations(runtime.url) == {"NoFilter": 1}

        message = (PATTERN / "events" / "testMessage.json").read_text()
        sns.publish(TopicArn=arn, Message=message)
        expected = dict.fromkeys(KINDS, 1) | {"NoFilter": 2}
        wait_until(lambda: invocations(runtime.url) == expected and drained())
    finally:
        assert runtime.stop() == 0


def invocations(url: str) -> dict[str, int]:
    """The functions' invocation counts, from the runtime's /metrics (by filter kind)."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    found = re.findall(
        rf'^sluiceway_invocations_total\{{function="{PREFIX}Function(\w+)"\}} (\d+)', text, re.M
    )
    return {kind: int(count) for kind, count in found if int(count)}


def wait_until(check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
