"""The app graph as a SAM template: one render function per spec kind.

`render_spec` dispatches with an exhaustive ``match``: a spec kind without a render function
fails mypy, and at run time an unknown object is an ``AssertionError``, never dropped. Each
render function returns a `Fragment` (resources, outputs, and API paths for routes);
`template_for` merges them (the graph's specs, then its pipes), refuses two things that would
share a logical ID, and adds the REST API when the app has routes.

The graph's user pools (`cognito`), its IoT declaration (`iot_topics`) and its firewall
(`waf`) render after them; the firewall needs the REST API, so an app with a firewall and no
HTTP route is refused. A user pool's domain prefix and the account's IoT data endpoint differ
per deployment, so they become template parameters, as the app's own parameters do
(`settable_parameters`).

Physical names are the declared names (queues, tables, topics, functions, pipes, user pools,
the web ACL), so the seeds' ``POC-Queue``, ``orders`` and ``POC-Topic`` appear in the console
as declared.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias, assert_never

from sluiceway.apigateway import render as api
from sluiceway.apigateway.spec import QueueTarget, RouteSpec, TableTarget
from sluiceway.app.graph import AppGraph, Spec
from sluiceway.aws import iam, names
from sluiceway.aws.errors import RenderError
from sluiceway.awslambda import permissions
from sluiceway.awslambda.spec import (
    DirectSource,
    FunctionSpec,
    HttpSource,
    QueueSource,
    StreamSource,
    TopicSource,
)
from sluiceway.cognito import render as cognito
from sluiceway.cognito.spec import AuthSpec, ResourceServerSpec, UserPoolSpec
from sluiceway.core.cfn import DeployParameter, Resources, get_att, ref, sub
from sluiceway.core.specs import Destination, ParameterRef
from sluiceway.dynamodb.spec import KeySpec, TableSpec
from sluiceway.iot import render as iot_topics
from sluiceway.iot.spec import IotSpec
from sluiceway.pipes.spec import PipeSpec, PipeTarget
from sluiceway.sns.spec import FilterPolicy, SubscriptionSpec, TopicSpec
from sluiceway.sqs.spec import QueueSpec
from sluiceway.wafv2 import render as waf
from sluiceway.wafv2.rules import Rule, WebACL
from sluiceway.wafv2.statements import (
    ForwardedIPConfig,
    IPSetReferenceStatement,
    ManagedRuleGroupStatement,
    RateBasedStatement,
    SizeConstraintStatement,
)

# What `render_spec` renders: the graph's specs, and what the graph keeps apart from them
# (pipes, user pools, the IoT declaration, the firewall).
Renderable: TypeAlias = Spec | PipeSpec | UserPoolSpec | IotSpec | WebACL

RUNTIME = "python3.12"
SHIM_HANDLER = "sluiceway.aws.shim.handler"
DEFAULT_STAGE = "prod"
_STAGE = re.compile(r"[A-Za-z0-9_]{1,128}")
# Subscription protocols whose endpoint SNS takes as declared (an address, a URL, a number).
RENDERED_PROTOCOLS = frozenset({"email", "email-json", "http", "https", "sms"})

# The fields each render function turns into the template. Any other field holding a value
# other than its default is refused (`check_rendered`): an option the AWS target does not
# render yet fails the render loudly instead of vanishing from the deployed system.
RENDERED_FIELDS: dict[type, frozenset[str]] = {
    QueueSpec: frozenset(
        {
            "name",
            "visibility_timeout",
            "delay_seconds",
            "message_retention_period",
            "maximum_message_size",
            "dead_letter",
            "max_receive_count",
            "content_based_deduplication",
        }
    ),
    TableSpec: frozenset({"name", "partition_key", "sort_key", "stream", "ttl_attribute"}),
    KeySpec: frozenset({"name", "type"}),
    TopicSpec: frozenset({"name"}),
    SubscriptionSpec: frozenset({"topic", "protocol", "endpoint", "filter_policy"}),
    FilterPolicy: frozenset({"policy", "scope"}),
    RouteSpec: frozenset({"method", "path", "target", "forward_headers", "auth"}),
    AuthSpec: frozenset({"pool", "scopes"}),
    QueueTarget: frozenset({"queue"}),
    TableTarget: frozenset({"table", "model", "overwrite"}),
    Destination: frozenset({"kind", "name"}),
    TopicSource: frozenset({"topic", "filter_policy"}),
    HttpSource: frozenset({"method", "path", "auth"}),
    DirectSource: frozenset(),
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
    PipeSpec: frozenset({"name", "source", "target", "enrichment"}),
    PipeTarget: frozenset({"kind", "name"}),
    UserPoolSpec: frozenset({"name", "domain", "resource_servers", "access_token_validity"}),
    ResourceServerSpec: frozenset({"identifier", "name", "scopes"}),
    IotSpec: frozenset({"topics"}),
    WebACL: frozenset({"rules", "default_action"}),
    Rule: frozenset({"name", "priority", "action", "statement"}),
    RateBasedStatement: frozenset(
        {"limit", "evaluation_window_sec", "key", "forwarded_ip_config", "scope_down_path_prefix"}
    ),
    IPSetReferenceStatement: frozenset({"addresses", "forwarded_ip_config"}),
    SizeConstraintStatement: frozenset({"part", "max_bytes"}),
    ManagedRuleGroupStatement: frozenset({"name", "excluded_rules", "vendor_name"}),
    ForwardedIPConfig: frozenset({"header_name", "fallback_behavior", "position"}),
}
# A pipe's source, checked against these instead: the parameters Pipes has. It always reads a
# function target's ``batchItemFailures`` (so report_batch_item_failures must stay True), and
# knows no tumbling window or maximum concurrency.
PIPE_SOURCE_FIELDS: dict[type, frozenset[str]] = {
    QueueSource: frozenset(
        {"queue", "batch_size", "maximum_batching_window_in_seconds", "filters"}
    ),
    StreamSource: frozenset(
        {
            "table",
            "batch_size",
            "maximum_batching_window_in_seconds",
            "starting_position",
            "filters",
            "maximum_retry_attempts",
            "maximum_record_age_in_seconds",
            "bisect_batch_on_function_error",
            "on_failure",
            "parallelization_factor",
        }
    ),
}


@dataclass(frozen=True)
class Code:
    """Where the functions' code sits (relative to the template) and how the shim finds the
    app in it (``module:attr``)."""

    app: str
    uri: str = "src"


@dataclass(frozen=True)
class Target:
    """What every render function may read besides its spec."""

    graph: AppGraph
    code: Code
    stage: str = DEFAULT_STAGE


@dataclass
class Fragment:
    resources: Resources = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    # OpenAPI paths: path -> lower-case method -> operation
    paths: dict[str, dict[str, Any]] = field(default_factory=dict)
    # OpenAPI schemas (API Gateway models) the operations refer to, by name
    schemas: dict[str, Any] = field(default_factory=dict)
    # logical IDs the SAM transform will create for this fragment
    derived: tuple[str, ...] = ()
    # template parameters this fragment adds (logical ID -> declaration)
    parameters: dict[str, Any] = field(default_factory=dict)


def template_for(graph: AppGraph, code: Code, *, stage: str = DEFAULT_STAGE) -> dict[str, Any]:
    """The SAM template of an app (plain data; `sluiceway.aws.render` writes it)."""
    if not _STAGE.fullmatch(stage):
        raise RenderError(
            f"stage {stage!r}: a stage name is 1-128 letters, digits and '_'; use e.g. 'prod'"
        )
    target = Target(graph, code, stage)
    claims: dict[str, str] = {}
    parameters: dict[str, Any] = {}
    for parameter in graph.parameters:
        logical = names.parameter_id(parameter)
        _claim(claims, logical, f"parameter '{parameter.name}'")
        parameters[logical] = render_parameter(parameter)
    resources: Resources = {}
    outputs: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    for spec in renderables(graph):
        fragment = render_spec(spec, target)
        origin = describe(spec)
        for logical in (
            *fragment.resources,
            *fragment.derived,
            *fragment.outputs,
            *fragment.parameters,
        ):
            _claim(claims, logical, origin)
        parameters.update(fragment.parameters)
        resources.update(fragment.resources)
        outputs.update(fragment.outputs)
        for path, operations in fragment.paths.items():
            paths.setdefault(path, {}).update(operations)
        schemas.update(fragment.schemas)
    if paths:
        fragment = render_api(graph, paths, schemas, stage)
        for logical in (*fragment.resources, *fragment.derived, *fragment.outputs):
            _claim(claims, logical, f"the REST API of app '{graph.name}'")
        resources.update(fragment.resources)
        outputs = {**fragment.outputs, **outputs}
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Description": (
            f"sluiceway app '{graph.name}', rendered from its declarations by "
            "`sluiceway render aws`: change the app, not this file"
        ),
    }
    if parameters:
        template["Parameters"] = parameters
    template["Resources"] = resources
    if outputs:
        template["Outputs"] = outputs
    return template


def renderables(graph: AppGraph) -> tuple[Renderable, ...]:
    """Everything the graph declares that renders, in template order."""
    extra: list[Renderable] = list(graph.user_pools)
    if graph.iot is not None:
        extra.append(graph.iot)
    if graph.firewall is not None:
        extra.append(graph.firewall)
    return (*graph.specs(), *graph.pipes, *extra)


def settable_parameters(graph: AppGraph) -> dict[str, str]:
    """Every template parameter a deployment may set (``sluiceway deploy aws --set``): its
    name (an app parameter's declared name, or a rendered one like
    ``devices_domain_prefix``) -> its logical ID."""
    settable = {p.name: names.parameter_id(p) for p in graph.parameters}
    for spec in renderables(graph):
        for parameter in derived_parameters(spec):
            settable[parameter.name] = parameter.logical
    return settable


def derived_parameters(spec: Renderable) -> tuple[DeployParameter, ...]:
    """The template parameters rendering `spec` adds."""
    match spec:
        case UserPoolSpec():
            return (cognito.domain_parameter(spec),)
        case IotSpec():
            return (iot_topics.endpoint_parameter(),)
        case _:
            return ()


def has_api(graph: AppGraph) -> bool:
    """Whether the app has a REST API: a route, or a function behind HTTP."""
    return bool(graph.routes) or any(isinstance(f.source, HttpSource) for f in graph.functions)


def _claim(claims: dict[str, str], logical: str, origin: str) -> None:
    other = claims.setdefault(logical, origin)
    if other != origin:
        raise RenderError(
            f"{other} and {origin} both become the logical ID {logical!r} "
            "(names differing only in punctuation or case); rename one of them"
        )


def render_spec(spec: Renderable, target: Target) -> Fragment:
    """The template fragment of one declared resource."""
    match spec:
        case QueueSpec():
            return render_queue(spec)
        case TableSpec():
            return render_table(spec)
        case TopicSpec():
            return render_topic(spec)
        case SubscriptionSpec():
            return render_subscription(spec)
        case RouteSpec():
            return render_route(spec, target)
        case FunctionSpec():
            return render_function(spec, target)
        case PipeSpec():
            return render_pipe(spec)
        case UserPoolSpec():
            return render_user_pool(spec)
        case IotSpec():
            return render_iot(spec)
        case WebACL():
            return render_firewall(spec, target)
        case _:
            assert_never(spec)


def describe(spec: Renderable) -> str:
    """How an error names a spec."""
    match spec:
        case QueueSpec() | TableSpec() | TopicSpec():
            return f"{type(spec).__name__.removesuffix('Spec').lower()} '{spec.name}'"
        case SubscriptionSpec():
            endpoint = spec.endpoint
            shown = f"<{endpoint.name}>" if isinstance(endpoint, ParameterRef) else endpoint
            return f"subscription {spec.protocol}:{shown} on topic '{spec.topic}'"
        case RouteSpec():
            return f"route {spec.method} {spec.path}"
        case FunctionSpec():
            return f"function '{spec.name}'"
        case PipeSpec():
            return f"pipe '{spec.name}'"
        case UserPoolSpec():
            return f"user pool '{spec.name}'"
        case IotSpec():
            return "iot (app.iot)"
        case WebACL():
            return "firewall (app.firewall)"
        case _:
            assert_never(spec)


def check_rendered(
    value: Any, where: str, fields: Mapping[type, frozenset[str]] = RENDERED_FIELDS
) -> None:
    """Refuse a declared option the AWS target does not render (see `RENDERED_FIELDS`)."""
    rendered = fields.get(type(value))
    if rendered is None:
        raise RenderError(f"{where}: a {type(value).__name__} is not rendered for AWS yet")
    for option in dataclasses.fields(value):
        if option.name in rendered:
            continue
        current = getattr(value, option.name)
        if option.default is not dataclasses.MISSING and current == option.default:
            continue
        if (
            option.default_factory is not dataclasses.MISSING
            and current == option.default_factory()
        ):
            continue
        raise RenderError(
            f"{where}: {option.name}={current!r} is not rendered for AWS yet; leave it at its "
            "default to deploy, or render it in sluiceway.aws.template"
        )


# -- one render function per kind ---------------------------------------------------------


def render_parameter(parameter: ParameterRef) -> dict[str, Any]:
    rendered: dict[str, Any] = {"Type": "String", "MinLength": 1}
    if parameter.description:
        rendered["Description"] = parameter.description
    if parameter.default is not None:
        rendered["Default"] = parameter.default
    return rendered


def render_queue(spec: QueueSpec) -> Fragment:
    check_rendered(spec, describe(spec))
    logical = names.resource_id(spec.name)
    properties: dict[str, Any] = {"QueueName": spec.name}
    if spec.fifo:
        properties["FifoQueue"] = True
        properties["ContentBasedDeduplication"] = spec.content_based_deduplication
    properties |= {
        "VisibilityTimeout": spec.visibility_timeout,
        "DelaySeconds": spec.delay_seconds,
        "MessageRetentionPeriod": spec.message_retention_period,
        "MaximumMessageSize": spec.maximum_message_size,
        "SqsManagedSseEnabled": True,
    }
    if spec.dead_letter is not None:
        properties["RedrivePolicy"] = {
            "deadLetterTargetArn": get_att(names.resource_id(spec.dead_letter), "Arn"),
            "maxReceiveCount": spec.max_receive_count,
        }
    return Fragment(
        resources={
            logical: {
                "Type": "AWS::SQS::Queue",
                # Said out loud: `sluiceway destroy aws` removes waiting messages too.
                "DeletionPolicy": "Delete",
                "UpdateReplacePolicy": "Delete",
                "Properties": properties,
            }
        },
        outputs={
            names.output_id(spec.name, "url"): {
                "Description": f"URL of queue {spec.name}",
                "Value": ref(logical),
            }
        },
    )


def render_table(spec: TableSpec) -> Fragment:
    check_rendered(spec, describe(spec))
    for key in (spec.partition_key, spec.sort_key):
        if key is not None:
            check_rendered(key, describe(spec))
    logical = names.resource_id(spec.name)
    keys = [(spec.partition_key, "HASH")]
    if spec.sort_key is not None:
        keys.append((spec.sort_key, "RANGE"))
    properties: dict[str, Any] = {
        "TableName": spec.name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": key.name, "AttributeType": key.type} for key, _ in keys
        ],
        "KeySchema": [{"AttributeName": key.name, "KeyType": role} for key, role in keys],
        "SSESpecification": {"SSEEnabled": True},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
    }
    if spec.stream is not None:
        properties["StreamSpecification"] = {"StreamViewType": spec.stream}
    if spec.ttl_attribute is not None:
        properties["TimeToLiveSpecification"] = {
            "AttributeName": spec.ttl_attribute,
            "Enabled": True,
        }
    return Fragment(
        resources={
            logical: {
                "Type": "AWS::DynamoDB::Table",
                # Said out loud: `sluiceway destroy aws` removes the data with the stack.
                "DeletionPolicy": "Delete",
                "UpdateReplacePolicy": "Delete",
                "Properties": properties,
            }
        },
        outputs={
            names.output_id(spec.name, "table-name"): {
                "Description": f"Name of table {spec.name}",
                "Value": ref(logical),
            }
        },
    )


def render_topic(spec: TopicSpec) -> Fragment:
    check_rendered(spec, describe(spec))
    logical = names.resource_id(spec.name)
    properties: dict[str, Any] = {"TopicName": spec.name}
    if spec.name.endswith(".fifo"):
        properties["FifoTopic"] = True
    return Fragment(
        resources={logical: {"Type": "AWS::SNS::Topic", "Properties": properties}},
        outputs={
            names.output_id(spec.name, "arn"): {
                "Description": f"ARN of topic {spec.name}",
                "Value": ref(logical),
            }
        },
    )


def render_subscription(spec: SubscriptionSpec) -> Fragment:
    check_rendered(spec, describe(spec))
    if spec.protocol not in RENDERED_PROTOCOLS:
        raise RenderError(
            f"{describe(spec)}: the {spec.protocol} protocol is not rendered for AWS yet"
        )
    if spec.filter_policy is not None:
        check_rendered(spec.filter_policy, describe(spec))
    endpoint = spec.endpoint
    rendered = ref(names.parameter_id(endpoint)) if isinstance(endpoint, ParameterRef) else endpoint
    return Fragment(
        resources={
            names.subscription_id(spec): {
                "Type": "AWS::SNS::Subscription",
                "Properties": {
                    "TopicArn": ref(names.resource_id(spec.topic)),
                    "Protocol": spec.protocol,
                    "Endpoint": rendered,
                    **filter_policy(spec.filter_policy),
                },
            }
        }
    )


def filter_policy(policy: FilterPolicy | None) -> dict[str, Any]:
    """A subscription's ``FilterPolicy`` (an object in the template, as CloudFormation takes
    it) and its scope; nothing when every message passes."""
    if policy is None:
        return {}
    return {"FilterPolicy": json.loads(policy.policy), "FilterPolicyScope": policy.scope}


def render_route(spec: RouteSpec, target: Target) -> Fragment:
    check_rendered(spec, describe(spec))
    check_rendered(spec.target, describe(spec))
    if spec.auth is not None:
        check_rendered(spec.auth, describe(spec))
    api_logical = names.api_id(target.graph.name)
    return Fragment(
        resources={names.route_role_id(spec): iam.route_role(spec)},
        paths={spec.path: {spec.method.lower(): api.operation(spec, target.graph)}},
        schemas=api.models(spec, target.graph),
        outputs={
            names.output_id(names.route_id(spec), "url"): {
                "Description": f"{spec.method} here to reach the route {spec.method} {spec.path}",
                "Value": sub(
                    f"https://${{{api_logical}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}"
                    f"/{target.stage}{spec.path}"
                ),
            }
        },
    )


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
                    **filter_policy(source.filter_policy),
                },
            }
            fragment.resources[names.invoke_permission_id(spec)] = invoke_permission(
                logical, "sns.amazonaws.com", topic
            )
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


def on_failure(destination: Destination) -> dict[str, Any]:
    """Where a stream mapping reports what it discards (SAM's ``OnFailure``)."""
    match destination.kind:
        case "queue":
            return {"Type": "SQS", "Destination": iam.arn("queue", destination.name)}
        case "topic":
            return {"Type": "SNS", "Destination": iam.arn("topic", destination.name)}
        case _:
            assert_never(destination.kind)


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


def render_user_pool(spec: UserPoolSpec) -> Fragment:
    """A user pool, its domain and resource servers (`cognito`)."""
    where = describe(spec)
    check_rendered(spec, where)
    for server in spec.resource_servers:
        check_rendered(server, where)
    resources, outputs, parameter = cognito.render_pool(spec)
    return Fragment(
        resources=resources,
        outputs=outputs,
        parameters={parameter.logical: parameter.rendered},
    )


def render_iot(spec: IotSpec) -> Fragment:
    """No resource (publishing needs none; the topics are the publishers' policies): the
    parameter naming the account's data endpoint."""
    check_rendered(spec, describe(spec))
    parameter = iot_topics.endpoint_parameter()
    return Fragment(parameters={parameter.logical: parameter.rendered})


def render_firewall(spec: WebACL, target: Target) -> Fragment:
    """The web ACL in front of the API's stage (`waf`)."""
    where = describe(spec)
    check_rendered(spec, where)
    for rule in spec.rules:
        check_rendered(rule, f"firewall rule '{rule.name}'")
        check_rendered(rule.statement, f"firewall rule '{rule.name}'")
        config = getattr(rule.statement, "forwarded_ip_config", None)
        if config is not None:
            check_rendered(config, f"firewall rule '{rule.name}'")
    if not has_api(target.graph):
        raise RenderError(
            f"app '{target.graph.name}' declares a firewall but no HTTP route for it to "
            "protect (on AWS a web ACL is associated with the API's stage); declare a route "
            "or drop the firewall"
        )
    resources, outputs = waf.render_web_acl(spec, target.graph.name, target.stage)
    return Fragment(resources=resources, outputs=outputs)


def render_api(
    graph: AppGraph, paths: dict[str, dict[str, Any]], schemas: dict[str, Any], stage: str
) -> Fragment:
    """The REST API holding every route (regional, like the seed's POC-API), with the
    authorizers its routes require."""
    app_name = graph.name
    logical = names.api_id(app_name)
    return Fragment(
        resources={
            logical: {
                "Type": "AWS::Serverless::Api",
                "Properties": {
                    "Name": app_name,
                    "StageName": stage,
                    # Set, so SAM does not add its extra stage named "Stage".
                    "OpenApiVersion": "3.0.1",
                    "EndpointConfiguration": {"Type": "REGIONAL"},
                    "DefinitionBody": api.definition(app_name, paths, schemas, graph),
                },
            }
        },
        outputs={
            names.output_id(logical, "url"): {
                "Description": f"Base URL of the {app_name} API",
                "Value": sub(
                    f"https://${{{logical}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}"
                    f"/{stage}"
                ),
            }
        },
        derived=(f"{logical}{stage}Stage",),
    )
