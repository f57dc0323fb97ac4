"""SQS's queue operations over the wire, as boto3 meets them: create, list, look up, change
and delete queues, their attributes and tags, purges, and who may do what."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import ServeFactory
from sluiceway import App
from sluiceway.core.clock import VirtualClock


def _app() -> App:
    app = App("wire")
    dlq = app.queue("orders-dlq")
    orders = app.queue("orders", visibility_timeout=45, dead_letter=dlq, max_receive_count=3)

    @app.function(uses=[orders.sends])
    def sender(event: Any, context: Any) -> None:
        return None

    return app


def _code(raised: pytest.ExceptionInfo[ClientError]) -> str:
    error: Any = raised.value.response
    return str(error["Error"]["Code"])


def _status(raised: pytest.ExceptionInfo[ClientError]) -> int:
    error: Any = raised.value.response
    return int(error["ResponseMetadata"]["HTTPStatusCode"])


def test_a_created_queue_is_listed_found_and_takes_messages(serve: ServeFactory) -> None:
    wire = serve(_app())
    sqs = wire.client("sqs")
    url = sqs.create_queue(QueueName="made", Attributes={"VisibilityTimeout": "12"})["QueueUrl"]
    assert url == f"{wire.url}/000000000000/made"
    assert sqs.get_queue_url(QueueName="made")["QueueUrl"] == url
    assert url in sqs.list_queues()["QueueUrls"]
    sqs.send_message(QueueUrl=url, MessageBody="hi")
    (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
    assert message["Body"] == "hi"
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
    assert attributes["Attributes"] == {"VisibilityTimeout": "12"}
    # the engine itself knows the queue now (the registry was refreshed)
    assert "made" in wire.engine.registry.queues


def test_creating_an_existing_queue_returns_it_unless_an_attribute_differs(
    serve: ServeFactory,
) -> None:
    sqs = serve(_app()).client("sqs")
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    assert (
        sqs.create_queue(QueueName="orders", Attributes={"VisibilityTimeout": "45"})["QueueUrl"]
        == url
    )
    with pytest.raises(ClientError) as raised:
        sqs.create_queue(QueueName="orders", Attributes={"VisibilityTimeout": "46"})
    assert _code(raised) == "QueueAlreadyExists"
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
    assert attributes["Attributes"]["VisibilityTimeout"] == "45"


@pytest.mark.parametrize(
    ("name", "attributes", "code"),
    [
        ("bad name", {}, "InvalidParameterValue"),
        ("x" * 81, {}, "InvalidParameterValue"),
        ("plain.fifo", {}, "InvalidParameterValue"),
        ("notfifo", {"FifoQueue": "true"}, "InvalidParameterValue"),
        ("q1", {"VisibilityTimeout": "43201"}, "InvalidAttributeValue"),
        ("q2", {"DelaySeconds": "-1"}, "InvalidAttributeValue"),
        ("q3", {"MessageRetentionPeriod": "59"}, "InvalidAttributeValue"),
        ("q4", {"MaximumMessageSize": "1023"}, "InvalidAttributeValue"),
        ("q5", {"ReceiveMessageWaitTimeSeconds": "21"}, "InvalidAttributeValue"),
        ("q6", {"Colour": "blue"}, "InvalidAttributeName"),
        ("q7", {"ContentBasedDeduplication": "true"}, "InvalidAttributeName"),
        ("q8", {"RedrivePolicy": "not json"}, "InvalidParameterValue"),
        (
            "q9",
            {
                "RedrivePolicy": json.dumps(
                    {
                        "deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:nope",
                        "maxReceiveCount": 2,
                    }
                )
            },
            "InvalidParameterValue",
        ),
    ],
)
def test_a_refused_create_queue_makes_no_queue(
    serve: ServeFactory, name: str, attributes: dict[str, str], code: str
) -> None:
    wire = serve(_app())
    sqs = wire.client("sqs")
    with pytest.raises(ClientError) as raised:
        sqs.create_queue(QueueName=name, Attributes=attributes)
    assert _code(raised) == code
    assert _status(raised) == 400
    assert sorted(wire.engine.registry.queues) == ["orders", "orders-dlq"]
    count = wire.engine.store.reader().execute("SELECT COUNT(*) FROM queues").fetchone()[0]
    assert count == 2


def test_list_queues_filters_by_prefix_and_pages(serve: ServeFactory) -> None:
    wire = serve(_app())
    sqs = wire.client("sqs")
    for name in ("a1", "a2", "a3", "b1"):
        sqs.create_queue(QueueName=name)
    assert sqs.list_queues(QueueNamePrefix="a")["QueueUrls"] == [
        f"{wire.url}/000000000000/{n}" for n in ("a1", "a2", "a3")
    ]
    first = sqs.list_queues(QueueNamePrefix="a", MaxResults=2)
    assert [u.rsplit("/", 1)[1] for u in first["QueueUrls"]] == ["a1", "a2"]
    second = sqs.list_queues(QueueNamePrefix="a", MaxResults=2, NextToken=first["NextToken"])
    assert [u.rsplit("/", 1)[1] for u in second["QueueUrls"]] == ["a3"]
    assert "NextToken" not in second
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix="zzz")


def test_get_queue_attributes_shows_counts_times_and_the_redrive_policy(
    serve: ServeFactory, clock: VirtualClock
) -> None:
    sqs = serve(_app()).client("sqs")
    url = sqs.get_queue_url(QueueName="orders")["QueueUrl"]
    for body in ("a", "b", "c"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    sqs.receive_message(QueueUrl=url)
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "2"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"
    assert attributes["QueueArn"] == "arn:aws:sqs:us-east-1:000000000000:orders"
    assert attributes["VisibilityTimeout"] == "45"
    assert attributes["CreatedTimestamp"] == str(int(clock.now()))
    assert attributes["LastModifiedTimestamp"] == str(int(clock.now()))
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:orders-dlq",
        "maxReceiveCount": 3,
    }
    assert {"DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod"} <= set(attributes)
    assert "FifoQueue" not in attributes
    one = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    assert one == {"QueueArn": "arn:aws:sqs:us-east-1:000000000000:orders"}
    with pytest.raises(ClientError) as raised:
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Colour"])
    assert _code(raised) == "InvalidAttributeName"


def test_set_queue_attributes_changes_the_queue_and_its_modified_time(
    serve: ServeFactory, clock: VirtualClock
) -> None:
    wire = serve(_app())
    sqs = wire.client("sqs")
    url = sqs.get_queue_url(QueueName="orders")["QueueUrl"]
    clock.advance(100)
    sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={
            "VisibilityTimeout": "5",
            "ReceiveMessageWaitTimeSeconds": "2",
            "RedrivePolicy": "",
        },
    )
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "5"
    assert attributes["ReceiveMessageWaitTimeSeconds"] == "2"
    assert "RedrivePolicy" not in attributes
    assert int(attributes["LastModifiedTimestamp"]) == int(attributes["CreatedTimestamp"]) + 100
    assert wire.engine.registry.queues["orders"].spec.visibility_timeout == 5
    assert wire.engine.registry.queues["orders"].dead_letter_id is None
    # visibility 5 s now applies to receives
    sqs.send_message(QueueUrl=url, MessageBody="x")
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)["Messages"]
    clock.advance(5)
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)["Messages"]


def test_a_refused_set_queue_attributes_changes_nothing(serve: ServeFactory) -> None:
    sqs = serve(_app()).client("sqs")
    url = sqs.get_queue_url(QueueName="orders")["QueueUrl"]
    with pytest.raises(ClientError) as raised:
        sqs.set_queue_attributes(
            QueueUrl=url, Attributes={"VisibilityTimeout": "7", "DelaySeconds": "901"}
        )
    assert _code(raised) == "InvalidAttributeValue"
    with pytest.raises(ClientError) as raised:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"QueueArn": "arn:x"})
    assert _code(raised) == "InvalidAttributeName"
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "45"
    assert attributes["DelaySeconds"] == "0"


def test_a_deleted_queue_is_gone_with_its_messages(serve: ServeFactory) -> None:
    wire = serve(_app())
    sqs = wire.client("sqs")
    url = sqs.create_queue(QueueName="temp")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x")
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(ClientError) as raised:
        sqs.get_queue_url(QueueName="temp")
    assert _code(raised) == "AWS.SimpleQueueService.NonExistentQueue"
    with pytest.raises(ClientError) as raised:
        sqs.send_message(QueueUrl=url, MessageBody="x")
    assert _code(raised) == "AWS.SimpleQueueService.NonExistentQueue"
    with pytest.raises(ClientError) as raised:
        sqs.delete_queue(QueueUrl=url)
    assert _code(raised) == "AWS.SimpleQueueService.NonExistentQueue"
    left = wire.engine.store.reader().execute("SELECT COUNT(*) FROM messages").fetchone()[0]
    assert left == 0
    # the name can be used again, for a new, empty queue
    url = sqs.create_queue(QueueName="temp")["QueueUrl"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)


def test_purge_empties_the_queue_once_a_minute(serve: ServeFactory, clock: VirtualClock) -> None:
    sqs = serve(_app()).client("sqs")
    url = sqs.get_queue_url(QueueName="orders")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="a")
    sqs.send_message(QueueUrl=url, MessageBody="b")
    sqs.receive_message(QueueUrl=url)  # in flight: purged too
    sqs.purge_queue(QueueUrl=url)
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == "0"
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "0"
    sqs.send_message(QueueUrl=url, MessageBody="c")
    with pytest.raises(ClientError) as raised:
        sqs.purge_queue(QueueUrl=url)
    assert _code(raised) == "AWS.SimpleQueueService.PurgeQueueInProgress"
    (kept,) = sqs.receive_message(QueueUrl=url)["Messages"]
    assert kept["Body"] == "c"
    clock.advance(60)
    sqs.purge_queue(QueueUrl=url)


def test_tags_are_added_listed_and_removed(serve: ServeFactory) -> None:
    sqs = serve(_app()).client("sqs")
    url = sqs.create_queue(QueueName="tagged", tags={"team": "a"})["QueueUrl"]
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "a"}
    sqs.tag_queue(QueueUrl=url, Tags={"team": "b", "env": "dev"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "b", "env": "dev"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["team", "missing"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "dev"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["env"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {}
    with pytest.raises(ClientError) as raised:
        sqs.tag_queue(QueueUrl=url, Tags={f"k{i}": "v" for i in range(51)})
    assert _code(raised) == "InvalidParameterValue"
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {}
    with pytest.raises(ClientError) as raised:
        sqs.tag_queue(QueueUrl=url, Tags={})
    assert _code(raised) == "MissingParameter"


def test_dead_letter_source_queues_are_listed(serve: ServeFactory) -> None:
    wire = serve(_app())
    sqs = wire.client("sqs")
    dlq = sqs.get_queue_url(QueueName="orders-dlq")["QueueUrl"]
    arn = "arn:aws:sqs:us-east-1:000000000000:orders-dlq"
    sqs.create_queue(
        QueueName="returns",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": "5"})
        },
    )
    urls = sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"]
    assert urls == [f"{wire.url}/000000000000/{n}" for n in ("orders", "returns")]
    orders = sqs.get_queue_url(QueueName="orders")["QueueUrl"]
    assert sqs.list_dead_letter_source_queues(QueueUrl=orders)["queueUrls"] == []


def test_a_function_may_only_do_what_its_grants_allow(serve: ServeFactory) -> None:
    wire = serve(_app())
    sqs = wire.client("sqs", as_function="sender")
    url = sqs.get_queue_url(QueueName="orders")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="allowed")
    for call in (
        lambda: sqs.receive_message(QueueUrl=url),
        lambda: sqs.purge_queue(QueueUrl=url),
        lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "1"}),
        lambda: sqs.create_queue(QueueName="mine"),
        lambda: sqs.list_queues(),
        lambda: sqs.delete_queue(QueueUrl=url),
        lambda: sqs.tag_queue(QueueUrl=url, Tags={"a": "b"}),
    ):
        with pytest.raises(ClientError) as raised:
            call()
        assert _code(raised) == "AccessDenied"
        assert _status(raised) == 403
    assert "mine" not in wire.engine.registry.queues
    admin = wire.client("sqs")
    attributes = admin.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["DelaySeconds"] == "0"
    assert attributes["ApproximateNumberOfMessages"] == "1"
