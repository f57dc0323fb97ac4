"""IAM documents from grants: the same grants the local engine enforces, as policies.

One statement per granted resource, its actions sorted, on the ARN of the one resource it
names, built with intrinsics (`statements`). Texting a phone number (``uses=[app.sms.sends]``)
is the one grant on no named resource: SNS has none for a number, so the statement allows
anything but a topic. Publishing to IoT Core names one topic ARN per name or filter the app's
``app.iot(topics=[...])`` allows (the caller passes them: ``iot.render.topic_arns``). Each
service's render builds the roles of what it runs with these (``awslambda.render`` a
function's, ``apigateway.render`` a route's, ``pipes.render`` a pipe's).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, assert_never

from sluiceway.core.cfn import POLICY_VERSION, get_att, ref, sub
from sluiceway.core.errors import RenderError
from sluiceway.core.permissions import Grant, ResourceKind
from sluiceway.core.render import names

BASIC_EXECUTION_POLICY = sub(
    "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
)
INDEX_ACTIONS = frozenset({"dynamodb:Query", "dynamodb:Scan"})
# ListStreams names a table, not a stream: IAM evaluates it against the table's streams
# (``table/<name>/stream/*``), as AWS's own stream policies write it. The other stream
# actions get the exact stream ARN.
STREAM_LISTING_ACTIONS = frozenset({"dynamodb:ListStreams"})


def trust(service: str, *, this_account_only: bool = False) -> dict[str, Any]:
    """Who may assume a role. `this_account_only` guards a role a service assumes on behalf
    of a resource (a pipe) against the service acting for another account's resource (the
    confused deputy)."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if this_account_only:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}}
    return {"Version": POLICY_VERSION, "Statement": [statement]}


def document(grants: Iterable[Grant], iot_topics: Sequence[Any] | None = None) -> dict[str, Any]:
    return {"Version": POLICY_VERSION, "Statement": statements(grants, iot_topics)}


def statements(grants: Iterable[Grant], iot_topics: Sequence[Any] | None = None) -> list[Any]:
    """One statement per granted resource, its actions sorted (stream listing apart); an
    IoT grant's statement names every topic ARN of `iot_topics` (the app's allowlist)."""
    out: list[dict[str, Any]] = []
    for grant in grants:
        sid = names.resource_id(f"{grant.kind}-{grant.name}")
        if grant.kind == "iot":
            out.append(allow("IotTopics", grant.actions, iot_resources(iot_topics)))
            continue
        if grant.kind == "sms":
            # SNS knows no resource for a phone number, so the grant is "not a topic": a
            # text to any number, never a publish to a topic (the function's own topics
            # have statements of their own; a Deny of topics would override those).
            out.append(
                {
                    "Sid": sid,
                    "Effect": "Allow",
                    "Action": sorted(grant.actions),
                    "NotResource": sub("arn:${AWS::Partition}:sns:*:*:*"),
                }
            )
            continue
        main = grant.actions - STREAM_LISTING_ACTIONS if grant.kind == "stream" else grant.actions
        if main:
            out.append(allow(sid, main, arn(grant.kind, grant.name)))
        if grant.kind == "table" and grant.actions & INDEX_ACTIONS:
            # A query or scan of a secondary index is authorized against the index's ARN.
            out.append(
                allow(
                    f"{sid}Indexes",
                    grant.actions & INDEX_ACTIONS,
                    sub(f"${{{names.resource_id(grant.name)}.Arn}}/index/*"),
                )
            )
        if grant.kind == "stream" and grant.actions & STREAM_LISTING_ACTIONS:
            out.append(
                allow(
                    f"{sid}Listing",
                    grant.actions & STREAM_LISTING_ACTIONS,
                    sub(f"${{{names.resource_id(grant.name)}.Arn}}/stream/*"),
                )
            )
    return out


def allow(sid: str, actions: Iterable[str], resource: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resource}


def iot_resources(iot_topics: Sequence[Any] | None) -> list[Any]:
    """The topic ARNs an ``iot:Publish`` statement names: exactly the declared allowlist."""
    if iot_topics is None:
        raise RenderError(
            "a function publishes to IoT Core but the app declares no app.iot(topics=[...]); "
            "declare the topics it may publish to"
        )
    return list(iot_topics)


def arn(kind: ResourceKind, name: str) -> Any:
    """The ARN of one declared resource, as an intrinsic (IoT topics: `iot_resources`)."""
    logical = names.resource_id(name)
    match kind:
        case "queue":
            return get_att(logical, "Arn")
        case "table":
            return get_att(logical, "Arn")
        case "stream":
            return get_att(logical, "StreamArn")
        case "topic":
            return ref(logical)  # a topic's Ref is its ARN
        case "sms":
            return "*"  # SNS knows no resource for a phone number (`statements` fences it)
        case "iot":
            raise RenderError(
                "IoT topics have no single ARN: the resources of iot:Publish come from the "
                "app's app.iot(topics=[...]) (roles.iot_resources)"
            )
        case _:
            assert_never(kind)
