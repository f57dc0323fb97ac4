"""The protocol layer as a client meets it: a boto3 call reaches the operation, signatures
and credentials are checked, and errors come back as AWS's."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import ServeFactory
from sluiceway import App


def _app() -> App:
    app = App("wire")
    app.queue("orders")
    return app


def test_a_boto3_call_reaches_the_queue(serve: ServeFactory) -> None:
    wire = serve(_app())
    sqs = wire.client("sqs")
    url = sqs.get_queue_url(QueueName="orders")["QueueUrl"]
    assert url == f"{wire.url}/000000000000/orders"
    sent = sqs.send_message(QueueUrl=url, MessageBody="hello")
    assert len(sent["MessageId"]) == 36


def test_an_unknown_queue_is_aws_s_error(serve: ServeFactory) -> None:
    sqs = serve(_app()).client("sqs")
    with pytest.raises(ClientError) as raised:
        sqs.get_queue_url(QueueName="nope")
    error: Any = raised.value.response
    assert error["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
