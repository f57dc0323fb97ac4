"""Real public templates sluiceway cannot run (tests/data/templates/refused/, copied unchanged
from aws-samples/serverless-patterns, MIT-0) stop at start with the logical id, the type and
the fix, before anything is stored or served."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluiceway.templates.errors import TemplateError
from sluiceway.templates.stack import load_stack

REFUSED = Path(__file__).parent.parent / "data" / "templates" / "refused"
POOL = "arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_example"


@pytest.mark.parametrize(
    ("pattern", "overrides", "named"),
    [
        (
            "cognito-restapi",
            {"CognitoUserPoolArn": POOL},
            ["resource 'AppFunction' (AWS::Lambda::Function) property Runtime", "nodejs24.x"],
        ),
        (
            "eventbridge-stepfunction-lambda-getfunctionstatus",
            {"EmailAddress": "ops@example.com"},
            ["resource 'StepFunction' (AWS::StepFunctions::StateMachine)", "depends on it"],
        ),
        (
            "s3-lambda-resizing-python",
            {},
            ["resource 'SourceBucket' (AWS::S3::Bucket)", "event source of 'ResizerFunction'"],
        ),
        (
            "sns-lambda-slack-integration-SAM",
            {},
            ["resource 'LambdaFn'", "app.py defines no 'handler'", "lambda_handler"],
        ),
        (
            "lambda-durable-webhook-sam-python",
            {},
            ["resource 'WebhookProcessorFunction'", "property DurableConfig"],
        ),
    ],
)
def test_a_template_sluiceway_cannot_run_names_what_and_the_fix(
    pattern: str, overrides: dict[str, str], named: list[str]
) -> None:
    with pytest.raises(TemplateError) as error:
        load_stack(str(REFUSED / pattern), overrides)
    message = str(error.value)
    for part in named:
        assert part in message
    assert "Fix: " in message
