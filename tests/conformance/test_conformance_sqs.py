"""SQS over the wire, the same on moto and on sluiceway: queue CRUD, attributes, send,
receive and delete (single and batch, partial failures), visibility, purge, tags, FIFO,
dead-letter queues, and SQS's errors."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import conformance_harness as h
import pytest
from conformance_harness import Clients

suite = h.Suite("sqs")
case = suite.case
NO_QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/no-such-queue"
DOCS = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/"
REFUSED = {"Error": "InvalidParameterValue", "HTTPStatusCode": 400}


@pytest.fixture(scope="module")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[h.Backend, h.Backend]]:
    with h.backends(tmp_path_factory.mktemp("sqs")) as pair:
        yield pair


def _queue(c: Clients, tag: str = "", **attributes: str) -> str:
    name = c.name(tag)
    if attributes.get("FifoQueue") == "true":
        name += ".fifo"
    url: str = c.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url


def _receive(c: Clients, url: str, **params: Any) -> dict[str, Any]:
    answer: dict[str, Any] = c.sqs.receive_message(QueueUrl=url, **params)
    return answer


# -- queues -----------------------------------------------------------------------------


@case()
def create_queue_answers_its_url_and_get_queue_url_finds_it(c: Clients) -> list[Any]:
    created = c.sqs.create_queue(QueueName=c.name())
    return [created, c.sqs.get_queue_url(QueueName=c.name())]


@case()
def create_queue_again_with_the_same_attributes_is_the_same_queue(c: Clients) -> list[Any]:
    first = c.sqs.create_queue(QueueName=c.name(), Attributes={"VisibilityTimeout": "40"})
    again = c.sqs.create_queue(QueueName=c.name(), Attributes={"VisibilityTimeout": "40"})
    return [first, again]


@case()
def create_queue_again_with_other_attributes_is_refused(c: Clients) -> list[Any]:
    c.sqs.create_queue(QueueName=c.name(), Attributes={"VisibilityTimeout": "40"})
    return [
        c.error(
            c.sqs.create_queue,
            message=False,
            QueueName=c.name(),
            Attributes={"VisibilityTimeout": "41"},
        )
    ]


@case()
def create_queue_refuses_a_bad_name(c: Clients) -> list[Any]:
    return [
        c.error(c.sqs.create_queue, message=False, QueueName="has space"),
        c.error(c.sqs.create_queue, message=False, QueueName="x" * 81),
    ]


@case()
def a_fifo_queue_needs_the_fifo_suffix(c: Clients) -> list[Any]:
    return [
        c.error(
            c.sqs.create_queue,
            message=False,
            QueueName=c.name(),
            Attributes={"FifoQueue": "true"},
        ),
    ]


@case()
def list_queues_by_prefix(c: Clients) -> list[Any]:
    for tag in ("a", "b", "c"):
        _queue(c, tag)
    listed = c.sqs.list_queues(QueueNamePrefix=c.name())
    listed["QueueUrls"].sort()
    return [listed, c.sqs.list_queues(QueueNamePrefix=c.name("zzz"))]


@case()
def list_queues_pages_with_max_results(c: Clients) -> list[Any]:
    for tag in ("a", "b", "c"):
        _queue(c, tag)
    first = c.sqs.list_queues(QueueNamePrefix=c.name(), MaxResults=2)
    return [len(first["QueueUrls"]), "NextToken" in first]


@case()
def delete_queue_then_it_does_not_exist(c: Clients) -> list[Any]:
    url = _queue(c)
    return [
        c.sqs.delete_queue(QueueUrl=url),
        c.error(c.sqs.get_queue_url, QueueName=c.name()),
        c.error(c.sqs.send_message, QueueUrl=url, MessageBody="x"),
    ]


@case()
def a_queue_that_does_not_exist(c: Clients) -> list[Any]:
    return [
        c.error(c.sqs.get_queue_url, QueueName="no-such-queue"),
        c.error(c.sqs.send_message, QueueUrl=NO_QUEUE, MessageBody="x"),
        c.error(c.sqs.receive_message, QueueUrl=NO_QUEUE),
        c.error(c.sqs.get_queue_attributes, QueueUrl=NO_QUEUE, AttributeNames=["All"]),
        c.error(c.sqs.delete_queue, QueueUrl=NO_QUEUE),
        c.error(c.sqs.purge_queue, QueueUrl=NO_QUEUE),
    ]


# -- attributes -------------------------------------------------------------------------


@case()
def get_queue_attributes_all_of_a_new_queue(c: Clients) -> list[Any]:
    url = _queue(c)
    return [c.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])]


@case()
def get_queue_attributes_named_ones(c: Clients) -> list[Any]:
    url = _queue(c, DelaySeconds="5", MaximumMessageSize="2048")
    return [
        c.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["DelaySeconds", "MaximumMessageSize", "QueueArn"],
        )
    ]


@case()
def set_queue_attributes_changes_them(c: Clients) -> list[Any]:
    url = _queue(c)
    c.sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={"VisibilityTimeout": "120", "MessageRetentionPeriod": "3600"},
    )
    return [
        c.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["VisibilityTimeout", "MessageRetentionPeriod"]
        )
    ]


@case()
def set_queue_attributes_refuses_values_out_of_range(c: Clients) -> list[Any]:
    url = _queue(c)
    source = DOCS + "API_SetQueueAttributes.html"
    note = "moto takes a VisibilityTimeout above 43,200 s"
    return [
        c.differs(
            c.error(
                c.sqs.set_queue_attributes,
                message=False,
                QueueUrl=url,
                Attributes={"VisibilityTimeout": "43201"},
            ),
            aws={"Error": "InvalidAttributeValue", "HTTPStatusCode": 400},
            moto={"UnexpectedSuccess": {}},
            source=source,
            note=note,
        ),
        c.differs(
            c.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"]),
            aws={"Attributes": {"VisibilityTimeout": "30"}},
            moto={"Attributes": {"VisibilityTimeout": "43201"}},
            source=source,
            note=note,
        ),
    ]


@case()
def create_queue_refuses_an_unknown_attribute(c: Clients) -> list[Any]:
    source = DOCS + "API_CreateQueue.html"
    note = "moto creates a queue with an attribute SQS does not have"
    url = {"QueueUrl": f"<endpoint>/123456789012/{c.name()}"}
    return [
        c.differs(
            c.error(
                c.sqs.create_queue,
                message=False,
                QueueName=c.name(),
                Attributes={"NoSuchAttribute": "1"},
            ),
            aws={"Error": "InvalidAttributeName", "HTTPStatusCode": 400},
            moto={"UnexpectedSuccess": url},
            source=source,
            note=note,
        ),
        c.differs(
            c.attempt(c.sqs.get_queue_url, QueueName=c.name()),
            aws={
                "Error": "AWS.SimpleQueueService.NonExistentQueue",
                "HTTPStatusCode": 400,
                "Message": "The specified queue does not exist.",
            },
            moto=url,
            source=source,
            note=note,
        ),
    ]


@case()
def a_redrive_policy_names_its_dead_letter_queue(c: Clients) -> list[Any]:
    dlq = _queue(c, "dlq")
    arn = c.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 3})
    source = _queue(c, "src", RedrivePolicy=policy)
    got = c.sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["RedrivePolicy"])
    return [
        json.loads(got["Attributes"]["RedrivePolicy"]),
        c.sqs.list_dead_letter_source_queues(QueueUrl=dlq),
    ]


@case()
def a_redrive_allow_policy_is_kept(c: Clients) -> list[Any]:
    policy = json.dumps({"redrivePermission": "denyAll"}, separators=(",", ":"))
    url = _queue(c, RedriveAllowPolicy=policy)
    got = c.attempt(
        c.sqs.get_queue_attributes,
        message=False,
        QueueUrl=url,
        AttributeNames=["RedriveAllowPolicy"],
    )
    return [
        c.differs(
            got,
            aws={"Attributes": {"RedriveAllowPolicy": policy}},
            moto={"Error": "InvalidAttributeName", "HTTPStatusCode": 400},
            source=DOCS + "API_GetQueueAttributes.html",
            note="moto does not know the RedriveAllowPolicy attribute",
        )
    ]


# -- send, receive, delete ----------------------------------------------------------------


@case()
def send_receive_delete_one_message(c: Clients) -> list[Any]:
    url = _queue(c)
    sent = c.sqs.send_message(QueueUrl=url, MessageBody="hello, queue")
    got = _receive(c, url)
    handle = got["Messages"][0]["ReceiptHandle"]
    return [sent, got, c.sqs.delete_message(QueueUrl=url, ReceiptHandle=handle), _receive(c, url)]


@case()
def message_attributes_and_their_md5(c: Clients) -> list[Any]:
    url = _queue(c)
    attributes = {
        "text": {"DataType": "String", "StringValue": "hé"},
        "count": {"DataType": "Number", "StringValue": "42"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        "custom": {"DataType": "String.custom", "StringValue": "x"},
    }
    sent = c.sqs.send_message(QueueUrl=url, MessageBody="with", MessageAttributes=attributes)
    got = _receive(c, url, MessageAttributeNames=["All"])
    return [sent, got]


@case()
def receive_selects_message_attributes_by_name_and_prefix(c: Clients) -> list[Any]:
    url = _queue(c)
    attributes = {
        "order.id": {"DataType": "String", "StringValue": "1"},
        "order.kind": {"DataType": "String", "StringValue": "web"},
        "other": {"DataType": "String", "StringValue": "x"},
    }
    c.sqs.send_message(QueueUrl=url, MessageBody="b", MessageAttributes=attributes)
    got = _receive(c, url, MessageAttributeNames=["order.*"])
    return [got]


@case()
def receive_returns_system_attributes_asked_for(c: Clients) -> list[Any]:
    url = _queue(c)
    c.sqs.send_message(QueueUrl=url, MessageBody="sys")
    got = _receive(c, url, MessageSystemAttributeNames=["All"])
    return [got]


@case()
def a_received_message_is_hidden_until_its_visibility_changes(c: Clients) -> list[Any]:
    url = _queue(c)
    c.sqs.send_message(QueueUrl=url, MessageBody="once")
    first = _receive(c, url)
    hidden = _receive(c, url)
    c.sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=first["Messages"][0]["ReceiptHandle"], VisibilityTimeout=0
    )
    again = _receive(c, url, MessageSystemAttributeNames=["ApproximateReceiveCount"])
    return [hidden, again]


@case()
def a_visibility_timeout_of_zero_on_receive_leaves_it_visible(c: Clients) -> list[Any]:
    url = _queue(c)
    c.sqs.send_message(QueueUrl=url, MessageBody="peek")
    _receive(c, url, VisibilityTimeout=0)
    return [_receive(c, url, VisibilityTimeout=0)]


@case()
def receive_takes_up_to_max_number_of_messages(c: Clients) -> list[Any]:
    url = _queue(c)
    for i in range(5):
        c.sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    got = _receive(c, url, MaxNumberOfMessages=3)
    reason = "Value 11 for parameter MaxNumberOfMessages is invalid. Reason: "
    return [
        len(got["Messages"]),
        c.differs(
            c.error(c.sqs.receive_message, QueueUrl=url, MaxNumberOfMessages=11),
            aws={**REFUSED, "Message": reason + "Must be between 1 and 10, if provided."},
            moto={
                **REFUSED,
                "Message": "An error occurred (InvalidParameterValue) when calling the "
                f"ReceiveMessage operation: {reason}must be between 1 and 10, if provided.",
            },
            source=DOCS + "API_ReceiveMessage.html#SQS-ReceiveMessage-request-MaxNumberOfMessages",
            note="moto's message repeats boto3's own prefix",
        ),
    ]


@case()
def a_delayed_message_is_not_received_at_once(c: Clients) -> list[Any]:
    url = _queue(c)
    c.sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=300)
    return [
        _receive(c, url),
        c.error(c.sqs.send_message, message=False, QueueUrl=url, MessageBody="x", DelaySeconds=901),
    ]


@case()
def a_queue_delay_applies_to_every_message(c: Clients) -> list[Any]:
    url = _queue(c, DelaySeconds="300")
    c.sqs.send_message(QueueUrl=url, MessageBody="later")
    got = c.sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed"],
    )
    return [_receive(c, url), got]


@case()
def counts_of_visible_and_in_flight_messages(c: Clients) -> list[Any]:
    url = _queue(c)
    for i in range(3):
        c.sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    _receive(c, url)
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    return [c.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)]


@case()
def a_bad_receipt_handle_is_refused(c: Clients) -> list[Any]:
    url = _queue(c)
    return [
        c.error(c.sqs.delete_message, message=False, QueueUrl=url, ReceiptHandle="not-a-handle"),
        c.error(
            c.sqs.change_message_visibility,
            message=False,
            QueueUrl=url,
            ReceiptHandle="not-a-handle",
            VisibilityTimeout=10,
        ),
    ]


@case()
def an_oversize_message_is_refused_and_not_stored(c: Clients) -> list[Any]:
    url = _queue(c, MaximumMessageSize="1024")
    return [
        c.error(c.sqs.send_message, message=False, QueueUrl=url, MessageBody="x" * 1025),
        c.sqs.send_message(QueueUrl=url, MessageBody="x" * 1024),
        len(_receive(c, url, MaxNumberOfMessages=10)["Messages"]),
    ]


@case()
def a_body_with_a_forbidden_character_is_refused(c: Clients) -> list[Any]:
    url = _queue(c)
    source = DOCS + "API_SendMessage.html"
    note = "moto takes a body with a character outside SQS's allowed ranges"
    return [
        c.differs(
            c.error(c.sqs.send_message, message=False, QueueUrl=url, MessageBody="bad \x00 c"),
            aws={"Error": "InvalidMessageContents", "HTTPStatusCode": 400},
            moto={
                "UnexpectedSuccess": {
                    "MD5OfMessageBody": hashlib.md5(b"bad \x00 c").hexdigest(),
                    "MessageId": "<MessageId>",
                }
            },
            source=source,
            note=note,
        ),
        c.differs(
            len(_receive(c, url).get("Messages", [])),
            aws=0,
            moto=1,
            source=source,
            note=note,
        ),
    ]


@case()
def an_empty_body_is_refused(c: Clients) -> list[Any]:
    url = _queue(c)
    return [
        c.differs(
            c.error(c.sqs.send_message, message=False, QueueUrl=url, MessageBody=""),
            aws={"Error": "MissingParameter", "HTTPStatusCode": 400},
            moto={
                "UnexpectedSuccess": {
                    "MD5OfMessageBody": "d41d8cd98f00b204e9800998ecf8427e",
                    "MessageId": "<MessageId>",
                }
            },
            source=DOCS + "API_SendMessage.html",
            note="moto sends an empty body (MessageBody's minimum is one character)",
        )
    ]


@case()
def more_than_ten_message_attributes_are_refused(c: Clients) -> list[Any]:
    url = _queue(c)
    attributes = {f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)}
    sent = c.error(
        c.sqs.send_message,
        message=False,
        QueueUrl=url,
        MessageBody="x",
        MessageAttributes=attributes,
    )
    moto = {
        "UnexpectedSuccess": {
            "MD5OfMessageAttributes": "77abc691e23b08571788190b70f0c3cc",
            "MD5OfMessageBody": "9dd4e461268c8034f5c8564e155c67a6",
            "MessageId": "<MessageId>",
        }
    }
    note = "moto sends a message with 11 attributes (at most 10)"
    return [
        c.differs(sent, aws=REFUSED, moto=moto, source=DOCS + "API_SendMessage.html", note=note)
    ]


# -- batches -----------------------------------------------------------------------------


@case()
def send_message_batch_answers_each_entry(c: Clients) -> list[Any]:
    url = _queue(c)
    sent = c.sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": f"e{i}", "MessageBody": f"body {i}"} for i in range(3)],
    )
    sent["Successful"].sort(key=lambda e: e["Id"])
    got = _receive(c, url, MaxNumberOfMessages=10)
    return [sent, sorted(m["Body"] for m in got["Messages"])]


@case()
def a_batch_refuses_too_many_entries(c: Clients) -> list[Any]:
    url = _queue(c)
    entries = [{"Id": f"e{i}", "MessageBody": "x"} for i in range(11)]
    return [c.error(c.sqs.send_message_batch, message=False, QueueUrl=url, Entries=entries)]


@case()
def a_batch_refuses_repeated_ids(c: Clients) -> list[Any]:
    url = _queue(c)
    entries = [{"Id": "same", "MessageBody": "x"}, {"Id": "same", "MessageBody": "y"}]
    return [
        c.error(c.sqs.send_message_batch, message=False, QueueUrl=url, Entries=entries),
        _receive(c, url),
    ]


@case()
def a_batch_refuses_a_bad_entry_id(c: Clients) -> list[Any]:
    url = _queue(c)
    entries = [{"Id": "bad id!", "MessageBody": "x"}]
    return [c.error(c.sqs.send_message_batch, message=False, QueueUrl=url, Entries=entries)]


@case()
def an_empty_batch_is_refused(c: Clients) -> list[Any]:
    url = _queue(c)
    return [
        c.error(c.sqs.send_message_batch, message=False, QueueUrl=url, Entries=[]),
        c.error(c.sqs.delete_message_batch, message=False, QueueUrl=url, Entries=[]),
    ]


@case()
def delete_message_batch_reports_the_bad_handle_and_deletes_the_rest(c: Clients) -> list[Any]:
    url = _queue(c)
    c.sqs.send_message(QueueUrl=url, MessageBody="one")
    handle = _receive(c, url)["Messages"][0]["ReceiptHandle"]
    deleted = c.sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[{"Id": "good", "ReceiptHandle": handle}, {"Id": "bad", "ReceiptHandle": "nope"}],
    )
    for entry in deleted.get("Failed", []):
        entry.pop("Message", None)
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    return [deleted, c.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)]


@case()
def change_message_visibility_batch_releases_messages(c: Clients) -> list[Any]:
    url = _queue(c)
    for i in range(2):
        c.sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    got = _receive(c, url, MaxNumberOfMessages=10)
    changed = c.sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[
            {"Id": f"e{i}", "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for i, m in enumerate(got["Messages"])
        ],
    )
    changed["Successful"].sort(key=lambda e: e["Id"])
    again = _receive(c, url, MaxNumberOfMessages=10)
    return [changed, sorted(m["Body"] for m in again["Messages"])]


# -- purge and tags ----------------------------------------------------------------------


@case()
def purge_queue_removes_every_message(c: Clients) -> list[Any]:
    url = _queue(c)
    for i in range(3):
        c.sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    return [c.sqs.purge_queue(QueueUrl=url), _receive(c, url)]


@case()
def tags_are_added_listed_and_removed(c: Clients) -> list[Any]:
    url = _queue(c)
    c.sqs.tag_queue(QueueUrl=url, Tags={"team": "orders", "env": "dev"})
    tagged = c.sqs.list_queue_tags(QueueUrl=url)
    c.sqs.untag_queue(QueueUrl=url, TagKeys=["env"])
    return [tagged, c.sqs.list_queue_tags(QueueUrl=url)]


@case()
def a_queue_created_with_tags_has_them(c: Clients) -> list[Any]:
    c.sqs.create_queue(QueueName=c.name(), tags={"owner": "me"})
    url = c.sqs.get_queue_url(QueueName=c.name())["QueueUrl"]
    return [c.sqs.list_queue_tags(QueueUrl=url)]


# -- FIFO ---------------------------------------------------------------------------------


@case()
def a_fifo_queue_and_its_attributes(c: Clients) -> list[Any]:
    url = _queue(c, FifoQueue="true")
    names = ["FifoQueue", "ContentBasedDeduplication", "QueueArn"]
    return [url, c.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)]


@case()
def a_fifo_send_needs_a_group_and_a_deduplication_id(c: Clients) -> list[Any]:
    url = _queue(c, FifoQueue="true")
    return [
        c.error(c.sqs.send_message, message=False, QueueUrl=url, MessageBody="x"),
        c.error(
            c.sqs.send_message,
            message=False,
            QueueUrl=url,
            MessageBody="x",
            MessageGroupId="g",
        ),
    ]


@case()
def a_fifo_queue_deduplicates_by_id(c: Clients) -> list[Any]:
    url = _queue(c, FifoQueue="true")
    for body in ("first", "second"):
        c.sqs.send_message(
            QueueUrl=url, MessageBody=body, MessageGroupId="g", MessageDeduplicationId="d"
        )
    got = _receive(c, url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"])
    return [got]


@case()
def content_based_deduplication_hashes_the_body(c: Clients) -> list[Any]:
    url = _queue(c, FifoQueue="true", ContentBasedDeduplication="true")
    sent = [
        c.sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g")
        for body in ("same", "same", "other")
    ]
    got = _receive(c, url, MaxNumberOfMessages=10)
    md5s = [hashlib.md5(body.encode()).hexdigest() for body in ("same", "same", "other")]
    return [
        c.differs(
            sent,
            aws=[
                {
                    "MD5OfMessageBody": md5,
                    "MessageId": "<MessageId>",
                    "SequenceNumber": "<SequenceNumber>",
                }
                for md5 in md5s
            ],
            moto=[{"MD5OfMessageBody": md5, "MessageId": "<MessageId>"} for md5 in md5s],
            source=DOCS + "API_SendMessage.html#API_SendMessage_ResponseElements",
            note="moto's SendMessage to a FIFO queue answers no SequenceNumber",
        ),
        [m["Body"] for m in got["Messages"]],
    ]


@case()
def a_fifo_group_is_delivered_in_order_one_batch_at_a_time(c: Clients) -> list[Any]:
    url = _queue(c, FifoQueue="true", ContentBasedDeduplication="true")
    for i in range(4):
        c.sqs.send_message(QueueUrl=url, MessageBody=f"m{i}", MessageGroupId="g")
    first = _receive(c, url, MaxNumberOfMessages=2)
    blocked = _receive(c, url, MaxNumberOfMessages=2)
    return [[m["Body"] for m in first["Messages"]], blocked]


@case()
def a_fifo_queue_refuses_a_per_message_delay(c: Clients) -> list[Any]:
    url = _queue(c, FifoQueue="true", ContentBasedDeduplication="true")
    return [
        c.error(
            c.sqs.send_message,
            message=False,
            QueueUrl=url,
            MessageBody="x",
            MessageGroupId="g",
            DelaySeconds=5,
        )
    ]


@case()
def a_fifo_batch_sends_in_order(c: Clients) -> list[Any]:
    url = _queue(c, FifoQueue="true")
    sent = c.sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {
                "Id": f"e{i}",
                "MessageBody": f"m{i}",
                "MessageGroupId": "g",
                "MessageDeduplicationId": f"d{i}",
            }
            for i in range(3)
        ],
    )
    sent["Successful"].sort(key=lambda e: e["Id"])
    got = _receive(c, url, MaxNumberOfMessages=10)
    return [sent, [m["Body"] for m in got["Messages"]]]


@case()
def a_standard_queue_refuses_a_fifo_only_parameter(c: Clients) -> list[Any]:
    url = _queue(c)
    sent = c.error(
        c.sqs.send_message,
        message=False,
        QueueUrl=url,
        MessageBody="x",
        MessageDeduplicationId="d",
    )
    moto = {
        "UnexpectedSuccess": {
            "MD5OfMessageBody": "9dd4e461268c8034f5c8564e155c67a6",
            "MessageId": "<MessageId>",
        }
    }
    note = "moto takes a MessageDeduplicationId on a standard queue"
    return [
        c.differs(sent, aws=REFUSED, moto=moto, source=DOCS + "API_SendMessage.html", note=note)
    ]


# After every case is registered.
@pytest.mark.parametrize("name", suite.params())
def test_sqs_case(name: str, backends: tuple[h.Backend, h.Backend]) -> None:
    sluiceway, moto = h.run(suite, name, *backends)
    assert sluiceway == moto
