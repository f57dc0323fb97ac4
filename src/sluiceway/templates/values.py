"""What ``Ref`` and ``Fn::GetAtt`` give for each resource type, locally.

The values have AWS's shapes (an SQS queue's Ref is its URL, a topic's is its ARN, a table's its
name), on the account and region the runtime runs as, so that handler code reading them from
its environment uses them unchanged with boto3. A queue's URL names AWS's host: SQS finds the
queue by the URL's path, and clients send to the runtime (`AWS_ENDPOINT_URL`) all the same.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sluiceway.core import naming


@dataclass(frozen=True)
class Physical:
    """A resource as the stack names it: its type, logical id and physical name."""

    type: str
    logical: str
    name: str


def short_id(*parts: str, length: int = 10) -> str:
    """A stable id of AWS's shape (an API's ``a1b2c3d4e5``) for a resource of this stack."""
    digest = hashlib.sha512("/".join(parts).encode()).hexdigest()  # up to 64 characters
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(alphabet[int(digest[i : i + 2], 16) % 36] for i in range(0, 2 * length, 2))


def ref(region: naming.Region, resource: Physical) -> str:
    r, a, name = region.region, region.account_id, resource.name
    match resource.type:
        case "AWS::SQS::Queue":
            return f"https://sqs.{r}.amazonaws.com/{a}/{name}"
        case "AWS::SNS::Topic":
            return naming.topic_arn(region, name)
        case "AWS::SNS::Subscription":
            return f"{naming.topic_arn(region, name)}:{short_id(resource.logical, length=8)}"
        case "AWS::Logs::LogGroup" | "AWS::DynamoDB::Table" | "AWS::Lambda::Function":
            return name
        case "AWS::WAFv2::WebACL" | "AWS::WAFv2::IPSet":
            return f"{name}|{short_id(resource.logical, length=12)}|REGIONAL"
        case "AWS::Cognito::UserPool":
            return f"{r}_{short_id(resource.logical, length=9)}"
        case "AWS::Cognito::UserPoolClient":
            return short_id(resource.logical, length=26)
        case "AWS::ApiGateway::RestApi" | "AWS::ApiGatewayV2::Api" | "AWS::ApiGateway::Resource":
            return short_id(resource.logical)
        case "AWS::Lambda::EventSourceMapping":  # a mapping's UUID
            return str(uuid.UUID(hashlib.sha256(resource.logical.encode()).hexdigest()[:32]))
        case _:
            return name


def _role_arn(region: naming.Region, name: str) -> str:
    return f"arn:aws:iam::{region.account_id}:role/{name}"


_ATTRIBUTES: dict[str, dict[str, Callable[[naming.Region, Physical], str]]] = {
    "AWS::SQS::Queue": {
        "Arn": lambda g, p: naming.queue_arn(g, p.name),
        "QueueName": lambda g, p: p.name,
        "QueueUrl": lambda g, p: ref(g, p),
    },
    "AWS::DynamoDB::Table": {
        "Arn": lambda g, p: naming.table_arn(g, p.name),
        "StreamArn": lambda g, p: naming.stream_arn(g, p.name, "local"),
    },
    "AWS::SNS::Topic": {
        "TopicArn": lambda g, p: naming.topic_arn(g, p.name),
        "TopicName": lambda g, p: p.name,
    },
    "AWS::Lambda::Function": {"Arn": lambda g, p: naming.function_arn(g, p.name)},
    "AWS::Lambda::CapacityProvider": {
        "Arn": lambda g, p: f"arn:aws:lambda:{g.region}:{g.account_id}:capacity-provider:{p.name}"
    },
    "AWS::IAM::Role": {
        "Arn": lambda g, p: _role_arn(g, p.name),
        "RoleId": lambda g, p: "AROA" + short_id(p.logical, length=17).upper(),
    },
    "AWS::ApiGateway::RestApi": {
        "RootResourceId": lambda g, p: short_id(p.logical, "/"),
        "RestApiId": lambda g, p: ref(g, p),
    },
    "AWS::ApiGatewayV2::Api": {
        "ApiEndpoint": lambda g, p: f"https://{ref(g, p)}.execute-api.{g.region}.amazonaws.com",
        "ApiId": lambda g, p: ref(g, p),
    },
    "AWS::Cognito::UserPool": {
        "Arn": lambda g, p: f"arn:aws:cognito-idp:{g.region}:{g.account_id}:userpool/{ref(g, p)}",
        "ProviderName": lambda g, p: f"cognito-idp.{g.region}.amazonaws.com/{ref(g, p)}",
        "ProviderURL": lambda g, p: f"https://cognito-idp.{g.region}.amazonaws.com/{ref(g, p)}",
        "UserPoolId": lambda g, p: ref(g, p),
    },
    "AWS::Cognito::UserPoolClient": {"ClientId": lambda g, p: ref(g, p)},
    "AWS::Pipes::Pipe": {"Arn": lambda g, p: naming.pipe_arn(g, p.name)},
    "AWS::IoT::TopicRule": {
        "Arn": lambda g, p: f"arn:aws:iot:{g.region}:{g.account_id}:rule/{p.name}"
    },
}


def attribute(region: naming.Region, resource: Physical, name: str) -> str | None:
    """`resource`'s attribute `name`, or None when the type has no such attribute locally
    (the caller falls back to an ARN of AWS's shape for types sluiceway only lists)."""
    found = _ATTRIBUTES.get(resource.type, {}).get(name)
    if found is not None:
        return found(region, resource)
    if name == "Arn":
        service = resource.type.split("::")[1].lower() if "::" in resource.type else "aws"
        return f"arn:aws:{service}:{region.region}:{region.account_id}:{resource.name}"
    return None
