"""Tracing: one correlation id followed from the HTTP request through every hop.

A trace id is 32 lowercase hex digits, W3C Trace Context's (an incoming ``traceparent``
header's trace id is kept; otherwise a new one). It travels with what the request causes:
the message (``messages.trace_id``, and to the handler as SQS's ``AWSTraceHeader`` in X-Ray's
spelling), the items a handler writes while processing that message (their stream records),
what it publishes (the notification, hence its deliveries), and so on down the pipeline.
Inside a handler the trace is the one of the record it is processing (`invoke.current_trace`).

Each hop is recorded by the work it describes: an op adds it to its transaction (`hop`), and
the store hands it on only once that transaction has committed, so a rolled-back write leaves
no hop behind. Hops then go to a `TraceLog`: a buffer that a thread of its own writes, every
`FLUSH_SECONDS`, to ``traces.db`` beside the data (and to OpenTelemetry, see `otel`).

Decision: hops live in their own database, written in bulk, not in the transaction of the
work: six rows per order in the one writer's transaction cost about a fifth of end-to-end
throughput (benchmarks/README.md). Hops are observations, not acknowledged data, so
``traces.db`` is written with ``synchronous=NORMAL``; a kill -9 loses the hops not yet
written (normally the last `FLUSH_SECONDS`; more if traces.db was busy), and a batch that
traces.db refuses is dropped and logged. Never a message, item or delivery. Hops are kept
24 hours, as stream records are.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sluiceway.core import ids
from sluiceway.core.clock import Clock

log = logging.getLogger("sluiceway.traces")

RETENTION_MS = 24 * 3600 * 1000
FLUSH_SECONDS = 0.1
CLOSE_SECONDS = 5.0  # how long close() waits for a flush under way (a busy traces.db)
TRIM_SECONDS = 60.0
# version 00, 32-hex trace id (not all zeros), 16-hex parent id, 2-hex flags
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS trace_hops (
    id          INTEGER PRIMARY KEY,
    trace_id    TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    detail      TEXT,
    duration_ms REAL,
    -- the order hops happened in (see next_seq)
    seq         INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS trace_hops_by_trace ON trace_hops (trace_id, seq);
"""
_INSERT = (
    "INSERT INTO trace_hops (trace_id, at_ms, kind, name, detail, duration_ms, seq) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_last_seq = 0
_seq_lock = threading.Lock()

# One hop: (trace id, at_ms, kind, name, detail, duration_ms, seq). The detail is a mapping,
# or JSON text already made, or None; it is made JSON by the log's thread, off the hot path.
Row = tuple[str, int, str, str, "Mapping[str, Any] | str | None", "float | None", int]


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
    # From the ids module's pool of urandom bytes: one system call per 4 KiB, not per id.
    return ids.random_bytes(16).hex()


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


def parent_of(header: str | None) -> str | None:
    """The caller's span id (16 hex digits) of a valid W3C ``traceparent``, else None: the
    parent of the request's root span when its hops are exported (`otel`)."""
    if from_traceparent(header) is None:
        return None
    assert header is not None
    return header.strip().lower()[36:52]


class Recording(Protocol):
    """Where a hop is kept until its work commits: the store's transaction (`store.Tx`)."""

    now_ms: int
    hops: list[Row]


def xray_header(trace_id: str) -> str:
    """The trace as SQS's ``AWSTraceHeader`` system attribute spells it (X-Ray's format:
    ``Root=1-<8 hex>-<24 hex>``, the W3C id split as AWS's own converters do)."""
    return f"Root=1-{trace_id[:8]}-{trace_id[8:]};Sampled=1"


def hop(
    tx: Recording,
    trace_id: str | None,
    kind: str,
    name: str,
    detail: Mapping[str, Any] | None = None,
    duration_ms: float | None = None,
    at_ms: int | None = None,
    seq: int | None = None,
) -> None:
    """Record one hop of `trace_id` (nothing when the work has no trace) with `tx`'s work:
    it is kept if the transaction commits. `seq` when it happened earlier than now."""
    if trace_id is None:
        return
    at = tx.now_ms if at_ms is None else at_ms
    tx.hops.append(row(trace_id, at, kind, name, detail, duration_ms, seq))


def row(
    trace_id: str,
    at_ms: int,
    kind: str,
    name: str,
    detail: Mapping[str, Any] | str | None = None,
    duration_ms: float | None = None,
    seq: int | None = None,
) -> Row:
    """One hop as the trace log takes it: its place in the order of things taken now unless
    `seq` says when it happened (`next_seq`)."""
    return (trace_id, at_ms, kind, name, detail, duration_ms, next_seq() if seq is None else seq)


def hops_many(tx: Recording, rows: Iterable[tuple[str, str, str, str]]) -> None:
    """Record (trace id, kind, name, detail as JSON text) hops at once, now."""
    now_ms = tx.now_ms
    tx.hops.extend(row(trace, now_ms, kind, name, detail) for trace, kind, name, detail in rows)


class Exporter(Protocol):
    """Where a trace log sends each batch of hops besides ``traces.db`` (`otel.SpanExport`)."""

    def export(self, rows: list[Row]) -> None: ...

    def shutdown(self) -> None: ...


class TraceLog:
    """The hops of one data directory on their way to ``traces.db``: `add` only appends to
    a list; a thread of its own, started by the first hop, writes them in one transaction
    every `FLUSH_SECONDS` and hands each batch to the exporters (OpenTelemetry)."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self.clock = clock
        self.exporters: list[Exporter] = []
        self._pending: list[Row] = []
        self._pending_lock = threading.Lock()  # between `add` and the swap in `flush`
        self._wake = threading.Event()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._write_lock = threading.Lock()  # one flush at a time
        self._writer: sqlite3.Connection | None = None
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._next_trim = 0.0
        self.written = 0

    def add(self, rows: list[Row]) -> None:
        """Take hops (from any thread); they are written within `FLUSH_SECONDS`."""
        if not rows:
            return
        with self._pending_lock:
            self._pending.extend(rows)
        if self._thread is None:
            try:
                self._start()
            except RuntimeError:  # no thread to be had: the hops wait for close() or flush()
                log.exception("could not start the trace log's thread")

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None and not self._closing:
                thread = threading.Thread(target=self._run, name="sluiceway-traces", daemon=True)
                thread.start()
                self._thread = thread

    def _run(self) -> None:
        while not self._closing:
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            try:
                self.flush()
                if time.monotonic() >= self._next_trim:
                    self._next_trim = time.monotonic() + TRIM_SECONDS
                    self.trim()
            except Exception:  # never let tracing take the runtime down: log and go on
                log.exception("writing trace hops failed")

    def flush(self) -> int:
        """Write (and export) every hop taken so far; returns how many."""
        with self._write_lock:
            with self._pending_lock:
                rows, self._pending = self._pending, []
            if not rows:
                return 0
            stored = [
                (t, at, k, n, d if d is None or isinstance(d, str) else to_json(d), ms, seq)
                for t, at, k, n, d, ms, seq in rows
            ]
            cx = self._writer_cx()
            try:
                cx.execute("BEGIN")
                cx.executemany(_INSERT, stored)
                cx.execute("COMMIT")
            except BaseException:  # (a full disk) this batch is lost; the next one starts clean
                if cx.in_transaction:
                    cx.execute("ROLLBACK")
                raise
            self.written += len(rows)
        for exporter in self.exporters:
            try:
                exporter.export(rows)
            except Exception:
                log.exception("exporting trace hops failed")
        return len(rows)

    def trim(self) -> int:
        """Drop hops older than the retention. Rows are written in time order, so the
        expired ones are those before the first row still in retention: found by walking
        from the oldest, with no index on time for every hop to pay for."""
        self.flush()
        with self._write_lock:
            cx = self._writer_cx()
            now_ms = int(self.clock.now() * 1000)
            kept = cx.execute(
                "SELECT id FROM trace_hops WHERE at_ms >= ? ORDER BY id LIMIT 1",
                (now_ms - RETENTION_MS,),
            ).fetchone()
            if kept is None:
                return int(cx.execute("DELETE FROM trace_hops").rowcount)
            return int(cx.execute("DELETE FROM trace_hops WHERE id < ?", (kept[0],)).rowcount)

    def close(self) -> None:
        """Write what is left, and stop."""
        self._closing = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(CLOSE_SECONDS)
        try:
            self.flush()
        except Exception:
            log.exception("writing trace hops failed")
        for exporter in self.exporters:
            try:
                exporter.shutdown()
            except Exception:
                log.exception("shutting down a trace exporter failed")
        self.exporters = []
        with self._write_lock:
            for cx in [self._writer, *self._readers]:
                if cx is not None:
                    cx.close()
            self._writer = None
            self._readers.clear()

    def _connect(self) -> sqlite3.Connection:
        cx = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        cx.execute("PRAGMA busy_timeout=30000")
        return cx

    def _writer_cx(self) -> sqlite3.Connection:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            cx = self._connect()
            cx.execute("PRAGMA journal_mode=WAL")
            cx.execute("PRAGMA synchronous=NORMAL")
            cx.executescript(_SCHEMA)
            self._writer = cx
        return self._writer

    # -- reading --------------------------------------------------------------------------

    def reader(self) -> sqlite3.Connection:
        """A connection to read hops with (this thread's; the file is made if missing)."""
        cx: sqlite3.Connection | None = getattr(self._local, "cx", None)
        if cx is None:
            with self._write_lock:
                self._writer_cx()  # the file and its table exist before anyone reads
                cx = self._connect()
                self._readers.append(cx)
            self._local.cx = cx
        return cx

    def hops(self, trace_id: str) -> list[Hop]:
        return hops(self.reader(), trace_id)

    def recent(self, limit: int = 50) -> list[TraceSummary]:
        return recent(self.reader(), limit)


def to_json(value: Any) -> str:
    return json.dumps(value, default=str)


def detail_of(detail: Mapping[str, Any] | str | None) -> Mapping[str, Any]:
    """A hop's detail as a mapping, whichever form it was recorded in."""
    if detail is None:
        return {}
    if isinstance(detail, str):
        parsed: dict[str, Any] = json.loads(detail)
        return parsed
    return detail


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
