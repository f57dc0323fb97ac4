"""FIFO queues, dead-letter queues and message move tasks over SQS's wire API."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import ServeFactory
from sluiceway import App
from sluiceway.core.clock import VirtualClock

DLQ_ARN = "arn:aws:sqs:us-east-1:000000000000:work-dlq"


def _app() -> App:
    app = App("wire")
    dlq = app.queue("work-dlq")
    app.queue("work", visibility_timeout=10, dead_letter=dlq, max_receive_count=2)
    return app


def _code(raised: pytest.ExceptionInfo[ClientError]) -> str:
    error: Any = raised.value.response
    return str(error["Error"]["Code"])


def _fifo(sqs: Any, **attributes: str) -> str:
    url: str = sqs.create_queue(
        QueueName="jobs.fifo", Attributes={"FifoQueue": "true", **attributes}
    )["QueueUrl"]
    return url


def test_a_fifo_queue_delivers_each_group_in_order_one_in_flight_at_a_time(
    serve: ServeFactory,
) -> None:
    sqs = serve(_app()).client("sqs")
    url = _fifo(sqs)
    for i in range(3):
        for group in ("a", "b"):
            sqs.send_message(
                QueueUrl=url,
                MessageBody=f"{group}{i}",
                MessageGroupId=group,
                MessageDeduplicationId=f"{group}{i}",
            )
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])
    bodies = [m["Body"] for m in first["Messages"]]
    assert bodies == ["a0", "a1", "a2", "b0", "b1", "b2"] or bodies == [
        "a0",
        "b0",
        "a1",
        "b1",
        "a2",
        "b2",
    ]
    attributes = first["Messages"][0]["Attributes"]
    assert attributes["MessageGroupId"] == "a"
    assert attributes["MessageDeduplicationId"] == "a0"
    assert attributes["SequenceNumber"].isdigit()
    # everything of both groups is in flight: nothing more comes
    assert "Messages" not in sqs.receive_message(QueueUrl=url)


def test_a_group_waits_while_one_of_its_messages_is_in_flight(
    serve: ServeFactory, clock: VirtualClock
) -> None:
    sqs = serve(_app()).client("sqs")
    url = _fifo(sqs, ContentBasedDeduplication="true")
    for body in ("a1", "a2"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="a")
    sqs.send_message(QueueUrl=url, MessageBody="b1", MessageGroupId="b")
    (head,) = sqs.receive_message(QueueUrl=url)["Messages"]
    assert head["Body"] == "a1"
    (other,) = sqs.receive_message(QueueUrl=url)["Messages"]
    assert other["Body"] == "b1"  # a2 waits behind a1
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=head["ReceiptHandle"])
    (after,) = sqs.receive_message(QueueUrl=url)["Messages"]
    assert after["Body"] == "a2"


def test_fifo_deduplicates_for_five_minutes(serve: ServeFactory, clock: VirtualClock) -> None:
    sqs = serve(_app()).client("sqs")
    url = _fifo(sqs, ContentBasedDeduplication="true")
    first = sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    again = sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    assert again["MessageId"] == first["MessageId"]
    assert again["SequenceNumber"] == first["SequenceNumber"]
    explicit = sqs.send_message(
        QueueUrl=url, MessageBody="same", MessageGroupId="g", MessageDeduplicationId="other"
    )
    assert explicit["MessageId"] != first["MessageId"]
    clock.advance(301)
    later = sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    assert later["MessageId"] != first["MessageId"]
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(got) == 3


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"MessageBody": "x"}, "MissingParameter"),
        ({"MessageBody": "x", "MessageGroupId": "g"}, "InvalidParameterValue"),
        (
            {
                "MessageBody": "x",
                "MessageGroupId": "g",
                "MessageDeduplicationId": "d",
                "DelaySeconds": 5,
            },
            "InvalidParameterValue",
        ),
    ],
)
def test_a_refused_fifo_send_stores_nothing(
    serve: ServeFactory, kwargs: dict[str, Any], code: str
) -> None:
    wire = serve(_app())
    sqs = wire.client("sqs")
    url = _fifo(sqs)
    with pytest.raises(ClientError) as raised:
        sqs.send_message(QueueUrl=url, **kwargs)
    assert _code(raised) == code
    assert wire.engine.store.reader().execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 0


def test_fifo_attributes_are_shown_and_a_standard_dlq_is_refused(serve: ServeFactory) -> None:
    sqs = serve(_app()).client("sqs")
    url = _fifo(sqs, ContentBasedDeduplication="true")
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["FifoQueue"] == "true"
    assert attributes["ContentBasedDeduplication"] == "true"
    assert attributes["DeduplicationScope"] == "queue"
    policy = json.dumps({"deadLetterTargetArn": DLQ_ARN, "maxReceiveCount": 2})
    with pytest.raises(ClientError) as raised:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": policy})
    assert _code(raised) == "InvalidParameterValue"


def test_a_message_received_max_receive_count_times_goes_to_the_dlq(
    serve: ServeFactory, clock: VirtualClock
) -> None:
    sqs = serve(_app()).client("sqs")
    url = sqs.get_queue_url(QueueName="work")["QueueUrl"]
    dlq = sqs.get_queue_url(QueueName="work-dlq")["QueueUrl"]
    sent = sqs.send_message(QueueUrl=url, MessageBody="poison")
    for _ in range(2):
        assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "poison"
        clock.advance(10)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    (dead,) = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"])["Messages"]
    assert dead["MessageId"] == sent["MessageId"]
    assert dead["Attributes"]["ApproximateReceiveCount"] == "3"


def test_a_created_queue_s_redrive_policy_is_kept_by_the_engine(
    serve: ServeFactory, clock: VirtualClock
) -> None:
    sqs = serve(_app()).client("sqs")
    policy = json.dumps({"deadLetterTargetArn": DLQ_ARN, "maxReceiveCount": 1})
    url = sqs.create_queue(
        QueueName="made", Attributes={"RedrivePolicy": policy, "VisibilityTimeout": "1"}
    )["QueueUrl"]
    dlq = sqs.get_queue_url(QueueName="work-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="once")
    assert sqs.receive_message(QueueUrl=url)["Messages"]
    clock.advance(1)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    assert sqs.receive_message(QueueUrl=dlq)["Messages"][0]["Body"] == "once"


def test_a_move_task_returns_dead_letters_to_their_source(
    serve: ServeFactory, clock: VirtualClock
) -> None:
    wire = serve(_app())
    sqs = wire.client("sqs")
    url = sqs.get_queue_url(QueueName="work")["QueueUrl"]
    for body in ("a", "b"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    for _ in range(3):
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    dlq = sqs.get_queue_url(QueueName="work-dlq")["QueueUrl"]
    counts = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert counts["Attributes"]["ApproximateNumberOfMessages"] == "2"
    handle = sqs.start_message_move_task(SourceArn=DLQ_ARN)["TaskHandle"]
    (running,) = sqs.list_message_move_tasks(SourceArn=DLQ_ARN)["Results"]
    assert running["Status"] == "RUNNING"
    assert running["TaskHandle"] == handle
    assert running["ApproximateNumberOfMessagesToMove"] == 2
    with pytest.raises(ClientError) as raised:
        sqs.start_message_move_task(SourceArn=DLQ_ARN)
    assert _code(raised) == "AWS.SimpleQueueService.UnsupportedOperation"
    wire.engine.drain()
    (done,) = sqs.list_message_move_tasks(SourceArn=DLQ_ARN)["Results"]
    assert done["Status"] == "COMPLETED"
    assert done["ApproximateNumberOfMessagesMoved"] == 2
    assert "TaskHandle" not in done
    back = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])
    assert sorted(m["Body"] for m in back["Messages"]) == ["a", "b"]
    assert {m["Attributes"]["ApproximateReceiveCount"] for m in back["Messages"]} == {"1"}
    with pytest.raises(ClientError) as raised:
        sqs.cancel_message_move_task(TaskHandle=handle)
    assert _code(raised) == "ResourceNotFoundException"


def test_a_move_task_can_be_cancelled_and_needs_a_dlq(serve: ServeFactory) -> None:
    wire = serve(_app())
    sqs = wire.client("sqs")
    dlq = sqs.get_queue_url(QueueName="work-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody="dead")
    handle = sqs.start_message_move_task(SourceArn=DLQ_ARN, MaxNumberOfMessagesPerSecond=1)[
        "TaskHandle"
    ]
    assert sqs.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"] == 0
    (task,) = sqs.list_message_move_tasks(SourceArn=DLQ_ARN)["Results"]
    assert task["Status"] == "CANCELLED"
    assert task["MaxNumberOfMessagesPerSecond"] == 1
    wire.engine.drain()
    assert sqs.receive_message(QueueUrl=dlq)["Messages"][0]["Body"] == "dead"
    with pytest.raises(ClientError) as raised:
        sqs.start_message_move_task(SourceArn="arn:aws:sqs:us-east-1:000000000000:work")
    assert _code(raised) == "InvalidParameterValue"
    with pytest.raises(ClientError) as raised:
        sqs.start_message_move_task(SourceArn="arn:aws:sqs:us-east-1:000000000000:nope")
    assert _code(raised) == "ResourceNotFoundException"
