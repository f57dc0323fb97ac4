"""What the AWS-target tests share: the SAM transform offline, the rendered stack deployed to
moto, and Lambda's event source mappings played against moto with the local engine's event
builders, invoking the real shim."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import boto3
from cfnlint.api import ManualArgs, lint
from moto import mock_aws
from samtranslator.translator.transform import transform

from sluiceway import events
from sluiceway.aws import shim
from sluiceway.aws.adapters import from_boto3
from sluiceway.patterns import compile_filters

REGION = "us-east-1"
ACCOUNT = "123456789012"
BASIC_EXECUTION_ROLE = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
# moto routes DynamoDB Streams only on the regional endpoint, not botocore's newer
# account-based one.
STREAMS_ENDPOINT = f"https://streams.dynamodb.{REGION}.amazonaws.com"
# What CloudFormation can hold that moto's CloudFormation creates; the rest is played here.
DATA_TYPES = frozenset({"AWS::SQS::Queue", "AWS::DynamoDB::Table", "AWS::SNS::Topic"})


class ManagedPolicies:
    """The SAM translator's managed-policy lookup, offline."""

    def load(self) -> dict[str, str]:
        return {"AWSLambdaBasicExecutionRole": BASIC_EXECUTION_ROLE}


def sam_transform(template: dict[str, Any]) -> dict[str, Any]:
    """The template as CloudFormation receives it after `sam build` and the SAM transform
    (the code URI is an S3 object by then)."""
    packaged = copy.deepcopy(template)
    for resource in packaged["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://sam-artifacts/app.zip"
    with mock.patch.dict(os.environ, {"AWS_DEFAULT_REGION": REGION}):
        return transform(packaged, {}, ManagedPolicies())  # type: ignore[no-any-return]


def findings(text: str) -> list[str]:
    """cfn-lint's errors, warnings and informational findings on a template's text."""
    config = ManualArgs(include_checks=["I"], regions=[REGION])
    return [f"{m.rule.id} {m.message}" for m in lint(text, config=config)]


@contextmanager
def fake_aws() -> Iterator[None]:
    """moto, with credentials that can reach nothing real, and a fresh shim."""
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }
    with mock.patch.dict(os.environ, env), mock_aws():
        shim.forget()
        try:
            yield
        finally:
            shim.forget()


@dataclass
class Stack:
    """The data resources of a transformed template, created by moto's CloudFormation."""

    template: dict[str, Any]
    physical: dict[str, str] = field(default_factory=dict)

    @classmethod
    def deploy(cls, template: dict[str, Any], name: str = "sluiceway-test") -> Stack:
        data = {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Parameters": template.get("Parameters", {}),
            "Resources": {
                k: v for k, v in template["Resources"].items() if v["Type"] in DATA_TYPES
            },
        }
        cloudformation = boto3.client("cloudformation")
        cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(data))
        resources = cloudformation.describe_stack_resources(StackName=name)["StackResources"]
        stack = cls(template, {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources})
        assert stack.physical.keys() == data["Resources"].keys()
        return stack

    def resolve(self, value: Any) -> Any:
        """A property value with its intrinsics resolved as CloudFormation would."""
        if isinstance(value, dict) and value.keys() == {"Ref"}:
            return self.physical[value["Ref"]]
        if isinstance(value, dict) and value.keys() == {"Fn::GetAtt"}:
            logical, attribute = value["Fn::GetAtt"]
            kind = self.template["Resources"][logical]["Type"]
            if (kind, attribute) == ("AWS::SQS::Queue", "Arn"):
                return boto3.client("sqs").get_queue_attributes(
                    QueueUrl=self.physical[logical], AttributeNames=["QueueArn"]
                )["Attributes"]["QueueArn"]
            table = boto3.client("dynamodb").describe_table(TableName=self.physical[logical])
            if (kind, attribute) == ("AWS::DynamoDB::Table", "StreamArn"):
                return table["Table"]["LatestStreamArn"]
            if (kind, attribute) == ("AWS::DynamoDB::Table", "Arn"):
                return table["Table"]["TableArn"]
        if isinstance(value, str):
            return value
        raise AssertionError(f"cannot resolve {value!r}")


class Context:
    """Just enough of Lambda's context object."""

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self.aws_request_id = "fake-request"

    def get_remaining_time_in_millis(self) -> int:
        return 3000


@dataclass
class Mapping:
    function: str  # logical ID of the AWS::Lambda::Function
    source_arn: str
    properties: dict[str, Any]
    positions: dict[str, str] = field(default_factory=dict)  # shard -> last sequence number


class FakeLambda:
    """Lambda's side of a deployed stack: each function's environment as the template sets
    it, and its event source mapping polled against moto. Records are built with the local
    engine's builders (`sluiceway.events`) and handed to the real shim."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        resources = stack.template["Resources"]
        self.functions = {
            logical: r["Properties"]
            for logical, r in resources.items()
            if r["Type"] == "AWS::Lambda::Function"
        }
        self.mappings = [
            Mapping(
                r["Properties"]["FunctionName"]["Ref"],
                stack.resolve(r["Properties"]["EventSourceArn"]),
                r["Properties"],
            )
            for r in resources.values()
            if r["Type"] == "AWS::Lambda::EventSourceMapping"
        ]
        self.sqs = boto3.client("sqs")
        self.streams = boto3.client("dynamodbstreams", endpoint_url=STREAMS_ENDPOINT)
        self.invocations: list[tuple[str, dict[str, Any], Any]] = []

    def environment(self, function: str) -> dict[str, str]:
        variables = self.functions[function]["Environment"]["Variables"]
        return {name: self.stack.resolve(value) for name, value in variables.items()}

    def invoke(self, function: str, event: Any) -> Any:
        """Call the shim as Lambda would, in the function's environment only."""
        variables = self.environment(function)
        with mock.patch.dict(os.environ, variables):
            for stale in [k for k in os.environ if k.startswith("SLUICEWAY_")]:
                if stale not in variables:
                    del os.environ[stale]
            context = Context(self.functions[function]["FunctionName"])
            result = shim.handler(event, context)
        self.invocations.append((function, event, result))
        return result

    def drain(self) -> None:
        """Poll every mapping until none finds work (no sleeping: moto answers at once)."""
        while any([self._poll(mapping) for mapping in self.mappings]):  # noqa: C419 - poll all
            pass

    def _poll(self, mapping: Mapping) -> bool:
        if mapping.source_arn.startswith("arn:aws:sqs:"):
            return self._poll_queue(mapping)
        return self._poll_stream(mapping)

    def _poll_queue(self, mapping: Mapping) -> bool:
        url = self.sqs.get_queue_url(QueueName=mapping.source_arn.rsplit(":", 1)[1])["QueueUrl"]
        messages = self.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(10, mapping.properties.get("BatchSize", 10)),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return False
        records = [
            events.sqs_record(
                message_id=m["MessageId"],
                receipt_handle=m["ReceiptHandle"],
                body=m["Body"],
                attributes=m["Attributes"],
                message_attributes=m.get("MessageAttributes"),
                queue_arn=mapping.source_arn,
                region=REGION,
            )
            for m in messages
        ]
        result = self.invoke(mapping.function, {"Records": records})
        failed = set()
        if "ReportBatchItemFailures" in mapping.properties.get("FunctionResponseTypes", []):
            failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return True

    def _poll_stream(self, mapping: Mapping) -> bool:
        description = self.streams.describe_stream(StreamArn=mapping.source_arn)
        filters = compile_filters(
            [f["Pattern"] for f in mapping.properties.get("FilterCriteria", {}).get("Filters", [])],
            context="esm",
        )
        worked = False
        for shard in description["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            after = mapping.positions.get(shard_id)
            iterator = self.streams.get_shard_iterator(
                StreamArn=mapping.source_arn,
                ShardId=shard_id,
                **(
                    {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
                    if after
                    else {"ShardIteratorType": "TRIM_HORIZON"}
                ),
            )["ShardIterator"]
            raw = self.streams.get_records(
                ShardIterator=iterator, Limit=mapping.properties["BatchSize"]
            )["Records"]
            if not raw:
                continue
            worked = True
            records = [self._stream_record(r, mapping.source_arn) for r in raw]
            matching = [r for r in records if filters.matches(r)]
            if matching:
                result = self.invoke(mapping.function, {"Records": matching})
                assert not (result or {}).get("batchItemFailures"), "retries are not played"
            mapping.positions[shard_id] = raw[-1]["dynamodb"]["SequenceNumber"]
        return worked

    def _stream_record(self, raw: dict[str, Any], stream_arn: str) -> dict[str, Any]:
        change = raw["dynamodb"]
        return events.dynamodb_record(
            event_id=raw["eventID"],
            event_name=raw["eventName"],
            region=raw["awsRegion"],
            stream_arn=stream_arn,
            created_at=int(change["ApproximateCreationDateTime"].timestamp()),
            keys=from_boto3(change["Keys"]),
            new_image=from_boto3(change["NewImage"]) if "NewImage" in change else None,
            old_image=from_boto3(change["OldImage"]) if "OldImage" in change else None,
            sequence_number=change["SequenceNumber"],
            size_bytes=change["SizeBytes"],
            view_type=change["StreamViewType"],
        )


def observe_topic(topic_arn: str) -> str:
    """Subscribe a fresh queue to a topic (what an email subscription cannot show a test);
    returns the queue's URL."""
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"observer-{topic_arn.rsplit(':', 1)[1]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    boto3.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
    return url


def notifications(observer_url: str) -> list[dict[str, Any]]:
    """The SNS envelopes that reached an observer queue, oldest first."""
    sqs = boto3.client("sqs")
    seen: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=observer_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        if not batch:
            return seen
        for message in batch:
            seen.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=observer_url, ReceiptHandle=message["ReceiptHandle"])
