"""aws-samples/serverless-patterns apigw-lambda-dynamodb-stream-lambda (MIT-0, unchanged in
tests/data/templates/): POST / on the REST API (stage Prod) runs ProducerFunction, which puts
the posted item into the table with boto3; the table's stream (NEW_IMAGE) runs
ConsumerFunction, which prints the records. Its README's testing section is a placeholder;
its description says it: the item is inserted and its event reaches the second function.

ConsumerFunction imports aws_lambda_powertools (its src/requirements.txt, which `sam build`
installs): sluiceway runs handlers on this machine's Python and installs nothing, so the
test command's dependencies include it, as a user's environment would."""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import httpx
import pytest
from runtime import RuntimeProcess

from sluiceway.core.wire.credentials import Keyring

pytestmark = pytest.mark.slow

PATTERN = (
    Path(__file__).parent.parent / "data" / "templates" / "apigw-lambda-dynamodb-stream-lambda"
)
ITEM = {"id": "42", "name": "Widget", "description": "A blue widget", "customer": "Ada"}


def consumer_lines(log: Path) -> list[str]:
    lines = []
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("function") == "ConsumerFunction":
                lines.append(str(record.get("message", "")))
    return lines


def test_a_posted_item_is_stored_and_its_stream_record_reaches_the_consumer(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    runtime = RuntimeProcess(data, [str(PATTERN / "template.yaml")]).start(timeout=60)
    try:
        endpoint = runtime.line("EndpointUrl").split()[-1]
        assert endpoint == f"{runtime.url}/Prod"
        answer = httpx.post(endpoint, json=ITEM, timeout=30)
        assert (answer.status_code, answer.text) == (200, "Successfully inserted data!")
        admin = Keyring.load(data / "keys").admin
        dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=runtime.url,
            region_name="us-east-1",
            aws_access_key_id=admin.access_key,
            aws_secret_access_key=admin.secret_key,
        )
        stored = dynamodb.get_item(TableName="DemoStreamDynamoDBToLambda", Key={"id": {"S": "42"}})
        assert stored["Item"] == {key: {"S": value} for key, value in ITEM.items()}

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if any("'NewImage'" in line for line in consumer_lines(tmp_path / "runtime.log")):
                break
            time.sleep(0.2)
        lines = consumer_lines(tmp_path / "runtime.log")
        # The printed records: the new image of the item.
        assert any("'NewImage'" in line and "'Widget'" in line for line in lines), lines
    finally:
        assert runtime.stop() == 0
