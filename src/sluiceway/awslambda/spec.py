"""A Lambda function as declared, with its event source (SAM's function Events)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from sluiceway.awslambda.code import CodeSource
from sluiceway.cognito.spec import AuthSpec
from sluiceway.core.policies import RolePolicy
from sluiceway.core.specs import Destination, Handler, Permission
from sluiceway.sns.spec import FilterPolicy

StartingPosition = Literal["TRIM_HORIZON", "LATEST"]


STARTING_POSITIONS: tuple[StartingPosition, ...] = ("TRIM_HORIZON", "LATEST")

# API Gateway's Lambda proxy payload formats: 1.0 (a REST API's, an HTTP API may use it too)
# and 2.0 (an HTTP API's own).
PayloadFormatVersion = Literal["1.0", "2.0"]
PAYLOAD_FORMAT_VERSIONS: tuple[PayloadFormatVersion, ...] = ("1.0", "2.0")


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
class FunctionAuthorizer:
    """API Gateway's Lambda authorizer (a REST API's TOKEN or REQUEST authorizer, from a
    template): `function` gets the request's identity (TOKEN: the `identity_sources` header,
    checked against `validation` first; REQUEST: the request itself) and answers with an IAM
    policy on the method's ARN, and a context the route's function then sees."""

    function: str
    kind: Literal["TOKEN", "REQUEST"]
    identity_sources: tuple[str, ...] = ("Authorization",)  # header names
    validation: str | None = None  # TOKEN: IdentityValidationExpression


@dataclass(frozen=True)
class HttpSource:
    """A function behind an HTTP route (API Gateway's Lambda proxy integration). `path` may
    hold ``{name}`` segments and a final greedy ``{name+}``. `payload_format_version` "1.0"
    is a REST API's route (the proxy event, ``Type: Api``); "2.0" an HTTP API's (API Gateway
    v2's event and answer rules, ``Type: HttpApi``)."""

    method: str
    path: str
    auth: AuthSpec | FunctionAuthorizer | None = None
    payload_format_version: PayloadFormatVersion = "1.0"
    # A REST API stage's route (a template's): served at ``/<stage><path>``, while the event
    # says `path` and ``requestContext.stage`` the stage, as API Gateway's does.
    stage: str | None = None
    # ApiKeyRequired (a template's): the x-api-key header must hold one of these keys.
    api_keys: tuple[str, ...] | None = None

    @property
    def served_path(self) -> str:
        """Where the runtime answers it: `path`, under its stage if it has one."""
        if self.stage is None:
            return self.path
        return f"/{self.stage}" if self.path == "/" else f"/{self.stage}{self.path}"


@dataclass(frozen=True)
class DirectSource:
    """A function with no trigger of its own (`@app.function`): a pipe invokes it, as its
    enrichment or its target."""


@dataclass(frozen=True)
class ScheduleSource:
    """A function an EventBridge schedule invokes (SAM's ``Schedule`` event, or
    ``ScheduleV2`` for a one-time ``at(...)``): `expression` is ``rate(...)``, ``cron(...)``
    or ``at(...)`` (see `sluiceway.core.schedule`); `input`, when given, is the JSON text the
    function gets in place of the Scheduled Event."""

    expression: str
    input: str | None = None
    enabled: bool = True


EventSource: TypeAlias = (
    QueueSource | StreamSource | TopicSource | HttpSource | DirectSource | ScheduleSource
)


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
    # A template's function: its code folder and Handler (imported only in its environments).
    code: CodeSource | None = None
    # A template's function: its execution role, which stands for `uses=`.
    role: RolePolicy | None = None

    @property
    def variables(self) -> dict[str, str]:
        return dict(self.environment)

    @property
    def module(self) -> str:
        if self.code is not None:
            return self.code.module
        return str(getattr(self.handler, "__module__", ""))

    @property
    def qualname(self) -> str:
        if self.code is not None:
            return self.code.function
        return str(getattr(self.handler, "__qualname__", ""))
