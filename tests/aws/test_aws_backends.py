"""One behavioural suite, run on both backends a handle can be bound to: the local engine and
`Boto3Backend` on (moto's) AWS. A handler sees the same answers and the same errors."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import aws_sample_app as sample
import boto3
import pytest
from aws_support import (
    ACCOUNT,
    REGION,
    Stack,
    fake_aws,
    notifications,
    observe_topic,
    sam_transform,
)
from moto.sns.models import sns_backends

from conftest import EngineFactory
from sluiceway import ConditionalCheckFailed, SortKey, ValidationError
from sluiceway.aws import Boto3Backend, Code, ResourceNames, template_for
from sluiceway.core import events, naming
from sluiceway.core.render import names


def resource_names(stack: Stack) -> ResourceNames:
    """What the shim reads from the environment, for every resource of the sample app."""
    graph = sample.app.graph
    env = {
        names.env_var(kind, spec.name): stack.physical[naming.logical_id(spec.name)]
        for kind, specs in (
            ("queue", graph.queues),
            ("table", graph.tables),
            ("topic", graph.topics),
        )
        for spec in specs
    }
    return ResourceNames.from_env(graph, env)


@pytest.fixture(params=["local", "aws"])
def backend(request: pytest.FixtureRequest, make_engine: EngineFactory) -> Iterator[str]:
    """The sample app's handles, bound to one backend or the other."""
    if request.param == "local":
        make_engine(sample.app)
        yield "local"
        return
    with fake_aws():
        template = sam_transform(template_for(sample.app.graph, Code("aws_sample_app:app")))
        sample.app.bind(Boto3Backend(resource_names(Stack.deploy(template))))
        try:
            yield "aws"
        finally:
            sample.app.bind(None)


def stored(entries: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(e["stream"], e["at"]) for e in entries]


@pytest.fixture
def timeline(backend: str) -> None:
    for at in (1, 2, 3, 10, 20):
        sample.entries.put_item({"stream": "s", "at": at, "kind": f"k{at}"})
    sample.entries.put_item({"stream": "other", "at": 1})


def test_an_item_comes_back_as_plain_python_with_numbers_as_decimals(backend: str) -> None:
    item = {
        "stream": "s",
        "at": 1,
        "price": Decimal("1.50"),
        "ratio": 0.25,
        "tags": {"a", "b"},
        "scores": {1, 2},
        "blob": b"\x00\xff",
        "nested": {"list": [1, "two", None, True]},
        "B": {"S": "attributes named like AttributeValue types"},
    }
    sample.entries.put_item(item)
    assert sample.entries.get_item({"stream": "s", "at": 1}) == {
        "stream": "s",
        "at": Decimal(1),
        "price": Decimal("1.5"),
        "ratio": Decimal("0.25"),
        "tags": {"a", "b"},
        "scores": {Decimal(1), Decimal(2)},
        "blob": b"\x00\xff",
        "nested": {"list": [Decimal(1), "two", None, True]},
        "B": {"S": "attributes named like AttributeValue types"},
    }
    assert sample.entries.get_item({"stream": "s", "at": 2}) is None


def test_a_conditional_put_refuses_an_existing_key(backend: str) -> None:
    sample.entries.put_item({"stream": "s", "at": 1, "v": 1}, if_not_exists=True)
    with pytest.raises(ConditionalCheckFailed):
        sample.entries.put_item({"stream": "s", "at": 1, "v": 2}, if_not_exists=True)
    assert sample.entries.get_item({"stream": "s", "at": 1}) == {
        "stream": "s",
        "at": Decimal(1),
        "v": Decimal(1),
    }


def test_an_unconditional_put_replaces_the_item(backend: str) -> None:
    sample.entries.put_item({"stream": "s", "at": 1, "v": 1})
    sample.entries.put_item({"stream": "s", "at": 1, "w": 2})
    assert sample.entries.get_item({"stream": "s", "at": 1}) == {
        "stream": "s",
        "at": Decimal(1),
        "w": Decimal(2),
    }


def test_delete_returns_the_old_item_and_then_none(backend: str) -> None:
    sample.entries.put_item({"stream": "s", "at": 1, "v": "x"})
    assert sample.entries.delete_item({"stream": "s", "at": 1}) == {
        "stream": "s",
        "at": Decimal(1),
        "v": "x",
    }
    assert sample.entries.delete_item({"stream": "s", "at": 1}) is None


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (None, [1, 2, 3, 10, 20]),
        (SortKey.eq(3), [3]),
        (SortKey.lt(3), [1, 2]),
        (SortKey.le(3), [1, 2, 3]),
        (SortKey.gt(3), [10, 20]),
        (SortKey.ge(3), [3, 10, 20]),
        (SortKey.between(2, 10), [2, 3, 10]),
    ],
)
def test_a_query_applies_its_sort_key_condition_in_sort_key_order(
    timeline: None, condition: Any, expected: list[int]
) -> None:
    found = sample.entries.query("s", sort_key=condition)
    assert stored(found) == [("s", Decimal(at)) for at in expected]


def test_a_query_can_run_backwards_and_stop_at_a_limit(timeline: None) -> None:
    found = sample.entries.query("s", scan_forward=False, limit=2)
    assert stored(found) == [("s", Decimal(20)), ("s", Decimal(10))]


def test_a_scan_returns_every_item_or_up_to_a_limit(timeline: None) -> None:
    assert len(sample.entries.scan()) == 6
    assert len(sample.entries.scan(limit=4)) == 4


def test_a_sort_key_condition_on_a_table_without_one_is_a_validation_error(backend: str) -> None:
    with pytest.raises(ValidationError, match="no sort key"):
        sample.secrets.query("root", sort_key=SortKey.eq("x"))


def test_an_item_without_its_key_is_a_validation_error(backend: str) -> None:
    with pytest.raises(ValidationError):
        sample.entries.put_item({"stream": "s"})


def test_a_sent_message_is_answered_with_its_id_and_md5s(backend: str) -> None:
    attributes = {"Idempotency-Key": {"DataType": "String", "StringValue": "order-7"}}
    answer = sample.outbox.send_message('{"n": 1}', message_attributes=attributes)
    assert set(answer) == {"MessageId", "MD5OfMessageBody", "MD5OfMessageAttributes"}
    assert answer["MD5OfMessageBody"] == events.md5_hex('{"n": 1}')
    assert answer["MD5OfMessageAttributes"] == events.md5_of_message_attributes(attributes)
    plain = sample.outbox.send_message("plain")
    assert set(plain) == {"MessageId", "MD5OfMessageBody"}


def test_a_publish_is_answered_with_its_message_id(backend: str) -> None:
    answer = sample.alerts.publish({"level": "high"}, subject="Alert")
    assert list(answer) == ["MessageId"]


def test_a_publish_on_aws_carries_subject_attributes_and_structure() -> None:
    with fake_aws():
        template = sam_transform(template_for(sample.app.graph, Code("aws_sample_app:app")))
        stack = Stack.deploy(template)
        observer = observe_topic(stack.physical["SampleAlerts"])
        backend = Boto3Backend(resource_names(stack))
        backend.publish(
            sample.alerts.spec,
            '{"default": "plain", "sqs": "for queues"}',
            subject="Alert",
            message_attributes={"level": {"DataType": "String", "StringValue": "high"}},
            message_structure="json",
        )
        (envelope,) = notifications(observer)
    assert (envelope["Subject"], envelope["Message"]) == ("Alert", "for queues")


def test_a_text_to_a_number_is_answered_with_its_message_id(backend: str) -> None:
    answer = sample.app.sms.publish(sample.PHONE, "Your code is 1234")
    assert list(answer) == ["MessageId"]


@pytest.mark.parametrize("number", ["9876543210", "+0123", "+91 98765 43210"])
def test_a_number_not_in_e164_form_is_a_validation_error(backend: str, number: str) -> None:
    with pytest.raises(ValidationError, match=r"not a phone number in E\.164 form"):
        sample.app.sms.publish(number, "hi")


def test_a_text_on_aws_reaches_the_number_transactional_unless_said_otherwise() -> None:
    with fake_aws():
        backend = Boto3Backend(ResourceNames())
        sent: list[dict[str, Any]] = []
        backend.client("sns").meta.events.register(
            "provide-client-params.sns.Publish", lambda params, **_: sent.append(params)
        )
        first = backend.publish_sms(sample.PHONE, "hi")
        backend.publish_sms(sample.PHONE, "sale!", sms_type="Promotional", sender_id="Shop")
        texts = sns_backends[ACCOUNT][REGION].sms_messages
        assert texts[first["MessageId"]] == (sample.PHONE, "hi")
    assert [(p["PhoneNumber"], p["MessageAttributes"]) for p in sent] == [
        (
            sample.PHONE,
            {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}},
        ),
        (
            sample.PHONE,
            {
                "AWS.SNS.SMS.SenderID": {"DataType": "String", "StringValue": "Shop"},
                "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Promotional"},
            },
        ),
    ]


def test_each_boto3_client_is_made_once_per_backend() -> None:
    with fake_aws():
        backend = Boto3Backend(ResourceNames())
        assert backend.client("sqs") is backend.client("sqs")
        assert backend.client("sqs") is not backend.client("sns")
        assert backend.client("sqs").meta.region_name == boto3.session.Session().region_name
