"""Moving messages out of a dead-letter queue, as SQS's StartMessageMoveTask does.

A task is a row: it survives restarts and shows its progress. Whoever runs it (the runtime,
or the CLI when no runtime is up) holds a lease on it and renews it each step; a task whose
runner died is taken over when its lease runs out. One task may run per source queue. Each
moved message becomes a new message (new id, receive count 0) in the queue it was
dead-lettered from, or in the destination the task names; a rate limit spreads the moves
over time.
"""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass

from sluiceway.core import ids
from sluiceway.core.errors import NotFound, ValidationError
from sluiceway.core.store import Tx
from sluiceway.sqs import queues
from sluiceway.sqs.info import QueueInfo, Queues
from sluiceway.sqs.messages import Outgoing

MAX_RATE = 500
CHUNK = 500
LEASE_MS = 30_000


@dataclass(frozen=True)
class MoveTask:
    handle: str
    source: str
    destination: str | None
    rate: int | None
    status: str
    moved: int
    to_move: int
    failure: str | None
    started_at: int
    updated_at: int

    @property
    def done(self) -> bool:
        return self.status != "RUNNING"


_SELECT = (
    "SELECT t.handle, s.name, d.name, t.rate, t.status, t.moved, t.to_move, t.failure, "
    "t.started_at, t.updated_at FROM move_tasks t JOIN queues s ON s.id = t.source_id "
    "LEFT JOIN queues d ON d.id = t.destination_id"
)


def sources_of(registry: Queues, dlq: QueueInfo) -> list[QueueInfo]:
    return [q for q in registry.queues.values() if q.spec.dead_letter == dlq.name]


def start(
    tx: Tx,
    registry: Queues,
    source: QueueInfo,
    *,
    destination: QueueInfo | None = None,
    rate: int | None = None,
) -> str:
    """StartMessageMoveTask; returns the task handle."""
    if destination is None and not sources_of(registry, source):
        raise ValidationError(
            f"queue '{source.name}' is not the dead-letter queue of any queue; "
            "name a destination to move its messages to",
            code="InvalidParameterValue",
        )
    if destination is not None and destination.id == source.id:
        raise ValidationError("a queue cannot be moved into itself", code="InvalidParameterValue")
    if rate is not None and (isinstance(rate, bool) or not 1 <= rate <= MAX_RATE):
        raise ValidationError(
            f"MaxNumberOfMessagesPerSecond must be 1..{MAX_RATE}", code="InvalidParameterValue"
        )
    running = tx.execute(
        "SELECT handle, owner, lease_until FROM move_tasks "
        "WHERE source_id = ? AND status = 'RUNNING'",
        (source.id,),
    ).fetchone()
    if running is not None:
        # Not yet taken by a runner, or its runner's lease still holds: it is running.
        if running[1] is None or running[2] > tx.now_ms:
            raise ValidationError(
                f"a message move task is already running on queue '{source.name}' "
                f"({running[0]}); cancel it or wait for it",
                code="UnsupportedOperation",
            )
        _finish(tx, running[0], "FAILED", "its runner stopped; superseded by a new task")
    until, count = tx.execute(
        "SELECT COALESCE(MAX(seq), 0), COUNT(*) FROM messages WHERE queue_id = ?", (source.id,)
    ).fetchone()
    handle = f"{source.name}:{secrets.token_hex(12)}"
    tx.execute(
        "INSERT INTO move_tasks (handle, source_id, destination_id, rate, status, to_move, "
        "until_seq, started_at, updated_at, lease_until) "
        "VALUES (?, ?, ?, ?, 'RUNNING', ?, ?, ?, ?, 0)",
        (
            handle,
            source.id,
            None if destination is None else destination.id,
            rate,
            count,
            until,
            tx.now_ms,
            tx.now_ms,
        ),
    )
    tx.touch("moves")
    return handle


def cancel(tx: Tx, source: QueueInfo) -> str:
    """CancelMessageMoveTask for the task running on `source`."""
    row = tx.execute(
        "SELECT handle FROM move_tasks WHERE source_id = ? AND status = 'RUNNING'", (source.id,)
    ).fetchone()
    if row is None:
        raise NotFound(f"no message move task is running on queue '{source.name}'")
    _finish(tx, row[0], "CANCELLED", None)
    return str(row[0])


def _finish(tx: Tx, handle: str, status: str, failure: str | None) -> None:
    tx.execute(
        "UPDATE move_tasks SET status = ?, failure = ?, updated_at = ?, owner = NULL "
        "WHERE handle = ?",
        (status, failure, tx.now_ms, handle),
    )


def step(tx: Tx, registry: Queues, owner: str) -> float | None:
    """Move one chunk of one running task this runner may take; returns when (epoch
    seconds) to step again, or None when no task is left."""
    row = tx.execute(
        "SELECT id, handle, source_id, destination_id, rate, until_seq "
        "FROM move_tasks WHERE status = 'RUNNING' "
        "AND (owner IS NULL OR owner = ? OR lease_until <= ?) "
        "ORDER BY id LIMIT 1",
        (owner, tx.now_ms),
    ).fetchone()
    if row is None:
        return None
    task_id, handle, source_id, destination_id, rate, until = row
    try:
        source = registry.queue_by_id(source_id)
        target = None if destination_id is None else registry.queue_by_id(destination_id)
    except NotFound as error:
        _finish(tx, handle, "FAILED", str(error))
        return tx.now
    limit = CHUNK if rate is None else max(1, min(CHUNK, rate))
    count = _move(tx, source, target, registry, until, limit)
    tx.execute(
        "UPDATE move_tasks SET moved = moved + ?, updated_at = ?, owner = ?, lease_until = ? "
        "WHERE id = ?",
        (count, tx.now_ms, owner, tx.now_ms + LEASE_MS, task_id),
    )
    if count < limit:
        _finish(tx, handle, "COMPLETED", None)
        return tx.now
    # With a rate, the next chunk waits until this one's share of time has passed.
    return tx.now if rate is None else tx.now + count / rate


def _move(
    tx: Tx,
    source: QueueInfo,
    target: QueueInfo | None,
    registry: Queues,
    until: int,
    limit: int,
) -> int:
    rows = tx.execute(
        "SELECT seq, body, attributes, sender_id, source_queue_id, group_id FROM messages "
        "WHERE queue_id = ? AND seq <= ? ORDER BY seq LIMIT ?",
        (source.id, until, limit),
    ).fetchall()
    moved = 0
    for seq, body, attributes, sender, origin, group in rows:
        destination = target or (None if origin is None else _queue(registry, origin))
        if destination is None:
            destination = _single_source(registry, source)
        tx.execute("DELETE FROM messages WHERE seq = ?", (seq,))
        message_id = ids.uuid4()
        # A FIFO message keeps its group; a fresh deduplication id lets it through again.
        dedup = message_id if destination.spec.fifo else None
        queues.send(
            tx,
            destination,
            Outgoing(message_id, body, attributes, sender, 0, group if dedup else None, dedup),
        )
        moved += 1
    return moved


def _queue(registry: Queues, queue_id: int) -> QueueInfo | None:
    try:
        return registry.queue_by_id(queue_id)
    except NotFound:
        return None


def _single_source(registry: Queues, dlq: QueueInfo) -> QueueInfo:
    # A message put straight into the DLQ has no recorded source: with exactly one queue
    # using this DLQ, that queue is where it belongs.
    sources = sources_of(registry, dlq)
    if len(sources) != 1:
        raise ValidationError(
            f"a message in '{dlq.name}' has no known source queue; name a destination",
            code="InvalidParameterValue",
        )
    return sources[0]


def tasks(
    cx: sqlite3.Connection, source: QueueInfo | None = None, limit: int = 10
) -> list[MoveTask]:
    """ListMessageMoveTasks: the most recent tasks first."""
    sql = _SELECT
    params: tuple[object, ...] = ()
    if source is not None:
        sql += " WHERE t.source_id = ?"
        params = (source.id,)
    rows = cx.execute(sql + " ORDER BY t.id DESC LIMIT ?", (*params, limit)).fetchall()
    return [MoveTask(*row) for row in rows]


def task(cx: sqlite3.Connection, handle: str) -> MoveTask:
    row = cx.execute(_SELECT + " WHERE t.handle = ?", (handle,)).fetchone()
    if row is None:
        raise NotFound(f"no message move task {handle}")
    return MoveTask(*row)
