"""What a service's wire operations see: the `Call` (who calls, where, which operation) and
the `Operations` table a service registers its handlers in.

A handler is a plain function of the engine (typed by the service's own Protocol of what it
needs), the call and the parsed input; it returns the output as boto3 would show it, or
raises `WireError`. It runs on a worker thread of the runtime, so it may wait on the store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sluiceway.core.naming import Region
from sluiceway.core.permissions import Grant, ResourceKind, allows
from sluiceway.core.policies import RolePolicy
from sluiceway.core.wire.errors import WireError

E = TypeVar("E")
Handler = Callable[[E, "Call", dict[str, Any]], dict[str, Any]]

ADMIN = "sluiceway-admin"


@dataclass(frozen=True)
class Caller:
    """Who signed the request: a function (its grants) or the runtime's admin (all)."""

    principal: str
    access_key: str
    grants: tuple[Grant, ...] | None = None  # None: the admin, allowed everything
    role: RolePolicy | None = None  # a template's function: its role decides, not `grants`

    @property
    def is_admin(self) -> bool:
        return self.grants is None and self.role is None

    def allows(self, kind: ResourceKind, name: str, action: str, arn: str) -> bool:
        if self.role is not None:
            return self.role.allows(action, arn)
        return self.grants is None or allows(self.grants, kind, name, action)


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    caller: Caller
    region: Region
    endpoint: str  # the runtime as the client addressed it: "http://127.0.0.1:8080"
    request_id: str
    denied_code: str = "AccessDeniedException"
    denied_status: int | None = None

    def authorize(self, kind: ResourceKind, name: str, action: str, arn: str) -> None:
        """Raise AWS's access denied unless the caller may do `action` on the resource."""
        if self.caller.allows(kind, name, action, arn):
            return
        fix = (
            f"allow {action} on {arn} in the policies of role '{self.caller.role.role}'"
            if self.caller.role is not None
            else "add the resource's permission to uses=[...] of function "
            f"'{self.caller.principal}'"
        )
        raise WireError(
            self.denied_code,
            f"User: arn:aws:sts::{self.region.account_id}:assumed-role/{self.caller.principal}/"
            f"{self.caller.principal} is not authorized to perform: {action} on resource: "
            f"{arn} because no identity-based policy allows the {action} action "
            f"(sluiceway: {fix})",
            status=self.denied_status,
        )

    def require_admin(self, action: str, arn: str) -> None:
        """Account-wide actions (list, create, delete a resource): a function's grants
        never hold them (sluiceway grants per resource, never ``*``), so only the admin may."""
        if not self.caller.is_admin:
            self.authorize("queue", "", action, arn)  # no grant names "": always denied


@dataclass
class Operations(Generic[E]):
    """A service's wire operations by name, as botocore's model names them."""

    service: str
    denied_code: str = "AccessDeniedException"
    denied_status: int | None = None
    # The query protocol's names where the (json) model lost them: "Shape.Member" -> name.
    query_names: Mapping[str, str] = field(default_factory=dict)
    # A query-compatible json service's error codes as its query protocol has them
    # (SQS: QueueDoesNotExist -> AWS.SimpleQueueService.NonExistentQueue).
    query_codes: Mapping[str, str] = field(default_factory=dict)
    handlers: dict[str, Handler[E]] = field(default_factory=dict)

    def __call__(self, name: str) -> Callable[[Handler[E]], Handler[E]]:
        def register(handler: Handler[E]) -> Handler[E]:
            if name in self.handlers:
                raise ValueError(f"{self.service} operation {name} is registered twice")
            self.handlers[name] = handler
            return handler

        return register

    def names(self) -> Iterable[str]:
        return self.handlers.keys()
