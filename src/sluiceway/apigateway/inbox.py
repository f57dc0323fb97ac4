"""The front door's inbox: where a standard queue's message is on disk when the front door
process answers 200, until the runtime's single writer has taken it into the database.

Why not answer only after the writer's commit: the writer shares the runtime's GIL with the
pipeline (pollers, handle calls from the function environments, streams, deliveries), so
under load every acknowledgement waited behind the pipeline's work, and a burst was
acknowledged only as fast as it was processed. The inbox is a second SQLite file
(``front-door.db`` in the data directory, WAL, the same `--durability`) written by the front
door alone, with its own group commit: one transaction and one fsync per batch. A separate
file, because two writers of one SQLite database wait on each other's lock in the busy
handler's sleeps.

The runtime then *imports* what was committed (`Importer`, a unit of background work woken
by the front door's "committed" frame, and run by `drain()` in tests): it reads the rows past
its mark, stores them with `queues.send_many` (the gateway's own insert) and moves the mark in
the same transaction, so a crash at any point imports each message exactly once. The front
door deletes the rows up to the mark as it goes. A message becomes visible to its consumers
when it is imported, milliseconds after its acknowledgement; its SentTimestamp is that
moment (the runtime's clock, real or virtual).

FIFO queues do not use the inbox: their deduplication needs the database, so their messages
go to the writer over the front door's channel and are answered after its commit.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sluiceway.sqs import messages

log = logging.getLogger("sluiceway.inbox")

FILE = "front-door.db"
MARK = "front_door_inbox"  # the key in the database's meta table: the last seq imported
CHANNEL = "front-door-inbox"  # what wakes the importer
IMPORT_ROWS = 4096
TRIM_SECONDS = 0.1  # how often the front door reads the runtime's mark to delete rows
BUSY_MS = 2000  # a commit that cannot get the file's lock this long fails: 503, not a hang

_SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    seq           INTEGER PRIMARY KEY,
    queue_id      INTEGER NOT NULL,
    message_id    TEXT NOT NULL,
    body          TEXT NOT NULL,
    attributes    TEXT,
    sender_id     TEXT NOT NULL,
    delay_seconds INTEGER NOT NULL,
    trace_id      TEXT,
    route         TEXT,
    hop           TEXT
);
"""
_INSERT = (
    "INSERT INTO inbox (queue_id, message_id, body, attributes, sender_id, delay_seconds, "
    "trace_id, route, hop) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_PENDING = (
    "SELECT seq, queue_id, message_id, body, attributes, sender_id, delay_seconds, trace_id, "
    "route, hop FROM inbox WHERE seq > ? ORDER BY seq LIMIT ?"
)

Row = tuple[int, str, str, str | None, str, int, str | None, str, str | None]


def connect(data_dir: Path | str, durability: str) -> sqlite3.Connection:
    cx = sqlite3.connect(
        Path(data_dir) / FILE, isolation_level=None, check_same_thread=False, timeout=BUSY_MS / 1000
    )
    cx.execute("PRAGMA journal_mode=WAL")
    cx.execute(f"PRAGMA synchronous={'FULL' if durability == 'full' else 'NORMAL'}")
    cx.executescript(_SCHEMA)
    return cx


class Inbox:
    """The front door's side: rows added on the event loop are committed by a thread of
    their own, in groups; `committed(futures, error)` runs on the loop after each group
    (``error`` None: every one of them is on disk)."""

    def __init__(
        self,
        data_dir: Path | str,
        durability: str,
        loop: asyncio.AbstractEventLoop,
        committed: Callable[[list[tuple[asyncio.Future[Any], Any]], BaseException | None], None],
    ) -> None:
        self.cx = connect(data_dir, durability)
        self.main = sqlite3.connect(
            f"file:{Path(data_dir) / 'sluiceway.db'}?mode=ro", uri=True, check_same_thread=False
        )
        self.loop = loop
        self.committed = committed
        self._cond = threading.Condition()
        self._rows: list[Row] = []
        self._futures: list[tuple[asyncio.Future[Any], Any]] = []
        self._closing = False
        self._deleted = 0
        self._next_trim = 0.0
        self._thread = threading.Thread(target=self._run, name="front-door-inbox", daemon=True)
        self._thread.start()

    def add(
        self, queue_id: int, message: messages.Outgoing, route: str, hop: str | None, answer: Any
    ) -> asyncio.Future[Any]:
        """Commit `message` with the next group; the future gets `answer` once it is on disk."""
        future: asyncio.Future[Any] = self.loop.create_future()
        row = (
            queue_id,
            message.message_id,
            message.body,
            message.attributes,
            message.sender_id,
            message.delay_seconds,
            message.trace_id,
            route,
            hop,
        )
        with self._cond:
            self._rows.append(row)
            self._futures.append((future, answer))
            if len(self._rows) == 1:
                self._cond.notify()
        return future

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(10)
        self.cx.close()
        self.main.close()

    def _imported(self) -> int:
        """The runtime's mark (read from its database at most every `TRIM_SECONDS`)."""
        now = time.monotonic()
        if now < self._next_trim:
            return self._deleted
        self._next_trim = now + TRIM_SECONDS
        try:
            row = self.main.execute("SELECT value FROM meta WHERE key = ?", (MARK,)).fetchone()
        except sqlite3.Error:
            return self._deleted
        return int(row[0]) if row else 0

    def _run(self) -> None:
        cx = self.cx
        while True:
            with self._cond:
                while not self._rows and not self._closing:
                    self._cond.wait()
                if not self._rows:
                    return
                rows, self._rows = self._rows, []
                futures, self._futures = self._futures, []
            error: BaseException | None = None
            try:
                cx.execute("BEGIN IMMEDIATE")
                try:
                    cx.executemany(_INSERT, rows)
                    mark = self._imported()
                    if mark > self._deleted:
                        cx.execute("DELETE FROM inbox WHERE seq <= ?", (mark,))
                        self._deleted = mark
                    cx.execute("COMMIT")
                except BaseException:
                    if cx.in_transaction:
                        cx.execute("ROLLBACK")
                    raise
            except Exception as failure:  # nothing of this group is stored
                log.error("the front door's inbox could not commit: %s", failure)
                error = failure
            try:
                self.loop.call_soon_threadsafe(self.committed, futures, error)
            except RuntimeError:  # the loop is closed: nobody waits any more
                return


class Importer:
    """The runtime's side: takes committed inbox rows into the database (see the module).
    `step` is a unit of the engine's background work."""

    def __init__(
        self,
        data_dir: Path | str,
        durability: str,
        store: Any,
        queues_by_id: Mapping[int, Any],
    ) -> None:
        self.cx = connect(data_dir, durability)
        self.cx.execute("PRAGMA query_only=1")
        self.store = store
        self.queues = queues_by_id
        self.mark = _mark(store)
        self._lock = threading.Lock()  # drain() and the worker thread may both step
        self._closed = False

    def step(self) -> Any:
        # Imported here: the front door process, which imports this module, needs none of them.
        from sluiceway.core import traces
        from sluiceway.core.work import IDLE, Step
        from sluiceway.sqs import queues

        with self._lock:
            if self._closed:
                return IDLE
            rows = self.cx.execute(_PENDING, (self.mark, IMPORT_ROWS)).fetchall()
            if not rows:
                return IDLE
            sends = []
            hops = []
            for (
                _seq,
                queue_id,
                message_id,
                body,
                attributes,
                sender,
                delay,
                trace,
                route,
                hop,
            ) in rows:
                queue = self.queues.get(queue_id)
                if queue is None:  # the app no longer declares it
                    log.warning("inbox: message %s is for a queue that is gone", message_id)
                    continue
                sends.append(
                    (
                        queue,
                        messages.Outgoing(
                            message_id, body, attributes, sender, delay, trace_id=trace
                        ),
                    )
                )
                if hop is not None and trace is not None:
                    hops.append((trace, "http", route or "", hop))
            last = int(rows[-1][0])

            def store(tx: Any) -> None:
                queues.send_many(tx, sends, answers=False)
                if hops:
                    traces.hops_many(tx, hops)
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (MARK, str(last)),
                )

            self.store.write(store)
            self.mark = last
            return Step(True)

    def drain(self) -> int:
        """Import until nothing is left; how many steps it took."""
        steps = 0
        while self.step().did_work:
            steps += 1
        return steps

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self.cx.close()


def import_leftovers(
    data_dir: Path | str, durability: str, store: Any, queues_by_id: Mapping[int, Any]
) -> int:
    """At start-up, whatever the front door of an earlier run acknowledged and its runtime
    did not import (a crash), before anything else runs; returns how many steps it took."""
    if not (Path(data_dir) / FILE).exists():
        return 0
    importer = Importer(data_dir, durability, store, queues_by_id)
    try:
        return importer.drain()
    finally:
        importer.close()


def _mark(store: Any) -> int:
    rows = store.query("SELECT value FROM meta WHERE key = ?", (MARK,))
    return int(rows[0]["value"]) if rows else 0
