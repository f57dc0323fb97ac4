"""The app graph as a SAM template: one render function per spec kind, each in its service's
package (``sqs.render``, ``dynamodb.render``, ``sns.render``, ``awslambda.render``,
``pipes.render``, ``apigateway.render``, ``cognito.render``, ``iot.render``, ``wafv2.render``).

`render_spec` dispatches with an exhaustive ``match``: a spec kind without a render function
fails mypy, and at run time an unknown object is an ``AssertionError``, never dropped. Each
render function returns a `Fragment` (resources, outputs, and API paths for routes);
`template_for` merges them (the graph's specs, then its pipes), refuses two things that would
share a logical ID, and adds the REST API when the app has routes, the HTTP API when it has
payload format 2.0 routes.

A render reads its spec and a `Context` (the app's name, the code, the stage), never the
graph: what it needs of other declarations is handed to it here (a table route's table, the
subscriptions sharing a queue's policy, the IoT topics a publishing function's role names,
the pools a REST API's routes require). A function behind an HTTP route is rendered by the
API (``apigateway.function_routes``), joined with the function's own fragment.

The graph's user pools (`cognito`), its IoT declaration (`iot_topics`) and its firewall
(``wafv2.render``) render after them; the firewall needs the REST API, so an app with a
firewall and no HTTP route is refused. A user pool's domain prefix and the account's IoT data
endpoint differ per deployment, so they become template parameters, as the app's own
parameters do (`settable_parameters`).

Physical names are the declared names (queues, tables, topics, functions, pipes, user pools,
the web ACL), so the seeds' ``POC-Queue``, ``orders`` and ``POC-Topic`` appear in the console
as declared.
"""

from __future__ import annotations

import re
from typing import Any, assert_never

from sluiceway.apigateway import function_routes
from sluiceway.apigateway import render as api
from sluiceway.apigateway.spec import RouteSpec, TableTarget
from sluiceway.app.graph import AppGraph
from sluiceway.aws.checks import describe
from sluiceway.aws.errors import RenderError
from sluiceway.aws.fragment import DEFAULT_STAGE, Code, Fragment, Renderable, Target
from sluiceway.aws.observability import observed
from sluiceway.awslambda import render as awslambda
from sluiceway.awslambda.spec import FunctionSpec, HttpSource
from sluiceway.cognito import render as cognito
from sluiceway.cognito.spec import UserPoolSpec
from sluiceway.core.cfn import DeployParameter, Resources
from sluiceway.core.render import names
from sluiceway.core.render.fragment import joined
from sluiceway.core.specs import ParameterRef
from sluiceway.dynamodb import render as dynamodb
from sluiceway.dynamodb.spec import TableSpec
from sluiceway.iot import render as iot_topics
from sluiceway.iot.spec import IotSpec
from sluiceway.pipes import render as pipes
from sluiceway.pipes.spec import PipeSpec
from sluiceway.sns import render as sns
from sluiceway.sns.spec import SubscriptionSpec, TopicSpec
from sluiceway.sqs import render as sqs
from sluiceway.sqs.spec import QueueSpec
from sluiceway.wafv2 import render as waf
from sluiceway.wafv2.rules import WebACL

_STAGE = re.compile(r"[A-Za-z0-9_]{1,128}")


def template_for(graph: AppGraph, code: Code, *, stage: str = DEFAULT_STAGE) -> dict[str, Any]:
    """The SAM template of an app (plain data; `sluiceway.aws.render` writes it)."""
    if not _STAGE.fullmatch(stage):
        raise RenderError(
            f"stage {stage!r}: a stage name is 1-128 letters, digits and '_'; use e.g. 'prod'"
        )
    if graph.topic_rules:
        raise RenderError(
            f"topic rule '{graph.topic_rules[0].name}': IoT topic rules run locally but are not "
            "rendered for AWS yet; deploy them with their own template (AWS::IoT::TopicRule)"
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
        fragment = api.render_api(
            graph.name,
            paths,
            schemas,
            stage,
            pools=api.pools_required(graph.routes, graph.functions),
            firewall=graph.firewall is not None,
        )
        for logical in (*fragment.resources, *fragment.derived, *fragment.outputs):
            _claim(claims, logical, f"the REST API of app '{graph.name}'")
        resources.update(fragment.resources)
        outputs = {**fragment.outputs, **outputs}
    if has_http_api(graph):
        fragment = function_routes.render_http_api(graph.name)
        for logical in (*fragment.resources, *fragment.derived, *fragment.outputs):
            _claim(claims, logical, f"the HTTP API of app '{graph.name}'")
        resources.update(fragment.resources)
        outputs = {**fragment.outputs, **outputs}
    for logical, resource in observed(graph.deployment, resources).items():
        _claim(claims, logical, f"the deployment of app '{graph.name}'")
        resources[logical] = resource
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


def has_api(graph: AppGraph) -> bool:
    """Whether the app has a REST API: a route, or a function behind HTTP with payload
    format 1.0."""
    return bool(graph.routes) or any(
        isinstance(f.source, HttpSource) and f.source.payload_format_version == "1.0"
        for f in graph.functions
    )


def has_http_api(graph: AppGraph) -> bool:
    """Whether the app has an HTTP API: a function behind HTTP with payload format 2.0."""
    return any(
        isinstance(f.source, HttpSource) and f.source.payload_format_version == "2.0"
        for f in graph.functions
    )


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


def _claim(claims: dict[str, str], logical: str, origin: str) -> None:
    other = claims.setdefault(logical, origin)
    if other != origin:
        raise RenderError(
            f"{other} and {origin} both become the logical ID {logical!r} "
            "(names differing only in punctuation or case); rename one of them"
        )


def render_spec(spec: Renderable, target: Target) -> Fragment:
    """The template fragment of one declared resource."""
    graph, context = target.graph, target.context
    match spec:
        case QueueSpec():
            return sqs.render_queue(spec)
        case TableSpec():
            return dynamodb.render_table(spec)
        case TopicSpec():
            return sns.render_topic(spec)
        case SubscriptionSpec():
            return sns.render_subscription(spec, graph.subscriptions)
        case RouteSpec():
            table = spec.target.table if isinstance(spec.target, TableTarget) else None
            return api.render_route(spec, context, graph.table(table) if table else None)
        case FunctionSpec():
            return render_function(spec, target)
        case PipeSpec():
            return pipes.render_pipe(spec)
        case UserPoolSpec():
            return cognito.render_user_pool(spec)
        case IotSpec():
            return iot_topics.render_iot(spec)
        case WebACL():
            return waf.render_firewall(
                spec, context, rest_api=has_api(graph), http_api=has_http_api(graph)
            )
        case _:
            assert_never(spec)


def render_function(spec: FunctionSpec, target: Target) -> Fragment:
    """A function, with what invokes it when an HTTP route does (the API's render, joined
    to the function's)."""
    iot = target.graph.iot
    fragment = awslambda.render_function(
        spec, target.context, None if iot is None else iot_topics.topic_arns(iot)
    )
    source = spec.source
    if isinstance(source, HttpSource):
        trigger = function_routes.render_function_route(
            spec, source, target.context, describe(spec)
        )
        return joined(fragment, trigger)
    return fragment


def render_parameter(parameter: ParameterRef) -> dict[str, Any]:
    rendered: dict[str, Any] = {"Type": "String", "MinLength": 1}
    if parameter.description:
        rendered["Description"] = parameter.description
    if parameter.default is not None:
        rendered["Default"] = parameter.default
    return rendered
