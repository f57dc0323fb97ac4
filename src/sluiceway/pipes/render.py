"""EventBridge Pipes on AWS: a pipe as an ``AWS::Pipes::Pipe`` reading a queue or a table's
stream, with its enrichment, its target and the role it runs with."""

from __future__ import annotations

from typing import Any, assert_never

from sluiceway.awslambda import render as awslambda
from sluiceway.awslambda.spec import QueueSource, StreamSource
from sluiceway.core.cfn import POLICY_VERSION, get_att
from sluiceway.core.permissions import Grant, merge
from sluiceway.core.render import names
from sluiceway.core.render.checks import RenderedFields, check_rendered, described
from sluiceway.core.render.fragment import Fragment
from sluiceway.core.render.roles import allow, arn, statements, trust
from sluiceway.core.specs import Destination
from sluiceway.dynamodb.iam import STREAM_READ_ACTIONS
from sluiceway.pipes.spec import PipeSpec, PipeTarget
from sluiceway.sns.iam import TOPIC_PUBLISH_ACTIONS

RENDERED_FIELDS: RenderedFields = {
    PipeSpec: frozenset({"name", "source", "target", "enrichment"}),
    PipeTarget: frozenset({"kind", "name"}),
    Destination: frozenset({"kind", "name"}),
}
# A pipe's source, checked against these: a Lambda mapping's, less what Pipes lacks. It always
# reads a function target's ``batchItemFailures`` (so report_batch_item_failures must stay
# True), and knows no tumbling window or maximum concurrency.
PIPE_SOURCE_FIELDS: RenderedFields = {
    QueueSource: awslambda.RENDERED_FIELDS[QueueSource]
    - {"report_batch_item_failures", "maximum_concurrency"},
    StreamSource: awslambda.RENDERED_FIELDS[StreamSource]
    - {"report_batch_item_failures", "tumbling_window_in_seconds"},
}
# What AWS lists for a pipe's queue source (not ChangeMessageVisibility, which a Lambda
# mapping's role holds).
PIPE_QUEUE_SOURCE_ACTIONS = frozenset(
    {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
)


def describe(spec: PipeSpec) -> str:
    return described("pipe", spec.name)


def render_pipe(spec: PipeSpec) -> Fragment:
    """An EventBridge Pipe and the role it runs with. A function target is invoked
    synchronously (``REQUEST_RESPONSE``), so its ``batchItemFailures`` count, as locally."""
    where = describe(spec)
    check_rendered(spec, where, RENDERED_FIELDS)
    check_rendered(spec.target, where, RENDERED_FIELDS)
    check_rendered(spec.source, where, PIPE_SOURCE_FIELDS)
    if isinstance(spec.source, StreamSource) and spec.source.on_failure is not None:
        check_rendered(spec.source.on_failure, where, RENDERED_FIELDS)
    role = names.role_id(spec.name)
    properties: dict[str, Any] = {
        "Name": spec.name,
        "RoleArn": get_att(role, "Arn"),
        "Source": pipe_source(spec.source),
        "SourceParameters": pipe_source_parameters(spec.source),
    }
    if spec.enrichment is not None:
        properties["Enrichment"] = get_att(names.resource_id(spec.enrichment), "Arn")
    properties["Target"] = pipe_target(spec.target)
    if spec.target.kind == "function":
        properties["TargetParameters"] = {
            "LambdaFunctionParameters": {"InvocationType": "REQUEST_RESPONSE"}
        }
    return Fragment(
        resources={
            role: pipe_role(spec),
            names.resource_id(spec.name): {"Type": "AWS::Pipes::Pipe", "Properties": properties},
        }
    )


def pipe_source(source: QueueSource | StreamSource) -> Any:
    """The ARN a pipe reads: its table's stream, or its queue."""
    match source:
        case StreamSource():
            return arn("stream", source.table)
        case QueueSource():
            return arn("queue", source.queue)
        case _:
            assert_never(source)


def pipe_source_parameters(source: QueueSource | StreamSource) -> dict[str, Any]:
    """How a pipe reads: its filters, batching, and for a stream its retries (-1 is AWS's
    "until the record expires", as locally), bisection and dead-letter destination."""
    parameters: dict[str, Any] = {}
    if source.filters:
        parameters["FilterCriteria"] = {"Filters": [{"Pattern": p} for p in source.filters]}
    batching = {
        "BatchSize": source.batch_size,
        "MaximumBatchingWindowInSeconds": source.maximum_batching_window_in_seconds,
    }
    match source:
        case QueueSource():
            parameters["SqsQueueParameters"] = batching
        case StreamSource():
            stream: dict[str, Any] = {
                "StartingPosition": source.starting_position,
                **batching,
                "MaximumRetryAttempts": source.maximum_retry_attempts,
                "MaximumRecordAgeInSeconds": source.maximum_record_age_in_seconds,
                "ParallelizationFactor": source.parallelization_factor,
            }
            if source.bisect_batch_on_function_error:
                stream["OnPartialBatchItemFailure"] = "AUTOMATIC_BISECT"
            if source.on_failure is not None:
                stream["DeadLetterConfig"] = {
                    "Arn": arn(source.on_failure.kind, source.on_failure.name)
                }
            parameters["DynamoDBStreamParameters"] = stream
        case _:
            assert_never(source)
    return parameters


def pipe_target(target: PipeTarget) -> Any:
    """The ARN a pipe delivers to."""
    match target.kind:
        case "function":
            return get_att(names.resource_id(target.name), "Arn")
        case "queue" | "topic":
            return arn(target.kind, target.name)
        case _:
            assert_never(target.kind)


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


def pipe_role(pipe: PipeSpec) -> dict[str, Any]:
    """The execution role EventBridge Pipes assumes to run one pipe: reading its source,
    invoking its enrichment and target functions, sending to its target and dead-letter
    queue or topic. A pipe invokes with this role, so its functions need no resource
    policy for it."""
    invokes = [
        allow(
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
