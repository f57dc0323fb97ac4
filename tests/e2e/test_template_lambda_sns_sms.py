"""aws-samples/serverless-patterns apigw-lambda-sns-sms (MIT-0, unchanged in
tests/data/templates/): POST /send_message on a REST API (an OpenAPI DefinitionBody, stage
Prod) runs a function that validates the number with Amazon Pinpoint's PhoneNumberValidate,
then sends 'Your OTP is 1234' with SNS Publish to the number.

sluiceway does not emulate Pinpoint (mobiletargeting): the runtime refuses the call naming
the API and what it serves, the handler catches it and answers its own 500 "Couldn't send
message!" with the error, as the README's handler does; so no SMS is sent."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from runtime import RuntimeProcess

pytestmark = pytest.mark.slow

PATTERN = Path(__file__).parent.parent / "data" / "templates" / "apigw-lambda-sns-sms"


def test_the_pinpoint_validation_is_refused_naming_the_api(tmp_path: Path) -> None:
    data = tmp_path / "data"
    runtime = RuntimeProcess(data, [str(PATTERN / "template.yaml")]).start(timeout=60)
    try:
        answer = httpx.post(
            f"{runtime.url}/Prod/send_message",
            json={"destination_number": "+14155550123"},  # the README's payload
            timeout=30,
        )
        assert answer.status_code == 500
        assert answer.text.startswith("Couldn't send message!\n")
        assert "PhoneNumberValidate" in answer.text
        assert "this runtime does not serve the 'mobiletargeting' API" in answer.text
        assert not (data / "sms" / "outbox.jsonl").exists()
    finally:
        assert runtime.stop() == 0
