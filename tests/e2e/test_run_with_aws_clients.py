"""`sluiceway run` as a user starts it, then `eval "$(sluiceway env)"` and the AWS CLI in a
shell: the exports name the running runtime without being told where it is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from runtime import RuntimeProcess

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


def test_the_shell_exports_of_sluiceway_env_reach_the_running_app(tmp_path: Path) -> None:
    data = tmp_path / "data"
    runtime = RuntimeProcess(data, ["orders", "--auto-confirm"]).start()
    try:
        script = (
            f'eval "$({BIN / "sluiceway"} env --data-dir {data})" && '
            f"{BIN / 'aws'} dynamodb describe-table --table-name orders --output json && "
            f"{BIN / 'aws'} sqs get-queue-url --queue-name POC-Queue --output json "
            '--endpoint-url "$AWS_ENDPOINT_URL"'
        )
        home = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        done = subprocess.run(
            ["bash", "-c", script],
            env={
                **home,
                "AWS_CONFIG_FILE": "/dev/null",
                "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        decoder = json.JSONDecoder()
        table, end = decoder.raw_decode(done.stdout)
        queue, _ = decoder.raw_decode(done.stdout[end:].lstrip())
        assert table["Table"]["TableName"] == "orders"
        assert table["Table"]["StreamSpecification"]["StreamViewType"] == "NEW_IMAGE"
        assert queue["QueueUrl"] == f"{runtime.url}/000000000000/POC-Queue"
    finally:
        runtime.stop()


def test_with_thread_isolation_handlers_boto3_calls_stay_on_this_machine(
    tmp_path: Path,
) -> None:
    """Handlers share the runtime's process: their SDK is pointed at the runtime (as its
    admin), whatever AWS credentials the shell that started it holds."""
    data = tmp_path / "data"
    app = Path(__file__).parent.parent / "apps" / "lambda_style_app.py"
    shell = {"AWS_ACCESS_KEY_ID": "AKIAREALLOOKING0000", "AWS_SECRET_ACCESS_KEY": "x" * 40}
    runtime = RuntimeProcess(data, [str(app), "--isolation", "thread"], env=shell).start()
    try:
        import boto3

        from sluiceway.core.wire.credentials import Keyring

        admin = Keyring.load(data / "keys").admin
        sqs = boto3.client(
            "sqs",
            endpoint_url=runtime.url,
            region_name="us-east-1",
            aws_access_key_id=admin.access_key,
            aws_secret_access_key=admin.secret_key,
        )
        inbox = sqs.get_queue_url(QueueName="inbox")["QueueUrl"]
        outbox = sqs.get_queue_url(QueueName="outbox")["QueueUrl"]
        sqs.send_message(QueueUrl=inbox, MessageBody='{"to": "outbox", "text": "hello"}')
        got = sqs.receive_message(QueueUrl=outbox, WaitTimeSeconds=20)
        assert [m["Body"] for m in got["Messages"]] == ["hello"]
    finally:
        runtime.stop()
    assert any("isolation=thread" in line for line in runtime_log(data))


def runtime_log(data: Path) -> list[str]:
    return (data.parent / "runtime.log").read_text().splitlines()
