"""Lambda on AWS: a function as an ``AWS::Serverless::Function`` running the shim, with its
role, its environment, and its trigger: an event source mapping (SAM's ``Events``) for a
queue or a stream, a subscription and an invoke permission for a topic, an API path and an
invoke permission for HTTP (payload format 1.0), an ``HttpApi`` event for an HTTP API's route
(2.0), a ``Schedule`` event (an EventBridge rule) for a schedule, or a ``ScheduleV2`` one
(EventBridge Scheduler) for a one-time ``at(...)``."""

from __future__ import annotations

from typing import Any, assert_never

from sluiceway.apigateway import render as api
from sluiceway.aws import iam, names
from sluiceway.aws.checks import check_rendered, describe
from sluiceway.aws.fragment import Code, Fragment, Target
from sluiceway.awslambda import permissions
from sluiceway.awslambda.spec import (
    DirectSource,
    FunctionSpec,
    HttpSource,
    QueueSource,
    ScheduleSource,
    StreamSource,
    TopicSource,
)
from sluiceway.core.cfn import get_att, ref, sub
from sluiceway.core.specs import Destination
from sluiceway.iot import render as iot_topics
from sluiceway.sns import render as sns

RUNTIME = "python3.12"
SHIM_HANDLER = "sluiceway.aws.shim.handler"
SCHEDULE_EVENT = "Schedule"  # the key of a function's schedule in its SAM Events


def render_function(spec: FunctionSpec, target: Target) -> Fragment:
    check_rendered(spec, describe(spec))
    check_rendered(spec.source, describe(spec))
    if isinstance(spec.source, StreamSource) and spec.source.on_failure is not None:
        check_rendered(spec.source.on_failure, describe(spec))
    if isinstance(spec.source, TopicSource) and spec.source.filter_policy is not None:
        check_rendered(spec.source.filter_policy, describe(spec))
    if isinstance(spec.source, HttpSource) and spec.source.auth is not None:
        check_rendered(spec.source.auth, describe(spec))
    logical = names.resource_id(spec.name)
    role = names.role_id(spec)
    properties: dict[str, Any] = {
        "FunctionName": spec.name,
        "Description": f"{spec.module}.{spec.qualname}"[:256],
        "CodeUri": target.code.uri,
        "Handler": SHIM_HANDLER,
        "Runtime": RUNTIME,
        "Timeout": spec.timeout,
        "MemorySize": spec.memory_size,
        "Role": get_att(role, "Arn"),
        "Environment": {"Variables": environment(spec, target.code)},
    }
    if spec.reserved_concurrency is not None:
        properties["ReservedConcurrentExecutions"] = spec.reserved_concurrency
    fragment = Fragment(
        resources={
            role: iam.function_role(spec, target.graph.iot),
            logical: {"Type": "AWS::Serverless::Function", "Properties": properties},
        }
    )
    source = spec.source
    match source:
        case QueueSource() | StreamSource():
            event = names.event_id(source)
            properties["Events"] = {event: render_event(source)}
            fragment.derived = (f"{logical}{event}",)
        case TopicSource():
            topic = ref(names.resource_id(source.topic))
            fragment.resources[names.topic_subscription_id(spec)] = {
                "Type": "AWS::SNS::Subscription",
                "Properties": {
                    "TopicArn": topic,
                    "Protocol": "lambda",
                    "Endpoint": get_att(logical, "Arn"),
                    **sns.filter_policy(source.filter_policy),
                },
            }
            fragment.resources[names.invoke_permission_id(spec)] = invoke_permission(
                logical, "sns.amazonaws.com", topic
            )
        case HttpSource() if source.payload_format_version == "2.0":
            properties["Events"] = {
                names.HTTP_API_EVENT: api.http_api_event(spec, source, target.graph.name)
            }
            fragment.derived = (f"{logical}{names.HTTP_API_EVENT}Permission",)
            fragment.outputs[names.output_id(spec.name, "url")] = {
                "Description": f"{source.method} {source.path}, answered by {spec.name}",
                "Value": api.http_api_url(
                    target.graph.name, "/" if source.path == "$default" else source.path
                ),
            }
        case HttpSource():
            api_logical = names.api_id(target.graph.name)
            fragment.paths = {
                source.path: {api.method_key(source.method): api.proxy_operation(spec, source)}
            }
            fragment.resources[names.invoke_permission_id(spec)] = invoke_permission(
                logical,
                "apigateway.amazonaws.com",
                api.invoke_source_arn(api_logical, source.method, source.path),
            )
            fragment.outputs[names.output_id(spec.name, "url")] = {
                "Description": f"{source.method} {source.path}, answered by {spec.name}",
                "Value": sub(
                    f"https://${{{api_logical}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}"
                    f"/{target.stage}{source.path}"
                ),
            }
        case ScheduleSource():
            properties["Events"] = {SCHEDULE_EVENT: schedule_event(source)}
            fragment.derived = tuple(f"{logical}{SCHEDULE_EVENT}{d}" for d in _derived(source))
        case DirectSource():
            pass  # no trigger of its own: only what invokes it (a pipe) needs a permission
        case _:
            assert_never(source)
    return fragment


def invoke_permission(function: str, principal: str, source_arn: Any) -> dict[str, Any]:
    """A function's resource policy for one caller: this service, from this ARN only."""
    return {
        "Type": "AWS::Lambda::Permission",
        "Properties": {
            "Action": "lambda:InvokeFunction",
            "FunctionName": get_att(function, "Arn"),
            "Principal": principal,
            "SourceArn": source_arn,
        },
    }


def environment(spec: FunctionSpec, code: Code) -> dict[str, Any]:
    """The function's own `environment=`, and what the shim needs: the app, the function,
    and the physical identifier of every resource the function's grants name (a stream
    needs none: Lambda reads it). Declarations refuse SLUICEWAY_* names, so none collide."""
    variables: dict[str, Any] = {
        **spec.variables,
        names.APP_VARIABLE: code.app,
        names.FUNCTION_VARIABLE: spec.name,
    }
    for grant in permissions.grants_for(spec):
        match grant.kind:
            case "queue" | "table" | "topic":
                variables[names.env_var(grant.kind, grant.name)] = ref(
                    names.resource_id(grant.name)
                )
            case "iot":
                # A topic is no resource; where to publish is (empty: botocore's default).
                variables[names.IOT_ENDPOINT_VARIABLE] = ref(
                    iot_topics.endpoint_parameter().logical
                )
            case "stream" | "sms":
                pass  # Lambda reads the stream itself; a phone number is no resource
            case _:
                assert_never(grant.kind)
    return variables


def render_event(source: QueueSource | StreamSource) -> dict[str, Any]:
    """A function's event source mapping, as a SAM event."""
    common: dict[str, Any] = {
        "BatchSize": source.batch_size,
        "MaximumBatchingWindowInSeconds": source.maximum_batching_window_in_seconds,
    }
    if source.filters:
        common["FilterCriteria"] = {"Filters": [{"Pattern": p} for p in source.filters]}
    if source.report_batch_item_failures:
        common["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
    match source:
        case QueueSource():
            properties: dict[str, Any] = {
                "Queue": get_att(names.resource_id(source.queue), "Arn"),
                **common,
            }
            if source.maximum_concurrency is not None:
                properties["ScalingConfig"] = {"MaximumConcurrency": source.maximum_concurrency}
            return {"Type": "SQS", "Properties": properties}
        case StreamSource():
            properties = {
                "Stream": get_att(names.resource_id(source.table), "StreamArn"),
                "StartingPosition": source.starting_position,
                **common,
                "MaximumRetryAttempts": source.maximum_retry_attempts,
                "MaximumRecordAgeInSeconds": source.maximum_record_age_in_seconds,
                "BisectBatchOnFunctionError": source.bisect_batch_on_function_error,
                "ParallelizationFactor": source.parallelization_factor,
            }
            if source.tumbling_window_in_seconds:
                properties["TumblingWindowInSeconds"] = source.tumbling_window_in_seconds
            if source.on_failure is not None:
                properties["DestinationConfig"] = {"OnFailure": on_failure(source.on_failure)}
            return {"Type": "DynamoDB", "Properties": properties}
        case _:
            assert_never(source)


def schedule_event(source: ScheduleSource) -> dict[str, Any]:
    """A function's schedule, as a SAM event: an EventBridge rule (``Schedule``), or for a
    one-time ``at(...)``, which only EventBridge Scheduler takes, a ``ScheduleV2``."""
    extra: dict[str, Any] = {} if source.input is None else {"Input": source.input}
    if source.expression.startswith("at("):
        if not source.enabled:
            extra["State"] = "DISABLED"
        return {
            "Type": "ScheduleV2",
            "Properties": {"ScheduleExpression": source.expression, **extra},
        }
    if not source.enabled:
        extra["Enabled"] = False
    return {"Type": "Schedule", "Properties": {"Schedule": source.expression, **extra}}


def _derived(source: ScheduleSource) -> tuple[str, ...]:
    """What SAM makes of a schedule event, named after the function and the event: the rule
    and its invoke permission, or the schedule and the role it assumes."""
    return ("", "Role") if source.expression.startswith("at(") else ("", "Permission")


def on_failure(destination: Destination) -> dict[str, Any]:
    """Where a stream mapping reports what it discards (SAM's ``OnFailure``)."""
    match destination.kind:
        case "queue":
            return {"Type": "SQS", "Destination": iam.arn("queue", destination.name)}
        case "topic":
            return {"Type": "SNS", "Destination": iam.arn("topic", destination.name)}
        case _:
            assert_never(destination.kind)
