"""What operators see and steer while the runtime runs: invocations and deliveries counted
(`Metrics`) and told to the live events (`Observer`), and which mappings are paused
(`Pauses`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from sluiceway.awslambda import pausing
from sluiceway.awslambda.invoke import Outcome
from sluiceway.awslambda.queue_mapping import QueueMapping
from sluiceway.awslambda.spec import FunctionSpec
from sluiceway.core.store import EXTERNAL, Store
from sluiceway.core.work import IDLE, Step
from sluiceway.local.counters import Metrics
from sluiceway.local.event_sources import SourceMapping
from sluiceway.local.events_bus import EventBus
from sluiceway.sns.email import DeliveryError
from sluiceway.sns.outbox import Job

log = logging.getLogger("sluiceway.engine")


class Observer:
    """Counts invocations and deliveries and tells the live events of them (the invoker's
    and the delivery workers' observer)."""

    def __init__(self, metrics: Metrics, bus: EventBus) -> None:
        self.metrics = metrics
        self.bus = bus

    def invoked(self, function: FunctionSpec, event: Any, outcome: Outcome) -> None:
        self.metrics.invoked(function.name, outcome.duration, outcome.ok)
        self.bus.publish(
            "invocation",
            {
                "function": function.name,
                "request_id": outcome.request_id,
                "duration_ms": round(outcome.duration * 1000, 3),
                "ok": outcome.ok,
                "error": None if outcome.error is None else repr(outcome.error)[:300],
            },
        )

    def delivered(self, job: Job, failure: DeliveryError | None) -> None:
        status = "delivered" if failure is None else "failed" if failure.permanent else "retrying"
        self.metrics.delivery(job.protocol, status)
        self.bus.publish(
            "delivery",
            {
                "id": job.id,
                "protocol": job.protocol,
                "endpoint": job.endpoint,
                "topic": job.topic or None,
                "delivery_kind": job.kind,  # a notification, or a confirmation request
                "status": status,
                "attempts": job.attempts + 1,
                "error": None if failure is None else str(failure)[:300],
            },
        )


class Pauses:
    """The mappings an operator paused (`sluiceway mappings pause`, the console), as this
    runtime sees them; `wake` wakes its workers when one is resumed."""

    def __init__(self, store: Store, bus: EventBus, wake: Callable[[], None]) -> None:
        self.store = store
        self.bus = bus
        self.wake = wake
        self.paused: frozenset[str] = frozenset()

    def record(self, mappings: Sequence[SourceMapping]) -> None:
        """Note the app's mappings and which of them are paused, and listen for pauses."""
        entries = []
        for mapping in mappings:
            kind = "pipe" if mapping.consumer.pipe else "function"
            source = (
                f"queue:{mapping.queue.name}"
                if isinstance(mapping, QueueMapping)
                else f"table:{mapping.table.name}"
            )
            entries.append((mapping.name, kind, source))
        self.store.write(lambda tx: pausing.record(tx, entries))
        self.paused = frozenset(pausing.paused(self.store.reader()))
        self.store.on_commit(self._notice)

    def _notice(self, touched: set[str]) -> None:
        """A pause or resume, made here or by another process (the CLI; heard within
        `store.WATCH_SECONDS`): it holds from the mapping's next step; a resumed mapping is
        woken."""
        if EXTERNAL not in touched and pausing.CHANNEL not in touched:
            return
        paused = frozenset(pausing.paused(self.store.reader()))
        if paused == self.paused:
            return
        before, self.paused = self.paused, paused
        for name in sorted(paused - before):
            log.info("mapping %s paused", name, extra={"mapping": name})
            self.bus.publish("mapping", {"name": name, "state": "paused"})
        for name in sorted(before - paused):
            log.info("mapping %s resumed", name, extra={"mapping": name})
            self.bus.publish("mapping", {"name": name, "state": "resumed"})
        self.wake()

    def unless_paused(self, name: str, step: Callable[[], Step]) -> Callable[[], Step]:
        def run() -> Step:
            return IDLE if name in self.paused else step()

        return run
