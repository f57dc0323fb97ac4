"""SQS semantics on SQLite: ops run by the store's writer, plus read-side queries.

What a message must be is checked in `messages.py`; this module keeps the queue.

A message is visible when ``visible_at <= now``. Receiving ("claiming") hides it for the
visibility timeout, counts the receive and gives it a fresh receipt handle; a message whose
receive count already reached ``max_receive_count`` is moved to the dead-letter queue instead
of being delivered (moto and SQS behave the same). Expired messages (retention) are dropped
when met and by the sweeper.
"""

from __future__ import annotations

import base64
import secrets
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sluiceway.core import traces
from sluiceway.core.errors import ValidationError
from sluiceway.core.store import Tx
from sluiceway.sqs.info import QueueInfo
from sluiceway.sqs.messages import Message, Outgoing, decode_attributes

# -- ops ----------------------------------------------------------------------------------

DEDUP_INTERVAL_MS = 5 * 60 * 1000
MAX_INVISIBLE_MS = 12 * 3600 * 1000
PURGE_INTERVAL_MS = 60 * 1000
# FIFO sequence numbers are large decimal strings; ours grow with the message's row.
_SEQUENCE_BASE = 10**19


_INSERT = (
    "INSERT INTO messages (queue_id, message_id, body, attributes, sender_id, sent_at, "
    "visible_at, group_id, dedup_id, trace_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def send_many(
    tx: Tx, sends: Sequence[tuple[QueueInfo, Outgoing]], *, answers: bool = True
) -> list[dict[str, str]]:
    """Many SendMessages in one op: what arrives at the gateway in one turn of its loop.
    Standard-queue messages go in with one statement; FIFO ones one by one (deduplication
    looks at what came before them). `answers=False`: the caller has them already (the
    front door's inbox), so none are made for standard queues."""
    plain = [(q, m) for q, m in sends if m.group_id is None]
    if plain:
        tx.cx.executemany(
            _INSERT,
            [
                (
                    q.id,
                    m.message_id,
                    m.body,
                    m.attributes,
                    m.sender_id,
                    tx.now_ms,
                    tx.now_ms + m.delay_seconds * 1000,
                    None,
                    None,
                    m.trace_id,
                )
                for q, m in plain
            ],
        )
        for channel in {q.channel for q, _ in plain}:
            tx.touch(channel)
    if not answers:
        for q, m in sends:
            if m.group_id is not None:
                send(tx, q, m)
        return []
    return [m.response() if m.group_id is None else send(tx, q, m) for q, m in sends]


def send(tx: Tx, queue: QueueInfo, message: Outgoing) -> dict[str, str]:
    """SendMessage. On a FIFO queue, a deduplication id seen in the last 5 minutes makes the
    send a success that delivers nothing (the answer names the original message)."""
    if message.group_id is not None:
        row = tx.execute(
            "SELECT message_id, sequence_number FROM dedup "
            "WHERE queue_id = ? AND dedup_id = ? AND expires_at > ?",
            (queue.id, message.dedup_id, tx.now_ms),
        ).fetchone()
        if row is not None:
            return message.response(row[0], row[1])
    cursor = tx.execute(
        _INSERT,
        (
            queue.id,
            message.message_id,
            message.body,
            message.attributes,
            message.sender_id,
            tx.now_ms,
            tx.now_ms + message.delay_seconds * 1000,
            message.group_id,
            message.dedup_id,
            message.trace_id,
        ),
    )
    tx.touch(queue.channel)
    traces.hop(tx, message.trace_id, "send", queue.name, {"message_id": message.message_id})
    if message.group_id is None:
        return message.response()
    sequence = str(_SEQUENCE_BASE + int(cursor.lastrowid or 0))
    tx.execute(
        "UPDATE messages SET sequence_number = ? WHERE seq = ?", (sequence, cursor.lastrowid)
    )
    tx.execute(
        "INSERT OR REPLACE INTO dedup (queue_id, dedup_id, message_id, sequence_number, "
        "expires_at) VALUES (?, ?, ?, ?, ?)",
        (queue.id, message.dedup_id, message.message_id, sequence, tx.now_ms + DEDUP_INTERVAL_MS),
    )
    return message.response(sequence_number=sequence)


_COLUMNS = (
    "seq, message_id, body, attributes, sender_id, sent_at, receive_count, first_received_at, "
    "group_id, dedup_id, sequence_number, visible_at, trace_id"
)
_CLAIM = (
    f"SELECT {_COLUMNS} FROM messages WHERE queue_id = ? AND visible_at <= ? "
    "ORDER BY visible_at LIMIT ?"
)
_FIFO_HEAD = (
    f"SELECT {_COLUMNS} FROM messages WHERE queue_id = ? AND group_id IS NOT NULL AND seq > ? "
    "ORDER BY seq LIMIT ?"
)


def claim(
    tx: Tx,
    queue: QueueInfo,
    limit: int,
    *,
    visibility_timeout: int | None = None,
    max_bytes: int | None = None,
    invoking: bool = False,
) -> list[Message]:
    """ReceiveMessage: up to `limit` visible messages, hidden for the visibility timeout.

    With `max_bytes`, stop before the bodies would exceed it (Lambda's 6 MB payload), taking
    at least one. A FIFO queue gives each message group's messages in send order and none of
    a group while one of its messages is in flight.
    """
    timeout = queue.spec.visibility_timeout if visibility_timeout is None else visibility_timeout
    taker = _Taker(tx, queue, limit, timeout * 1000, max_bytes, invoking)
    if queue.spec.fifo:
        _claim_fifo(tx, queue, taker)
    else:
        while not taker.full:
            rows = tx.execute(_CLAIM, (queue.id, tx.now_ms, limit - len(taker.taken))).fetchall()
            if not rows:
                break
            for row in rows:
                if not taker.offer(row):
                    break
    return taker.taken


def _claim_fifo(tx: Tx, queue: QueueInfo, taker: _Taker) -> None:
    blocked: set[str] = set()
    after = 0
    while not taker.full:
        rows = tx.execute(_FIFO_HEAD, (queue.id, after, 100)).fetchall()
        if not rows:
            return
        for row in rows:
            after = row[0]
            group = row[8]
            if group in blocked:
                continue
            if row[11] > tx.now_ms:  # in flight or delayed: the rest of its group waits
                blocked.add(group)
                continue
            if not taker.offer(row) or taker.full:
                return


class _Taker:
    """Decides, message by message, what one receive takes."""

    def __init__(
        self,
        tx: Tx,
        queue: QueueInfo,
        limit: int,
        timeout_ms: int,
        max_bytes: int | None,
        invoking: bool,
    ) -> None:
        self.tx = tx
        self.queue = queue
        self.limit = limit
        self.timeout_ms = timeout_ms
        self.max_bytes = max_bytes
        self.invoking = invoking
        self.taken: list[Message] = []
        self.size = 0
        self.full = False
        self._expires_before = tx.now_ms - queue.spec.message_retention_period * 1000

    def offer(self, row: tuple[Any, ...]) -> bool:
        """Take the message, or dispose of it (expired: deleted; received too often: moved
        to the dead-letter queue). False once the receive is full."""
        if self.full:
            return False
        seq, message_id, body, attributes, sender, sent_at, count, first = row[:8]
        tx, queue = self.tx, self.queue
        if sent_at <= self._expires_before:
            tx.execute("DELETE FROM messages WHERE seq = ?", (seq,))
            return True
        if queue.dead_letter_id is not None and count >= (queue.spec.max_receive_count or 0):
            _move_to_dead_letter(tx, queue, seq)
            return True
        self.size += len(body) + (len(attributes) if attributes else 0)
        if self.max_bytes is not None and self.taken and self.size > self.max_bytes:
            self.full = True
            return False
        receipt = _receipt(seq)
        first = first if first is not None else tx.now_ms
        tx.execute(
            "UPDATE messages SET receive_count = receive_count + 1, visible_at = ?, receipt = ?, "
            "received_at = ?, first_received_at = ?, invoking = ? WHERE seq = ?",
            (tx.now_ms + self.timeout_ms, receipt, tx.now_ms, first, int(self.invoking), seq),
        )
        self.taken.append(
            Message(
                seq,
                message_id,
                receipt,
                body,
                decode_attributes(attributes),
                sender,
                sent_at,
                first,
                count + 1,
                row[8],
                row[9],
                row[10],
                row[12],
            )
        )
        self.full = len(self.taken) >= self.limit
        return True


def _move_to_dead_letter(tx: Tx, queue: QueueInfo, seq: int) -> None:
    # The message keeps its id, SentTimestamp and receive count; retention keeps counting
    # from the original send, so a DLQ should retain longer than its source.
    tx.execute(
        "UPDATE messages SET queue_id = ?, visible_at = ?, receipt = NULL, invoking = 0, "
        "source_queue_id = COALESCE(source_queue_id, ?) WHERE seq = ?",
        (queue.dead_letter_id, tx.now_ms, queue.id, seq),
    )
    tx.touch(f"queue:{queue.dead_letter_id}")


def _receipt(seq: int) -> str:
    raw = f"{seq}:{secrets.token_hex(12)}".encode()
    return "AQEB" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _seq_of(receipt: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(receipt[4:] + "=" * (-len(receipt[4:]) % 4))
        return int(raw.split(b":", 1)[0])
    except (ValueError, IndexError):
        raise ValidationError(
            f"invalid receipt handle {receipt[:24]!r}", code="ReceiptHandleIsInvalid"
        ) from None


def invocation_ended(tx: Tx, queue: QueueInfo, receipt: str) -> None:
    """The invocation that held this message is over (it failed): from now on the message
    only waits out its visibility timeout."""
    tx.execute(
        "UPDATE messages SET invoking = 0 WHERE seq = ? AND queue_id = ? AND receipt = ?",
        (_seq_of(receipt), queue.id, receipt),
    )


def release_interrupted(tx: Tx) -> int:
    """At start-up: messages whose invocation was cut short by a crash become visible at
    once. The data directory is locked to one runtime, so no consumer can still hold them;
    waiting out their visibility timeout would only delay them."""
    queue_ids = [
        row[0] for row in tx.execute("SELECT DISTINCT queue_id FROM messages WHERE invoking = 1")
    ]
    cursor = tx.execute(
        "UPDATE messages SET visible_at = ?, invoking = 0 WHERE invoking = 1", (tx.now_ms,)
    )
    for queue_id in queue_ids:
        tx.touch(f"queue:{queue_id}")
    return cursor.rowcount


def delete(tx: Tx, queue: QueueInfo, receipt: str) -> bool:
    """Delete by receipt handle. Only the latest receive's handle deletes: a consumer whose
    visibility timeout ran out cannot delete a message another consumer now holds."""
    cursor = tx.execute(
        "DELETE FROM messages WHERE seq = ? AND queue_id = ? AND receipt = ?",
        (_seq_of(receipt), queue.id, receipt),
    )
    return cursor.rowcount > 0


def change_visibility(tx: Tx, queue: QueueInfo, receipt: str, timeout: int) -> None:
    """ChangeMessageVisibility: the new timeout counts from now; 0 makes the message visible
    at once. One receive may keep a message invisible for at most 12 hours in all."""
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 0 <= timeout <= 43_200:
        raise ValidationError(
            "VisibilityTimeout must be an integer 0..43200", code="InvalidParameterValue"
        )
    row = tx.execute(
        "SELECT received_at, visible_at FROM messages "
        "WHERE seq = ? AND queue_id = ? AND receipt = ?",
        (_seq_of(receipt), queue.id, receipt),
    ).fetchone()
    if row is None or row[1] <= tx.now_ms:
        raise ValidationError(
            "the message is not in flight with this receipt handle", code="MessageNotInflight"
        )
    visible_at = tx.now_ms + timeout * 1000
    if visible_at > row[0] + MAX_INVISIBLE_MS:
        left = (row[0] + MAX_INVISIBLE_MS - tx.now_ms) // 1000
        raise ValidationError(
            f"VisibilityTimeout {timeout}s would keep the message invisible beyond 12 hours "
            f"from its receive; at most {left}s remain",
            code="InvalidParameterValue",
        )
    tx.execute("UPDATE messages SET visible_at = ? WHERE seq = ?", (visible_at, _seq_of(receipt)))
    tx.touch(queue.channel)


def purge(tx: Tx, queue: QueueInfo) -> int:
    """PurgeQueue: delete every message, in flight or not. SQS allows one purge a minute."""
    purge_begin(tx, queue)
    return tx.execute("DELETE FROM messages WHERE queue_id = ?", (queue.id,)).rowcount


def purge_begin(tx: Tx, queue: QueueInfo) -> tuple[int, int]:
    """A purge in steps (for the CLI's progress; the writer is not held for all of it):
    `purge`'s checks and bookkeeping, then (last seq to delete, how many messages), for
    `purge_some` to delete. Messages sent after this stay, as after `purge`."""
    row = tx.execute("SELECT purged_at FROM queues WHERE id = ?", (queue.id,)).fetchone()
    if row is not None and row[0] is not None and tx.now_ms - row[0] < PURGE_INTERVAL_MS:
        raise ValidationError(
            f"queue '{queue.name}' was purged less than 60 seconds ago",
            code="PurgeQueueInProgress",
        )
    tx.execute("UPDATE queues SET purged_at = ? WHERE id = ?", (tx.now_ms, queue.id))
    tx.execute("DELETE FROM dedup WHERE queue_id = ?", (queue.id,))
    last, count = tx.execute(
        "SELECT COALESCE(MAX(seq), 0), COUNT(*) FROM messages WHERE queue_id = ?", (queue.id,)
    ).fetchone()
    return int(last), int(count)


def purge_some(tx: Tx, queue: QueueInfo, up_to: int, limit: int) -> int:
    """Delete up to `limit` of the messages a `purge_begin` counted; 0 when none are left."""
    return tx.execute(
        "DELETE FROM messages WHERE seq IN "
        "(SELECT seq FROM messages WHERE queue_id = ? AND seq <= ? LIMIT ?)",
        (queue.id, up_to, limit),
    ).rowcount


def sweep_expired(tx: Tx, queue: QueueInfo) -> int:
    cutoff = tx.now_ms - queue.spec.message_retention_period * 1000
    if queue.spec.fifo:
        tx.execute(
            "DELETE FROM dedup WHERE queue_id = ? AND expires_at <= ?", (queue.id, tx.now_ms)
        )
    return tx.execute(
        "DELETE FROM messages WHERE queue_id = ? AND sent_at <= ?", (queue.id, cutoff)
    ).rowcount


# -- reads --------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueStats:
    name: str
    visible: int
    in_flight: int
    delayed: int
    dead_letter: str | None
    max_receive_count: int | None

    @property
    def total(self) -> int:
        return self.visible + self.in_flight + self.delayed


def stats(cx: sqlite3.Connection, queue: QueueInfo, now_ms: int) -> QueueStats:
    visible, in_flight, delayed = cx.execute(
        "SELECT COALESCE(SUM(visible_at <= ?1), 0), "
        "COALESCE(SUM(visible_at > ?1 AND receipt IS NOT NULL), 0), "
        "COALESCE(SUM(visible_at > ?1 AND receipt IS NULL), 0) "
        "FROM messages WHERE queue_id = ?2",
        (now_ms, queue.id),
    ).fetchone()
    return QueueStats(
        queue.name,
        visible,
        in_flight,
        delayed,
        queue.spec.dead_letter,
        queue.spec.max_receive_count,
    )


def count_visible(cx: sqlite3.Connection, queue: QueueInfo, now_ms: int, up_to: int) -> int:
    row = cx.execute(
        "SELECT COUNT(*) FROM "
        "(SELECT 1 FROM messages WHERE queue_id = ? AND visible_at <= ? LIMIT ?)",
        (queue.id, now_ms, up_to),
    ).fetchone()
    return int(row[0])


def next_visible_at(cx: sqlite3.Connection, queue: QueueInfo, now_ms: int) -> int | None:
    row = cx.execute(
        "SELECT MIN(visible_at) FROM messages WHERE queue_id = ? AND visible_at > ?",
        (queue.id, now_ms),
    ).fetchone()
    return None if row[0] is None else int(row[0])


def oldest_visible_since(cx: sqlite3.Connection, queue: QueueInfo, now_ms: int) -> int | None:
    row = cx.execute(
        "SELECT MIN(visible_at) FROM messages WHERE queue_id = ? AND visible_at <= ?",
        (queue.id, now_ms),
    ).fetchone()
    return None if row[0] is None else int(row[0])


@dataclass(frozen=True)
class MessageView:
    """A stored message as the console shows it, read without receiving it."""

    seq: int
    message_id: str
    body: str
    attributes: dict[str, dict[str, Any]] | None
    receive_count: int
    sent_at: int
    visible_at: int
    state: str  # "visible", "in flight" or "delayed"
    group_id: str | None
    source_queue_id: int | None
    trace_id: str | None


_BROWSE = (
    "SELECT seq, message_id, body, attributes, receive_count, sent_at, visible_at, receipt, "
    "group_id, source_queue_id, trace_id FROM messages WHERE queue_id = ?"
)


def _view(row: tuple[Any, ...], now_ms: int) -> MessageView:
    seq, message_id, body, attributes, count, sent_at, visible_at, receipt = row[:8]
    state = "visible" if visible_at <= now_ms else "in flight" if receipt else "delayed"
    return MessageView(
        seq,
        message_id,
        body,
        decode_attributes(attributes),
        count,
        sent_at,
        visible_at,
        state,
        row[8],
        row[9],
        row[10],
    )


def browse(
    cx: sqlite3.Connection, queue: QueueInfo, now_ms: int, *, limit: int = 50, after: int = 0
) -> list[MessageView]:
    """A queue's messages in send order, from after position `after`; nothing changes
    (no receive is counted, nothing is hidden)."""
    rows = cx.execute(
        _BROWSE + " AND seq > ? ORDER BY seq LIMIT ?", (queue.id, after, limit)
    ).fetchall()
    return [_view(row, now_ms) for row in rows]


def peek(cx: sqlite3.Connection, queue: QueueInfo, seq: int, now_ms: int) -> MessageView | None:
    row = cx.execute(_BROWSE + " AND seq = ?", (queue.id, seq)).fetchone()
    return None if row is None else _view(row, now_ms)
