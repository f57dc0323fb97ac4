"""IAM derived from the graph: the same grants the local engine enforces, as policies.

A function's role allows exactly the actions of `permissions.grants_for(function)` (its event
source's needs, a stream mapping's failure destination included, plus its ``uses=``), each on
the ARN of the one resource it names, built with intrinsics. A route's role allows only what
the route's integration does: send to its queue, or put an item into its table. Texting a
phone number (``uses=[app.sms.sends]``) is the one grant on ``"Resource": "*"``: SNS has no
resource for a number. CloudWatch Logs come from the one managed policy allowed,
``AWSLambdaBasicExecutionRole``. Who may invoke a function (SNS, API Gateway) is the
function's resource policy, scoped to the one topic or route (`template`).

Roles are rendered here rather than left to SAM, because SAM would attach its event-source
managed policies (``AWSLambdaSQSQueueExecutionRole``, ``AWSLambdaDynamoDBExecutionRole``),
whose statements apply to ``"Resource": "*"``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, assert_never

from sluiceway import permissions
from sluiceway.aws import names
from sluiceway.aws.cfn import POLICY_VERSION, get_att, ref, sub
from sluiceway.permissions import ResourceKind
from sluiceway.specs import FunctionSpec, QueueTarget, RouteSpec, TableTarget

BASIC_EXECUTION_POLICY = sub(
    "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
)
# ListStreams names a table, not a stream: IAM evaluates it against the table's streams
# (``table/<name>/stream/*``), as AWS's own stream policies write it. The other stream
# actions get the exact stream ARN.
STREAM_LISTING_ACTIONS = frozenset({"dynamodb:ListStreams"})


def route_grants(route: RouteSpec) -> tuple[permissions.Grant, ...]:
    """What a route's integration does on the caller's behalf: one SendMessage to its queue,
    or one PutItem into its table (the actions the local engine checks for `send_message`
    and `put_item`)."""
    target = route.target
    match target:
        case QueueTarget():
            _, action, _ = permissions.ACTION_OF_METHOD["send_message"]
            return (permissions.Grant("queue", target.queue, frozenset({action})),)
        case TableTarget():
            _, action, _ = permissions.ACTION_OF_METHOD["put_item"]
            return (permissions.Grant("table", target.table, frozenset({action})),)
        case _:
            assert_never(target)


def function_grants(function: FunctionSpec) -> tuple[permissions.Grant, ...]:
    """What a function's role allows: `permissions.grants_for(function)`, nothing else (its
    event source's reads and failure destination, and its ``uses=``)."""
    return permissions.grants_for(function)


def function_role(function: FunctionSpec) -> dict[str, Any]:
    """The execution role of one function."""
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": f"Runs {function.name}: exactly what its event source and uses= need",
            "AssumeRolePolicyDocument": trust("lambda.amazonaws.com"),
            "ManagedPolicyArns": [BASIC_EXECUTION_POLICY],
            "Policies": [
                {
                    "PolicyName": "sluiceway-grants",
                    "PolicyDocument": document(function_grants(function)),
                }
            ],
        },
    }


def route_role(route: RouteSpec) -> dict[str, Any]:
    """The role API Gateway assumes to call SQS or DynamoDB for one route."""
    does = "put the request on its queue"
    if isinstance(route.target, TableTarget):
        does = "put the request body into its table"
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": f"Lets {route.method} {route.path} {does}",
            "AssumeRolePolicyDocument": trust("apigateway.amazonaws.com"),
            "Policies": [
                {"PolicyName": "sluiceway-route", "PolicyDocument": document(route_grants(route))}
            ],
        },
    }


def trust(service: str) -> dict[str, Any]:
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        ],
    }


def document(grants: Iterable[permissions.Grant]) -> dict[str, Any]:
    return {"Version": POLICY_VERSION, "Statement": statements(grants)}


def statements(grants: Iterable[permissions.Grant]) -> list[dict[str, Any]]:
    """One statement per granted resource, its actions sorted (stream listing apart)."""
    out: list[dict[str, Any]] = []
    for grant in grants:
        sid = names.resource_id(f"{grant.kind}-{grant.name}")
        main = grant.actions - STREAM_LISTING_ACTIONS if grant.kind == "stream" else grant.actions
        if main:
            out.append(_allow(sid, main, arn(grant.kind, grant.name)))
        if grant.kind == "stream" and grant.actions & STREAM_LISTING_ACTIONS:
            out.append(
                _allow(
                    f"{sid}Listing",
                    grant.actions & STREAM_LISTING_ACTIONS,
                    sub(f"${{{names.resource_id(grant.name)}.Arn}}/stream/*"),
                )
            )
    return out


def _allow(sid: str, actions: Iterable[str], resource: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resource}


def arn(kind: ResourceKind, name: str) -> Any:
    """The ARN of one declared resource, as an intrinsic."""
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
            return "*"  # SNS knows no resource for a phone number
        case _:
            assert_never(kind)
