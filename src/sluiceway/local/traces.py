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
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sluiceway.local.store import Tx

RETENTION_MS = 24 * 3600 * 1000
# version 00, 32-hex trace id (not all zeros), 16-hex parent id, 2-hex flags
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_INSERT = (
    "INSERT INTO trace_hops (trace_id, at_ms, kind, name, detail, duration_ms, seq) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_last_seq = 0
_seq_lock = threading.Lock()


def next_seq() -> int:
    """Where a hop falls in the order things happened: wall-clock nanoseconds, strictly
    increasing in this process. Taken when the hop happens, not when its row is written, so
    an invocation (written once it is over) still precedes what its handler did; across
    processes (the delivery process) the wall clock orders hops that follow each other."""
    global _last_seq
    with _seq_lock:
        _last_seq = max(time.time_ns(), _last_seq + 1)
        return _last_seq


# The answer header that names a request's trace.
TRACE_HEADER = b"x-sluiceway-trace-id"


def new_trace_id() -> str:
    return secrets.token_hex(16)


def trace_of(traceparent: str | None) -> str:
    """A request's trace: its W3C ``traceparent`` header's, or a new one."""
    return from_traceparent(traceparent) or new_trace_id()


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
    seq: int | None = None,
) -> None:
    """Record one hop of `trace_id` (nothing when the work has no trace); `seq` when it
    happened earlier than now (`next_seq`)."""
    if trace_id is None:
        return
    tx.execute(
        _INSERT,
        (
            trace_id,
            tx.now_ms if at_ms is None else at_ms,
            kind,
            name,
            None if detail is None else json.dumps(detail, default=str),
            duration_ms,
            next_seq() if seq is None else seq,
        ),
    )


def hops_many(tx: Tx, rows: Iterable[tuple[str, str, str, str]]) -> None:
    """Record (trace id, kind, name, detail as JSON text) hops at once, now."""
    tx.cx.executemany(
        _INSERT,
        [
            (trace, tx.now_ms, kind, name, detail, None, next_seq())
            for trace, kind, name, detail in rows
        ],
    )


def trim(tx: Tx) -> int:
    """Drop hops older than the retention. Rows are written in time order, so the expired
    ones are those before the first row still in retention: found by walking from the
    oldest, with no index on time for every hop to pay for."""
    kept = tx.execute(
        "SELECT id FROM trace_hops WHERE at_ms >= ? ORDER BY id LIMIT 1",
        (tx.now_ms - RETENTION_MS,),
    ).fetchone()
    if kept is None:
        return int(tx.execute("DELETE FROM trace_hops").rowcount)
    return int(tx.execute("DELETE FROM trace_hops WHERE id < ?", (kept[0],)).rowcount)


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
        "ORDER BY seq",
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
        " ORDER BY f.seq LIMIT 1) "
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
