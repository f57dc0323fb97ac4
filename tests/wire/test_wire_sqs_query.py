"""SQS's query protocol, as older SDKs speak it: form-encoded, SigV4-signed POSTs with an
``Action``, answered in XML (`<ErrorResponse>` for errors)."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlencode

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import ServeFactory
from sluiceway import App
from sluiceway.core.events import md5_of_message_attributes

NS = {"q": "http://queue.amazonaws.com/doc/2012-11-05/"}


def _app() -> App:
    app = App("wire")
    app.queue("orders")
    return app


def _query(wire: Any, params: dict[str, str]) -> tuple[int, ET.Element]:
    """POST `params` (plus the Version) signed as the admin; the status and the XML."""
    keys = wire.engine.keyring.admin
    body = urlencode({**params, "Version": "2012-11-05"})
    request = AWSRequest(
        method="POST",
        url=f"{wire.url}/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    credentials = Credentials(keys.access_key, keys.secret_key, keys.session_token)
    SigV4Auth(credentials, "sqs", "us-east-1").add_auth(request)
    raw = urllib.request.Request(
        request.url, data=body.encode(), headers=dict(request.headers.items()), method="POST"
    )
    try:
        with urllib.request.urlopen(raw, timeout=30) as answer:
            return answer.status, ET.fromstring(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, ET.fromstring(error.read())


def _text(root: ET.Element, path: str) -> str:
    found = root.find(path, NS)
    assert found is not None, f"{path} not in {ET.tostring(root)!r}"
    return found.text or ""


def test_send_receive_and_delete_over_the_query_protocol(serve: ServeFactory) -> None:
    wire = serve(_app())
    url = f"{wire.url}/000000000000/orders"
    status, sent = _query(
        wire,
        {
            "Action": "SendMessage",
            "QueueUrl": url,
            "MessageBody": "hello",
            "MessageAttribute.1.Name": "colour",
            "MessageAttribute.1.Value.DataType": "String",
            "MessageAttribute.1.Value.StringValue": "blue",
        },
    )
    assert status == 200
    assert sent.tag == f"{{{NS['q']}}}SendMessageResponse"
    message_id = _text(sent, "q:SendMessageResult/q:MessageId")
    assert (
        _text(sent, "q:SendMessageResult/q:MD5OfMessageBody") == hashlib.md5(b"hello").hexdigest()
    )
    colour = {"colour": {"DataType": "String", "StringValue": "blue"}}
    assert _text(sent, "q:SendMessageResult/q:MD5OfMessageAttributes") == (
        md5_of_message_attributes(colour)
    )
    assert _text(sent, "q:ResponseMetadata/q:RequestId")

    status, received = _query(
        wire,
        {
            "Action": "ReceiveMessage",
            "QueueUrl": url,
            "AttributeName.1": "All",
            "MessageAttributeName.1": "All",
            "MaxNumberOfMessages": "5",
        },
    )
    assert status == 200
    (message,) = received.findall("q:ReceiveMessageResult/q:Message", NS)
    assert _text(message, "q:MessageId") == message_id
    assert _text(message, "q:Body") == "hello"
    attributes = {
        _text(a, "q:Name"): _text(a, "q:Value") for a in message.findall("q:Attribute", NS)
    }
    assert attributes["ApproximateReceiveCount"] == "1"
    (attribute,) = message.findall("q:MessageAttribute", NS)
    assert _text(attribute, "q:Name") == "colour"
    assert _text(attribute, "q:Value/q:StringValue") == "blue"
    assert _text(attribute, "q:Value/q:DataType") == "String"
    receipt = _text(message, "q:ReceiptHandle")

    status, deleted = _query(
        wire, {"Action": "DeleteMessage", "QueueUrl": url, "ReceiptHandle": receipt}
    )
    assert status == 200
    assert deleted.tag == f"{{{NS['q']}}}DeleteMessageResponse"
    count = wire.engine.store.reader().execute("SELECT COUNT(*) FROM messages").fetchone()[0]
    assert count == 0


def test_batches_and_attributes_over_the_query_protocol(serve: ServeFactory) -> None:
    wire = serve(_app())
    url = f"{wire.url}/000000000000/orders"
    status, batch = _query(
        wire,
        {
            "Action": "SendMessageBatch",
            "QueueUrl": url,
            "SendMessageBatchRequestEntry.1.Id": "a",
            "SendMessageBatchRequestEntry.1.MessageBody": "one",
            "SendMessageBatchRequestEntry.2.Id": "b",
            "SendMessageBatchRequestEntry.2.MessageBody": "two",
            "SendMessageBatchRequestEntry.2.DelaySeconds": "901",
        },
    )
    assert status == 200
    result = "q:SendMessageBatchResult"
    (ok,) = batch.findall(f"{result}/q:SendMessageBatchResultEntry", NS)
    assert _text(ok, "q:Id") == "a"
    (failed,) = batch.findall(f"{result}/q:BatchResultErrorEntry", NS)
    assert _text(failed, "q:Id") == "b"
    assert _text(failed, "q:SenderFault") == "true"
    assert _text(failed, "q:Code") == "InvalidParameterValue"

    status, got = _query(
        wire,
        {
            "Action": "GetQueueAttributes",
            "QueueUrl": url,
            "AttributeName.1": "ApproximateNumberOfMessages",
            "AttributeName.2": "VisibilityTimeout",
        },
    )
    assert status == 200
    found = {
        _text(a, "q:Name"): _text(a, "q:Value")
        for a in got.findall("q:GetQueueAttributesResult/q:Attribute", NS)
    }
    assert found == {"ApproximateNumberOfMessages": "1", "VisibilityTimeout": "30"}

    status, _ = _query(
        wire,
        {
            "Action": "CreateQueue",
            "QueueName": "made",
            "Attribute.1.Name": "DelaySeconds",
            "Attribute.1.Value": "7",
            "Tag.1.Key": "team",
            "Tag.1.Value": "a",
        },
    )
    assert status == 200
    made = f"{wire.url}/000000000000/made"
    _, listed = _query(wire, {"Action": "ListQueueTags", "QueueUrl": made})
    (tag,) = listed.findall("q:ListQueueTagsResult/q:Tag", NS)
    assert (_text(tag, "q:Key"), _text(tag, "q:Value")) == ("team", "a")
    _, urls = _query(wire, {"Action": "ListQueues"})
    assert [u.text for u in urls.findall("q:ListQueuesResult/q:QueueUrl", NS)] == [made, url]
    sqs = wire.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=made, AttributeNames=["DelaySeconds"])
    assert attributes["Attributes"] == {"DelaySeconds": "7"}


def test_query_errors_are_error_responses_with_the_query_codes(serve: ServeFactory) -> None:
    wire = serve(_app())
    status, error = _query(
        wire,
        {
            "Action": "SendMessage",
            "QueueUrl": f"{wire.url}/000000000000/nope",
            "MessageBody": "x",
        },
    )
    assert status == 400
    assert error.tag == "ErrorResponse"
    assert error.findtext("Error/Code") == "AWS.SimpleQueueService.NonExistentQueue"
    assert error.findtext("Error/Type") == "Sender"
    assert error.findtext("RequestId")
    status, error = _query(
        wire, {"Action": "SendMessage", "QueueUrl": f"{wire.url}/000000000000/orders"}
    )
    assert status == 400
    assert error.findtext("Error/Code") == "MissingParameter"
    status, error = _query(
        wire,
        {
            "Action": "DeleteMessage",
            "QueueUrl": f"{wire.url}/000000000000/orders",
            "ReceiptHandle": "garbage",
        },
    )
    assert error.findtext("Error/Code") == "ReceiptHandleIsInvalid"
    status, error = _query(
        wire, {"Action": "SendMessageBatch", "QueueUrl": f"{wire.url}/000000000000/orders"}
    )
    assert error.findtext("Error/Code") == "AWS.SimpleQueueService.EmptyBatchRequest"
    status, error = _query(wire, {"Action": "Frobnicate"})
    assert status == 400
    assert error.findtext("Error/Code") == "InvalidAction"
    count = wire.engine.store.reader().execute("SELECT COUNT(*) FROM messages").fetchone()[0]
    assert count == 0
