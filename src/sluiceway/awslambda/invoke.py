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
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from sluiceway.awslambda.permissions import grants_for
from sluiceway.awslambda.spec import FunctionSpec
from sluiceway.core import ids, naming
from sluiceway.core.errors import SluicewayError
from sluiceway.core.events import LambdaContext
from sluiceway.core.permissions import Grant
from sluiceway.core.store import Op

log = logging.getLogger("sluiceway.invoke")


class TaskTimedOut(SluicewayError):
    """The handler ran past its function's timeout (Lambda: "Task timed out")."""

    code = "TaskTimedOut"

    @classmethod
    def after(cls, timeout: float) -> TaskTimedOut:
        return cls(f"Task timed out after {timeout:.2f} seconds")


class Throttled(SluicewayError):
    """The function is at its concurrency: a synchronous invocation past its
    ``reserved_concurrency`` is refused at once (Lambda's ``TooManyRequestsException``,
    reason ``ReservedFunctionConcurrentInvocationLimitExceeded``); an invocation with no
    environment free within its timeout is too."""

    code = "TooManyRequestsException"
    reason = "ReservedFunctionConcurrentInvocationLimitExceeded"


@dataclass
class Invocation:
    function: FunctionSpec
    grants: tuple[Grant, ...]
    request_id: str
    deferred: list[Op[Any]] = field(default_factory=list)
    # Set when the handler overran its timeout: Lambda would have stopped it; Python cannot
    # stop a thread, so every later handle call from it fails instead.
    expired: bool = False
    # Set once it wrote a table: its writes are answered early (before the fsync), so its
    # reads go through the writer to see them.
    wrote: bool = False
    # The batch's trace when it has exactly one (else each record's, see `TracedRecords`).
    trace: str | None = None


_current: contextvars.ContextVar[Invocation | None] = contextvars.ContextVar(
    "sluiceway_invocation", default=None
)
# The trace of the record the handler is looking at (set as it walks its records).
_trace: contextvars.ContextVar[str | None] = contextvars.ContextVar("sluiceway_trace", default=None)


def current() -> Invocation | None:
    """The invocation running in this thread, if any."""
    return _current.get()


def current_trace() -> str | None:
    """The trace what a handler does now belongs to: that of the record it took last from
    its batch, or the batch's only trace, or None (no trace, or outside a handler)."""
    invocation = _current.get()
    if invocation is None:
        return None
    return _trace.get() or invocation.trace


def log_fields() -> dict[str, Any] | None:
    """What a handler's log lines are tagged with (see `sluiceway.core.logs`): its function,
    request and trace, or None outside a handler."""
    invocation = _current.get()
    if invocation is None:
        return None
    return {
        "function": invocation.function.name,
        "request_id": invocation.request_id,
        "correlation_id": current_trace(),
    }


class TracedRecords(list[Any]):
    """A batch's records that note, as the handler takes each one, whose trace it is, so
    that what the handler writes for a record joins that record's trace. Still a plain list
    to the handler (and to ``json.dumps``)."""

    def __init__(self, records: Iterable[Any], traces: Sequence[str | None]) -> None:
        super().__init__(records)
        self._traces = list(traces)

    def __iter__(self) -> Iterator[Any]:
        for n, record in enumerate(super().__iter__()):
            if n < len(self._traces):
                _trace.set(self._traces[n])
            yield record

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, int) and -len(self._traces) <= index < len(self._traces):
            _trace.set(self._traces[index])
        return super().__getitem__(index)


class Tracer(Protocol):
    """Told of each invocation whose batch has a trace: `started` before the handler runs
    (so the hop precedes what the handler does), `finished` after, with what `started`
    returned."""

    def started(self, function: str, request_id: str, traces: Sequence[str]) -> Any: ...

    def finished(self, token: Any, duration_ms: float, error: BaseException | None) -> None: ...


# A resource handle's call made in an execution environment: method, args, kwargs and the
# trace of the record the handler was looking at; the runtime runs it as the invocation.
Call = Callable[[str, tuple[Any, ...], dict[str, Any], str | None], Any]


class Isolation(Protocol):
    """Where handlers run in processes of their own (`sluiceway.local.environments`)."""

    def invoke(
        self,
        function: FunctionSpec,
        request_id: str,
        event: Any,
        traces: list[str | None],
        call: Call,
        correlation: str | None,
    ) -> Any: ...


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
    """Calls handlers with an AWS event and a Lambda context, within their timeout.

    With `environments` (``sluiceway run``), each function runs in execution environments
    of its own (worker processes, see `sluiceway.local.environments`): a timeout kills the
    handler, a crash fails only its invocation. Without (an app built inside a test, or
    ``--isolation thread``), handlers run on a pool of handler threads in this process, so
    the caller can stop waiting when the timeout passes; a handler that overruns keeps its
    thread until it returns (Python cannot stop it), hence a generous pool.
    """

    def __init__(
        self,
        *,
        region: naming.Region,
        now: Callable[[], float],
        threads: int = 64,
        tracer: Tracer | None = None,
    ) -> None:
        self.region = region
        self.now = now
        self.tracer = tracer
        # Told of every invocation once it ended, with its event (metrics, live events,
        # `sluiceway.testing`'s record); must be quick.
        self.observers: list[Callable[[FunctionSpec, Any, Outcome], None]] = []
        # Failures to report instead of running a handler (`fail_next`), by function name.
        self._injected: dict[str, list[BaseException]] = {}
        self._injected_lock = threading.Lock()
        self._grants: dict[str, tuple[Grant, ...]] = {}
        # Invocations in flight, of functions with a reserved_concurrency (`_admitted`).
        self._in_flight: Counter[str] = Counter()
        self._in_flight_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sluiceway-handler")
        # Set by the engine for process isolation: the environments, and what their
        # handles' calls run on (the engine itself).
        self.environments: Isolation | None = None
        # (an `App.backend`: the invoker calls its handle methods by name, as the frames name them)
        self.backend: object | None = None

    def grants(self, function: FunctionSpec) -> tuple[Grant, ...]:
        grants = self._grants.get(function.name)
        if grants is None:
            grants = self._grants[function.name] = grants_for(function)
        return grants

    def invoke(
        self,
        function: FunctionSpec,
        event: Any,
        traces: Sequence[str | None] = (),
        *,
        synchronous: bool = False,
    ) -> Outcome:
        """Run `function` on `event`. `traces` are the traces of the event's records, in
        order (the handler's writes join the trace of the record they are made for). A
        `synchronous` invocation (API Gateway's, ``Invoke``'s RequestResponse) of a function
        whose ``reserved_concurrency`` invocations are all in flight is throttled at once,
        as Lambda throttles it; the others (event source mappings, topics, pipes: Lambda's
        pollers and its async queue retry a throttle) wait for an environment."""
        if function.reserved_concurrency is None:
            return self._invoke(function, event, traces)
        if not self._admitted(function, synchronous):
            return self._refused(function, event)
        try:
            return self._invoke(function, event, traces)
        finally:
            with self._in_flight_lock:
                self._in_flight[function.name] -= 1

    def _admitted(self, function: FunctionSpec, synchronous: bool) -> bool:
        """Count an invocation of a function with a reserved_concurrency in, unless it is
        synchronous and the function is at it."""
        with self._in_flight_lock:
            reserved = function.reserved_concurrency
            if synchronous and reserved is not None and self._in_flight[function.name] >= reserved:
                return False
            self._in_flight[function.name] += 1
            return True

    def _refused(self, function: FunctionSpec, event: Any) -> Outcome:
        """A throttled invocation: no handler ran (told to the observers, as AWS counts
        throttles in the function's metrics)."""
        error = Throttled(
            f"Rate Exceeded: function '{function.name}' has its reserved_concurrency "
            f"({function.reserved_concurrency}) invocations in flight"
        )
        log.warning(
            "function %s throttled: %s", function.name, error, extra={"function": function.name}
        )
        outcome = Outcome(ids.uuid4(), None, error, (), 0.0)
        for observe in self.observers:
            observe(function, event, outcome)
        return outcome

    def _invoke(self, function: FunctionSpec, event: Any, traces: Sequence[str | None]) -> Outcome:
        request_id = ids.uuid4()
        invocation = Invocation(function, self.grants(function), request_id)
        known = sorted({t for t in traces if t is not None})
        if len(known) == 1:
            invocation.trace = known[0]
        token = (
            self.tracer.started(function.name, request_id, known)
            if known and self.tracer is not None
            else None
        )
        started = time.perf_counter()
        result: Any
        error: BaseException | None
        injected = self._take_injected(function.name)
        if injected is not None:
            result, error = None, injected
        elif self.environments is not None:
            result, error = self._in_environment(invocation, event, traces if known else ())
        else:
            result, error = self._in_thread(invocation, _traced(event, traces) if known else event)
        if error is not None:
            log.warning(
                "function %s failed (request %s): %s",
                function.name,
                request_id,
                _describe(error),
                extra={
                    "function": function.name,
                    "request_id": request_id,
                    "correlation_id": invocation.trace or (known[0] if known else None),
                },
            )
        duration = time.perf_counter() - started
        if token is not None and self.tracer is not None:
            self.tracer.finished(token, duration * 1000, error)
        outcome = Outcome(
            request_id,
            result,
            error,
            tuple(invocation.deferred) if error is None else (),
            duration,
        )
        for observe in self.observers:
            observe(function, event, outcome)
        return outcome

    def fail_next(self, function: str, errors: Sequence[BaseException]) -> None:
        """Fail `function`'s next invocations with `errors`, one each, instead of running
        its handler (a fault a test injects: the handler "raised" them)."""
        with self._injected_lock:
            self._injected.setdefault(function, []).extend(errors)

    def _take_injected(self, function: str) -> BaseException | None:
        if not self._injected:  # the common case, without the lock
            return None
        with self._injected_lock:
            waiting = self._injected.get(function)
            if not waiting:
                return None
            error = waiting.pop(0)
            if not waiting:
                del self._injected[function]
            return error

    def _in_thread(self, invocation: Invocation, event: Any) -> tuple[Any, BaseException | None]:
        function = invocation.function
        context = LambdaContext(
            function_name=function.name,
            function_arn=naming.function_arn(self.region, function.name),
            request_id=invocation.request_id,
            memory_size=function.memory_size,
            deadline=self.now() + function.timeout,
            now=self.now,
        )
        future = self._pool.submit(_run, function, invocation, event, context)
        try:
            return future.result(timeout=function.timeout), None
        except TimeoutError as caught:
            if future.done():  # the handler itself raised TimeoutError
                return None, caught
            invocation.expired = True
            return None, TaskTimedOut.after(function.timeout)
        except Exception as caught:
            return None, caught

    def _in_environment(
        self, invocation: Invocation, event: Any, traces: Sequence[str | None]
    ) -> tuple[Any, BaseException | None]:
        assert self.environments is not None
        assert self.backend is not None
        backend = self.backend

        def call(method: str, args: tuple[Any, ...], kwargs: dict[str, Any], trace: Any) -> Any:
            # As the invocation, as if the handler ran on this thread (see `_run`).
            token = _current.set(invocation)
            trace_token = _trace.set(trace)
            try:
                return getattr(backend, method)(*args, **kwargs)
            finally:
                _trace.reset(trace_token)
                _current.reset(token)

        try:
            result = self.environments.invoke(
                invocation.function,
                invocation.request_id,
                event,
                list(traces),
                call,
                invocation.trace,
            )
        except Exception as caught:
            return None, caught
        return result, None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _describe(error: BaseException) -> str:
    """``ValueError: boom``; an environment's error by the type Lambda reports."""
    error_type = getattr(error, "error_type", None)
    if isinstance(error_type, str):
        return f"{error_type}: {error}"
    return "".join(traceback.format_exception_only(type(error), error)).strip()


def _traced(event: Any, traces: Sequence[str | None]) -> Any:
    """The event with its records wrapped in `TracedRecords` (Lambda's ``{"Records": [...]}``
    or a pipe's bare list)."""
    if isinstance(event, list):
        return TracedRecords(event, traces)
    if isinstance(event, dict) and isinstance(event.get("Records"), list):
        return {**event, "Records": TracedRecords(event["Records"], traces)}
    return event


def _run(function: FunctionSpec, invocation: Invocation, event: Any, context: LambdaContext) -> Any:
    token = _current.set(invocation)
    trace_token = _trace.set(None)
    try:
        result = function.handler(event, context)
        # Lambda serializes the answer as JSON; an answer that cannot be is an error.
        if result is not None:
            json.dumps(result)
        return result
    finally:
        _trace.reset(trace_token)
        _current.reset(token)
