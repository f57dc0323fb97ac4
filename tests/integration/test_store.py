"""The store: durable group commits, isolation of failing ops, a writer that never dies."""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sluiceway.core.schema import SCHEMA_VERSION
from sluiceway.core.store import EXTERNAL, Store, Tx


def insert(value: str) -> object:
    def op(tx: Tx) -> int:
        return int(
            tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (value, value)).lastrowid or 0
        )

    return op


def keys(store: Store) -> set[str]:
    return {r["key"] for r in store.query("SELECT key FROM meta")}


@pytest.mark.parametrize(("durability", "level"), [("full", 2), ("relaxed", 1)])
def test_acknowledged_means_fsynced_unless_relaxed(
    tmp_path: Path, durability: str, level: int
) -> None:
    with Store(tmp_path, durability=durability) as store:  # type: ignore[arg-type]
        synchronous = store.write(lambda tx: tx.execute("PRAGMA synchronous").fetchone()[0])
        mode = store.write(lambda tx: tx.execute("PRAGMA journal_mode").fetchone()[0])
    assert (synchronous, mode) == (level, "wal")


def test_concurrent_requests_share_commits(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        before = store.commits

        async def many() -> None:
            await asyncio.gather(*(store.awrite(insert(f"k{i}")) for i in range(500)))

        asyncio.run(many())
        assert len(keys(store)) == 500
        assert store.commits - before < 100  # 500 acknowledged writes, far fewer fsyncs


def test_a_failing_op_undoes_only_itself(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        gate = threading.Event()
        blocker = store.submit(lambda tx: gate.wait(5))  # holds the writer so the rest batch up
        first = store.submit(insert("a"))
        broken = store.submit(lambda tx: (insert("b")(tx), 1 / 0))
        last = store.submit(insert("c"))
        gate.set()
        blocker.result(5)
        first.result(5)
        last.result(5)
        with pytest.raises(ZeroDivisionError):
            broken.result(5)
        assert keys(store) == {"a", "c"}


def test_a_cancelled_write_neither_happens_nor_stops_the_writer(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        gate = threading.Event()
        store.submit(lambda tx: gate.wait(5))
        cancelled = store.submit(insert("never"))
        assert cancelled.cancel()
        gate.set()
        assert store.write(insert("after")) is not None
        assert keys(store) == {"after"}


def test_the_writer_survives_an_error_in_a_commit_listener(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        store.on_commit(lambda touched: 1 / 0)  # type: ignore[func-returns-value]
        store.write(lambda tx: tx.touch("x"))
        assert store.write(insert("still")) is not None


def test_another_process_committing_is_noticed(tmp_path: Path) -> None:
    heard = concurrent.futures.Future[set[str]]()
    with Store(tmp_path) as store:
        store.on_commit(lambda touched: heard.done() or heard.set_result(touched))
        code = (
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None);"
            "c.execute(\"INSERT INTO meta (key, value) VALUES ('cli', 'x')\")"
        )
        subprocess.run([sys.executable, "-c", code, str(tmp_path / "sluiceway.db")], check=True)
        assert heard.result(5) == {EXTERNAL}


def test_a_data_directory_of_a_newer_version_is_refused(tmp_path: Path) -> None:
    with Store(tmp_path):
        pass
    with sqlite3.connect(tmp_path / "sluiceway.db") as cx:
        cx.execute("PRAGMA user_version = 999")
    with pytest.raises(RuntimeError, match="newer sluiceway"), Store(tmp_path):
        pass


def test_an_early_answer_survives_a_failing_neighbour(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        # Holding the writer's condition keeps it from committing: the early op (run at once,
        # in this thread) and the queued ones end up in one transaction.
        with store._cond:
            assert store.write(insert("early"), early=True)
            broken = store.submit(lambda tx: 1 / 0)
            durable = store.submit(insert("durable"))
        assert durable.result(5)
        with pytest.raises(ZeroDivisionError):
            broken.result(5)
        assert keys(store) == {"early", "durable"}


def test_a_failed_commit_after_early_answers_fences_the_store(tmp_path: Path) -> None:
    from sluiceway.core.store import StoreFenced

    with Store(tmp_path) as store:
        store.write(lambda tx: tx.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
        store.write(
            lambda tx: tx.execute(
                "CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parent(id))"
            )
        )
        writer = store._writer
        assert writer is not None
        # Foreign keys, checked at COMMIT (the writer is idle between batches here).
        writer.execute("PRAGMA foreign_keys = ON")
        with store._cond:  # one transaction for both, as above
            assert store.write(insert("early"), early=True)  # answered before the commit
            violation = store.submit(
                lambda tx: (
                    tx.execute("PRAGMA defer_foreign_keys = ON"),
                    tx.execute("INSERT INTO child (parent) VALUES (42)"),
                )
            )
        with pytest.raises(sqlite3.IntegrityError):
            violation.result(5)
        with pytest.raises(StoreFenced, match="stopped taking writes"):
            store.write(insert("after"))
        with pytest.raises(StoreFenced):
            store.write(insert("after"), early=True)
    assert "early" not in {
        r[0] for r in sqlite3.connect(tmp_path / "sluiceway.db").execute("SELECT key FROM meta")
    }


def test_a_version_1_data_directory_is_migrated_and_keeps_its_data(tmp_path: Path) -> None:
    v1 = (Path(__file__).parents[1] / "fixtures" / "schema_v1.sql").read_text()
    with sqlite3.connect(tmp_path / "sluiceway.db") as cx:
        cx.executescript(v1)
        cx.execute("INSERT INTO topics (id, name, created_at) VALUES (1, 't', 0)")
        cx.execute(
            "INSERT INTO subscriptions (id, topic_id, protocol, endpoint, arn, status, token, "
            "created_at) VALUES (1, 1, 'email', 'a@example.com', 'arn:t:1', 'confirmed', 'k', 0)"
        )
        cx.execute(
            "INSERT INTO notifications (id, message_id, topic_id, message, published_at) "
            "VALUES (1, 'm1', 1, 'hello', 0)"
        )
        cx.execute(
            "INSERT INTO deliveries (notification_id, subscription_id, kind, protocol, endpoint, "
            "status, next_attempt_at, created_at) "
            "VALUES (1, 1, 'notification', 'email', 'a@example.com', 'pending', 0, 0)"
        )
        cx.execute("PRAGMA user_version = 1")
    with Store(tmp_path) as store:
        store.write(
            lambda tx: tx.execute(  # a direct SMS: no topic, no subscription
                "INSERT INTO notifications (message_id, topic_id, message, published_at) "
                "VALUES ('m2', NULL, 'hi', 0)"
            )
        )
        cx = store.reader()
        assert cx.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert cx.execute(
            "SELECT d.endpoint, d.status, s.filter_policy FROM deliveries d "
            "JOIN subscriptions s ON s.id = d.subscription_id"
        ).fetchall() == [("a@example.com", "pending", None)]
        assert [r[0] for r in cx.execute("SELECT message FROM notifications ORDER BY id")] == [
            "hello",
            "hi",
        ]
        plan = " ".join(
            str(r)
            for r in cx.execute(
                "EXPLAIN QUERY PLAN SELECT id FROM deliveries WHERE status = 'pending' "
                "AND protocol = 'email' AND next_attempt_at <= 5"
            )
        )
        assert "deliveries_due" in plan
