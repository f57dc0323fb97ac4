"""SMS opt-outs: a number that replied STOP (``sluiceway sms opt-out``) is sent nothing."""

from __future__ import annotations

import sqlite3

from sluiceway.core.store import Tx

OPTED_OUT = "the number opted out of SMS (`sluiceway sms opt-in NUMBER` to undo)"


def opt_out(tx: Tx, phone: str) -> int:
    """Opt a number out of SMS (what a STOP reply does); its waiting SMS are not sent.
    Returns how many were waiting."""
    tx.execute(
        "INSERT INTO sms_opt_outs (phone, opted_out_at) VALUES (?, ?) "
        "ON CONFLICT (phone) DO NOTHING",
        (phone, tx.now_ms),
    )
    return int(
        tx.execute(
            "UPDATE deliveries SET status = 'opted-out', last_error = ? "
            "WHERE protocol = 'sms' AND endpoint = ? AND status = 'pending'",
            (OPTED_OUT, phone),
        ).rowcount
    )


def opt_in(tx: Tx, phone: str) -> bool:
    """OptInPhoneNumber: texts reach the number again (not those skipped meanwhile)."""
    return bool(tx.execute("DELETE FROM sms_opt_outs WHERE phone = ?", (phone,)).rowcount)


def opted_out(cx: sqlite3.Connection) -> list[tuple[str, int]]:
    """ListPhoneNumbersOptedOut: (number, when) pairs."""
    return [
        (str(phone), int(at))
        for phone, at in cx.execute("SELECT phone, opted_out_at FROM sms_opt_outs ORDER BY phone")
    ]
