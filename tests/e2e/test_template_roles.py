"""A template function's execution role is its grants: a boto3 call the role allows works, one
it does not fails with AccessDenied naming the action, as IAM would answer it on AWS."""

from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent

import boto3
import pytest
from runtime import RuntimeProcess

from sluiceway.core.wire.credentials import Keyring

pytestmark = pytest.mark.slow

HANDLER = """
import json, os
import boto3
from botocore.exceptions import ClientError

sqs = boto3.client("sqs")


def handler(event, context):
    for record in event["Records"]:
        try:
            sqs.send_message(QueueUrl=os.environ["FORBIDDEN"], MessageBody="x")
            outcome = {"sent": True}
        except ClientError as error:
            outcome = error.response["Error"]
        sqs.send_message(QueueUrl=os.environ["OUT"], MessageBody=json.dumps(outcome))
"""

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  In:
    Type: AWS::SQS::Queue
  Out:
    Type: AWS::SQS::Queue
  Forbidden:
    Type: AWS::SQS::Queue
  Relay:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: relay.handler
      Runtime: python3.12
      Environment:
        Variables:
          OUT: !Ref Out
          FORBIDDEN: !Ref Forbidden
      Policies:
        - SQSSendMessagePolicy:
            QueueName: !GetAtt Out.QueueName
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt In.Arn
"""


def test_a_call_outside_the_role_is_denied_naming_the_action(tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "src").mkdir(parents=True)
    (app / "src" / "relay.py").write_text(HANDLER)
    (app / "template.yaml").write_text(dedent(TEMPLATE))
    data = tmp_path / "data"
    runtime = RuntimeProcess(data, [str(app), "--stack-name", "roles"]).start(timeout=60)
    try:
        admin = Keyring.load(data / "keys").admin
        sqs = boto3.client(
            "sqs",
            endpoint_url=runtime.url,
            region_name="us-east-1",
            aws_access_key_id=admin.access_key,
            aws_secret_access_key=admin.secret_key,
        )
        inbox = sqs.get_queue_url(QueueName="roles-In")["QueueUrl"]
        outbox = sqs.get_queue_url(QueueName="roles-Out")["QueueUrl"]
        sqs.send_message(QueueUrl=inbox, MessageBody="go")
        got = sqs.receive_message(QueueUrl=outbox, WaitTimeSeconds=20)["Messages"]
        error = json.loads(got[0]["Body"])
        assert error["Code"] == "AccessDenied"
        assert "is not authorized to perform: sqs:SendMessage" in error["Message"]
        assert "roles-Forbidden" in error["Message"]
        forbidden = sqs.get_queue_url(QueueName="roles-Forbidden")["QueueUrl"]
        assert "Messages" not in sqs.receive_message(QueueUrl=forbidden, WaitTimeSeconds=0)
    finally:
        assert runtime.stop() == 0
