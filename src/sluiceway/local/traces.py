"""Tracing: one correlation id followed from the HTTP request through every hop.

A trace id is 32 lowercase hex digits, W3C Trace Context's (an incoming ``traceparent``
header's trace id is kept; otherwise a new one). It travels with what the request causes:
the message (``messages.trace_id``, and to the handler as SQS's ``AWSTraceHeader`` in X-Ray's
spelling), the items a handler writes while processing that message (their stream records),
what it publishes (the notification, hence its deliveries), and so on down the pipeline.
Inside a handler the trace is the one of the record it is processing (`invoke.current_trace`).

Each hop is a row of ``trace_hops``, written in the same transaction as the work it
records (the message stored, the item written, the delivery's outcome), or just after the
invocation it describes. Hops are kept 24 hours, as stream records are.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sluiceway.local.store import Tx

RETENTION_MS = 24 * 3600 * 1000
# version 00, 32-hex trace id (not all zeros), 16-hex parent id, 2-hex flags
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_INSERT = (
    "INSERT INTO trace_hops (trace_id, at_ms, kind, name, detail, duration_ms) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)


def new_trace_id() -> str:
    return secrets.token_hex(16)


def from_traceparent(header: str | None) -> str | None:
    """The trace id of a W3C ``traceparent`` header, or None if it is absent or invalid (an
    invalid one is ignored, as the specification asks, and a new trace begins)."""
    if not header:
        return None
    found = _TRACEPARENT.fullmatch(header.strip().lower())
    if found is None or found.group(1) == "0" * 32 or found.group(2) == "0" * 16:
        return None
    return found.group(1)


def xray_header(trace_id: str) -> str:
    """The trace as SQS's ``AWSTraceHeader`` system attribute spells it (X-Ray's format:
    ``Root=1-<8 hex>-<24 hex>``, the W3C id split as AWS's own converters do)."""
    return f"Root=1-{trace_id[:8]}-{trace_id[8:]};Sampled=1"


def hop(
    tx: Tx,
    trace_id: str | None,
    kind: str,
    name: str,
    detail: Mapping[str, Any] | None = None,
    duration_ms: float | None = None,
    at_ms: int | None = None,
) -> int | None:
    """Record one hop of `trace_id` (nothing when the work has no trace); its row id."""
    if trace_id is None:
        return None
    cursor = tx.execute(
        _INSERT,
        (
            trace_id,
            tx.now_ms if at_ms is None else at_ms,
            kind,
            name,
            None if detail is None else json.dumps(detail, default=str),
            duration_ms,
        ),
    )
    return cursor.lastrowid


def complete(
    tx: Tx, hop_ids: Iterable[int], duration_ms: float, outcome: Mapping[str, Any]
) -> None:
    """Add a hop's duration and outcome once known (an invocation's, after the handler)."""
    tx.cx.executemany(
        "UPDATE trace_hops SET duration_ms = ?, detail = json_patch(COALESCE(detail, '{}'), ?) "
        "WHERE id = ?",
        [(duration_ms, json.dumps(outcome), hop_id) for hop_id in hop_ids],
    )


def hops_many(tx: Tx, rows: Iterable[tuple[str, str, str, Mapping[str, Any] | None]]) -> None:
    """Record (trace id, kind, name, detail) hops at once, now."""
    tx.cx.executemany(
        _INSERT,
        [
            (
                trace,
                tx.now_ms,
                kind,
                name,
                None if detail is None else json.dumps(detail, default=str),
                None,
            )
            for trace, kind, name, detail in rows
        ],
    )


def trim(tx: Tx) -> int:
    """Drop hops older than the retention."""
    return int(
        tx.execute("DELETE FROM trace_hops WHERE at_ms < ?", (tx.now_ms - RETENTION_MS,)).rowcount
    )


# -- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hop:
    at_ms: int
    kind: str  # http, send, invoke, item, publish, delivery
    name: str
    detail: dict[str, Any]
    duration_ms: float | None


@dataclass(frozen=True)
class TraceSummary:
    trace_id: str
    started_at_ms: int
    last_at_ms: int
    hops: int
    first_kind: str
    first_name: str


def hops(cx: sqlite3.Connection, trace_id: str) -> list[Hop]:
    """Every hop of one trace, in the order they happened."""
    rows = cx.execute(
        "SELECT at_ms, kind, name, detail, duration_ms FROM trace_hops WHERE trace_id = ? "
        "ORDER BY at_ms, id",
        (trace_id,),
    )
    return [
        Hop(int(at), str(kind), str(name), json.loads(detail) if detail else {}, duration)
        for at, kind, name, detail, duration in rows
    ]


def recent(cx: sqlite3.Connection, limit: int = 50) -> list[TraceSummary]:
    """The latest traces, newest first."""
    rows = cx.execute(
        "SELECT h.trace_id, MIN(h.at_ms), MAX(h.at_ms), COUNT(*), "
        "(SELECT kind || ' ' || name FROM trace_hops f WHERE f.trace_id = h.trace_id "
        " ORDER BY f.at_ms, f.id LIMIT 1) "
        "FROM trace_hops h WHERE h.trace_id IN "
        "(SELECT trace_id FROM trace_hops ORDER BY id DESC LIMIT ?) "
        "GROUP BY h.trace_id ORDER BY MIN(h.at_ms) DESC, h.trace_id LIMIT ?",
        (limit * 20, limit),
    )
    summaries = []
    for trace_id, started, last, count, first in rows:
        kind, _, name = str(first).partition(" ")
        summaries.append(TraceSummary(trace_id, int(started), int(last), int(count), kind, name))
    return summaries
