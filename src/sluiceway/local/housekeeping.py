"""The engine's housekeeping, as background work: DLQ redrive tasks carried out a chunk at a
time, and a sweep of what expired (messages, stream records, TTL items, trace hops).
"""

from __future__ import annotations

import logging

from sluiceway.core.clock import Clock
from sluiceway.core.store import Store, Tx
from sluiceway.core.work import Step
from sluiceway.dynamodb import tables
from sluiceway.local.registry import Registry
from sluiceway.sqs import moves, queues

log = logging.getLogger("sluiceway.engine")

SWEEP_SECONDS = 60.0


class Housekeeping:
    def __init__(self, store: Store, registry: Registry, clock: Clock, owner: str) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock
        self.owner = owner  # who holds the redrive tasks' leases
        self._sweep_due = 0.0

    def move_messages(self) -> Step:
        """Carry out DLQ redrive tasks (StartMessageMoveTask), a chunk per step."""
        registry = self.registry
        due = self.store.write(lambda tx: moves.step(tx, registry, self.owner))
        if due is None:
            return Step(False)
        if due <= self.clock.now():
            return Step(True)
        return Step(False, due)

    def sweep(self) -> int:
        """Drop expired messages, stream records older than 24 hours and items past their
        TTL; returns how many went."""
        registry = self.registry

        def expire(tx: Tx) -> int:
            dropped = sum(queues.sweep_expired(tx, q) for q in registry.queues.values())
            for table in registry.tables.values():
                dropped += tables.trim_stream(tx, table)
                if table.spec.ttl_attribute:
                    dropped += tables.expire(tx, table)
            return dropped

        dropped = self.store.write(expire)
        try:
            dropped += self.store.traces.trim()
        except Exception:  # the trace log's own thread trims again within a minute
            log.exception("trimming trace hops failed")
        return dropped

    def sweep_step(self) -> Step:
        """`sweep`, once a minute."""
        now = self.clock.now()
        if now >= self._sweep_due:
            self.sweep()
            self._sweep_due = now + SWEEP_SECONDS
        return Step(False, self._sweep_due)
