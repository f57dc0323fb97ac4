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
