"""aws-samples/serverless-patterns apigw-sns-sms (MIT-0, unchanged in tests/data/templates/): a
REST API whose OpenAPI definition (api.yaml, brought in with ``Fn::Transform`` AWS::Include)
has one POST method, an SNS service integration (path ``//``, the Velocity template writing
``Action=Publish&PhoneNumber=...&Message=...``) run with the template's role. As its README
says, a POST of {"Message", "PhoneNumber"} to the stage's root texts the number: locally the
text is a line of <data>/sms/outbox.jsonl. The README's own number (911234567890, no '+') is
not E.164, so SNS's InvalidParameter answer comes back through the default 200 response."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from runtime import RuntimeProcess

pytestmark = pytest.mark.slow

PATTERN = Path(__file__).parent.parent / "data" / "templates" / "apigw-sns-sms"
JSON = {"Content-Type": "application/json"}


def test_a_post_to_the_api_texts_the_number_through_sns(tmp_path: Path) -> None:
    data = tmp_path / "data"
    runtime = RuntimeProcess(data, [str(PATTERN / "template.yaml")]).start(timeout=60)
    try:
        deadline = time.monotonic() + 10  # the reader thread may not have the outputs yet
        while time.monotonic() < deadline and not any("API " in x for x in runtime.output):
            time.sleep(0.1)
        (api,) = [line.split()[-1] for line in runtime.output if line.startswith("    API ")]
        assert api == f"{runtime.url}/dev"

        readme = httpx.post(
            f"{api}/", content='{"Message": "hi","PhoneNumber": 911234567890}', headers=JSON
        )
        assert readme.status_code == 200  # the only integration response: default -> 200
        assert "<Code>InvalidParameter</Code>" in readme.text
        assert "E.164" in readme.text

        sent = httpx.post(
            f"{api}/", json={"Message": "hi", "PhoneNumber": "+911234567890"}, timeout=30
        )
        assert sent.status_code == 200, sent.text
        assert "<PublishResponse" in sent.text  # SNS's answer, passed through
        message_id = sent.text.split("<MessageId>", 1)[1].split("</MessageId>", 1)[0]

        outbox = data / "sms" / "outbox.jsonl"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (outbox.is_file() and outbox.read_text()):
            time.sleep(0.2)
        (text,) = [json.loads(line) for line in outbox.read_text().splitlines()]
        assert (text["message_id"], text["phone"], text["text"]) == (
            message_id,
            "+911234567890",
            "hi",
        )
        assert text["sms_type"] == "Transactional"
    finally:
        assert runtime.stop() == 0
