"""EventBridge Pipes on AWS: a pipe as an ``AWS::Pipes::Pipe`` reading a queue or a table's
stream, with its enrichment, its target and the role it runs with."""

from __future__ import annotations

from typing import Any, assert_never

from sluiceway.aws import iam, names
from sluiceway.aws.checks import PIPE_SOURCE_FIELDS, check_rendered, describe
from sluiceway.aws.fragment import Fragment
from sluiceway.awslambda.spec import QueueSource, StreamSource
from sluiceway.core.cfn import get_att
from sluiceway.pipes.spec import PipeSpec, PipeTarget


def render_pipe(spec: PipeSpec) -> Fragment:
    """An EventBridge Pipe and the role it runs with. A function target is invoked
    synchronously (``REQUEST_RESPONSE``), so its ``batchItemFailures`` count, as locally."""
    where = describe(spec)
    check_rendered(spec, where)
    check_rendered(spec.target, where)
    check_rendered(spec.source, where, PIPE_SOURCE_FIELDS)
    if isinstance(spec.source, StreamSource) and spec.source.on_failure is not None:
        check_rendered(spec.source.on_failure, where)
    role = names.role_id(spec)
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
            role: iam.pipe_role(spec),
            names.resource_id(spec.name): {"Type": "AWS::Pipes::Pipe", "Properties": properties},
        }
    )


def pipe_source(source: QueueSource | StreamSource) -> Any:
    """The ARN a pipe reads: its table's stream, or its queue."""
    match source:
        case StreamSource():
            return iam.arn("stream", source.table)
        case QueueSource():
            return iam.arn("queue", source.queue)
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
                    "Arn": iam.arn(source.on_failure.kind, source.on_failure.name)
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
            return iam.arn(target.kind, target.name)
        case _:
            assert_never(target.kind)
