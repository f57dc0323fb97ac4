"""SQS's message operations over the wire: send, receive, delete and change visibility,
single and batched, long polling, and the claim Lambda's mappings share."""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import ServeFactory
from sluiceway import App
from sluiceway.core.clock import VirtualClock
from sluiceway.core.events import md5_of_message_attributes


def _app() -> App:
    app = App("wire")
    app.queue("orders", visibility_timeout=30)
    return app


def _code(raised: pytest.ExceptionInfo[ClientError]) -> str:
    error: Any = raised.value.response
    return str(error["Error"]["Code"])


def _stored(wire: Any) -> int:
    return int(wire.engine.store.reader().execute("SELECT COUNT(*) FROM messages").fetchone()[0])


def _setup(serve: ServeFactory) -> tuple[Any, Any, str]:
    wire = serve(_app())
    sqs = wire.client("sqs")
    return wire, sqs, sqs.get_queue_url(QueueName="orders")["QueueUrl"]


ATTRIBUTES: dict[str, Any] = {
    "colour": {"DataType": "String", "StringValue": "blue"},
    "count": {"DataType": "Number", "StringValue": "3"},
    "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    "meta.one": {"DataType": "String", "StringValue": "1"},
}


def test_a_message_is_sent_received_with_its_md5s_and_deleted(serve: ServeFactory) -> None:
    wire, sqs, url = _setup(serve)
    sent = sqs.send_message(QueueUrl=url, MessageBody="hello", MessageAttributes=ATTRIBUTES)
    assert sent["MD5OfMessageBody"] == hashlib.md5(b"hello").hexdigest()
    assert sent["MD5OfMessageAttributes"] == md5_of_message_attributes(ATTRIBUTES)
    received = sqs.receive_message(
        QueueUrl=url, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"]
    )
    (message,) = received["Messages"]
    assert message["MessageId"] == sent["MessageId"]
    assert message["Body"] == "hello"
    assert message["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert message["MessageAttributes"] == ATTRIBUTES
    assert message["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
    assert message["Attributes"]["SenderId"].startswith("AROA")
    assert {"SentTimestamp", "ApproximateFirstReceiveTimestamp"} <= set(message["Attributes"])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert _stored(wire) == 0
    # deleting again succeeds, as on SQS
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_receive_returns_only_the_attributes_asked_for(serve: ServeFactory) -> None:
    _, sqs, url = _setup(serve)
    sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes=ATTRIBUTES)
    (plain,) = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]
    assert "Attributes" not in plain
    assert "MessageAttributes" not in plain
    assert "MD5OfMessageAttributes" not in plain
    (some,) = sqs.receive_message(
        QueueUrl=url,
        VisibilityTimeout=0,
        AttributeNames=["SenderId"],
        MessageAttributeNames=["colour", "meta.*"],
    )["Messages"]
    assert set(some["Attributes"]) == {"SenderId"}
    chosen = {k: ATTRIBUTES[k] for k in ("colour", "meta.one")}
    assert some["MessageAttributes"] == chosen
    assert some["MD5OfMessageAttributes"] == md5_of_message_attributes(chosen)


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"MessageBody": ""}, "MissingParameter"),
        ({"MessageBody": "bad \x00 char"}, "InvalidMessageContents"),
        ({"MessageBody": "x" * 1_048_577}, "InvalidParameterValue"),
        ({"MessageBody": "x", "DelaySeconds": 901}, "InvalidParameterValue"),
        ({"MessageBody": "x", "MessageGroupId": "g"}, "InvalidParameterValue"),
        (
            {
                "MessageBody": "x",
                "MessageAttributes": {"a": {"DataType": "Colour", "StringValue": "1"}},
            },
            "InvalidParameterValue",
        ),
    ],
)
def test_a_refused_send_stores_nothing(
    serve: ServeFactory, kwargs: dict[str, Any], code: str
) -> None:
    wire, sqs, url = _setup(serve)
    with pytest.raises(ClientError) as raised:
        sqs.send_message(QueueUrl=url, **kwargs)
    assert _code(raised) == code
    assert _stored(wire) == 0


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"MaxNumberOfMessages": 11}, "InvalidParameterValue"),
        ({"MaxNumberOfMessages": 0}, "InvalidParameterValue"),
        ({"WaitTimeSeconds": 21}, "InvalidParameterValue"),
        ({"VisibilityTimeout": 43_201}, "InvalidParameterValue"),
    ],
)
def test_a_refused_receive_claims_nothing(
    serve: ServeFactory, kwargs: dict[str, Any], code: str
) -> None:
    _, sqs, url = _setup(serve)
    sqs.send_message(QueueUrl=url, MessageBody="x")
    with pytest.raises(ClientError) as raised:
        sqs.receive_message(QueueUrl=url, **kwargs)
    assert _code(raised) == code
    (message,) = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"


def test_a_receive_takes_up_to_ten_and_hides_them_for_the_visibility_timeout(
    serve: ServeFactory, clock: VirtualClock
) -> None:
    _, sqs, url = _setup(serve)
    for i in range(12):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=10)
    assert len(first["Messages"]) == 10
    second = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    assert len(second["Messages"]) == 2
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    clock.advance(10)
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])
    assert len(again["Messages"]) == 10
    assert {m["Attributes"]["ApproximateReceiveCount"] for m in again["Messages"]} == {"2"}
    # the first receive's handles no longer delete
    stale = first["Messages"][0]["ReceiptHandle"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=stale)
    clock.advance(30)
    assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]) == 10


def test_change_message_visibility_extends_and_releases(
    serve: ServeFactory, clock: VirtualClock
) -> None:
    _, sqs, url = _setup(serve)
    sqs.send_message(QueueUrl=url, MessageBody="x")
    (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=100
    )
    clock.advance(99)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    clock.advance(1)
    (again,) = sqs.receive_message(QueueUrl=url)["Messages"]
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=0
    )
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["MessageId"] == message["MessageId"]
    with pytest.raises(ClientError) as raised:
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=43_201
        )
    assert _code(raised) == "InvalidParameterValue"


def test_a_malformed_receipt_handle_is_refused(serve: ServeFactory) -> None:
    _, sqs, url = _setup(serve)
    for call in (
        lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage"),
        lambda: sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle="garbage", VisibilityTimeout=1
        ),
    ):
        with pytest.raises(ClientError) as raised:
            call()
        assert _code(raised) == "ReceiptHandleIsInvalid"


def test_send_message_batch_sends_the_good_entries_and_reports_the_bad(
    serve: ServeFactory,
) -> None:
    wire, sqs, url = _setup(serve)
    answer = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "a", "MessageBody": "one"},
            {"Id": "b", "MessageBody": "two", "DelaySeconds": 901},
            {"Id": "c", "MessageBody": "three", "MessageAttributes": ATTRIBUTES},
        ],
    )
    assert [s["Id"] for s in answer["Successful"]] == ["a", "c"]
    assert answer["Successful"][0]["MD5OfMessageBody"] == hashlib.md5(b"one").hexdigest()
    assert answer["Successful"][1]["MD5OfMessageAttributes"] == md5_of_message_attributes(
        ATTRIBUTES
    )
    (failed,) = answer["Failed"]
    assert failed["Id"] == "b"
    assert failed["SenderFault"] is True
    assert failed["Code"] == "InvalidParameterValue"
    bodies = [
        m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    ]
    assert sorted(bodies) == ["one", "three"]
    assert _stored(wire) == 2


@pytest.mark.parametrize(
    ("entries", "code"),
    [
        ([], "AWS.SimpleQueueService.EmptyBatchRequest"),
        (
            [{"Id": f"m{i}", "MessageBody": "x"} for i in range(11)],
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        ),
        (
            [{"Id": "same", "MessageBody": "x"}, {"Id": "same", "MessageBody": "y"}],
            "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
        ),
        ([{"Id": "not ok!", "MessageBody": "x"}], "AWS.SimpleQueueService.InvalidBatchEntryId"),
        (
            [{"Id": f"m{i}", "MessageBody": "x" * 300_000} for i in range(4)],
            "AWS.SimpleQueueService.BatchRequestTooLong",
        ),
    ],
)
def test_a_refused_batch_stores_nothing(
    serve: ServeFactory, entries: list[dict[str, Any]], code: str
) -> None:
    wire, sqs, url = _setup(serve)
    with pytest.raises(ClientError) as raised:
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert _code(raised) == code
    assert _stored(wire) == 0


def test_delete_and_change_visibility_batches_report_each_entry(
    serve: ServeFactory, clock: VirtualClock
) -> None:
    wire, sqs, url = _setup(serve)
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(3)]
    )
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3)["Messages"]
    changed = sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "keep", "ReceiptHandle": got[0]["ReceiptHandle"], "VisibilityTimeout": 300},
            {"Id": "bad", "ReceiptHandle": "garbage", "VisibilityTimeout": 5},
        ],
    )
    assert [s["Id"] for s in changed["Successful"]] == ["keep"]
    assert [(f["Id"], f["Code"]) for f in changed["Failed"]] == [("bad", "ReceiptHandleIsInvalid")]
    deleted = sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "one", "ReceiptHandle": got[1]["ReceiptHandle"]},
            {"Id": "two", "ReceiptHandle": got[2]["ReceiptHandle"]},
            {"Id": "bad", "ReceiptHandle": "garbage"},
        ],
    )
    assert [s["Id"] for s in deleted["Successful"]] == ["one", "two"]
    assert [(f["Id"], f["Code"]) for f in deleted["Failed"]] == [("bad", "ReceiptHandleIsInvalid")]
    assert _stored(wire) == 1
    clock.advance(30)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)  # still extended to 300 s
    with pytest.raises(ClientError) as raised:
        sqs.delete_message_batch(QueueUrl=url, Entries=[])
    assert _code(raised) == "AWS.SimpleQueueService.EmptyBatchRequest"


def test_a_long_poll_wakes_at_a_send_from_another_thread(serve: ServeFactory) -> None:
    wire, sqs, url = _setup(serve)
    other = wire.client("sqs")
    timer = threading.Timer(0.3, lambda: other.send_message(QueueUrl=url, MessageBody="late"))
    started = time.monotonic()
    timer.start()
    try:
        received = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)
    finally:
        timer.join()
    took = time.monotonic() - started
    assert received["Messages"][0]["Body"] == "late"
    assert 0.25 < took < 3


def test_a_long_poll_with_nothing_to_receive_waits_its_time(serve: ServeFactory) -> None:
    _, sqs, url = _setup(serve)
    started = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
    assert 0.9 < time.monotonic() - started < 3


def test_the_queue_s_receive_wait_time_is_the_default_wait(serve: ServeFactory) -> None:
    _, sqs, url = _setup(serve)
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"ReceiveMessageWaitTimeSeconds": "1"})
    started = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    assert time.monotonic() - started > 0.9
    started = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
    assert time.monotonic() - started < 0.9


def test_a_message_a_mapping_holds_is_not_received_over_the_wire(
    serve: ServeFactory, clock: VirtualClock
) -> None:
    app = App("wire")
    orders = app.queue("orders", visibility_timeout=30)
    seen: list[str] = []

    @app.on_queue(orders)
    def consume(event: Any, context: Any) -> None:
        seen.extend(r["body"] for r in event["Records"])
        raise RuntimeError("fail so the message waits out its visibility timeout")

    wire = serve(app)
    sqs = wire.client("sqs")
    url = sqs.get_queue_url(QueueName="orders")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x")
    wire.engine.drain()
    assert seen == ["x"]
    # the mapping's failed receive keeps it hidden for 30 s, from the wire too
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    clock.advance(30)
    (message,) = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]
    assert message["Attributes"]["ApproximateReceiveCount"] == "2"
    # and while the wire holds it, the mapping gets nothing
    wire.engine.drain()
    assert seen == ["x"]
