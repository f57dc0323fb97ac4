"""What the AWS-target tests share: the SAM transform offline, the rendered stack deployed to
moto, Lambda's event source mappings and the stack's pipes played against moto with the local
engine's event builders and pattern matcher, invoking the real shim, the stack's edge (user
pools, the API's stage and authorizers, the web ACL and its association) made through the
service APIs moto has, and a table route's mapping templates played in Python."""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import boto3
from cfnlint.api import ManualArgs, lint
from moto import mock_aws
from samtranslator.translator.transform import transform

from sluiceway import App
from sluiceway.aws import shim
from sluiceway.aws.adapters import from_boto3
from sluiceway.core import events
from sluiceway.patterns import FilterSet, compile_filters, esm_view_of_sqs_record

REGION = "us-east-1"
ACCOUNT = "123456789012"
BASIC_EXECUTION_ROLE = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
# moto routes DynamoDB Streams only on the regional endpoint, not botocore's newer
# account-based one.
STREAMS_ENDPOINT = f"https://streams.dynamodb.{REGION}.amazonaws.com"
# What CloudFormation can hold that moto's CloudFormation creates; the rest is played here.
DATA_TYPES = frozenset({"AWS::SQS::Queue", "AWS::DynamoDB::Table", "AWS::SNS::Topic"})
PSEUDO_PARAMETERS = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}
_SUBSTITUTION = re.compile(r"\$\{([^}!][^}]*)\}")


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
    # The template's parameters: their defaults, and the values a test deploys with.
    parameters: dict[str, str] = field(default_factory=dict)
    # Attributes (Fn::GetAtt) of what the tests make through the service APIs.
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)

    @classmethod
    def deploy(
        cls,
        template: dict[str, Any],
        name: str = "sluiceway-test",
        parameters: dict[str, str] | None = None,
    ) -> Stack:
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
        defaults = {k: p["Default"] for k, p in data["Parameters"].items() if "Default" in p}
        stack.parameters = {**defaults, **(parameters or {})}
        return stack

    def resolve(self, value: Any) -> Any:
        """A property value with its intrinsics resolved as CloudFormation would."""
        if isinstance(value, dict) and value.keys() == {"Ref"}:
            name = value["Ref"]
            if name in PSEUDO_PARAMETERS:
                return PSEUDO_PARAMETERS[name]
            return self.parameters[name] if name in self.parameters else self.physical[name]
        if isinstance(value, dict) and value.keys() == {"Fn::Sub"}:
            return _SUBSTITUTION.sub(
                lambda m: self._substitute(m.group(1)), value["Fn::Sub"]
            ).replace("${!", "${")
        if isinstance(value, dict) and value.keys() == {"Fn::GetAtt"}:
            logical, attribute = value["Fn::GetAtt"]
            if (logical, attribute) in self.attributes:
                return self.attributes[logical, attribute]
            kind = self.template["Resources"][logical]["Type"]
            if (kind, attribute) == ("AWS::Lambda::Function", "Arn"):
                # No function runs in moto (FakeLambda plays them): the ARN it would have.
                name = self.template["Resources"][logical]["Properties"]["FunctionName"]
                return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
            if (kind, attribute) == ("AWS::IAM::Role", "Arn"):
                return boto3.client("iam").get_role(RoleName=self.physical[logical])["Role"]["Arn"]
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

    def _substitute(self, name: str) -> str:
        """One ``${...}`` of an Fn::Sub: a Ref, or a GetAtt when it holds a dot."""
        if "." in name and not name.startswith("AWS::"):
            logical, attribute = name.split(".", 1)
            return str(self.resolve({"Fn::GetAtt": [logical, attribute]}))
        return str(self.resolve({"Ref": name}))

    def resolve_all(self, value: Any) -> Any:
        """`resolve` applied to every intrinsic in a nested property value."""
        if (
            isinstance(value, dict)
            and len(value) == 1
            and next(iter(value)).startswith(("Ref", "Fn::"))
        ):
            return self.resolve(value)
        if isinstance(value, dict):
            return {k: self.resolve_all(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve_all(v) for v in value]
        return value

    def create_pipes(self) -> list[dict[str, Any]]:
        """Each pipe of the template created through moto's Pipes API (moto's CloudFormation
        knows no ``AWS::Pipes::Pipe``), after its role (its trust policy only: moto enforces
        no IAM); returns each pipe as the Pipes API describes it."""
        pipes = boto3.client("pipes")
        described = []
        for resource in self.template["Resources"].values():
            if resource["Type"] != "AWS::Pipes::Pipe":
                continue
            properties = resource["Properties"]
            (role, _) = properties["RoleArn"]["Fn::GetAtt"]
            trust = self.template["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]
            boto3.client("iam").create_role(
                RoleName=role, AssumeRolePolicyDocument=json.dumps(self.resolve_all(trust))
            )
            self.physical[role] = role
            pipes.create_pipe(**self.resolve_all(properties))
            described.append(pipes.describe_pipe(Name=properties["Name"]))
        return described

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        """The template's resources of one type: logical ID -> properties."""
        return {
            logical: resource["Properties"]
            for logical, resource in self.template["Resources"].items()
            if resource["Type"] == kind
        }

    def create_user_pools(self) -> None:
        """Each user pool of the template, its domain and its resource servers, made through
        the Cognito API as CloudFormation would (moto's CloudFormation knows none of them)."""
        idp = boto3.client("cognito-idp")
        for logical, properties in self.of_type("AWS::Cognito::UserPool").items():
            created = idp.create_user_pool(
                PoolName=properties["UserPoolName"],
                AdminCreateUserConfig=properties["AdminCreateUserConfig"],
            )["UserPool"]
            self.physical[logical] = created["Id"]
            self.attributes[logical, "Arn"] = created["Arn"]
        for logical, properties in self.of_type("AWS::Cognito::UserPoolDomain").items():
            resolved = self.resolve_all(properties)
            idp.create_user_pool_domain(**resolved)
            self.physical[logical] = resolved["Domain"]
        for logical, properties in self.of_type("AWS::Cognito::UserPoolResourceServer").items():
            resolved = self.resolve_all(properties)
            idp.create_resource_server(**resolved)
            self.physical[logical] = resolved["Identifier"]

    def create_api(self) -> None:
        """The REST API's paths and methods, its Cognito authorizers and each method's
        authorization (type, authorizer, scopes) as API Gateway imports them from the OpenAPI
        definition, and its stage, through the API Gateway API. Integrations are left out:
        moto plays none of them (the route tests play their templates)."""
        apigw = boto3.client("apigateway")
        for logical, properties in self.of_type("AWS::ApiGateway::RestApi").items():
            body = properties["Body"]
            api = apigw.create_rest_api(name=properties["Name"])["id"]
            self.physical[logical] = api
            bare = {
                path: {
                    method: {"responses": operation["responses"]}
                    for method, operation in item.items()
                }
                for path, item in body["paths"].items()
            }
            apigw.put_rest_api(
                restApiId=api,
                mode="overwrite",
                body=json.dumps({"openapi": body["openapi"], "info": body["info"], "paths": bare}),
            )
            authorizers = {
                scheme: apigw.create_authorizer(
                    restApiId=api,
                    name=scheme,
                    type="COGNITO_USER_POOLS",
                    providerARNs=self.resolve_all(
                        spec["x-amazon-apigateway-authorizer"]["providerARNs"]
                    ),
                    identitySource=f"method.request.header.{spec['name']}",
                )["id"]
                for scheme, spec in body["components"].get("securitySchemes", {}).items()
            }
            resources = {r["path"]: r["id"] for r in apigw.get_resources(restApiId=api)["items"]}
            for path, item in body["paths"].items():
                for method, operation in item.items():
                    where = {
                        "restApiId": api,
                        "resourceId": resources[path],
                        "httpMethod": method.upper(),
                    }
                    for requirement in operation.get("security", []):
                        ((scheme, scopes),) = requirement.items()
                        apigw.delete_method(**where)
                        apigw.put_method(
                            **where,
                            authorizationType="COGNITO_USER_POOLS",
                            authorizerId=authorizers[scheme],
                            authorizationScopes=scopes,
                        )
                    apigw.put_integration(**where, type="MOCK")
        for logical, properties in self.of_type("AWS::ApiGateway::Stage").items():
            apigw.create_deployment(
                restApiId=self.resolve(properties["RestApiId"]),
                stageName=properties["StageName"],
            )
            self.physical[logical] = properties["StageName"]  # a stage's Ref is its name

    def create_firewall(self) -> None:
        """The web ACL's IP sets, the web ACL and its association, through the WAFv2 API
        (botocore checks every rule against WAF's API model on the way)."""
        wafv2 = boto3.client("wafv2")
        for logical, properties in self.of_type("AWS::WAFv2::IPSet").items():
            summary = wafv2.create_ip_set(Name=logical, **self.resolve_all(properties))["Summary"]
            self.physical[logical] = summary["Id"]
            self.attributes[logical, "Arn"] = summary["ARN"]
        for logical, properties in self.of_type("AWS::WAFv2::WebACL").items():
            summary = wafv2.create_web_acl(**waf_api_form(self.resolve_all(properties)))["Summary"]
            self.physical[logical] = summary["Id"]
            self.attributes[logical, "Arn"] = summary["ARN"]
        for properties in self.of_type("AWS::WAFv2::WebACLAssociation").values():
            wafv2.associate_web_acl(**self.resolve_all(properties))

    def create_edge(self) -> None:
        """What stands in front of the queues: user pools, the API, the firewall."""
        self.create_user_pools()
        self.create_api()
        self.create_firewall()


def waf_api_form(value: Any) -> Any:
    """A WAFv2 property value as the WAFv2 API spells it: CloudFormation's
    ``IPSetReferenceStatement.Arn`` is the API's ``ARN`` (the one difference a web ACL
    rendered here runs into)."""
    if isinstance(value, list):
        return [waf_api_form(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: waf_api_form(v) for k, v in value.items()}
    reference = out.get("IPSetReferenceStatement")
    if isinstance(reference, dict) and "Arn" in reference:
        reference["ARN"] = reference.pop("Arn")
    return out


class Context:
    """Just enough of Lambda's context object."""

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self.aws_request_id = "fake-request"

    def get_remaining_time_in_millis(self) -> int:
        return 3000


@dataclass
class Reader:
    """What polls one queue or stream for Lambda: an event source mapping, or a pipe. `handle`
    gets the records that pass the filters and returns the ids of those reported failed."""

    source_arn: str
    batch_size: int
    filters: FilterSet
    handle: Callable[[list[dict[str, Any]]], set[str]]
    positions: dict[str, str] = field(default_factory=dict)  # shard -> last sequence number


class FakeLambda:
    """Lambda's side of a deployed stack: each function's environment as the template sets
    it, its event source mapping, and the pipes the Pipes API holds (`Stack.create_pipes`),
    polled against moto. Records are built with the local engine's builders
    (`sluiceway.core.events`), filtered by its pattern matcher, and handed to the real shim."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        resources = stack.template["Resources"]
        self.functions = {
            logical: r["Properties"]
            for logical, r in resources.items()
            if r["Type"] == "AWS::Lambda::Function"
        }
        self.sqs = boto3.client("sqs")
        self.streams = boto3.client("dynamodbstreams", endpoint_url=STREAMS_ENDPOINT)
        self.invocations: list[tuple[str, dict[str, Any], Any]] = []
        self.readers = [
            self._mapping(r["Properties"])
            for r in resources.values()
            if r["Type"] == "AWS::Lambda::EventSourceMapping"
        ]
        pipes = boto3.client("pipes")
        self.readers += [
            self._pipe(pipes.describe_pipe(Name=p["Name"])) for p in pipes.list_pipes()["Pipes"]
        ]

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
        """Poll every reader until none finds work (no sleeping: moto answers at once)."""
        while any([self._poll(reader) for reader in self.readers]):  # noqa: C419 - poll all
            pass

    # -- readers ------------------------------------------------------------------------------

    def _mapping(self, properties: dict[str, Any]) -> Reader:
        """An event source mapping: the function gets ``{"Records": [...]}``."""
        function = properties["FunctionName"]["Ref"]
        reports = "ReportBatchItemFailures" in properties.get("FunctionResponseTypes", [])

        def handle(records: list[dict[str, Any]]) -> set[str]:
            result = self.invoke(function, {"Records": records})
            return failures(result) if reports else set()

        patterns = properties.get("FilterCriteria", {}).get("Filters", [])
        return Reader(
            self.stack.resolve(properties["EventSourceArn"]),
            properties["BatchSize"],
            compile_filters([f["Pattern"] for f in patterns], context="esm"),
            handle,
        )

    def _pipe(self, pipe: dict[str, Any]) -> Reader:
        """A pipe as the Pipes API describes it: the bare array of records, through its
        enrichment if it has one, to its function or queue target."""
        parameters = pipe["SourceParameters"]
        (read,) = [v for k, v in parameters.items() if k != "FilterCriteria"]
        patterns = parameters.get("FilterCriteria", {}).get("Filters", [])
        enrichment = self._function(pipe["Enrichment"]) if pipe.get("Enrichment") else None
        target = pipe["Target"]

        def handle(records: list[dict[str, Any]]) -> set[str]:
            payload: Any = records
            if enrichment is not None:
                payload = self.invoke(enrichment, records)
                if not payload:
                    return set()
            if target.startswith("arn:aws:lambda:"):
                return failures(self.invoke(self._function(target), payload))
            assert target.startswith("arn:aws:sqs:"), f"a pipe to {target} is not played"
            url = self.sqs.get_queue_url(QueueName=target.rsplit(":", 1)[1])["QueueUrl"]
            for item in payload:
                body = item if isinstance(item, str) else json.dumps(item)
                self.sqs.send_message(QueueUrl=url, MessageBody=body)
            return set()

        return Reader(
            pipe["Source"],
            read["BatchSize"],
            compile_filters([f["Pattern"] for f in patterns], context="pipes"),
            handle,
        )

    def _function(self, arn: str) -> str:
        """The logical ID of the function an ARN names."""
        name = arn.rsplit(":", 1)[1]
        (logical,) = [k for k, p in self.functions.items() if p["FunctionName"] == name]
        return logical

    # -- polling ------------------------------------------------------------------------------

    def _poll(self, reader: Reader) -> bool:
        if reader.source_arn.startswith("arn:aws:sqs:"):
            return self._poll_queue(reader)
        return self._poll_stream(reader)

    def _poll_queue(self, reader: Reader) -> bool:
        url = self.sqs.get_queue_url(QueueName=reader.source_arn.rsplit(":", 1)[1])["QueueUrl"]
        messages = self.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(10, reader.batch_size),
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
                queue_arn=reader.source_arn,
                region=REGION,
            )
            for m in messages
        ]
        # A message no filter matches is deleted unseen, as Lambda and Pipes do.
        matching = [r for r in records if reader.filters.matches(esm_view_of_sqs_record(r))]
        failed = reader.handle(matching) if matching else set()
        for message in messages:
            if message["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return True

    def _poll_stream(self, reader: Reader) -> bool:
        description = self.streams.describe_stream(StreamArn=reader.source_arn)
        worked = False
        for shard in description["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            after = reader.positions.get(shard_id)
            iterator = self.streams.get_shard_iterator(
                StreamArn=reader.source_arn,
                ShardId=shard_id,
                **(
                    {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
                    if after
                    else {"ShardIteratorType": "TRIM_HORIZON"}
                ),
            )["ShardIterator"]
            raw = self.streams.get_records(ShardIterator=iterator, Limit=reader.batch_size)[
                "Records"
            ]
            if not raw:
                continue
            worked = True
            records = [self._stream_record(r, reader.source_arn) for r in raw]
            matching = [r for r in records if reader.filters.matches(r)]
            if matching:
                assert not reader.handle(matching), "retries are not played"
            reader.positions[shard_id] = raw[-1]["dynamodb"]["SequenceNumber"]
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


def failures(result: Any) -> set[str]:
    """The ids a function reported failed (``batchItemFailures``)."""
    return {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}


def stream_records(table_name: str) -> list[dict[str, Any]]:
    """The records on a table's stream as the Streams API returns them, oldest first (moto
    keeps one shard per table). moto's UpdateItem writes the bare key before it applies a new
    item's update, so each such write leaves two INSERTs of one key in a row; DynamoDB writes
    one record per write, so the first of the two is left out."""
    arn = boto3.client("dynamodb").describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams", endpoint_url=STREAMS_ENDPOINT)
    (shard,) = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    return [
        record
        for record, following in zip(records, [*records[1:], None], strict=True)
        if not _bare_key_first(record, following)
    ]


def _bare_key_first(record: dict[str, Any], following: dict[str, Any] | None) -> bool:
    return (
        following is not None
        and record["eventName"] == following["eventName"] == "INSERT"
        and record["dynamodb"]["Keys"] == following["dynamodb"]["Keys"]
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


# -- a table route's mapping templates ------------------------------------------------------


# The VTL `table_routes` writes: each construct `play` evaluates, one alternative each.
_VTL = re.compile(
    r"(?P<body>#set\(\$body = \$input\.path\('\$'\)\))"
    r"|#set\(\$(?P<var>\w+) = (?:\"(?P<double>[^\"$]*)\"|'(?P<single>[^']*)')\)"
    r"|#if\((?P<negated>!?)\$body\.containsKey\(\"(?P<key>\w+)\"\)\)"
    r"|#if\(\$(?P<left>\w+) == \"(?P<right>[^\"]*)\"\)"
    r"|(?P<else>#else)"
    r"|(?P<end>#end)"
    r"|\$input\.(?P<function>json|path)\('\$(?P<path>[\w.]*)'\)"
    r"|\$(?P<reference>\w+)"
)


def play(template: str, document: Any) -> str:
    """A request or response template evaluated for one JSON document, as API Gateway would:
    only the constructs `table_routes` writes (``#set($body = $input.path('$'))``, ``#set``
    of a string, ``#if`` on ``$body.containsKey("x")``, its negation or ``$var == "text"``,
    ``#else``, ``#end``, ``$var``, and ``$input.json(path)``/``$input.path(path)`` for
    dotted paths). Anything else left in the output fails the test."""

    def at(path: str) -> Any:
        value = document
        for step in filter(None, path.split(".")):
            value = value[step]
        return value

    variables: dict[str, str] = {}
    out: list[str] = []
    # One entry per open #if: (whether its enclosing text is written, whether it held).
    open_ifs: list[tuple[bool, bool]] = []
    writing, position = True, 0
    for match in _VTL.finditer(template):
        if writing:
            out.append(template[position : match.start()])
        position = match.end()
        found = match.groupdict()
        if found["key"] is not None or found["left"] is not None:
            if found["key"] is not None:
                held = (found["key"] in document) != bool(found["negated"])
            else:
                held = variables[found["left"]] == found["right"]
            open_ifs.append((writing, held))
            writing = writing and held
        elif found["else"] is not None:
            enclosing, held = open_ifs[-1]
            writing = enclosing and not held
        elif found["end"] is not None:
            writing, _ = open_ifs.pop()
        elif not writing or found["body"] is not None:
            continue
        elif found["var"] is not None:
            variables[found["var"]] = found["double"] or found["single"] or ""
        elif found["function"] == "json":
            out.append(json.dumps(at(found["path"])))
        elif found["function"] == "path":
            out.append(str(at(found["path"])))
        else:
            out.append(variables[found["reference"]])
    assert not open_ifs, template
    out.append(template[position:])
    text = "".join(out)
    assert not re.search(r"#(set|if|else|end)\b|\$", text), text
    return text


def the_integration(stack: Stack, app: App) -> dict[str, Any]:
    """The one route's integration as deployed: the SAM translator has made the API a
    RestApi whose Body is the OpenAPI definition."""
    (route,) = app.graph.routes
    definition = stack.template["Resources"][f"{app.name.capitalize()}Api"]["Properties"]["Body"]
    integration: dict[str, Any] = definition["paths"][route.path][route.method.lower()][
        "x-amazon-apigateway-integration"
    ]
    return integration


def write_through_the_template(stack: Stack, app: App, body: dict[str, Any]) -> Any:
    """What the integration does with `body`: the played request template, its table resolved
    as CloudFormation would, sent as an UpdateItem; and what the client is answered, played
    from DynamoDB's answer by the response template."""
    integration = the_integration(stack, app)
    template = integration["requestTemplates"]["application/json"]["Fn::Sub"]
    for logical_id, physical in stack.physical.items():
        template = template.replace(f"${{{logical_id}}}", physical)
    answer = boto3.client("dynamodb").update_item(**json.loads(play(template, body)))
    return json.loads(
        play(integration["responses"]["default"]["responseTemplates"]["application/json"], answer)
    )
