"""aws-samples/serverless-patterns sqs-lambda-lmi-esm-provisioned-sam (MIT-0, unchanged in
tests/data/templates/): an SQS queue (redrive to a DLQ after 3 receives) and an
AWS::Lambda::EventSourceMapping with ReportBatchItemFailures, a 5 s batching window and a
ProvisionedPollerConfig, to a function on a Lambda Managed Instances capacity provider in a
VPC. Locally the capacity provider, the VPC resources, the provisioned pollers and the alarm
are listed as not emulated; the function runs in the runtime's workers. As its README says:
one message and a batch of ten are processed (the handler logs "Processing message" for each),
and the mapping is running; a body that is not JSON is reported as a batch item failure, so
only it stays on the queue (in flight for the queue's 90 s visibility timeout)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from runtime import RuntimeProcess, cli

from sluiceway.core.wire.credentials import Keyring

pytestmark = pytest.mark.slow

PATTERN = Path(__file__).parent.parent / "data" / "templates" / "sqs-lambda-lmi-esm-provisioned-sam"
STACK = "sqs-lambda-lmi-esm-provisioned-sam"
COUNTS = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]


def test_the_mapping_processes_messages_and_reports_the_bad_one(tmp_path: Path) -> None:
    data = tmp_path / "data"
    runtime = RuntimeProcess(data, [str(PATTERN / "template.yaml")]).start(timeout=60)
    try:
        log = (tmp_path / "runtime.log").read_text()
        for listed in ("CapacityProvider", "VPC", "NatGateway", "DLQAlarm"):
            assert f"resource '{listed}' (AWS::" in log
        assert "ProvisionedPollerConfig is not emulated" in log
        assert "CapacityProviderConfig is not emulated" in log
        # The banner's last output (the reader thread may not have them all yet).
        wait_until(lambda: any("EventSourceMappingId" in line for line in runtime.output))
        outputs = dict(line.split() for line in runtime.output if line.startswith("    "))
        assert re.fullmatch(
            r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", outputs["EventSourceMappingId"]
        )
        queue = outputs["QueueUrl"]
        assert queue == f"{runtime.url}/000000000000/{STACK}-queue"
        assert outputs["CapacityProviderArn"].endswith(
            f":capacity-provider:{STACK}-capacity-provider"
        )
        admin = Keyring.load(data / "keys").admin
        sqs = boto3.client(
            "sqs",
            endpoint_url=runtime.url,
            region_name="us-east-1",
            aws_access_key_id=admin.access_key,
            aws_secret_access_key=admin.secret_key,
        )

        def counts() -> tuple[int, int]:
            found = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=COUNTS)
            visible, in_flight = (int(found["Attributes"][key]) for key in COUNTS)
            return visible, in_flight

        sqs.send_message(QueueUrl=queue, MessageBody='{"orderId": "123", "amount": 99.99}')
        for i in range(1, 11):
            body = json.dumps({"orderId": str(i), "amount": i * 7 % 100})
            sqs.send_message(QueueUrl=queue, MessageBody=body)
        sqs.send_message(QueueUrl=queue, MessageBody="not json")
        wait_until(lambda: len(logged(tmp_path, "Processing message")) == 11)
        wait_until(lambda: len(logged(tmp_path, "Failed to process record")) >= 1)
        wait_until(lambda: counts() == (0, 1))  # only the failed item was not deleted

        shown = cli("mappings", "--json", data_dir=data)
        assert shown.returncode == 0, shown.stderr
        (mapping,) = json.loads(shown.stdout)
        assert (mapping["name"], mapping["source"], mapping["state"]) == (
            f"{STACK}-processor",
            f"queue:{STACK}-queue",
            "running",
        )
    finally:
        assert runtime.stop() == 0


def logged(tmp_path: Path, text: str) -> list[dict[str, str]]:
    lines = (tmp_path / "runtime.log").read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    return [e for e in entries if str(e.get("message", "")).startswith(text)]


def wait_until(check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
