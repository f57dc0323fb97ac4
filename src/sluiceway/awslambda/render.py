"""Lambda on AWS: a function as an ``AWS::Serverless::Function`` running the shim, with its
role, its environment, and its trigger: an event source mapping (SAM's ``Events``) for a
queue or a stream, a subscription and an invoke permission for a topic, a ``Schedule`` event
(an EventBridge rule) for a schedule, or a ``ScheduleV2`` one (EventBridge Scheduler) for a
one-time ``at(...)``. What an HTTP route adds to invoke a function (an API path or an
``HttpApi`` event, and the invoke permission) is the API's: ``apigateway.function_routes``
renders it with `invoke_permission`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, assert_never

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
from sluiceway.core.cfn import get_att, ref
from sluiceway.core.naming import logical_id
from sluiceway.core.permissions import Grant
from sluiceway.core.render import names
from sluiceway.core.render.checks import RenderedFields, check_rendered, described
from sluiceway.core.render.fragment import Code, Context, Fragment
from sluiceway.core.render.roles import BASIC_EXECUTION_POLICY, arn, document, trust
from sluiceway.core.specs import Destination
from sluiceway.sns import render as sns

RUNTIME = "python3.12"
SHIM_HANDLER = "sluiceway.aws.shim.handler"
SCHEDULE_EVENT = "Schedule"  # the key of a function's schedule in its SAM Events

RENDERED_FIELDS: RenderedFields = {
    FunctionSpec: frozenset(
        {
            "name",
            "handler",
            "source",
            "uses",
            "timeout",
            "memory_size",
            "environment",
            "reserved_concurrency",
        }
    ),
    QueueSource: frozenset(
        {
            "queue",
            "batch_size",
            "maximum_batching_window_in_seconds",
            "report_batch_item_failures",
            "filters",
            "maximum_concurrency",
        }
    ),
    StreamSource: frozenset(
        {
            "table",
            "batch_size",
            "maximum_batching_window_in_seconds",
            "starting_position",
            "filters",
            "report_batch_item_failures",
            "maximum_retry_attempts",
            "maximum_record_age_in_seconds",
            "bisect_batch_on_function_error",
            "on_failure",
            "parallelization_factor",
            "tumbling_window_in_seconds",
        }
    ),
    Destination: frozenset({"kind", "name"}),
    TopicSource: frozenset({"topic", "filter_policy"}),
    HttpSource: frozenset({"method", "path", "auth", "payload_format_version"}),
    DirectSource: frozenset(),
    ScheduleSource: frozenset({"expression", "input", "enabled"}),
}


def describe(spec: FunctionSpec) -> str:
    return described("function", spec.name)


def event_id(source: QueueSource | StreamSource) -> str:
    """The key of a function's event source mapping in SAM's ``Events`` (SAM names the
    mapping ``<function id><event id>``)."""
    match source:
        case QueueSource():
            return logical_id(source.queue)
        case StreamSource():
            return logical_id(f"{source.table}-stream")
        case _:
            assert_never(source)


def render_function(
    spec: FunctionSpec, context: Context, iot_topics: Sequence[Any] | None = None
) -> Fragment:
    """The function, its role and, for a queue, a stream, a topic or a schedule, its
    trigger (an HTTP route is the API's to render: ``apigateway.function_routes``);
    `iot_topics` are the topic ARNs the app's ``app.iot(topics=...)``
    allows, which a publishing function's policy names."""
    where = describe(spec)
    check_rendered(spec, where, RENDERED_FIELDS)
    check_rendered(spec.source, where, RENDERED_FIELDS)
    if isinstance(spec.source, StreamSource) and spec.source.on_failure is not None:
        check_rendered(spec.source.on_failure, where, RENDERED_FIELDS)
    logical = names.resource_id(spec.name)
    role = names.role_id(spec.name)
    properties: dict[str, Any] = {
        "FunctionName": spec.name,
        "Description": f"{spec.module}.{spec.qualname}"[:256],
        "CodeUri": context.code.uri,
        "Handler": SHIM_HANDLER,
        "Runtime": RUNTIME,
        "Timeout": spec.timeout,
        "MemorySize": spec.memory_size,
        "Role": get_att(role, "Arn"),
        "Environment": {"Variables": environment(spec, context.code)},
    }
    if spec.reserved_concurrency is not None:
        properties["ReservedConcurrentExecutions"] = spec.reserved_concurrency
    fragment = Fragment(
        resources={
            role: function_role(spec, iot_topics),
            logical: {"Type": "AWS::Serverless::Function", "Properties": properties},
        }
    )
    source = spec.source
    match source:
        case QueueSource() | StreamSource():
            event = event_id(source)
            properties["Events"] = {event: render_event(source)}
            fragment.derived = (f"{logical}{event}",)
        case ScheduleSource():
            properties["Events"] = {SCHEDULE_EVENT: schedule_event(source)}
            fragment.derived = tuple(f"{logical}{SCHEDULE_EVENT}{d}" for d in _derived(source))
        case TopicSource():
            if source.filter_policy is not None:
                check_rendered(source.filter_policy, where, sns.RENDERED_FIELDS)
            topic = ref(names.resource_id(source.topic))
            fragment.resources[names.topic_subscription_id(spec.name)] = {
                "Type": "AWS::SNS::Subscription",
                "Properties": {
                    "TopicArn": topic,
                    "Protocol": "lambda",
                    "Endpoint": get_att(logical, "Arn"),
                    **sns.filter_policy(source.filter_policy),
                },
            }
            fragment.resources[names.invoke_permission_id(spec.name)] = invoke_permission(
                logical, "sns.amazonaws.com", topic
            )
        case HttpSource():
            pass  # the API's render invokes it (`apigateway.function_routes`)
        case DirectSource():
            pass  # no trigger of its own: only what invokes it (a pipe) needs a permission
        case _:
            assert_never(source)
    return fragment


def function_grants(function: FunctionSpec) -> tuple[Grant, ...]:
    """What a function's role allows: `permissions.grants_for(function)`, nothing else (its
    event source's reads and failure destination, and its ``uses=``)."""
    return permissions.grants_for(function)


def function_role(function: FunctionSpec, iot_topics: Sequence[Any] | None = None) -> Any:
    """The execution role of one function: exactly its grants, each on the one resource it
    names, and CloudWatch Logs from ``AWSLambdaBasicExecutionRole``. Rendered here rather
    than left to SAM, because SAM would attach its event-source managed policies
    (``AWSLambdaSQSQueueExecutionRole``, ``AWSLambdaDynamoDBExecutionRole``), whose
    statements apply to ``"Resource": "*"``."""
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": f"Runs {function.name}: exactly what its event source and uses= need",
            "AssumeRolePolicyDocument": trust("lambda.amazonaws.com"),
            "ManagedPolicyArns": [BASIC_EXECUTION_POLICY],
            "Policies": [
                {
                    "PolicyName": "sluiceway-grants",
                    "PolicyDocument": document(function_grants(function), iot_topics),
                }
            ],
        },
    }


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
                    names.derived_parameter_id(names.IOT_ENDPOINT_PARAMETER)
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
            return {"Type": "SQS", "Destination": arn("queue", destination.name)}
        case "topic":
            return {"Type": "SNS", "Destination": arn("topic", destination.name)}
        case _:
            assert_never(destination.kind)
