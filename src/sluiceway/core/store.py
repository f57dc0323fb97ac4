"""Durable storage: one SQLite database in WAL mode, one writer connection, group commit.

Every write is an *op*: a function of a `Tx` that runs inside the writer's transaction.
Durable ops are queued: the writer thread takes everything pending, runs it in ONE
transaction and commits with one fsync, then answers every caller. Under load, many HTTP
requests therefore share one fsync, which is why a 2xx can wait for the commit
(acknowledged = on disk) and still be fast.

Early ops (`write(..., early=True)`: claims, a handler's table writes, acknowledgements) run
in the caller's own thread, inside the writer's open transaction under the connection's
lock, and return before the commit; the writer commits them with what comes next. Nothing
outside the database may act on an early answer, so after a crash the database is still a
prefix of what was asked.

If an op raises (a failed condition, a bad value), its own savepoint is rolled back (or,
with no early op in the transaction, the batch is replayed with a savepoint per op), so one
caller's error never undoes another's write. Ops must therefore be pure functions of the
database state.

Readers use their own connections (one per thread); WAL lets them read while the writer
writes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sluiceway.core import store_health, traces
from sluiceway.core.clock import Clock, SystemClock
from sluiceway.core.histogram import LATENCY_BUCKETS, SIZE_BUCKETS, Histogram
from sluiceway.core.schema import MIGRATIONS, SCHEMA, SCHEMA_VERSION
from sluiceway.core.settings import Durability

T = TypeVar("T")
log = logging.getLogger("sluiceway.store")

MAX_GROUP = 4096
WATCH_SECONDS = 0.5
EXTERNAL = "*"  # the channel listeners hear when another process committed


class Tx:
    """What an op sees: the writer connection, the commit time, and a way to say which
    consumers should wake up once the transaction commits, and the trace hops to keep if it
    does (`traces.hop`)."""

    __slots__ = ("cx", "hops", "now", "now_ms", "touched")

    def __init__(self, cx: sqlite3.Connection, now: float) -> None:
        self.cx = cx
        self.now = now
        self.now_ms = int(now * 1000)
        self.touched: set[str] = set()
        self.hops: list[traces.Row] = []

    def execute(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        return self.cx.execute(sql, tuple(params))

    def touch(self, channel: str) -> None:
        self.touched.add(channel)


Op = Callable[[Tx], T]


@dataclass(slots=True)
class _Pending:
    op: Op[Any]
    future: concurrent.futures.Future[Any] | None = None
    aio: asyncio.Future[Any] | None = None
    loop: asyncio.AbstractEventLoop | None = None
    result: Any = None
    error: BaseException | None = None
    touched: set[str] = field(default_factory=set)
    hops: list[traces.Row] | None = None


class StoreClosed(RuntimeError):
    pass


class StoreFenced(RuntimeError):
    """A commit failed after some callers had their answer early: the store takes no more
    writes, so nothing can be acknowledged on top of work that is not on disk."""


class Store:
    """The database of one data directory."""

    def __init__(
        self,
        data_dir: Path,
        *,
        durability: Durability = "full",
        clock: Clock | None = None,
        create: bool = True,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / "sluiceway.db"
        self.durability = durability
        self.clock: Clock = clock or SystemClock()
        self._create = create
        self._writer: sqlite3.Connection | None = None
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition()
        self._pending: list[_Pending] = []
        self._closing = False
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._listeners: list[Callable[[set[str]], None]] = []
        self.commits = 0
        self.committed_ops = 0
        # For /metrics; updated by the writer thread only.
        self.group_sizes = Histogram(SIZE_BUCKETS)
        self.commit_seconds = Histogram(LATENCY_BUCKETS)
        self._next_watch = 0.0
        self._data_version: int | None = None
        self._fenced: BaseException | None = None
        # The writer connection and its open transaction. Held by the writer thread while it
        # runs a batch and commits, and by any thread running an early op directly.
        self._cx_lock = threading.Lock()
        self._in_tx = False
        self._direct_ops = 0  # early ops run directly in the open, uncommitted transaction
        self._direct_touched: set[str] = set()
        self._direct_hops: list[traces.Row] = []
        # Hops of committed work go here (traces.db beside the data).
        self.traces = traces.TraceLog(self.data_dir / "traces.db", self.clock)

    # -- lifecycle ----------------------------------------------------------------------

    def open(self) -> Store:
        if not self.path.exists() and not self._create:
            raise FileNotFoundError(
                f"no sluiceway data in {self.data_dir}: start the app once with `sluiceway run`"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        store_health.refuse_if_lost(self.path)
        try:
            cx = self._connect()
        except sqlite3.DatabaseError as error:
            raise store_health.damaged(self.path, str(error)) from None
        try:
            cx.execute("PRAGMA journal_mode=WAL")
            version = cx.execute("PRAGMA user_version").fetchone()[0]
            store_health.check(cx, self.path)
        except sqlite3.DatabaseError as error:
            cx.close()
            raise store_health.damaged(self.path, str(error)) from None
        except BaseException:
            cx.close()
            raise
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path} was written by a newer sluiceway (schema {version}); "
                "upgrade sluiceway"
            )
        if version == 0:
            cx.executescript(SCHEMA)
            cx.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        for step in range(version or SCHEMA_VERSION, SCHEMA_VERSION):
            # One transaction per step: a data directory is at one version or the next.
            cx.executescript(
                f"BEGIN IMMEDIATE;\n{MIGRATIONS[step]}\nPRAGMA user_version={step + 1};\nCOMMIT;"
            )
        store_health.remember(self.path)
        self._writer = cx
        self._data_version = int(cx.execute("PRAGMA data_version").fetchone()[0])
        self._thread = threading.Thread(target=self._run, name="sluiceway-writer", daemon=True)
        self._thread.start()
        return self

    def _connect(self) -> sqlite3.Connection:
        cx = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
        cx.execute("PRAGMA busy_timeout=30000")
        # FULL: a commit is on disk (the WAL fsync'd) before any caller is answered.
        cx.execute(f"PRAGMA synchronous={'FULL' if self.durability == 'full' else 'NORMAL'}")
        cx.execute("PRAGMA foreign_keys=OFF")
        return cx

    def close(self) -> None:
        with self._cond:
            if self._closing:
                return
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
        with self._readers_lock:
            for reader in self._readers:
                reader.close()
            self._readers.clear()
        self.traces.close()
        if self._writer is not None:
            self._writer.execute("PRAGMA wal_checkpoint(PASSIVE)")
            self._writer.close()
            self._writer = None

    def __enter__(self) -> Store:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ------------------------------------------------------------------------

    def on_commit(self, listener: Callable[[set[str]], None]) -> Callable[[], None]:
        """Call `listener(channels)` in the writer thread after each commit; returns the
        function that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def submit(self, op: Op[T]) -> concurrent.futures.Future[T]:
        """Queue `op` for the next group commit; the future resolves once it is on disk."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._enqueue(_Pending(op, future=future))
        return future

    def write(self, op: Op[T], *, early: bool = False) -> T:
        """Run `op` in the next group commit and return its result once it is on disk.

        With ``early=True`` the result comes as soon as the op has run, before the commit's
        fsync. Only for a caller that does nothing outside the database on the strength of
        it (claiming messages, a handler's table writes, acknowledging a batch): everything
        written later commits later, so after a crash the database is a prefix of what was
        asked, and redelivery redoes the rest. Never for what answers a client or sends
        anything out.

        An early op runs right here, in the caller's thread, inside the writer's open
        transaction (under the connection's lock, with a savepoint of its own): no hand-off
        to the writer thread and back, which is most of what a small write costs. The
        writer commits it with whatever comes next."""
        if early:
            return self._run_direct(op)
        return self.submit(op).result()

    def _run_direct(self, op: Op[T]) -> T:
        with self._cx_lock:
            self._check_open()
            cx = self._writer
            assert cx is not None
            self._begin(cx)
            tx = Tx(cx, self.clock.now())
            cx.execute("SAVEPOINT op")
            try:
                result = op(tx)
            except BaseException:
                cx.execute("ROLLBACK TO op")
                cx.execute("RELEASE op")
                raise
            cx.execute("RELEASE op")
            self._direct_ops += 1
            self._direct_touched |= tx.touched
            self._direct_hops += tx.hops
        with self._cond:
            if not self._pending:
                self._cond.notify()
        return result

    def settle(self) -> None:
        """Return once what early ops wrote is committed (their hops handed on too)."""
        with self._cx_lock:
            if not self._in_tx:
                return
        self.write(lambda tx: None)

    def read_own(self, read: Callable[[sqlite3.Connection], T]) -> T:
        """Read through the writer's connection: what is committed and what early writes
        wrote that the writer has not committed yet (a reader sees only the former).
        Starts no transaction, so it costs the writer no commit."""
        with self._cx_lock:
            self._check_open()
            cx = self._writer
            assert cx is not None
            return read(cx)

    def _check_open(self) -> None:
        if self._closing:
            raise StoreClosed("the store is closed")
        if self._fenced is not None:
            raise StoreFenced(f"the store stopped taking writes: {self._fenced}")

    def _begin(self, cx: sqlite3.Connection) -> None:
        if not self._in_tx:
            cx.execute("BEGIN IMMEDIATE")
            self._in_tx = True

    def awrite(self, op: Op[T]) -> asyncio.Future[T]:
        """`write` for the event loop: await the result without blocking the loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._enqueue(_Pending(op, aio=future, loop=loop))
        return future

    def _enqueue(self, pending: _Pending) -> None:
        with self._cond:
            self._check_open()
            self._pending.append(pending)
            if len(self._pending) == 1:
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._in_tx and not self._closing:
                    if not self._cond.wait(WATCH_SECONDS):
                        break
                if not self._pending and not self._in_tx and self._closing:
                    return
                batch = self._pending[:MAX_GROUP]
                del self._pending[:MAX_GROUP]
            if not batch and not self._in_tx:
                self._notice_external_commits()
                continue
            # A caller that cancelled its future no longer waits: drop its op.
            batch = [
                p for p in batch if p.future is None or p.future.set_running_or_notify_cancel()
            ]
            touched: set[str] = set()
            try:
                touched = self._commit(batch)
            except BaseException as error:  # never let the writer die: fail this batch instead
                log.exception("the writer failed")
                for pending in batch:
                    pending.error = pending.error or error
            self._answer(batch, touched)
            if time.monotonic() >= self._next_watch:
                # Busy for a while: another process's commits are noticed all the same.
                self._notice_external_commits()

    def _notice_external_commits(self) -> None:
        """Notice commits made by another process (the CLI): only those change the writer's
        own `data_version`. Checked when idle, and every `WATCH_SECONDS` when busy. Listeners
        then hear the channel "*"."""
        cx = self._writer
        if cx is None:
            return
        with self._cx_lock:
            if self._in_tx:
                return
            version = int(cx.execute("PRAGMA data_version").fetchone()[0])
        self._next_watch = time.monotonic() + WATCH_SECONDS
        if version != self._data_version:
            self._data_version = version
            for listener in self._listeners:
                listener({EXTERNAL})

    def _commit(self, batch: list[_Pending]) -> set[str]:
        """Run `batch` in the open transaction (beginning one if needed) and commit it with
        the early ops already run there; return the channels the commit touched."""
        cx = self._writer
        assert cx is not None
        with self._cx_lock:
            now = self.clock.now()
            direct = self._direct_ops
            # With early answers given (ops already run in this transaction), every op runs
            # in its own savepoint: one op's failure must never replay or undo an op whose
            # caller already has its answer.
            early = direct > 0
            try:
                if batch and (early or not self._run_all(cx, batch, now)):
                    self._run_each(cx, batch, now)
                self._begin(cx)
                committing = time.perf_counter()
                cx.execute("COMMIT")
                self.commit_seconds.observe(time.perf_counter() - committing)
            except Exception as error:  # the commit itself failed: nobody's write happened
                log.error("commit failed: %s", error)
                if cx.in_transaction:
                    cx.execute("ROLLBACK")
                for pending in batch:
                    pending.error = error
                    pending.touched = set()
                if early:
                    self._fenced = error
                return set()
            finally:
                self._in_tx = False
                touched = self._direct_touched
                self._direct_touched = set()
                hops, self._direct_hops = self._direct_hops, []
                self._direct_ops = 0
        self.commits += 1
        self.committed_ops += len(batch) + direct
        self.group_sizes.observe(len(batch) + direct)
        for pending in batch:
            touched |= pending.touched
            if pending.hops:
                hops += pending.hops
        self.traces.add(hops)
        return touched

    def _run_all(self, cx: sqlite3.Connection, batch: list[_Pending], now: float) -> bool:
        self._begin(cx)
        for pending in batch:
            tx = Tx(cx, now)
            try:
                pending.result = pending.op(tx)
            except Exception:
                cx.execute("ROLLBACK")
                self._in_tx = False
                return False
            pending.touched = tx.touched
            pending.hops = tx.hops
        return True

    def _run_each(self, cx: sqlite3.Connection, batch: list[_Pending], now: float) -> None:
        self._begin(cx)
        for pending in batch:
            tx = Tx(cx, now)
            cx.execute("SAVEPOINT op")
            try:
                pending.result = pending.op(tx)
                pending.error = None
                pending.touched = tx.touched
                pending.hops = tx.hops
            except Exception as error:
                cx.execute("ROLLBACK TO op")
                pending.result = None
                pending.error = error
                pending.touched = set()
                pending.hops = None
            cx.execute("RELEASE op")

    def _answer(self, batch: list[_Pending], touched: set[str]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Pending]] = {}
        for pending in batch:
            if pending.future is not None:
                if pending.future.done():
                    continue
                if pending.error is None:
                    pending.future.set_result(pending.result)
                else:
                    pending.future.set_exception(pending.error)
            elif pending.loop is not None:
                by_loop.setdefault(pending.loop, []).append(pending)
        for loop, items in by_loop.items():
            # RuntimeError: the loop is gone (shutdown) and nobody is waiting.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, items)
        if touched:
            for listener in self._listeners:
                try:
                    listener(touched)
                except Exception:
                    log.exception("commit listener failed")

    # -- reading ------------------------------------------------------------------------

    def reader(self) -> sqlite3.Connection:
        """This thread's read connection (WAL: readers never block the writer)."""
        cx: sqlite3.Connection | None = getattr(self._local, "cx", None)
        if cx is None:
            cx = self._connect()
            cx.execute("PRAGMA query_only=1")
            self._local.cx = cx
            with self._readers_lock:
                self._readers.append(cx)
        return cx

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        cursor = self.reader().execute(sql, tuple(params))
        cursor.row_factory = sqlite3.Row
        return cursor.fetchall()


def _resolve(items: list[_Pending]) -> None:
    for pending in items:
        future = pending.aio
        assert future is not None
        if future.done():
            continue
        if pending.error is None:
            future.set_result(pending.result)
        else:
            future.set_exception(pending.error)
