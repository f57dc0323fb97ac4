"""Event source mappings: queues and streams feeding functions, with Lambda's semantics.

Queue mapping: receive a batch (respecting the batching window), invoke, then delete what
succeeded in one transaction with the invocation's deferred effects. A raised error or a
malformed partial response fails the whole batch: nothing is deleted, the messages reappear
after the visibility timeout, and the queue's redrive policy moves them to the DLQ in time.

Stream mapping: read records after the checkpoint, skip those the filter rejects, invoke,
then advance the checkpoint with the deferred effects in one transaction. A failing batch
blocks its stream and is retried with backoff (records of one item stay in order); with a
partial response the checkpoint moves to just before the lowest failed sequence number.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sluiceway import events
from sluiceway.clock import Clock
from sluiceway.local import queues, tables
from sluiceway.local.invoke import Invoker, Outcome
from sluiceway.local.registry import QueueInfo, TableInfo
from sluiceway.local.store import Op, Store, Tx
from sluiceway.local.work import Step
from sluiceway.patterns import FilterSet, compile_filters
from sluiceway.specs import FunctionSpec, QueueSource, StreamSource

log = logging.getLogger("sluiceway.mappings")

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
RETRY_CAP_SECONDS = 60


class BadResponse(Exception):
    """A partial-batch response Lambda would reject (the whole batch then fails)."""


def failed_identifiers(outcome: Outcome, valid: Sequence[str], *, enabled: bool) -> set[str]:
    """The identifiers a handler reported as failed (``batchItemFailures``).

    Success: None, a response without failures, or any answer when reporting is off.
    Raises `BadResponse` for what Lambda treats as a failure of the whole batch: a
    non-list ``batchItemFailures``, an entry without a non-empty ``itemIdentifier``, or an
    identifier that is not in the batch.
    """
    result = outcome.result
    if not enabled or not isinstance(result, dict):
        return set()
    failures = result.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        raise BadResponse("batchItemFailures is not a list")
    known = set(valid)
    failed: set[str] = set()
    for entry in failures:
        identifier = entry.get("itemIdentifier") if isinstance(entry, dict) else None
        if not isinstance(identifier, str) or not identifier:
            raise BadResponse(f"batchItemFailures entry {entry!r} has no itemIdentifier")
        if identifier not in known:
            raise BadResponse(f"itemIdentifier {identifier!r} is not in the batch")
        failed.add(identifier)
    return failed


def _commit_deferred(tx: Tx, deferred: Sequence[Op[Any]]) -> None:
    for op in deferred:
        op(tx)


class QueueMapping:
    def __init__(
        self,
        function: FunctionSpec,
        queue: QueueInfo,
        *,
        store: Store,
        clock: Clock,
        invoker: Invoker,
        region: str,
    ) -> None:
        assert isinstance(function.source, QueueSource)
        self.function = function
        self.source: QueueSource = function.source
        self.queue = queue
        self.store = store
        self.clock = clock
        self.invoker = invoker
        self.region = region
        self.channel = queue.channel
        self.name = function.name
        self.invocations = 0
        self.last_error: str | None = None

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
            )
        )
        if not batch:
            return self._idle(cx, now_ms)
        records = [
            events.sqs_record(
                message_id=m.message_id,
                receipt_handle=m.receipt,
                body=m.body,
                attributes=m.system_attributes(),
                message_attributes=m.attributes,
                queue_arn=self.queue.arn,
                region=self.region,
            )
            for m in batch
        ]
        outcome = self.invoker.invoke(self.function, {"Records": records})
        self.invocations += 1
        failed, deferred = self._failures(outcome, [m.message_id for m in batch])
        done = [m.receipt for m in batch if m.message_id not in failed]
        kept = [m.receipt for m in batch if m.message_id in failed]

        def acknowledge(tx: Tx) -> None:
            for receipt in done:
                queues.delete(tx, self.queue, receipt)
            for receipt in kept:
                queues.invocation_ended(tx, self.queue, receipt)
            _commit_deferred(tx, deferred)

        self.store.write(acknowledge)
        return Step(True)

    def _failures(self, outcome: Outcome, ids: list[str]) -> tuple[set[str], Sequence[Op[Any]]]:
        """Which messages failed, and the effects to commit with the acknowledgement (none
        when the whole batch failed: the retry will make them again)."""
        if not outcome.ok:
            self.last_error = repr(outcome.error)
            return set(ids), ()
        try:
            failed = failed_identifiers(
                outcome, ids, enabled=self.source.report_batch_item_failures
            )
        except BadResponse as error:
            self.last_error = f"invalid batch response: {error}"
            log.warning("function %s: %s; the whole batch fails", self.name, self.last_error)
            return set(ids), ()
        self.last_error = f"{len(failed)} of {len(ids)} records failed" if failed else None
        return failed, outcome.deferred

    def _idle(self, cx: sqlite3.Connection, now_ms: int) -> Step:
        due = queues.next_visible_at(cx, self.queue, now_ms)
        return Step(False, None if due is None else due / 1000)


@dataclass(frozen=True)
class Position:
    position: int
    attempts: int
    next_attempt_at: int


class StreamMapping:
    def __init__(
        self,
        function: FunctionSpec,
        table: TableInfo,
        *,
        store: Store,
        clock: Clock,
        invoker: Invoker,
        region: str,
    ) -> None:
        assert isinstance(function.source, StreamSource)
        self.function = function
        self.source: StreamSource = function.source
        self.table = table
        self.store = store
        self.clock = clock
        self.invoker = invoker
        self.region = region
        self.channel = table.channel
        self.name = function.name
        self.filters: FilterSet | None = (
            compile_filters(list(self.source.filters), context="esm")
            if self.source.filters
            else None
        )
        self.invocations = 0
        self.last_error: str | None = None

    def start(self) -> None:
        """Create the checkpoint on first start: at the stream's end (LATEST) or at its
        oldest retained record (TRIM_HORIZON). Later starts resume from the checkpoint."""
        cx = self.store.reader()
        if self.source.starting_position == "LATEST":
            begin = tables.latest_seq(cx, self.table)
        else:
            begin = tables.oldest_seq(cx, self.table)
        self.store.write(
            lambda tx: tx.execute(
                "INSERT INTO mappings (name, source, position, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO NOTHING",
                (self.name, f"table:{self.table.name}", begin, tx.now_ms),
            )
        )

    def position(self, cx: sqlite3.Connection) -> Position:
        row = cx.execute(
            "SELECT position, attempts, next_attempt_at FROM mappings WHERE name = ?", (self.name,)
        ).fetchone()
        return Position(*row)

    def step(self) -> Step:
        now_ms = int(self.clock.now() * 1000)
        cx = self.store.reader()
        state = self.position(cx)
        if state.next_attempt_at > now_ms:
            return Step(False, state.next_attempt_at / 1000)
        examined = tables.read_stream(
            cx, self.table, state.position, self.source.batch_size, self.region
        )
        if not examined:
            return Step(False)
        window = self.source.maximum_batching_window_in_seconds
        if window and len(examined) < self.source.batch_size:
            closes = (
                examined[0].record["dynamodb"]["ApproximateCreationDateTime"] * 1000 + window * 1000
            )
            if now_ms < closes:
                return Step(False, closes / 1000)
        matching = [r for r in examined if self.filters is None or self.filters.matches(r.record)]
        last = examined[-1].seq
        if not matching:
            self._advance(state, last, ())
            return Step(True)
        outcome = self.invoker.invoke(self.function, {"Records": [r.record for r in matching]})
        self.invocations += 1
        if not outcome.ok:
            self._retry(state, state.position, repr(outcome.error), ())
            return Step(True)
        try:
            failed = failed_identifiers(
                outcome,
                [r.sequence_number for r in matching],
                enabled=self.source.report_batch_item_failures,
            )
        except BadResponse as error:
            self._retry(state, state.position, f"invalid batch response: {error}", ())
            return Step(True)
        if failed:
            lowest = min(tables.seq_of(s) for s in failed)
            resume = max((r.seq for r in examined if r.seq < lowest), default=state.position)
            self._retry(state, resume, f"{len(failed)} records reported failed", outcome.deferred)
            return Step(True)
        self._advance(state, last, outcome.deferred)
        return Step(True)

    def _advance(self, state: Position, position: int, deferred: Sequence[Op[Any]]) -> None:
        def checkpoint(tx: Tx) -> None:
            tx.execute(
                "UPDATE mappings SET position = ?, attempts = 0, next_attempt_at = 0, "
                "last_error = NULL, updated_at = ? WHERE name = ? AND position = ?",
                (position, tx.now_ms, self.name, state.position),
            )
            _commit_deferred(tx, deferred)

        self.store.write(checkpoint)
        self.last_error = None

    def _retry(
        self, state: Position, position: int, error: str, deferred: Sequence[Op[Any]]
    ) -> None:
        attempts = state.attempts + 1
        delay_ms = min(RETRY_CAP_SECONDS, 2 ** (attempts - 1)) * 1000
        self.last_error = error

        def reschedule(tx: Tx) -> None:
            tx.execute(
                "UPDATE mappings SET position = ?, attempts = ?, next_attempt_at = ?, "
                "last_error = ?, updated_at = ? WHERE name = ?",
                (position, attempts, tx.now_ms + delay_ms, error[:1000], tx.now_ms, self.name),
            )
            _commit_deferred(tx, deferred)

        self.store.write(reschedule)
        log.warning("function %s: stream batch failed (attempt %d): %s", self.name, attempts, error)


Mapping = QueueMapping | StreamMapping
