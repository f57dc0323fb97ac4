"""The app graph: one small frozen spec per declared resource.

Declaring only records specs. The local engine and the AWS renderer both read the same graph
(`AppGraph`), never each other; a new resource kind is a new spec here plus one case in each
target's exhaustive ``match``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, TypeVar

from sluiceway.core.attrvalue import KeyType
from sluiceway.wafv2.firewall import WebACL

StreamViewType = Literal["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"]
STREAM_VIEW_TYPES: tuple[StreamViewType, ...] = (
    "KEYS_ONLY",
    "NEW_IMAGE",
    "OLD_IMAGE",
    "NEW_AND_OLD_IMAGES",
)
StartingPosition = Literal["TRIM_HORIZON", "LATEST"]
STARTING_POSITIONS: tuple[StartingPosition, ...] = ("TRIM_HORIZON", "LATEST")
# Subscription protocols the local engine delivers (more arrive with their delivery code).
PROTOCOLS: tuple[str, ...] = ("email", "sms")
FilterPolicyScope = Literal["MessageAttributes", "MessageBody"]
FILTER_POLICY_SCOPES: tuple[FilterPolicyScope, ...] = ("MessageAttributes", "MessageBody")

Handler: TypeAlias = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class ParameterRef:
    """A value that differs per deployment (an email address, a phone number).

    Resolved when the app runs (``--set name=value`` or ``SLUICEWAY_<NAME>``) and rendered as a
    template parameter on AWS.
    """

    name: str
    default: str | None
    description: str = ""

    @property
    def env_var(self) -> str:
        return f"SLUICEWAY_{self.name.upper()}"


Endpoint: TypeAlias = str | ParameterRef


@dataclass(frozen=True)
class KeySpec:
    name: str
    type: KeyType = "S"


@dataclass(frozen=True)
class QueueSpec:
    name: str
    visibility_timeout: int = 30
    delay_seconds: int = 0
    message_retention_period: int = 345_600
    maximum_message_size: int = 1_048_576
    dead_letter: str | None = None
    max_receive_count: int | None = None
    content_based_deduplication: bool = False

    @property
    def fifo(self) -> bool:
        return self.name.endswith(".fifo")


@dataclass(frozen=True)
class TableSpec:
    name: str
    partition_key: KeySpec
    sort_key: KeySpec | None = None
    stream: StreamViewType | None = None
    ttl_attribute: str | None = None

    @property
    def key_schema(self) -> str:
        """The keys in words: 'id (S) + roll (S)'."""
        keys = [self.partition_key, *([self.sort_key] if self.sort_key else [])]
        return " + ".join(f"{k.name} ({k.type})" for k in keys)

    @property
    def key_names(self) -> tuple[str, ...]:
        if self.sort_key is None:
            return (self.partition_key.name,)
        return (self.partition_key.name, self.sort_key.name)


@dataclass(frozen=True)
class TopicSpec:
    name: str


@dataclass(frozen=True)
class FilterPolicy:
    """An SNS subscription filter policy: its JSON text (as validated) and its scope."""

    policy: str
    scope: FilterPolicyScope = "MessageAttributes"


@dataclass(frozen=True)
class SubscriptionSpec:
    topic: str
    protocol: str
    endpoint: Endpoint
    filter_policy: FilterPolicy | None = None


@dataclass(frozen=True)
class QueueTarget:
    queue: str


@dataclass(frozen=True)
class TableTarget:
    """A route that writes the request body as an item (API Gateway's PutItem
    integration): `model` is the JSON Schema the body must satisfy (canonical JSON text);
    with `overwrite` False an existing key is a 409, with True the item is replaced."""

    table: str
    model: str | None = None
    overwrite: bool = False


RouteTarget: TypeAlias = QueueTarget | TableTarget


@dataclass(frozen=True)
class ResourceServerSpec:
    """A Cognito resource server: an identifier (``devices``) and its scopes (``send`` ->
    the full scope ``devices/send``), each with a description."""

    identifier: str
    name: str
    scopes: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class UserPoolSpec:
    """A Cognito user pool used for machine-to-machine OAuth2 (client credentials): its
    domain prefix, resource servers, and how long access tokens live."""

    name: str
    domain: str | None = None
    resource_servers: tuple[ResourceServerSpec, ...] = ()
    access_token_validity: int = 3600


@dataclass(frozen=True)
class AuthSpec:
    """A route's authorizer: an access token of `pool` carrying one of `scopes` (API
    Gateway's COGNITO_USER_POOLS authorizer with AuthorizationScopes)."""

    pool: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class IotSpec:
    """The app publishes MQTT messages through AWS IoT Core: `topics` are the topic names
    and filters (``devices/+/inbox``) a publish may use; on AWS they are the resources of the
    functions' ``iot:Publish`` policy."""

    topics: tuple[str, ...] = ("#",)


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    target: RouteTarget
    forward_headers: tuple[str, ...] = ()
    auth: AuthSpec | None = None


@dataclass(frozen=True)
class Permission:
    """What a function may do to one resource: `uses=[orders.writes]`.

    `actions` are IAM action names. The same value is checked locally and rendered into the
    function's IAM policy on AWS.
    """

    kind: Literal["queue", "table", "stream", "topic", "sms", "iot"]
    name: str  # "*" for sms (any phone number) and iot (the topics `IotSpec` allows)
    actions: frozenset[str]
    label: str


@dataclass(frozen=True)
class Destination:
    """Where a stream mapping sends a record of what it had to discard (OnFailure)."""

    kind: Literal["queue", "topic"]
    name: str


@dataclass(frozen=True)
class QueueSource:
    queue: str
    batch_size: int = 10
    maximum_batching_window_in_seconds: int = 0
    report_batch_item_failures: bool = True
    filters: tuple[str, ...] = ()
    maximum_concurrency: int | None = None


@dataclass(frozen=True)
class StreamSource:
    table: str
    batch_size: int = 100
    maximum_batching_window_in_seconds: int = 0
    starting_position: StartingPosition = "LATEST"
    filters: tuple[str, ...] = ()
    report_batch_item_failures: bool = True
    maximum_retry_attempts: int = -1
    maximum_record_age_in_seconds: int = -1
    bisect_batch_on_function_error: bool = False
    on_failure: Destination | None = None
    parallelization_factor: int = 1
    tumbling_window_in_seconds: int = 0


@dataclass(frozen=True)
class TopicSource:
    """A function subscribed to a topic (SNS's "lambda" protocol)."""

    topic: str
    filter_policy: FilterPolicy | None = None


@dataclass(frozen=True)
class HttpSource:
    """A function behind an HTTP route (API Gateway's Lambda proxy integration). `path` may
    hold ``{name}`` segments and a final greedy ``{name+}``."""

    method: str
    path: str
    auth: AuthSpec | None = None


@dataclass(frozen=True)
class DirectSource:
    """A function with no trigger of its own (`@app.function`): a pipe invokes it, as its
    enrichment or its target."""


EventSource: TypeAlias = QueueSource | StreamSource | TopicSource | HttpSource | DirectSource


@dataclass(frozen=True)
class PipeTarget:
    """Where a pipe delivers: a function (invoked with the batch), a queue (one message per
    record) or a topic (one publish per record)."""

    kind: Literal["function", "queue", "topic"]
    name: str


@dataclass(frozen=True)
class PipeSpec:
    """An EventBridge Pipe: records from a table's stream or a queue, filtered, optionally
    enriched by a function, delivered to a target. `source` is a `StreamSource` or a
    `QueueSource` carrying the source parameters Pipes share with Lambda's mappings
    (filters in the Pipes context; `on_failure` is the pipe's dead-letter target)."""

    name: str
    source: StreamSource | QueueSource
    target: PipeTarget
    enrichment: str | None = None


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    handler: Handler = field(compare=False, repr=False)
    source: EventSource
    uses: tuple[Permission, ...] = ()
    timeout: int = 3
    memory_size: int = 128
    # The function's own variables (Lambda's Environment.Variables), as sorted pairs.
    environment: tuple[tuple[str, str], ...] = ()
    # Lambda's ReservedConcurrentExecutions: the most environments it runs at once.
    reserved_concurrency: int | None = None

    @property
    def variables(self) -> dict[str, str]:
        return dict(self.environment)

    @property
    def module(self) -> str:
        return str(getattr(self.handler, "__module__", ""))

    @property
    def qualname(self) -> str:
        return str(getattr(self.handler, "__qualname__", ""))


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
    functions: tuple[FunctionSpec, ...] = ()
    parameters: tuple[ParameterRef, ...] = ()
    pipes: tuple[PipeSpec, ...] = ()
    user_pools: tuple[UserPoolSpec, ...] = ()
    iot: IotSpec | None = None
    firewall: WebACL | None = None

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
