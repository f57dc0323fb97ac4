"""Running a handler the way Lambda does, with its permissions enforced.

While a handler runs, `current()` says which function is running and what it may do, so
resource handles can refuse calls outside its `uses=` (as IAM would).

Effects a handler cannot read back (``send_message``, ``publish``) are *deferred*: they
commit in the same transaction as the invocation's acknowledgement (the delete of the
processed messages, or the stream checkpoint). A crash or an error between the handler's
work and the acknowledgement therefore never leaves a notification without its checkpoint,
and a retried batch does not notify twice. Table writes are immediate (a handler may read
them back and condition on them), so handlers make those idempotent, as on AWS.
"""

from __future__ import annotations

import contextvars
import json
import logging
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sluiceway import naming
from sluiceway.events import LambdaContext
from sluiceway.local.store import Op
from sluiceway.permissions import Grant, grants_for
from sluiceway.specs import FunctionSpec

log = logging.getLogger("sluiceway.invoke")


@dataclass
class Invocation:
    function: FunctionSpec
    grants: tuple[Grant, ...]
    request_id: str
    deferred: list[Op[Any]] = field(default_factory=list)


_current: contextvars.ContextVar[Invocation | None] = contextvars.ContextVar(
    "sluiceway_invocation", default=None
)


def current() -> Invocation | None:
    """The invocation running in this thread, if any."""
    return _current.get()


@dataclass(frozen=True)
class Outcome:
    request_id: str
    result: Any
    error: BaseException | None
    deferred: tuple[Op[Any], ...]
    duration: float

    @property
    def ok(self) -> bool:
        return self.error is None


class Invoker:
    """Calls handlers with an AWS event and a Lambda context."""

    def __init__(self, *, region: naming.Region, now: Callable[[], float]) -> None:
        self.region = region
        self.now = now
        self._grants: dict[str, tuple[Grant, ...]] = {}

    def grants(self, function: FunctionSpec) -> tuple[Grant, ...]:
        grants = self._grants.get(function.name)
        if grants is None:
            grants = self._grants[function.name] = grants_for(function)
        return grants

    def invoke(self, function: FunctionSpec, event: Any) -> Outcome:
        request_id = str(uuid.uuid4())
        invocation = Invocation(function, self.grants(function), request_id)
        context = LambdaContext(
            function_name=function.name,
            function_arn=naming.function_arn(self.region, function.name),
            request_id=request_id,
            memory_size=function.memory_size,
            deadline=self.now() + function.timeout,
            now=self.now,
        )
        token = _current.set(invocation)
        started = time.perf_counter()
        error: BaseException | None = None
        result: Any = None
        try:
            result = function.handler(event, context)
            # Lambda serializes the answer as JSON; an answer that cannot be is an error.
            if result is not None:
                json.dumps(result)
        except Exception as caught:
            error = caught
            log.warning(
                "function %s failed (request %s): %s",
                function.name,
                request_id,
                "".join(traceback.format_exception_only(type(caught), caught)).strip(),
                extra={"function": function.name, "request_id": request_id},
            )
        finally:
            _current.reset(token)
        return Outcome(
            request_id,
            result,
            error,
            tuple(invocation.deferred) if error is None else (),
            time.perf_counter() - started,
        )
