"""The delivery outbox, as delivery workers and ``sluiceway deliveries`` see it: claiming
due rows, recording each attempt's outcome (with backoff for transient failures), retrying,
and listing deliveries. Rows are written by publishing (`topics.py`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sluiceway.core import traces
from sluiceway.core.store import Tx
from sluiceway.core.work import backoff_ms
from sluiceway.sns.texts import text_for

# Protocols delivered strictly in publish order: one worker, and the oldest waiting delivery
# goes first even when a newer one is due (it waits behind the head of the line).
ORDERED_PROTOCOLS = frozenset({"mqtt"})


@dataclass(frozen=True, slots=True)
class Job:
    """One delivery attempt's worth of data."""

    id: int
    kind: str
    protocol: str
    endpoint: str
    attempts: int
    subscription_arn: str  # these three are "" for an SMS published straight to a number
    token: str
    topic: str
    message_id: str | None
    subject: str | None
    message: str | bytes | None  # bytes: an MQTT payload
    structure: str | None
    attributes: str | None
    published_at: int | None

    def text(self) -> str:
        assert isinstance(self.message, str)
        return text_for(self.protocol, self.message, self.structure)


def claim(tx: Tx, protocols: Sequence[str], limit: int) -> list[Job]:
    """Mark up to `limit` due deliveries as being sent and return them. For
    `ORDERED_PROTOCOLS` only the due run at the head of the line: the oldest waiting ones,
    up to the first that is not due yet."""
    marks = ",".join("?" * len(protocols))
    if ORDERED_PROTOCOLS.issuperset(protocols):
        rows = tx.execute(
            f"{_CLAIMED} WHERE d.status = 'pending' AND d.protocol IN ({marks}) "
            "ORDER BY d.id LIMIT ?",
            (*protocols, limit),
        ).fetchall()
        due = []
        for row in rows:
            if row[-1] > tx.now_ms:
                break
            due.append(row[:-1])
        return _mark_sending(tx, [Job(*row) for row in due])
    rows = tx.execute(
        f"{_CLAIMED} WHERE d.status = 'pending' AND d.protocol IN ({marks}) "
        "AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at, d.id LIMIT ?",
        (*protocols, tx.now_ms, limit),
    ).fetchall()
    return _mark_sending(tx, [Job(*row[:-1]) for row in rows])


_CLAIMED = (
    "SELECT d.id, d.kind, d.protocol, d.endpoint, d.attempts, COALESCE(s.arn, ''), "
    "COALESCE(s.token, ''), COALESCE(t.name, ''), "
    "n.message_id, n.subject, n.message, n.structure, n.attributes, n.published_at, "
    "d.next_attempt_at "
    "FROM deliveries d LEFT JOIN subscriptions s ON s.id = d.subscription_id "
    "LEFT JOIN topics t ON t.id = s.topic_id "
    "LEFT JOIN notifications n ON n.id = d.notification_id"
)


def _mark_sending(tx: Tx, jobs: list[Job]) -> list[Job]:
    if jobs:
        tx.execute(
            f"UPDATE deliveries SET status = 'sending' WHERE id IN ({','.join('?' * len(jobs))})",
            [job.id for job in jobs],
        )
    return jobs


def delivered(tx: Tx, job_id: int) -> None:
    changed = tx.execute(
        "UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, delivered_at = ?, "
        "last_error = NULL WHERE id = ? AND status = 'sending'",
        (tx.now_ms, job_id),
    ).rowcount
    if changed:
        _delivery_hop(tx, job_id)


def _delivery_hop(tx: Tx, job_id: int) -> None:
    """The delivery's outcome as a hop of its notification's trace; its duration runs from
    the publish."""
    found = tx.execute(
        "SELECT n.trace_id, d.protocol || ' ' || d.endpoint, d.status, d.attempts, "
        "d.last_error, n.published_at FROM deliveries d "
        "JOIN notifications n ON n.id = d.notification_id "
        "WHERE d.id = ? AND n.trace_id IS NOT NULL",
        (job_id,),
    ).fetchone()
    if found is None:
        return
    trace_id, name, status, attempts, error, published_at = found
    detail = {"status": status, "attempts": attempts, "error": error, "delivery_id": job_id}
    traces.hop(tx, trace_id, "delivery", name, detail, tx.now_ms - published_at)


def failed(
    tx: Tx, job_id: int, error: str, *, permanent: bool, retry_in_ms: int | None = None
) -> None:
    """Record a failed attempt: permanent errors stop; transient ones retry with backoff
    (1 s doubling, at most 60 s apart), for as long as it takes. Only a delivery being sent
    can fail: recording the same outcome twice changes nothing."""
    row = tx.execute(
        "SELECT attempts FROM deliveries WHERE id = ? AND status = 'sending'", (job_id,)
    ).fetchone()
    if row is None:
        return
    attempts = int(row[0]) + 1
    tx.execute(
        "UPDATE deliveries SET status = ?, attempts = ?, last_error = ?, next_attempt_at = ? "
        "WHERE id = ?",
        (
            "failed" if permanent else "pending",
            attempts,
            error[:1000],
            tx.now_ms + (backoff_ms(attempts) if retry_in_ms is None else retry_in_ms),
            job_id,
        ),
    )
    _delivery_hop(tx, job_id)
    if not permanent:
        tx.touch("deliveries")


def release_in_flight(tx: Tx) -> int:
    """After a crash, deliveries that were being sent go back to pending."""
    return tx.execute("UPDATE deliveries SET status = 'pending' WHERE status = 'sending'").rowcount


def retry_now(tx: Tx, delivery_ids: Sequence[int] | None = None) -> int:
    """Make failed or waiting deliveries due now (`sluiceway deliveries --retry`). SQS
    deliveries are made in the publish's transaction and have no worker to retry them (one
    failed because its queue is gone or too small for the message, and would again)."""
    if delivery_ids:
        marks = ",".join("?" * len(delivery_ids))
        sql = (
            "UPDATE deliveries SET status = 'pending', next_attempt_at = ? "
            f"WHERE id IN ({marks}) AND status IN ('pending', 'failed') AND protocol != 'sqs'"
        )
        count = tx.execute(sql, (tx.now_ms, *delivery_ids)).rowcount
    else:
        count = tx.execute(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = ? "
            "WHERE status IN ('pending', 'failed') AND protocol != 'sqs'",
            (tx.now_ms,),
        ).rowcount
    tx.touch("deliveries")
    return count


def next_due(cx: sqlite3.Connection, protocols: Sequence[str], now_ms: int) -> int | None:
    """When the next delivery of `protocols` is due (after `now_ms`), if any waits."""
    marks = ",".join("?" * len(protocols))
    if ORDERED_PROTOCOLS.issuperset(protocols):  # the head of the line decides
        head = cx.execute(
            f"SELECT next_attempt_at FROM deliveries WHERE status = 'pending' "
            f"AND protocol IN ({marks}) ORDER BY id LIMIT 1",
            tuple(protocols),
        ).fetchone()
        return None if head is None or head[0] <= now_ms else int(head[0])
    row = cx.execute(
        f"SELECT MIN(next_attempt_at) FROM deliveries WHERE status = 'pending' "
        f"AND protocol IN ({marks}) AND next_attempt_at > ?",
        (*protocols, now_ms),
    ).fetchone()
    return None if row[0] is None else int(row[0])


@dataclass(frozen=True)
class DeliveryView:
    """A delivery as `sluiceway deliveries` shows it. `destination` is the address (email,
    phone number, function); `text` what that protocol receives (None for a confirmation
    request); `topic` is None for an SMS published straight to a number."""

    id: int
    kind: str
    protocol: str
    destination: str
    topic: str | None
    status: str
    attempts: int
    last_error: str | None
    subject: str | None
    message_id: str | None
    created_at: int
    delivered_at: int | None
    text: str | None


def _shown(protocol: str, message: str | bytes | None, structure: str | None) -> str | None:
    if message is None:
        return None
    if isinstance(message, bytes):  # an MQTT payload
        return message.decode("utf-8", "replace")
    return text_for(protocol, message, structure)


def list_deliveries(
    cx: sqlite3.Connection, *, status: str | None = None, limit: int | None = None
) -> list[DeliveryView]:
    """Deliveries, oldest first; with `limit`, the most recent `limit` of them."""
    sql = (
        "SELECT d.id, d.kind, d.protocol, d.endpoint, t.name, d.status, d.attempts, d.last_error, "
        "n.subject, n.message_id, d.created_at, d.delivered_at, n.message, n.structure "
        "FROM deliveries d LEFT JOIN subscriptions s ON s.id = d.subscription_id "
        "LEFT JOIN topics t ON t.id = s.topic_id "
        "LEFT JOIN notifications n ON n.id = d.notification_id"
    )
    params: list[Any] = []
    if status is not None:
        sql += " WHERE d.status = ?"
        params.append(status)
    sql += " ORDER BY d.id DESC LIMIT ?"
    params.append(-1 if limit is None else limit)
    views = []
    for row in cx.execute(sql, params):
        message, structure = row[12], row[13]
        views.append(
            DeliveryView(
                id=row[0],
                kind=row[1],
                protocol=row[2],
                destination=row[3],
                topic=row[4],
                status=row[5],
                attempts=row[6],
                last_error=row[7],
                subject=row[8],
                message_id=row[9],
                created_at=row[10],
                delivered_at=row[11],
                text=_shown(row[2], message, structure),
            )
        )
    return views[::-1]


def job(cx: sqlite3.Connection, delivery_id: int) -> Job | None:
    """A delivery as its worker would see it (the console renders an email from it)."""
    row = cx.execute(f"{_CLAIMED} WHERE d.id = ?", (delivery_id,)).fetchone()
    return None if row is None else Job(*row[:-1])
