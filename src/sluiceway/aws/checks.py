"""What the AWS render refuses, a declared option it does not render yet (`check_rendered`
against `RENDERED_FIELDS`), and how its errors name a declaration (`describe`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, assert_never

from sluiceway.apigateway.spec import QueueTarget, RouteSpec, TableTarget
from sluiceway.aws.errors import RenderError
from sluiceway.aws.fragment import Renderable
from sluiceway.awslambda.spec import (
    DirectSource,
    FunctionSpec,
    HttpSource,
    QueueSource,
    ScheduleSource,
    StreamSource,
    TopicSource,
)
from sluiceway.cognito.spec import AuthSpec, ResourceServerSpec, UserPoolSpec
from sluiceway.core.specs import Destination, ParameterRef
from sluiceway.dynamodb.spec import IndexSpec, KeySpec, TableSpec
from sluiceway.iot.spec import IotSpec
from sluiceway.pipes.spec import PipeSpec, PipeTarget
from sluiceway.sns.spec import FilterPolicy, SubscriptionSpec, TopicSpec
from sluiceway.sqs.spec import QueueSpec
from sluiceway.wafv2.rules import Rule, WebACL
from sluiceway.wafv2.statements import (
    ForwardedIPConfig,
    IPSetReferenceStatement,
    ManagedRuleGroupStatement,
    RateBasedStatement,
    SizeConstraintStatement,
)

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
    TableSpec: frozenset(
        {
            "name",
            "partition_key",
            "sort_key",
            "stream",
            "ttl_attribute",
            "global_indexes",
            "local_indexes",
        }
    ),
    KeySpec: frozenset({"name", "type"}),
    IndexSpec: frozenset({"name", "partition_key", "sort_key", "projection", "non_key_attributes"}),
    TopicSpec: frozenset({"name", "kms_key"}),
    SubscriptionSpec: frozenset(
        {"topic", "protocol", "endpoint", "filter_policy", "raw_message_delivery"}
    ),
    FilterPolicy: frozenset({"policy", "scope"}),
    RouteSpec: frozenset({"method", "path", "target", "forward_headers", "auth"}),
    AuthSpec: frozenset({"pool", "scopes"}),
    QueueTarget: frozenset({"queue"}),
    TableTarget: frozenset({"table", "model", "overwrite"}),
    Destination: frozenset({"kind", "name"}),
    TopicSource: frozenset({"topic", "filter_policy"}),
    HttpSource: frozenset({"method", "path", "auth", "payload_format_version"}),
    DirectSource: frozenset(),
    ScheduleSource: frozenset({"expression", "input", "enabled"}),
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
