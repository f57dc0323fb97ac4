"""IAM derived from the graph: the same grants the local engine enforces, as policies.

A function's role allows exactly the actions of `permissions.grants_for(function)` (its event
source's needs, a stream mapping's failure destination included, plus its ``uses=``), each on
the ARN of the one resource it names, built with intrinsics. A route's role allows only what
the route's integration does: send to its queue, or update an item of its table. A pipe's
role allows reading its source, invoking its enrichment and target functions, and sending to
its target and dead-letter queue or topic. Texting a phone number (``uses=[app.sms.sends]``)
is the one grant on ``"Resource": "*"``: SNS has no resource for a number. Publishing to IoT
Core (``uses=[iot.publishes]``) names one topic ARN per name or filter the app's
``app.iot(topics=[...])`` allows (`iot_topics`). CloudWatch Logs
come from the one managed policy allowed, ``AWSLambdaBasicExecutionRole``. Who may invoke a
function (SNS, API Gateway) is the function's resource policy, scoped to the one topic or
route (`awslambda.render`); a pipe invokes with its own role, so it needs none.

Roles are rendered here rather than left to SAM, because SAM would attach its event-source
managed policies (``AWSLambdaSQSQueueExecutionRole``, ``AWSLambdaDynamoDBExecutionRole``),
whose statements apply to ``"Resource": "*"``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, assert_never

from sluiceway.apigateway.spec import QueueTarget, RouteSpec, TableTarget
from sluiceway.aws import names
from sluiceway.aws.errors import RenderError
from sluiceway.awslambda import permissions
from sluiceway.awslambda.spec import FunctionSpec, QueueSource, StreamSource
from sluiceway.core.cfn import POLICY_VERSION, get_att, ref, sub
from sluiceway.core.permissions import ACTION_OF_METHOD, Grant, ResourceKind, merge
from sluiceway.core.specs import Destination
from sluiceway.dynamodb.iam import STREAM_READ_ACTIONS
from sluiceway.iot import render as iot_topics
from sluiceway.iot.spec import IotSpec
from sluiceway.pipes.spec import PipeSpec
from sluiceway.sns.iam import TOPIC_PUBLISH_ACTIONS

BASIC_EXECUTION_POLICY = sub(
    "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
)
INDEX_ACTIONS = frozenset({"dynamodb:Query", "dynamodb:Scan"})
# ListStreams names a table, not a stream: IAM evaluates it against the table's streams
# (``table/<name>/stream/*``), as AWS's own stream policies write it. The other stream
# actions get the exact stream ARN.
STREAM_LISTING_ACTIONS = frozenset({"dynamodb:ListStreams"})
# What AWS lists for a pipe's queue source (not ChangeMessageVisibility, which a Lambda
# mapping's role holds).
PIPE_QUEUE_SOURCE_ACTIONS = frozenset(
    {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
)


def route_grants(route: RouteSpec) -> tuple[Grant, ...]:
    """What a route's integration does on the caller's behalf: one SendMessage to its queue
    (the action the local engine checks for `send_message`), or one UpdateItem on its table
    (UpdateItem, not PutItem, so the answer can name the stored key: `table_routes`)."""
    target = route.target
    match target:
        case QueueTarget():
            _, action, _ = ACTION_OF_METHOD["send_message"]
            return (Grant("queue", target.queue, frozenset({action})),)
        case TableTarget():
            return (Grant("table", target.table, frozenset({"dynamodb:UpdateItem"})),)
        case _:
            assert_never(target)


def pipe_grants(pipe: PipeSpec) -> tuple[Grant, ...]:
    """What a pipe does to resources other than functions: read its source, and send to its
    target and dead-letter destination when those are a queue or a topic."""
    source = pipe.source
    grants: list[Grant] = []
    match source:
        case StreamSource():
            grants.append(Grant("stream", source.table, STREAM_READ_ACTIONS))
            if source.on_failure is not None:
                grants.append(delivery_grant(source.on_failure))
        case QueueSource():
            grants.append(Grant("queue", source.queue, PIPE_QUEUE_SOURCE_ACTIONS))
        case _:
            assert_never(source)
    target = pipe.target
    match target.kind:
        case "queue" | "topic":
            grants.append(delivery_grant(Destination(target.kind, target.name)))
        case "function":
            pass  # invoked: `pipe_invokes`
        case _:
            assert_never(target.kind)
    return merge(grants)


def pipe_invokes(pipe: PipeSpec) -> tuple[str, ...]:
    """The functions a pipe invokes (its enrichment, its target), each once, sorted."""
    invoked = {pipe.enrichment} if pipe.enrichment is not None else set()
    if pipe.target.kind == "function":
        invoked.add(pipe.target.name)
    return tuple(sorted(invoked))


def delivery_grant(destination: Destination) -> Grant:
    """Sending one message to a queue, or publishing one to a topic."""
    match destination.kind:
        case "queue":
            return Grant("queue", destination.name, frozenset({"sqs:SendMessage"}))
        case "topic":
            return Grant("topic", destination.name, TOPIC_PUBLISH_ACTIONS)
        case _:
            assert_never(destination.kind)


def function_grants(function: FunctionSpec) -> tuple[Grant, ...]:
    """What a function's role allows: `permissions.grants_for(function)`, nothing else (its
    event source's reads and failure destination, and its ``uses=``)."""
    return permissions.grants_for(function)


def function_role(function: FunctionSpec, iot: IotSpec | None = None) -> dict[str, Any]:
    """The execution role of one function; `iot` is the app's IoT declaration, whose topics
    a publishing function's policy names."""
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": f"Runs {function.name}: exactly what its event source and uses= need",
            "AssumeRolePolicyDocument": trust("lambda.amazonaws.com"),
            "ManagedPolicyArns": [BASIC_EXECUTION_POLICY],
            "Policies": [
                {
                    "PolicyName": "sluiceway-grants",
                    "PolicyDocument": document(function_grants(function), iot),
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


def pipe_role(pipe: PipeSpec) -> dict[str, Any]:
    """The execution role EventBridge Pipes assumes to run one pipe."""
    invokes = [
        _allow(
            names.resource_id(f"function-{function}"),
            {"lambda:InvokeFunction"},
            get_att(names.resource_id(function), "Arn"),
        )
        for function in pipe_invokes(pipe)
    ]
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": f"Runs pipe {pipe.name}: reads its source, calls what it delivers to",
            "AssumeRolePolicyDocument": trust("pipes.amazonaws.com", this_account_only=True),
            "Policies": [
                {
                    "PolicyName": "sluiceway-pipe",
                    "PolicyDocument": {
                        "Version": POLICY_VERSION,
                        "Statement": statements(pipe_grants(pipe)) + invokes,
                    },
                }
            ],
        },
    }


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


def document(grants: Iterable[Grant], iot: IotSpec | None = None) -> dict[str, Any]:
    return {"Version": POLICY_VERSION, "Statement": statements(grants, iot)}


def statements(grants: Iterable[Grant], iot: IotSpec | None = None) -> list[dict[str, Any]]:
    """One statement per granted resource, its actions sorted (stream listing apart); an
    IoT grant's statement names every topic `iot` allows."""
    out: list[dict[str, Any]] = []
    for grant in grants:
        sid = names.resource_id(f"{grant.kind}-{grant.name}")
        if grant.kind == "iot":
            out.append(_allow("IotTopics", grant.actions, iot_resources(iot)))
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
            out.append(_allow(sid, main, arn(grant.kind, grant.name)))
        if grant.kind == "table" and grant.actions & INDEX_ACTIONS:
            # A query or scan of a secondary index is authorized against the index's ARN.
            out.append(
                _allow(
                    f"{sid}Indexes",
                    grant.actions & INDEX_ACTIONS,
                    sub(f"${{{names.resource_id(grant.name)}.Arn}}/index/*"),
                )
            )
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


def iot_resources(iot: IotSpec | None) -> list[Any]:
    """The topic ARNs an ``iot:Publish`` statement names: exactly the declared allowlist."""
    if iot is None:
        raise RenderError(
            "a function publishes to IoT Core but the app declares no app.iot(topics=[...]); "
            "declare the topics it may publish to"
        )
    return iot_topics.topic_arns(iot)


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
                "app's app.iot(topics=[...]) (iam.iot_resources)"
            )
        case _:
            assert_never(kind)
