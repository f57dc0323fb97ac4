"""An SQS queue feeding a function, with Lambda's event source mapping semantics.

Each step receives a batch (respecting the batching window and the 6 MB payload), drops
the records no filter matches (Lambda deletes them), invokes the function, then in ONE
transaction deletes what succeeded, releases what failed, and commits the invocation's
deferred effects. A raised error, a timeout or a malformed partial response fails the whole
batch: nothing is deleted, the messages reappear after the visibility timeout, and the
queue's redrive policy moves them to the DLQ in time. On a FIFO queue, a failed message
also fails every later message of its group in the batch, so a group's order holds even if
the handler reports only the first failure.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import Any

from sluiceway.awslambda.invoke import Outcome
from sluiceway.awslambda.mappings import (
    MAX_PAYLOAD_BYTES,
    BadResponse,
    Consumer,
    commit_deferred,
    failed_identifiers,
)
from sluiceway.awslambda.spec import QueueSource
from sluiceway.core import events
from sluiceway.core.clock import Clock
from sluiceway.core.faults import crash_point
from sluiceway.core.store import Op, Store, Tx
from sluiceway.core.work import IDLE, Step
from sluiceway.patterns import FilterSet, compile_filters, esm_view_of_sqs_record
from sluiceway.sqs import queues
from sluiceway.sqs.info import QueueInfo
from sluiceway.sqs.messages import Message

log = logging.getLogger("sluiceway.mappings")

# Lambda starts an SQS mapping with 5 concurrent batches and adds more while the queue has a
# backlog, up to the mapping's maximum concurrency. Locally the pollers scale the same way,
# up to 10 batches in flight: past that, one interpreter's GIL rather than the number of
# pollers is the limit (benchmarks/README.md, "What limits it now").
DEFAULT_POLLERS = 5
LOCAL_MAX_POLLERS = 10


class QueueMapping:
    def __init__(
        self,
        consumer: Consumer,
        source: QueueSource,
        queue: QueueInfo,
        *,
        store: Store,
        clock: Clock,
        region: str,
    ) -> None:
        self.consumer = consumer
        self.source = source
        self.queue = queue
        self.store = store
        self.clock = clock
        self.region = region
        self.channel = queue.channel
        self.name = consumer.name
        self.filters: FilterSet | None = (
            compile_filters(list(source.filters), context="pipes" if consumer.pipe else "esm")
            if source.filters
            else None
        )
        self.invocations = 0
        self.filtered_out = 0
        self.last_error: str | None = None
        self.active = min(DEFAULT_POLLERS, self.pollers)
        self.peak_active = self.active
        self._scaling = threading.Lock()
        self.wake_pollers: Callable[[], None] = lambda: None  # the engine wires its workers

    @property
    def pollers(self) -> int:
        """At most how many batches are ever in flight: `maximum_concurrency`, or the local
        cap. `active` of them poll now."""
        return min(self.source.maximum_concurrency or LOCAL_MAX_POLLERS, LOCAL_MAX_POLLERS)

    def poller(self, index: int) -> Callable[[], Step]:
        """The step of poller number `index`: idle while the mapping runs fewer pollers."""

        def step() -> Step:
            if index >= self.active:
                return IDLE
            return self.step()

        return step

    def _scale(self, claimed: int) -> None:
        """A full batch means a backlog: one more poller (up to the cap), and another poller
        woken to take the next batch. An empty receive means none: one fewer poller (down to
        where Lambda starts)."""
        if claimed >= self.source.batch_size:
            if self.active < self.pollers:
                with self._scaling:
                    self.active = min(self.active + 1, self.pollers)
                    self.peak_active = max(self.peak_active, self.active)
            self.wake_pollers()
        elif claimed == 0 and self.active > min(DEFAULT_POLLERS, self.pollers):
            with self._scaling:
                self.active = max(self.active - 1, min(DEFAULT_POLLERS, self.pollers))

    def step(self) -> Step:
        now_ms = int(self.clock.now() * 1000)
        cx = self.store.reader()
        window = self.source.maximum_batching_window_in_seconds
        if window:
            waiting = queues.count_visible(cx, self.queue, now_ms, self.source.batch_size)
            if waiting == 0:
                return self._idle(cx, now_ms)
            if waiting < self.source.batch_size:
                oldest = queues.oldest_visible_since(cx, self.queue, now_ms)
                closes = (oldest or now_ms) + window * 1000
                if now_ms < closes:
                    return Step(False, closes / 1000)
        batch = self.store.write(
            lambda tx: queues.claim(
                tx, self.queue, self.source.batch_size, max_bytes=MAX_PAYLOAD_BYTES, invoking=True
            ),
            early=True,
        )
        self._scale(len(batch))
        if not batch:
            return self._idle(cx, now_ms)
        records = [self._record(m) for m in batch]
        dropped = [m for m, r in zip(batch, records, strict=True) if not self._wanted(r)]
        kept = [(m, r) for m, r in zip(batch, records, strict=True) if self._wanted(r)]
        self.filtered_out += len(dropped)
        if not kept:
            self._acknowledge(dropped, [], ())
            return Step(True)
        records = [r for _, r in kept]
        outcome = self.consumer.invoke(
            records if self.consumer.pipe else {"Records": records},
            [m.trace_id for m, _ in kept],
        )
        self.invocations += 1
        invoked = [m for m, _ in kept]
        failed, deferred = self._failures(outcome, invoked)
        crash_point("after-handler-before-delete")
        self._acknowledge(
            dropped + [m for m in invoked if m.message_id not in failed],
            [m for m in invoked if m.message_id in failed],
            deferred,
        )
        return Step(True)

    def _record(self, message: Message) -> dict[str, Any]:
        return events.sqs_record(
            message_id=message.message_id,
            receipt_handle=message.receipt,
            body=message.body,
            attributes=message.system_attributes(),
            message_attributes=message.attributes,
            queue_arn=self.queue.arn,
            region=self.region,
        )

    def _wanted(self, record: dict[str, Any]) -> bool:
        return self.filters is None or self.filters.matches(esm_view_of_sqs_record(record))

    def _acknowledge(
        self, done: list[Message], failed: list[Message], deferred: Sequence[Op[Any]]
    ) -> None:
        def acknowledge(tx: Tx) -> None:
            for message in done:
                queues.delete(tx, self.queue, message.receipt)
            for message in failed:
                queues.invocation_ended(tx, self.queue, message.receipt)
            commit_deferred(tx, deferred)

        self.store.write(acknowledge, early=True)

    def _failures(
        self, outcome: Outcome, batch: list[Message]
    ) -> tuple[set[str], Sequence[Op[Any]]]:
        """Which messages failed, and the effects to commit with the acknowledgement (none
        when the whole batch failed: the retry will make them again)."""
        ids = [m.message_id for m in batch]
        if not outcome.ok:
            self.last_error = repr(outcome.error)
            return set(ids), ()
        try:
            failed = failed_identifiers(
                outcome, ids, enabled=self.source.report_batch_item_failures
            )
        except BadResponse as error:
            self.last_error = f"invalid batch response: {error}"
            log.warning("%s: %s; the whole batch fails", self.name, self.last_error)
            return set(ids), ()
        if failed and self.queue.spec.fifo:
            failed = _stop_at_first_failure(batch, failed)
        self.last_error = f"{len(failed)} of {len(ids)} records failed" if failed else None
        return failed, outcome.deferred

    def _idle(self, cx: sqlite3.Connection, now_ms: int) -> Step:
        due = queues.next_visible_at(cx, self.queue, now_ms)
        if due is None:
            # The reader sees only what is committed, and this mapping's claims and
            # acknowledgements are written early (before their commit, which touches no
            # channel): a message it just claimed may still look visible to the reader. The
            # writer sees them; without this a poller could sleep past the moment that
            # message becomes visible again, with nothing left to wake it.
            due = self.store.read_own(lambda cx: queues.next_visible_at(cx, self.queue, now_ms))
        return Step(False, None if due is None else due / 1000)


def _stop_at_first_failure(batch: list[Message], failed: set[str]) -> set[str]:
    """FIFO: from a group's first failed message on, the rest of that group fails too."""
    stopped: set[str] = set()
    result = set(failed)
    for message in batch:
        if message.group_id in stopped:
            result.add(message.message_id)
        elif message.message_id in failed:
            stopped.add(str(message.group_id))
    return result
