"""A table's change stream feeding a function, with Lambda's stream mapping semantics.

Per lane (``parallelization_factor`` lanes; an item's records always share a lane, so each
item's changes arrive in order) the mapping keeps a checkpoint and its retry state in one
row. A step reads the records after the checkpoint, skips what the filters reject, invokes,
and on success advances the checkpoint together with the invocation's deferred effects.

A failing batch blocks its lane: it is retried with backoff (``maximum_retry_attempts``, -1 =
until it succeeds), split in two on each error if ``bisect_batch_on_function_error`` (splits
cost no retry), and discarded when its retries run out or its records grow older than
``maximum_record_age_in_seconds``; ``on_failure`` then receives AWS's failure record (which
points at the records, it does not carry them). A partial response moves the checkpoint to
just before the lowest failed sequence number.

With ``tumbling_window_in_seconds``, records are grouped into aligned windows by arrival
time; each invocation gets the state the previous one of its window returned (a response
without ``state`` is a failure), and when the window closes the function is invoked once
more, with no records and ``isFinalInvokeForWindow``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sluiceway.awslambda.invoke import Outcome
from sluiceway.awslambda.mappings import BadResponse, Consumer, commit_deferred, failed_identifiers
from sluiceway.awslambda.spec import StreamSource
from sluiceway.core import ids, naming
from sluiceway.core.clock import Clock
from sluiceway.core.store import Op, Store, Tx
from sluiceway.core.work import Step, backoff_ms
from sluiceway.dynamodb import tables
from sluiceway.dynamodb.info import TableInfo
from sluiceway.dynamodb.tables import StreamRecord
from sluiceway.patterns import FilterSet, compile_filters

log = logging.getLogger("sluiceway.mappings")

WINDOW_STATE_LIMIT = 1024 * 1024
FailureSink = Callable[[dict[str, Any]], Op[Any]]


@dataclass(frozen=True)
class Lane:
    lane: int
    position: int
    attempts: int
    next_attempt_at: int
    batch_limit: int | None
    window_start: int | None
    window_state: dict[str, Any] | None
    last_error: str | None


def _iso(ms: int, *, millis: bool = False) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    if millis:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class StreamMapping:
    def __init__(
        self,
        consumer: Consumer,
        source: StreamSource,
        table: TableInfo,
        *,
        store: Store,
        clock: Clock,
        region: naming.Region,
        on_failure: FailureSink | None = None,
    ) -> None:
        assert table.stream_arn is not None
        self.consumer = consumer
        self.source = source
        self.table = table
        self.stream_arn: str = table.stream_arn
        self.store = store
        self.clock = clock
        self.region = region
        self.on_failure = on_failure
        self.channel = table.channel
        self.name = consumer.name
        self.lanes = source.parallelization_factor
        self.filters: FilterSet | None = (
            compile_filters(list(source.filters), context="pipes" if consumer.pipe else "esm")
            if source.filters
            else None
        )
        self.window_ms = self.source.tumbling_window_in_seconds * 1000
        self.invocations = 0
        self.discarded = 0

    # -- state ------------------------------------------------------------------------

    def start(self) -> None:
        """Create each lane's checkpoint on first start: at the stream's end (LATEST) or at
        its oldest retained record (TRIM_HORIZON). Later starts resume from the checkpoints;
        a lane added by a higher parallelization factor starts from the slowest lane."""
        cx = self.store.reader()
        if self.source.starting_position == "LATEST":
            begin = tables.latest_seq(cx, self.table)
        else:
            begin = tables.oldest_seq(cx, self.table)

        def create(tx: Tx) -> None:
            known = tx.execute(
                "SELECT MIN(position) FROM mappings WHERE name = ? AND lane < ?",
                (self.name, self.lanes),
            ).fetchone()[0]
            tx.execute("DELETE FROM mappings WHERE name = ? AND lane >= ?", (self.name, self.lanes))
            for lane in range(self.lanes):
                tx.execute(
                    "INSERT INTO mappings (name, lane, source, position, updated_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name, lane) DO NOTHING",
                    (
                        self.name,
                        lane,
                        f"table:{self.table.name}",
                        begin if known is None else known,
                        tx.now_ms,
                    ),
                )

        self.store.write(create)

    def lane(self, cx: sqlite3.Connection, lane: int) -> Lane:
        row = cx.execute(
            "SELECT position, attempts, next_attempt_at, batch_limit, window_start, window_state, "
            "last_error FROM mappings WHERE name = ? AND lane = ?",
            (self.name, lane),
        ).fetchone()
        state = None if row[5] is None else json.loads(row[5])
        return Lane(lane, row[0], row[1], row[2], row[3], row[4], state, row[6])

    def shard_id(self, lane: int) -> str:
        digest = hashlib.sha256(self.stream_arn.encode()).hexdigest()[:8]
        return f"shardId-{lane + 1:020d}-{digest}"

    def steps(self) -> list[Callable[[], Step]]:
        return [partial(self.step, lane) for lane in range(self.lanes)]

    # -- one step ---------------------------------------------------------------------

    def step(self, lane: int = 0) -> Step:
        now_ms = int(self.clock.now() * 1000)
        cx = self.store.reader()
        state = self.lane(cx, lane)
        if state.next_attempt_at > now_ms:
            return Step(False, state.next_attempt_at / 1000)
        fetched = tables.read_stream(
            cx,
            self.table,
            state.position,
            self.source.batch_size,
            self.region.region,
            lanes=self.lanes,
            lane=lane,
        )
        if self.window_ms and state.window_start is not None:
            closes = state.window_start + self.window_ms
            later = bool(fetched) and self._window_of(fetched[0]) > state.window_start
            if later or (not fetched and now_ms >= closes):
                return self._final(state, early=False)
            if not fetched:
                return Step(False, closes / 1000)
        if not fetched:
            return Step(False)
        stale = self._stale(fetched, now_ms)
        if stale:
            self._discard(state, stale, stale[-1].seq, "RecordAgeExceeded", None, ())
            return Step(True)
        window = self.source.maximum_batching_window_in_seconds
        if window and len(fetched) < self.source.batch_size:
            closes = fetched[0].created_ms + window * 1000
            if now_ms < closes:
                return Step(False, closes / 1000)
        if self.window_ms:
            first = self._window_of(fetched[0])
            fetched = [r for r in fetched if self._window_of(r) == first]
        batch, consumed = self._batch(fetched, state.batch_limit or self.source.batch_size)
        if not batch:
            self._save(state, position=consumed, attempts=0, batch_limit=None)
            return Step(True)
        return self._invoke(state, batch, consumed)

    def _window_of(self, record: StreamRecord) -> int:
        return record.created_ms - record.created_ms % self.window_ms

    def _stale(self, records: list[StreamRecord], now_ms: int) -> list[StreamRecord]:
        age = self.source.maximum_record_age_in_seconds
        if age == -1:
            return []
        stale: list[StreamRecord] = []
        for record in records:
            if now_ms - record.created_ms <= age * 1000:
                break
            stale.append(record)
        return stale

    def _batch(self, fetched: list[StreamRecord], limit: int) -> tuple[list[StreamRecord], int]:
        """The records to invoke with, and the position that consumes them (skipped ones
        included)."""
        batch: list[StreamRecord] = []
        consumed = fetched[0].seq
        for record in fetched:
            consumed = record.seq
            if self.filters is None or self.filters.matches(record.record):
                batch.append(record)
                if len(batch) >= limit:
                    break
        return batch, consumed

    def _event(
        self,
        records: Sequence[StreamRecord],
        state: Lane,
        *,
        final: bool = False,
        early: bool = False,
        window_start: int | None = None,
    ) -> Any:
        if self.consumer.pipe:  # Pipes: the bare list of records
            return [r.record for r in records]
        event: dict[str, Any] = {"Records": [r.record for r in records]}
        if self.window_ms:
            start = window_start if window_start is not None else state.window_start or 0
            event["window"] = {"start": _iso(start), "end": _iso(start + self.window_ms)}
            event["state"] = state.window_state or {}
            event["shardId"] = self.shard_id(state.lane)
            event["eventSourceARN"] = self.stream_arn
            event["isFinalInvokeForWindow"] = final
            event["isWindowTerminatedEarly"] = early
        return event

    def _invoke(self, state: Lane, batch: list[StreamRecord], consumed: int) -> Step:
        window_start = self._window_of(batch[0]) if self.window_ms else None
        if window_start is not None and window_start != state.window_start:
            state = Lane(
                state.lane,
                state.position,
                state.attempts,
                state.next_attempt_at,
                state.batch_limit,
                window_start,
                None,
                state.last_error,
            )
        outcome = self.consumer.invoke(
            self._event(batch, state, window_start=window_start), [r.trace_id for r in batch]
        )
        self.invocations += 1
        error = None if outcome.ok else repr(outcome.error)
        failed: set[str] = set()
        new_state: dict[str, Any] | None = None
        if error is None:
            try:
                failed = failed_identifiers(
                    outcome,
                    [self._identifier(r) for r in batch],
                    enabled=self.source.report_batch_item_failures,
                )
                if self.window_ms:
                    new_state = _window_state(outcome.result)
            except BadResponse as problem:
                error = f"invalid batch response: {problem}"
        if error is not None:
            return self._failed(state, batch, consumed, error, outcome)
        if failed:
            return self._partly_failed(state, batch, consumed, failed, outcome, new_state)
        self._save(
            state,
            position=consumed,
            attempts=0,
            batch_limit=None,
            deferred=outcome.deferred,
            window=None if window_start is None else (window_start, new_state),
        )
        if new_state is not None and len(json.dumps(new_state)) > WINDOW_STATE_LIMIT:
            return self._final(self.lane(self.store.reader(), state.lane), early=True)
        return Step(True)

    def _identifier(self, record: StreamRecord) -> str:
        """How a partial response names a record: Lambda by sequence number, Pipes by
        eventID."""
        return str(record.record["eventID"]) if self.consumer.pipe else record.sequence_number

    def _failed(
        self, state: Lane, batch: list[StreamRecord], consumed: int, error: str, outcome: Outcome
    ) -> Step:
        if self.source.bisect_batch_on_function_error and len(batch) > 1:
            # Split and retry at once; a split costs no retry.
            half = math.ceil(len(batch) / 2)
            self._save(state, attempts=state.attempts, batch_limit=half, error=error)
            return Step(True)
        attempts = state.attempts + 1
        if self._exhausted(attempts):
            self._discard(
                state, batch, consumed, "RetryAttemptsExhausted", outcome, (), attempts=attempts
            )
            return Step(True)
        self._save(
            state,
            attempts=attempts,
            batch_limit=state.batch_limit,
            error=error,
            retry_in=backoff_ms(attempts),
        )
        log.warning("%s: stream batch failed (attempt %d): %s", self.name, attempts, error)
        return Step(True)

    def _partly_failed(
        self,
        state: Lane,
        batch: list[StreamRecord],
        consumed: int,
        failed: set[str],
        outcome: Outcome,
        new_state: dict[str, Any] | None,
    ) -> Step:
        lowest = min(r.seq for r in batch if self._identifier(r) in failed)
        attempts = state.attempts + 1
        error = f"{len(failed)} of {len(batch)} records reported failed"
        if self._exhausted(attempts):
            rest = [r for r in batch if r.seq >= lowest]
            self._discard(
                state,
                rest,
                consumed,
                "RetryAttemptsExhausted",
                outcome,
                outcome.deferred,
                attempts=attempts,
            )
            return Step(True)
        resume = max((r.seq for r in batch if r.seq < lowest), default=state.position)
        self._save(
            state,
            position=resume,
            attempts=attempts,
            batch_limit=None,
            error=error,
            retry_in=backoff_ms(attempts),
            deferred=outcome.deferred,
            window=None if new_state is None else (self._window_of(batch[0]), new_state),
        )
        return Step(True)

    def _exhausted(self, attempts: int) -> bool:
        limit = self.source.maximum_retry_attempts
        return limit != -1 and attempts > limit

    def _final(self, state: Lane, *, early: bool) -> Step:
        """The window's last invocation: no records, its accumulated state."""
        outcome = self.consumer.invoke(self._event([], state, final=True, early=early))
        self.invocations += 1
        try:
            if not outcome.ok:
                raise BadResponse(repr(outcome.error))
            _window_state(outcome.result)
        except BadResponse as problem:
            attempts = state.attempts + 1
            self._save(
                state,
                attempts=attempts,
                error=f"final window invocation failed: {problem}",
                retry_in=backoff_ms(attempts),
            )
            return Step(True)
        # Early termination keeps the window open with a fresh state.
        self._save(
            state,
            attempts=0,
            deferred=outcome.deferred,
            window=(state.window_start, {}) if early else (None, None),
        )
        return Step(True)

    def _discard(
        self,
        state: Lane,
        records: list[StreamRecord],
        consumed: int,
        condition: str,
        outcome: Outcome | None,
        deferred: Sequence[Op[Any]],
        *,
        attempts: int = 0,
    ) -> None:
        self.discarded += len(records)
        notice = self._failure_record(state, records, condition, outcome, attempts)
        log.warning(
            "%s: discarding %d stream records (%s)%s",
            self.name,
            len(records),
            condition,
            "" if self.on_failure else "; no on_failure destination keeps a trace",
        )
        extra = [] if self.on_failure is None else [self.on_failure(notice)]
        self._save(
            state, position=consumed, attempts=0, batch_limit=None, deferred=[*deferred, *extra]
        )

    def _failure_record(
        self,
        state: Lane,
        records: list[StreamRecord],
        condition: str,
        outcome: Outcome | None,
        attempts: int,
    ) -> dict[str, Any]:
        """What AWS sends an OnFailure destination: a pointer to the records, not the data."""
        record: dict[str, Any] = {
            "requestContext": {
                "requestId": outcome.request_id if outcome else ids.uuid4(),
                ("pipeArn" if self.consumer.pipe else "functionArn"): self.consumer.arn,
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
        }
        if outcome is not None and not outcome.ok:
            record["responseContext"] = {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            }
        record["version"] = "1.0"
        record["timestamp"] = _iso(int(self.clock.now() * 1000), millis=True)
        record["DDBStreamBatchInfo"] = {
            "shardId": self.shard_id(state.lane),
            "startSequenceNumber": records[0].sequence_number,
            "endSequenceNumber": records[-1].sequence_number,
            "approximateArrivalOfFirstRecord": _iso(records[0].created_ms),
            "approximateArrivalOfLastRecord": _iso(records[-1].created_ms),
            "batchSize": len(records),
            "streamArn": self.stream_arn,
        }
        return record

    def _save(
        self,
        state: Lane,
        *,
        position: int | None = None,
        attempts: int,
        batch_limit: int | None = None,
        error: str | None = None,
        retry_in: int = 0,
        deferred: Sequence[Op[Any]] = (),
        window: tuple[int | None, dict[str, Any] | None] | None = None,
    ) -> None:
        """Write the lane's new state (and the deferred effects) in one transaction, if the
        lane is still where this step found it. `window` (start, state) replaces the
        tumbling window; None keeps it."""
        start, kept = (state.window_start, state.window_state) if window is None else window

        def save(tx: Tx) -> None:
            tx.execute(
                "UPDATE mappings SET position = ?, attempts = ?, next_attempt_at = ?, "
                "batch_limit = ?, window_start = ?, window_state = ?, last_error = ?, "
                "updated_at = ? WHERE name = ? AND lane = ? AND position = ?",
                (
                    state.position if position is None else position,
                    attempts,
                    tx.now_ms + retry_in if retry_in else 0,
                    batch_limit,
                    start,
                    None if kept is None else json.dumps(kept),
                    None if error is None else error[:1000],
                    tx.now_ms,
                    self.name,
                    state.lane,
                    state.position,
                ),
            )
            commit_deferred(tx, deferred)

        # Durable: the next step reads the checkpoint back through a reader connection.
        self.store.write(save)


def _window_state(result: Any) -> dict[str, Any]:
    """A tumbling-window response must carry ``state`` (a JSON object)."""
    state = result.get("state") if isinstance(result, dict) else None
    if not isinstance(state, dict):
        raise BadResponse("a tumbling-window invocation must return {'state': {...}}")
    return state
