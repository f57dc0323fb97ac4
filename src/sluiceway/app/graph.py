"""The app graph: one small frozen spec per declared resource.

Declaring only records specs. The local engine and the AWS renderer both read the same graph
(`AppGraph`), never each other; a new resource kind is a new spec here plus one case in each
target's exhaustive ``match``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeAlias, TypeVar

from sluiceway.apigateway.spec import RouteSpec, ServiceRouteSpec
from sluiceway.awslambda.spec import FunctionSpec
from sluiceway.cognito.spec import UserPoolSpec
from sluiceway.core.specs import Deployment, ParameterRef
from sluiceway.dynamodb.spec import TableSpec
from sluiceway.iot.spec import IotSpec, TopicRuleSpec
from sluiceway.pipes.spec import PipeSpec
from sluiceway.sns.spec import SubscriptionSpec, TopicSpec
from sluiceway.sqs.spec import QueueSpec
from sluiceway.wafv2.rules import WebACL

Spec: TypeAlias = QueueSpec | TableSpec | TopicSpec | SubscriptionSpec | RouteSpec | FunctionSpec


@dataclass(frozen=True)
class AppGraph:
    """Everything an app declares, frozen; what every target reads."""

    name: str
    queues: tuple[QueueSpec, ...] = ()
    tables: tuple[TableSpec, ...] = ()
    topics: tuple[TopicSpec, ...] = ()
    subscriptions: tuple[SubscriptionSpec, ...] = ()
    routes: tuple[RouteSpec, ...] = ()
    service_routes: tuple[ServiceRouteSpec, ...] = ()
    functions: tuple[FunctionSpec, ...] = ()
    parameters: tuple[ParameterRef, ...] = ()
    pipes: tuple[PipeSpec, ...] = ()
    user_pools: tuple[UserPoolSpec, ...] = ()
    iot: IotSpec | None = None
    topic_rules: tuple[TopicRuleSpec, ...] = ()
    firewall: WebACL | None = None
    deployment: Deployment = field(default_factory=Deployment)

    def queue(self, name: str) -> QueueSpec:
        return next(_named(self.queues, name, "queue"))

    def table(self, name: str) -> TableSpec:
        return next(_named(self.tables, name, "table"))

    def topic(self, name: str) -> TopicSpec:
        return next(_named(self.topics, name, "topic"))

    def function(self, name: str) -> FunctionSpec:
        return next(_named(self.functions, name, "function"))

    def specs(self) -> tuple[Spec, ...]:
        return (
            *self.queues,
            *self.tables,
            *self.topics,
            *self.subscriptions,
            *self.routes,
            *self.functions,
        )


_Named = TypeVar("_Named", QueueSpec, TableSpec, TopicSpec, FunctionSpec)


def _named(specs: tuple[_Named, ...], name: str, kind: str) -> Iterator[_Named]:
    for spec in specs:
        if spec.name == name:
            yield spec
            return
    raise KeyError(f"no {kind} named {name!r}")
