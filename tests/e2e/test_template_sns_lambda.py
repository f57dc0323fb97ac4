"""aws-samples/serverless-patterns sns-lambda-python-sam (MIT-0, unchanged in
tests/data/templates/): a function subscribed to an SNS topic (SAM's `Type: SNS` event). As
its README says: publish messages to the topic (the ProcessingTopicArn output) and the
function's log shows each one processed ('Processed message ...', then 'done')."""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import pytest
from runtime import RuntimeProcess

from sluiceway.core.wire.credentials import Keyring

pytestmark = pytest.mark.slow

PATTERN = Path(__file__).parent.parent / "data" / "templates" / "sns-lambda-python-sam"


def printed(log: Path) -> list[str]:
    """The handler's prints: the JSON log lines' messages."""
    lines = []
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            lines.append(str(json.loads(line).get("message", "")))
    return lines


def test_each_published_message_is_processed_by_the_function(tmp_path: Path) -> None:
    data = tmp_path / "data"
    runtime = RuntimeProcess(data, [str(PATTERN / "template.yaml")]).start(timeout=60)
    try:
        topic = runtime.line("ProcessingTopicArn").split()[-1]
        assert topic.startswith("arn:aws:sns:us-east-1:")
        admin = Keyring.load(data / "keys").admin
        sns = boto3.client(
            "sns",
            endpoint_url=runtime.url,
            region_name="us-east-1",
            aws_access_key_id=admin.access_key,
            aws_secret_access_key=admin.secret_key,
        )
        for i in range(1, 4):  # the README's loop, three times instead of ten
            sns.publish(TopicArn=topic, Message=json.dumps({"message": f"Test message-{i}"}))
        wanted = {f'Processed message {{"message": "Test message-{i}"}}' for i in range(1, 4)}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            lines = printed(tmp_path / "runtime.log")
            if wanted <= set(lines) and lines.count("done") >= 3:
                break
            time.sleep(0.2)
        lines = printed(tmp_path / "runtime.log")
        assert wanted <= set(lines), lines
        assert lines.count("done") >= 3
    finally:
        assert runtime.stop() == 0
