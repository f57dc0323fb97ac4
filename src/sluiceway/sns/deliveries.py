"""The delivery worker: takes due rows from the outbox and hands them to a carrier.

A row is marked delivered only after the peer accepted it. In the runtime the email carrier
is the delivery process (`sender.py`), which records the outcomes itself if the runtime dies
before doing so, so a crash sends nothing twice. A peer that cannot be reached delays
delivery; it never drops it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeAlias

from sluiceway.core.clock import Clock
from sluiceway.core.store import Op, Store, Tx
from sluiceway.core.work import Step
from sluiceway.sns import outbox
from sluiceway.sns.email import DeliveryError, Links, Mailer, compose
from sluiceway.sns.outbox import Job

log = logging.getLogger("sluiceway.deliveries")

# A delivery's outcome: None when delivered, and the effects to commit with it (a function's
# deferred sends).
Delivered: TypeAlias = tuple[DeliveryError | None, Sequence[Op[Any]]]


class Carrier(Protocol):
    """What carries deliveries to their peers. `recorded` says an outcome is on disk."""

    def deliver_all(self, jobs: Sequence[Job]) -> list[Delivered]: ...

    def recorded(self, job_id: int) -> None: ...


def one_by_one(
    jobs: Sequence[Job],
    deliver: Callable[[Job], Sequence[Op[Any]] | None],
    sent: Callable[[int], None] | None = None,
) -> list[Delivered]:
    """Deliver jobs in turn; once a peer proved unreachable, the rest of the batch fails at
    once (and waits for its retry) instead of each trying in vain. `sent` notes each job the
    peer accepted before the next goes (`sent_log.SentLog.sent`)."""
    results: list[Delivered] = []
    unreachable: DeliveryError | None = None
    for job in jobs:
        if unreachable is not None:
            results.append((unreachable, ()))
            continue
        try:
            effects = deliver(job) or ()
        except DeliveryError as error:
            results.append((error, ()))
            if error.connection:
                unreachable = error
        except Exception as bug:
            # Not the peer's doing: record it where an operator sees it, and stop retrying a
            # delivery that fails the same way every time.
            log.exception("%s delivery %d could not be attempted", job.protocol, job.id)
            results.append((DeliveryError(f"internal error: {bug!r}", permanent=True), ()))
        else:
            if sent is not None:
                sent(job.id)
            results.append((None, effects))
    return results


class MailCarrier:
    """Carries email in this process (what `drain()` and tests use; the runtime uses the
    delivery process)."""

    def __init__(self, mailer: Mailer, *, sender: str, links: Links) -> None:
        self.mailer = mailer
        self.sender = sender
        self.links = links
        self.sent: Callable[[int], None] | None = None  # the engine's `SentLog.sent`

    def deliver_all(self, jobs: Sequence[Job]) -> list[Delivered]:
        return one_by_one(jobs, self._deliver, self.sent)

    def _deliver(self, job: Job) -> None:
        self.mailer.send(compose(job, sender=self.sender, links=self.links))

    def recorded(self, job_id: int) -> None:
        return None

    def close(self) -> None:
        self.mailer.close()


# Batches of one protocol's deliveries in flight at once: a slow peer's connections stay busy.
DELIVERY_WORKERS = 3


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
        workers: int = DELIVERY_WORKERS,
    ) -> None:
        self.name = name
        self.workers = workers
        self.protocols = tuple(protocols)
        self.carrier = carrier
        self.store = store
        self.clock = clock
        self.batch_size = batch_size
        self.channel = "deliveries"
        self.wake_peer: Callable[[], None] = lambda: None  # the engine wires its crew
        # Told of each attempt once its outcome is on disk (metrics, live events).
        self.observers: list[Callable[[Job, DeliveryError | None], None]] = []

    def step(self) -> Step:
        jobs = self.store.write(lambda tx: outbox.claim(tx, self.protocols, self.batch_size))
        if len(jobs) == self.batch_size:  # more may be waiting: another worker takes them
            self.wake_peer()
        if not jobs:
            now_ms = int(self.clock.now() * 1000)
            due = outbox.next_due(self.store.reader(), self.protocols, now_ms)
            return Step(False, None if due is None else due / 1000)
        try:
            results = self.carrier.deliver_all(jobs)
        except Exception as error:  # the carrier itself broke: everything waits for a retry
            log.exception("%s deliveries could not be handed over", self.name)
            results = [(DeliveryError(f"internal error: {error!r}"), ())] * len(jobs)
        for job, (failure, _) in zip(jobs, results, strict=True):
            if failure is not None:
                log.warning(
                    "%s delivery %d to %s failed (attempt %d): %s",
                    job.protocol,
                    job.id,
                    job.endpoint,
                    job.attempts + 1,
                    failure,
                )
        self.store.write(_outcomes(jobs, results))
        for job in jobs:
            self.carrier.recorded(job.id)
        for observe in self.observers:
            for job, (failure, _) in zip(jobs, results, strict=True):
                observe(job, failure)
        return Step(True)


def _outcomes(jobs: Sequence[Job], results: Sequence[Delivered]) -> Callable[[Tx], None]:
    def record(tx: Tx) -> None:
        for job, (error, effects) in zip(jobs, results, strict=True):
            if error is None:
                outbox.delivered(tx, job.id)
                for effect in effects:
                    effect(tx)
            else:
                outbox.failed(
                    tx, job.id, str(error), permanent=error.permanent, retry_in_ms=error.retry_in_ms
                )

    return record
