"""aws-samples/serverless-patterns fifo-sqs-redrive (MIT-0, unchanged in tests/data/templates/):
two FIFO queues whose redrive policy (maxReceiveCount 1) names one FIFO dead-letter queue; the
first queue's function raises, the second's prints and deletes the message itself. As its
README says: a message sent to MyOriginalQueue.fifo fails and lands in the DLQ once its
visibility timeout (the template's 30 s) has passed, `start-message-move-task` moves it to
MyReProcessQueue.fifo, its function logs "Message redriven from DLQ", and no queue holds it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from runtime import RuntimeProcess

from sluiceway.core.wire.credentials import Keyring

pytestmark = pytest.mark.slow

PATTERN = Path(__file__).parent.parent / "data" / "templates" / "fifo-sqs-redrive"
BODY = '{"id":123,"name":"John","data":{"age":30,"job":"Developer"}}'
COUNTS = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]


def test_a_failed_message_reaches_the_dlq_and_is_redriven_to_the_reprocess_queue(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    runtime = RuntimeProcess(data, [str(PATTERN / "template.yaml")]).start(timeout=60)
    try:
        wait_until(lambda: any("MyReProcessQueueArn" in line for line in runtime.output))
        outputs = dict(line.split() for line in runtime.output if line.startswith("    "))
        original = outputs["MyOriginalQueueUrl"]
        assert original == f"{runtime.url}/000000000000/MyOriginalQueue.fifo"
        admin = Keyring.load(data / "keys").admin
        sqs = boto3.client(
            "sqs",
            endpoint_url=runtime.url,
            region_name="us-east-1",
            aws_access_key_id=admin.access_key,
            aws_secret_access_key=admin.secret_key,
        )
        urls = {
            name: sqs.get_queue_url(QueueName=f"{name}.fifo")["QueueUrl"]
            for name in ("MyOriginalQueue", "MyDeadLetterQueue", "MyReProcessQueue")
        }

        def counts(name: str) -> tuple[int, int]:
            found = sqs.get_queue_attributes(QueueUrl=urls[name], AttributeNames=COUNTS)
            visible, in_flight = (int(found["Attributes"][key]) for key in COUNTS)
            return visible, in_flight

        sent = sqs.send_message(QueueUrl=original, MessageBody=BODY, MessageGroupId="group1")
        assert sent["SequenceNumber"]
        # Received once, failed, visible again after 30 s: over maxReceiveCount, to the DLQ.
        wait_until(lambda: counts("MyDeadLetterQueue") == (1, 0), timeout=60)
        assert counts("MyOriginalQueue") == (0, 0)
        failed = logged(tmp_path, "MyOriginalQueueFunction")
        assert failed[0]["message"] == str(json.loads(BODY))
        assert any("Exception: Failed to process message" in e["message"] for e in failed)

        task = sqs.start_message_move_task(
            SourceArn=outputs["MyDeadLetterQueueArn"],
            DestinationArn=outputs["MyReProcessQueueArn"],
        )
        assert task["TaskHandle"]
        wait_until(lambda: len(logged(tmp_path, "ReProcessQueueFunction")) >= 2)
        reprocessed = [e["message"] for e in logged(tmp_path, "ReProcessQueueFunction")]
        assert reprocessed == [
            "Message redriven from DLQ",
            f"Processed message: {json.loads(BODY)}",
        ]
        wait_until(lambda: all(counts(name) == (0, 0) for name in urls))
        (moved,) = sqs.list_message_move_tasks(SourceArn=outputs["MyDeadLetterQueueArn"])["Results"]
        assert (moved["Status"], moved["ApproximateNumberOfMessagesMoved"]) == ("COMPLETED", 1)
    finally:
        assert runtime.stop() == 0


def logged(tmp_path: Path, function: str) -> list[dict[str, str]]:
    lines = (tmp_path / "runtime.log").read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    return [e for e in entries if e.get("function") == function]


def wait_until(check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)
