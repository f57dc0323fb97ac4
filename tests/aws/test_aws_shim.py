"""The Lambda entry point: the app imported and bound once per container, the event and the
result passed through untouched, the function's grants enforced as the local engine does."""

from __future__ import annotations

from collections.abc import Iterator

import aws_sample_app as sample
import pytest
from aws_support import ACCOUNT, REGION, FakeLambda, Stack, fake_aws, sam_transform
from moto.sns.models import sns_backends

from sluiceway import AccessDenied
from sluiceway.aws import Code, ShimError, shim, template_for
from sluiceway.core import events


@pytest.fixture
def lam() -> Iterator[FakeLambda]:
    """The sample app deployed to moto, its functions invoked through the shim."""
    with fake_aws():
        template = sam_transform(template_for(sample.app.graph, Code("aws_sample_app:app")))
        yield FakeLambda(Stack.deploy(template))
    sample.app.bind(None)


def an_sqs_event() -> dict[str, object]:
    record = events.sqs_record(
        message_id="m-1",
        receipt_handle="r-1",
        body='{"item": "gloves"}',
        attributes={"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000"},
        message_attributes=None,
        queue_arn=f"arn:aws:sqs:{REGION}:123456789012:sample-inbox",
        region=REGION,
    )
    return {"Records": [record]}


def test_the_handler_gets_the_event_untouched_and_its_result_is_returned_untouched(
    lam: FakeLambda,
) -> None:
    event = an_sqs_event()
    result = lam.invoke("Echo", event)
    assert result["event"] is event
    assert result["event"] == an_sqs_event()
    assert result["context"].function_name == "echo"
    assert set(result) == {"event", "context", "same"}


def test_the_app_is_imported_and_bound_once_per_container(lam: FakeLambda) -> None:
    env = lam.environment("Echo")
    first = shim.bind(env)
    lam.invoke("Echo", an_sqs_event())
    lam.invoke("Echo", an_sqs_event())
    assert shim.bind(env) is first
    assert first.app is sample.app
    assert sample.imports == 1
    assert sample.app.backend is first.backend


def test_the_handles_reach_the_resources_the_template_names(lam: FakeLambda) -> None:
    env = lam.environment("Echo")
    backend = shim.bind(env).backend
    assert backend.names.table_names == {"sample-entries": "sample-entries"}
    assert backend.names.queue_urls == {
        "sample-inbox": env["SLUICEWAY_QUEUE_SampleInbox"],
        "sample-outbox": env["SLUICEWAY_QUEUE_SampleOutbox"],
    }
    assert backend.names.queue_urls["sample-outbox"].endswith("/123456789012/sample-outbox")


def test_a_call_outside_uses_is_denied_as_the_local_engine_denies_it(lam: FakeLambda) -> None:
    with pytest.raises(AccessDenied) as denied:
        lam.invoke("Snoop", an_sqs_event())
    assert (denied.value.function, denied.value.action, denied.value.resource) == (
        "snoop",
        "dynamodb:GetItem",
        "table 'sample-secrets'",
    )
    assert "add sample-secrets.reads to uses=[...]" in str(denied.value)


def test_a_handler_texts_a_number_through_the_shim_when_its_uses_allow_it(
    lam: FakeLambda,
) -> None:
    answer = lam.invoke("Texter", an_sqs_event())
    assert list(answer) == ["MessageId"]
    texts = sns_backends[ACCOUNT][REGION].sms_messages
    assert texts[answer["MessageId"]] == (sample.PHONE, "hi")


def test_a_text_outside_uses_is_denied_before_it_reaches_sns(lam: FakeLambda) -> None:
    with pytest.raises(AccessDenied) as denied:
        lam.invoke("Mute", an_sqs_event())
    assert (denied.value.function, denied.value.action, denied.value.resource) == (
        "mute",
        "sns:Publish",
        "phone numbers",
    )
    assert "add app.sms.sends to uses=[...]" in str(denied.value)
    assert not sns_backends[ACCOUNT][REGION].sms_messages


def test_without_the_template_s_environment_the_shim_says_what_is_missing() -> None:
    with pytest.raises(ShimError, match="SLUICEWAY_APP is not set"):
        shim.bind({})
    with pytest.raises(ShimError, match="SLUICEWAY_FUNCTION is not set"):
        shim.bind({"SLUICEWAY_APP": "aws_sample_app:app"})


def test_a_function_the_app_does_not_declare_is_a_clear_error() -> None:
    env = {"SLUICEWAY_APP": "aws_sample_app:app", "SLUICEWAY_FUNCTION": "nope"}
    with pytest.raises(ShimError, match="declares no function named 'nope'"):
        shim.bind(env)


def test_an_app_target_that_is_not_an_app_is_a_clear_error() -> None:
    env = {"SLUICEWAY_APP": "aws_sample_app:inbox", "SLUICEWAY_FUNCTION": "echo"}
    with pytest.raises(ShimError, match="aws_sample_app:inbox is not an App"):
        shim.bind(env)


def test_a_resource_missing_from_the_environment_is_a_clear_error(lam: FakeLambda) -> None:
    env = {k: v for k, v in lam.environment("Echo").items() if k != "SLUICEWAY_QUEUE_SampleOutbox"}
    shim.bind(env).app.bind(shim.bind(env).backend)
    with pytest.raises(
        ShimError, match="queue 'sample-outbox' has no SLUICEWAY_QUEUE_SampleOutbox"
    ):
        sample.outbox.send_message("x")
