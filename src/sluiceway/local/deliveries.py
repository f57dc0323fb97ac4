"""The delivery worker: takes due rows from the outbox and hands them to a transport.

At-least-once: a row is marked delivered only after the peer accepted it. If the runtime
dies in the instant between the two, the delivery is attempted again after restart (an email
then carries the same Message-ID). A peer that cannot be reached delays delivery; it never
drops it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from sluiceway.clock import Clock
from sluiceway.local import topics
from sluiceway.local.email import DeliveryError
from sluiceway.local.store import Store, Tx
from sluiceway.local.topics import Job
from sluiceway.local.work import Step

log = logging.getLogger("sluiceway.deliveries")

Deliver = Callable[[Job], None]


class DeliveryWorker:
    def __init__(
        self,
        name: str,
        protocols: Sequence[str],
        deliver: Deliver,
        *,
        store: Store,
        clock: Clock,
        batch_size: int = 50,
    ) -> None:
        self.name = name
        self.protocols = tuple(protocols)
        self.deliver = deliver
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
            if error is None:
                try:
                    self.deliver(job)
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
            pending.append(self.store.submit(_outcome(job.id, error)))
        for future in pending:
            future.result()
        return Step(True)


def _outcome(job_id: int, error: DeliveryError | None) -> Callable[[Tx], None]:
    def record(tx: Tx) -> None:
        if error is None:
            topics.delivered(tx, job_id)
        else:
            topics.failed(tx, job_id, str(error), permanent=error.permanent)

    return record
