"""Subscriptions' lifecycle: ConfirmSubscription and Unsubscribe, by their token."""

from __future__ import annotations

from sluiceway.core.errors import NotFound
from sluiceway.core.store import Tx


def confirm(tx: Tx, token: str) -> str:
    """ConfirmSubscription by token; returns the subscription ARN."""
    row = tx.execute(
        "SELECT id, arn, status FROM subscriptions WHERE token = ?", (token,)
    ).fetchone()
    if row is None or row[2] == "deleted":
        raise NotFound("no subscription waits for this confirmation token")
    if row[2] == "pending":
        tx.execute(
            "UPDATE subscriptions SET status = 'confirmed', confirmed_at = ? WHERE id = ?",
            (tx.now_ms, row[0]),
        )
    return str(row[1])


def unsubscribe(tx: Tx, arn: str, token: str) -> None:
    row = tx.execute(
        "SELECT id FROM subscriptions WHERE arn = ? AND token = ? AND status != 'deleted'",
        (arn, token),
    ).fetchone()
    if row is None:
        raise NotFound("no such subscription")
    tx.execute("UPDATE subscriptions SET status = 'unsubscribed' WHERE id = ?", (row[0],))
    tx.execute(
        "UPDATE deliveries SET status = 'cancelled', last_error = 'unsubscribed' "
        "WHERE subscription_id = ? AND status = 'pending'",
        (row[0],),
    )
