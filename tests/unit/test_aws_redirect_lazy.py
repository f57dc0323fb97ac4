"""An execution environment arms the rewrite of AWS's endpoints without importing botocore
(a handler that uses no SDK pays nothing at its cold start), and a handler's client made
later, with an explicit endpoint on AWS's domains, still reaches the runtime."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
from sluiceway.local.aws_redirect import redirect_once_imported

redirect_once_imported("http://127.0.0.1:9")
assert "botocore" not in sys.modules, "armed without importing botocore"
armed = [type(f).__name__ for f in sys.meta_path].count("_AfterImport")

import boto3

iot = boto3.client(
    "iot-data",
    region_name="us-east-1",
    endpoint_url="https://a1b2c3-ats.iot.us-east-1.amazonaws.com",
    aws_access_key_id="x",
    aws_secret_access_key="y",
)
other = boto3.client(
    "sqs",
    region_name="us-east-1",
    endpoint_url="http://127.0.0.1:4566",
    aws_access_key_id="x",
    aws_secret_access_key="y",
)
left = [type(f).__name__ for f in sys.meta_path].count("_AfterImport")
print(iot.meta.endpoint_url, other.meta.endpoint_url, armed, left)
"""


def test_the_rewrite_waits_for_botocore_and_then_applies() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    # AWS's endpoint rewritten, another left alone, the import hook gone once it ran
    assert done.stdout.split() == ["http://127.0.0.1:9", "http://127.0.0.1:4566", "1", "0"]
