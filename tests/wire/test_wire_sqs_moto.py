"""The same boto3 calls against moto's `mock_aws` and against the runtime: both answer the
same error codes and statuses, and successes of the same shape. Where sluiceway follows AWS
and moto does not, the case says so."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from conftest import ServeFactory
from sluiceway import App

Case = Callable[[Any, str], Any]

CASES: dict[str, Case] = {
    "get_queue_url of a missing queue": lambda s, u: s.get_queue_url(QueueName="nope"),
    "send to a missing queue": lambda s, u: s.send_message(
        QueueUrl=u.replace("orders", "nope"), MessageBody="x"
    ),
    "send a message": lambda s, u: s.send_message(QueueUrl=u, MessageBody="x"),
    "send with a delay over 900": lambda s, u: s.send_message(
        QueueUrl=u, MessageBody="x", DelaySeconds=901
    ),
    "receive from an empty queue": lambda s, u: s.receive_message(QueueUrl=u),
    "receive more than 10": lambda s, u: s.receive_message(QueueUrl=u, MaxNumberOfMessages=11),
    "delete with a bad receipt handle": lambda s, u: s.delete_message(
        QueueUrl=u, ReceiptHandle="garbage"
    ),
    "empty send batch": lambda s, u: s.send_message_batch(QueueUrl=u, Entries=[]),
    "send batch of 11": lambda s, u: s.send_message_batch(
        QueueUrl=u, Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(11)]
    ),
    "send batch with repeated ids": lambda s, u: s.send_message_batch(
        QueueUrl=u, Entries=[{"Id": "a", "MessageBody": "x"}, {"Id": "a", "MessageBody": "y"}]
    ),
    "send batch with a bad id": lambda s, u: s.send_message_batch(
        QueueUrl=u, Entries=[{"Id": "a b", "MessageBody": "x"}]
    ),
    "empty delete batch": lambda s, u: s.delete_message_batch(QueueUrl=u, Entries=[]),
    "get an unknown attribute": lambda s, u: s.get_queue_attributes(
        QueueUrl=u, AttributeNames=["Colour"]
    ),
    "get attributes": lambda s, u: s.get_queue_attributes(
        QueueUrl=u, AttributeNames=["VisibilityTimeout", "DelaySeconds"]
    ),
    "create with an unknown attribute": lambda s, u: s.create_queue(
        QueueName="q", Attributes={"Colour": "blue"}
    ),
    "create with a bad name": lambda s, u: s.create_queue(QueueName="bad name"),
    "create again with another attribute value": lambda s, u: s.create_queue(
        QueueName="orders", Attributes={"VisibilityTimeout": "99"}
    ),
    "create again the same": lambda s, u: s.create_queue(QueueName="orders"),
    "a second purge within a minute": lambda s, u: (
        s.purge_queue(QueueUrl=u),
        s.purge_queue(QueueUrl=u),
    ),
    "tag with no tags": lambda s, u: s.tag_queue(QueueUrl=u, Tags={}),
    "list tags of an untagged queue": lambda s, u: s.list_queue_tags(QueueUrl=u),
    "list queues with a prefix": lambda s, u: s.list_queues(QueueNamePrefix="ord"),
    "delete a missing queue": lambda s, u: s.delete_queue(QueueUrl=u.replace("orders", "nope")),
    "receive waiting over 20 s": lambda s, u: s.receive_message(QueueUrl=u, WaitTimeSeconds=21),
    "change visibility with a bad receipt handle": lambda s, u: s.change_message_visibility(
        QueueUrl=u, ReceiptHandle="garbage", VisibilityTimeout=5
    ),
    "set an attribute out of range": lambda s, u: s.set_queue_attributes(
        QueueUrl=u, Attributes={"MaximumMessageSize": "10"}
    ),
    "set attributes": lambda s, u: s.set_queue_attributes(
        QueueUrl=u, Attributes={"VisibilityTimeout": "10"}
    ),
    "purge a missing queue": lambda s, u: s.purge_queue(QueueUrl=u.replace("orders", "nope")),
    "send a batch": lambda s, u: s.send_message_batch(
        QueueUrl=u, Entries=[{"Id": "a", "MessageBody": "x"}]
    ),
    "delete batch with a bad receipt handle": lambda s, u: s.delete_message_batch(
        QueueUrl=u, Entries=[{"Id": "a", "ReceiptHandle": "garbage"}]
    ),
    "list dead-letter source queues": lambda s, u: s.list_dead_letter_source_queues(QueueUrl=u),
    "tag then list tags": lambda s, u: (
        s.tag_queue(QueueUrl=u, Tags={"a": "b"}),
        s.list_queue_tags(QueueUrl=u),
    ),
    "create a fifo queue": lambda s, u: s.create_queue(
        QueueName="f.fifo", Attributes={"FifoQueue": "true"}
    ),
    "send to a fifo queue without a group": lambda s, u: s.send_message(
        QueueUrl=s.create_queue(QueueName="g.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"],
        MessageBody="x",
    ),
}


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        answer = call()
    except ClientError as error:
        response: Any = error.response
        return "error", (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"])
    if isinstance(answer, tuple):
        answer = answer[-1]
    shape = sorted(k for k in answer if k != "ResponseMetadata")
    return "ok", shape


# Where sluiceway answers as AWS documents it and moto does not: case -> (our answer, why).
DIFFERS: dict[str, tuple[str, Any]] = {
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html
    # (Errors: InvalidAttributeName); moto accepts any attribute name.
    "create with an unknown attribute": ("error", ("InvalidAttributeName", 400)),
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html
    # (MaximumMessageSize: 1,024 to 1,048,576 bytes); moto checks the range on create only.
    "set an attribute out of range": ("error", ("InvalidAttributeValue", 400)),
}


@pytest.fixture
def moto_sqs() -> Iterator[tuple[Any, str]]:
    with mock_aws():
        sqs = boto3.client(
            "sqs",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        url = sqs.create_queue(QueueName="orders")["QueueUrl"]
        yield sqs, url


@pytest.mark.parametrize("case", sorted(CASES))
def test_sluiceway_answers_as_moto_does(
    serve: ServeFactory, moto_sqs: tuple[Any, str], case: str
) -> None:
    app = App("wire")
    app.queue("orders")
    sqs = serve(app).client("sqs")
    url = sqs.get_queue_url(QueueName="orders")["QueueUrl"]
    ours = _outcome(lambda: CASES[case](sqs, url))
    moto_client, moto_url = moto_sqs
    theirs = _outcome(lambda: CASES[case](moto_client, moto_url))
    if case in DIFFERS:
        assert ours == DIFFERS[case]
        assert theirs != ours
    else:
        assert ours == theirs
