"""aws-samples/serverless-patterns eventbridge-scheduled-lambda (MIT-0, unchanged in
tests/data/templates/): a function with a SAM Schedule event, ``rate(1 minute)``, that prints
"Hello World". The schedule is the template's own (not a parameter), so the test does not wait
a minute for a fire: it checks the banner lists the schedule with its next fire time (within
the minute) and invokes the function as `aws lambda invoke` would; the print is a log line."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from pathlib import Path

import boto3
import pytest
from runtime import RuntimeProcess

from sluiceway.core.wire.credentials import Keyring

pytestmark = pytest.mark.slow

PATTERN = Path(__file__).parent.parent / "data" / "templates" / "eventbridge-scheduled-lambda"
FUNCTION = "eventbridge-scheduled-lambda-ScheduledFunction"


def test_the_schedule_is_listed_with_its_next_fire_and_the_function_logs_hello_world(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    started = time.time()
    runtime = RuntimeProcess(data, [str(PATTERN / "template.yaml")]).start(timeout=60)
    try:
        line = runtime.line("  schedule ")  # may come a moment after the ready line
        found = re.fullmatch(rf"  schedule rate\(1 minute\) -> {FUNCTION} \(next (\S+)\)", line)
        assert found, line
        due = datetime.fromisoformat(found.group(1).replace("Z", "+00:00")).timestamp()
        assert started < due <= time.time() + 60

        admin = Keyring.load(data / "keys").admin
        functions = boto3.client(
            "lambda",
            endpoint_url=runtime.url,
            region_name="us-east-1",
            aws_access_key_id=admin.access_key,
            aws_secret_access_key=admin.secret_key,
        )
        answer = functions.invoke(FunctionName=FUNCTION, Payload=b"{}")
        assert answer["StatusCode"] == 200
        assert "FunctionError" not in answer
        assert json.loads(answer["Payload"].read()) is True
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not _hello(tmp_path):
            time.sleep(0.1)
        (logged,) = _hello(tmp_path)
        assert (logged["function"], logged["stream"]) == (FUNCTION, "stdout")
    finally:
        assert runtime.stop() == 0


def _hello(tmp_path: Path) -> list[dict[str, object]]:
    lines = (tmp_path / "runtime.log").read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    return [e for e in entries if e.get("message") == "Hello World"]
