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

from sluiceway.cognito.clients import declared_client_id
from sluiceway.cognito.identity import pool_id
from sluiceway.core import naming
from sluiceway.core.ids import short_id
from sluiceway.templates.errors import TemplateError


@dataclass(frozen=True)
class Physical:
    """A resource as the stack names it: its type, logical id and physical name (and the
    app's name, which a user pool's id and an app client's derive from)."""

    type: str
    logical: str
    name: str
    scope: str = "REGIONAL"  # a web ACL's or IP set's Scope (REGIONAL or CLOUDFRONT)
    app: str = ""


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
            return f"{name}|{waf_id(resource)}|{resource.scope}"
        case "AWS::ApiGateway::Stage" | "AWS::ApiGatewayV2::Stage":
            return name
        case "AWS::Cognito::UserPool":
            # The id the runtime's issuer names (`Identity.issuer`), so issuers match.
            return pool_id(resource.app, name, r)
        case "AWS::Cognito::UserPoolClient":
            # The id the engine gives the declared client (`templates.identity`).
            return declared_client_id(resource.app, "template", resource.logical)
        case "AWS::ApiGateway::RestApi" | "AWS::ApiGatewayV2::Api" | "AWS::ApiGateway::Resource":
            return short_id(resource.logical)
        case "AWS::Lambda::EventSourceMapping":  # a mapping's UUID
            return str(uuid.UUID(hashlib.sha256(resource.logical.encode()).hexdigest()[:32]))
        case _:
            return name


def waf_id(resource: Physical) -> str:
    """A web ACL's or IP set's Id: a UUID's shape, stable for the logical id."""
    h = short_id("wafv2", resource.logical, length=32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def waf_arn(region: naming.Region, resource: Physical) -> str:
    """``arn:aws:wafv2:<region>:<account>:regional/webacl/<name>/<id>`` (``global`` and
    us-east-1 for CLOUDFRONT; ``ipset`` for an IP set)."""
    kind = "webacl" if resource.type == "AWS::WAFv2::WebACL" else "ipset"
    where, place = (
        ("global", "us-east-1") if resource.scope == "CLOUDFRONT" else ("regional", region.region)
    )
    return (
        f"arn:aws:wafv2:{place}:{region.account_id}:{where}/{kind}/{resource.name}/"
        f"{waf_id(resource)}"
    )


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
    "AWS::Cognito::UserPoolClient": {
        "ClientId": lambda g, p: ref(g, p),
        "Name": lambda g, p: p.name,
    },
    "AWS::Pipes::Pipe": {"Arn": lambda g, p: naming.pipe_arn(g, p.name)},
    "AWS::WAFv2::WebACL": {
        "Arn": waf_arn,
        "Id": lambda g, p: waf_id(p),
        "LabelNamespace": lambda g, p: f"awswaf:{g.account_id}:webacl:{p.name}:",
    },
    "AWS::WAFv2::IPSet": {"Arn": waf_arn, "Id": lambda g, p: waf_id(p)},
    "AWS::IoT::TopicRule": {
        "Arn": lambda g, p: f"arn:aws:iot:{g.region}:{g.account_id}:rule/{p.name}"
    },
}


def attribute(region: naming.Region, resource: Physical, name: str) -> str | None:
    """`resource`'s attribute `name`, or None when the type has no such attribute locally
    (the caller falls back to an ARN of AWS's shape for types sluiceway only lists)."""
    if resource.type == "AWS::Cognito::UserPoolClient" and name == "ClientSecret":
        raise TemplateError(
            f"Fn::GetAtt {resource.logical}.ClientSecret",
            "a client's secret is made by the runtime in its data directory, after the "
            "template is read, so the template cannot hand it on",
            f"read it with `sluiceway clients secret {ref(region, resource)}` "
            "(or `sluiceway clients list`) and give it to the caller yourself",
        )
    found = _ATTRIBUTES.get(resource.type, {}).get(name)
    if found is not None:
        return found(region, resource)
    if name == "Arn":
        service = resource.type.split("::")[1].lower() if "::" in resource.type else "aws"
        return f"arn:aws:{service}:{region.region}:{region.account_id}:{resource.name}"
    return None
