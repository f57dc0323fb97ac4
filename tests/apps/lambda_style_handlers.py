"""Handler code written for Lambda, unchanged: boto3 clients made when the module is
imported (with no region, endpoint or credentials set by anyone but the runtime)."""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.exceptions import ClientError

sqs = boto3.client("sqs")


def relay(event: dict[str, Any], context: Any) -> None:
    """Forward each message to the queue its body names; a refusal is forwarded as such."""
    for record in event["Records"]:
        order = json.loads(record["body"])
        url = sqs.get_queue_url(QueueName="outbox")["QueueUrl"]
        try:
            target = sqs.get_queue_url(QueueName=order["to"])["QueueUrl"]
            sqs.send_message(QueueUrl=target, MessageBody=order["text"])
        except ClientError as error:
            refused = error.response["Error"]
            sqs.send_message(QueueUrl=url, MessageBody=f"refused: {refused['Code']}")
