"""The invoker's tracer in the local runtime (`invoke.Tracer`): an invocation as a hop of
each trace in its batch. Its place in the trace is taken when it starts (before what its
handler does); the hop goes to the trace log once it is over (it belongs to no transaction).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sluiceway.core import traces
from sluiceway.core.clock import Clock
from sluiceway.core.store import Store


class InvocationTracer:
    def __init__(self, clock: Clock, store: Store) -> None:
        self.clock = clock
        self.store = store

    def started(
        self, function: str, request_id: str, trace_ids: Sequence[str]
    ) -> tuple[str, str, Sequence[str], int, int]:
        return (function, request_id, trace_ids, int(self.clock.now() * 1000), traces.next_seq())

    def finished(self, token: Any, duration_ms: float, error: BaseException | None) -> None:
        function, request_id, trace_ids, at_ms, seq = token
        detail: dict[str, Any] = {
            "request_id": request_id,
            "traces_in_batch": len(trace_ids),
            "ok": error is None,
        }
        if error is not None:
            detail["error"] = repr(error)[:500]

        self.store.traces.add(
            [traces.row(t, at_ms, "invoke", function, detail, duration_ms, seq) for t in trace_ids]
        )
