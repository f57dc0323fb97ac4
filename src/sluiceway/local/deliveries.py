"""The delivery worker: takes due rows from the outbox and hands them to a carrier.

A row is marked delivered only after the peer accepted it, and each outcome is recorded as
soon as it is known. In the runtime the carrier is the delivery process (`sender.py`), which
records the outcome itself if the runtime dies before doing so, so a crash sends nothing
twice. A peer that cannot be reached delays delivery; it never drops it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from functools import partial
from typing import Any, Protocol

from sluiceway.clock import Clock
from sluiceway.local import topics
from sluiceway.local.email import DeliveryError
from sluiceway.local.store import Op, Store, Tx
from sluiceway.local.topics import Job
from sluiceway.local.work import Step

log = logging.getLogger("sluiceway.deliveries")


class Carrier(Protocol):
    """What carries a delivery to its peer. `deliver` may return effects to commit with the
    delivery's outcome (a function's deferred sends); `recorded` says the outcome is on
    disk."""

    def deliver(self, job: Job) -> Sequence[Op[Any]] | None: ...

    def recorded(self, job_id: int) -> None: ...


class DeliveryWorker:
    def __init__(
        self,
        name: str,
        protocols: Sequence[str],
        carrier: Carrier,
        *,
        store: Store,
        clock: Clock,
        batch_size: int = 50,
    ) -> None:
        self.name = name
        self.protocols = tuple(protocols)
        self.carrier = carrier
        self.store = store
        self.clock = clock
        self.batch_size = batch_size
        self.channel = "deliveries"

    def step(self) -> Step:
        jobs = self.store.write(lambda tx: topics.claim(tx, self.protocols, self.batch_size))
        if not jobs:
            now_ms = int(self.clock.now() * 1000)
            due = topics.next_due(self.store.reader(), self.protocols, now_ms)
            return Step(False, None if due is None else due / 1000)
        # Each outcome is committed as soon as it is known (without waiting, so the commit
        # overlaps the next send): a crash can re-send at most the one delivery whose peer
        # had answered while its record was not yet on disk.
        pending: list[Future[None]] = []
        unreachable: DeliveryError | None = None
        for job in jobs:
            error = unreachable
            effects: Sequence[Op[Any]] = ()
            if error is None:
                try:
                    effects = self.carrier.deliver(job) or ()
                except DeliveryError as failure:
                    log.warning(
                        "%s delivery %d to %s failed (attempt %d): %s",
                        job.protocol,
                        job.id,
                        job.endpoint,
                        job.attempts + 1,
                        failure,
                    )
                    error = failure
                    if failure.connection:
                        unreachable = failure
                except Exception as bug:
                    # Not the peer's doing: record it where an operator sees it, and stop
                    # retrying a delivery that fails the same way every time.
                    log.exception("%s delivery %d could not be attempted", job.protocol, job.id)
                    error = DeliveryError(f"internal error: {bug!r}", permanent=True)
            future = self.store.submit(_outcome(job.id, error, effects))
            future.add_done_callback(partial(_tell_recorded, self.carrier, job.id))
            pending.append(future)
        for future in pending:
            future.result()
        return Step(True)


def _tell_recorded(carrier: Carrier, job_id: int, future: Future[None]) -> None:
    if future.exception() is None:
        carrier.recorded(job_id)


def _outcome(
    job_id: int, error: DeliveryError | None, effects: Sequence[Op[Any]]
) -> Callable[[Tx], None]:
    def record(tx: Tx) -> None:
        if error is None:
            topics.delivered(tx, job_id)
            for effect in effects:
                effect(tx)
        else:
            topics.failed(
                tx, job_id, str(error), permanent=error.permanent, retry_in_ms=error.retry_in_ms
            )

    return record
