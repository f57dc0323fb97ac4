"""What declarations share: parameters resolved per deployment, handlers, permissions,
destinations and how the app is deployed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

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
class Deployment:
    """How the AWS render observes the app (`App.deployment`): X-Ray `tracing` of its API
    stage and functions (the local runtime traces every request too), and its API's
    `access_logs` (a JSON line per request in a log group of its own)."""

    tracing: bool = True
    access_logs: bool = True
