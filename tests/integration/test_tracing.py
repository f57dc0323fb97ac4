"""Tracing: one order followed from its HTTP request through every hop to its email, with
the correlation id carried in the message (AWSTraceHeader), the stream record, the
notification and the delivery; an incoming ``traceparent`` is kept."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from conftest import EngineFactory
from sluiceway import App
from sluiceway.app.loader import load_app
from sluiceway.blueprints.orders import app as orders_app
from sluiceway.cli import main
from sluiceway.core import traces
from sluiceway.core.clock import VirtualClock
from sluiceway.local import Admin, LocalEngine
from support import SmtpServer, gateway

ORDER = {"item": "latex gloves", "customerID": "12345"}
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def hops_of(engine: LocalEngine, trace_id: str) -> list[traces.Hop]:
    engine.store.traces.flush()  # what the runtime's trace thread does every 100 ms
    with Admin(engine.settings.data_dir) as admin:
        return admin.trace(trace_id)


@pytest.mark.parametrize("isolation", ["thread", "process"])
def test_one_order_is_followed_through_every_hop_in_order(
    make_engine: EngineFactory, smtp: SmtpServer, clock: VirtualClock, isolation: str
) -> None:
    """The same hops whether handlers run on threads or in execution environments of
    their own (process isolation: across the channel, on the virtual clock, and with the
    front door process taking the request)."""
    app = load_app("orders") if isolation == "process" else orders_app
    engine = make_engine(app, smtp=smtp.url, auto_confirm=True, isolation=isolation)
    with gateway(engine, front_door=isolation == "process") as url:
        answer = httpx.post(f"{url}/orders", json=ORDER, timeout=10)
        other = httpx.post(f"{url}/orders", json={"item": "mask"}, timeout=10)
    trace_id = answer.headers["x-sluiceway-trace-id"]
    assert len(trace_id) == 32
    assert other.headers["x-sluiceway-trace-id"] != trace_id
    clock.advance(0.25)
    engine.drain()
    smtp.mailbox.wait_for(2)
    engine.drain()

    hops = hops_of(engine, trace_id)
    assert [(h.kind, h.name) for h in hops] == [
        ("http", "POST /orders"),
        ("invoke", "POC-Lambda-1"),
        ("item", "orders"),
        ("invoke", "POC-Lambda-2"),
        ("publish", "POC-Topic"),
        ("delivery", "email ops@example.com"),
    ]
    message_id = answer.json()["MessageId"]
    assert hops[0].detail == {"queue": "POC-Queue", "message_id": message_id}
    assert hops[1].detail["ok"] is True
    assert hops[1].detail["traces_in_batch"] == 2  # both orders in one batch
    assert hops[2].detail["eventName"] == "INSERT"
    assert hops[2].detail["keys"] == {"orderID": {"S": message_id}}
    assert hops[5].detail["status"] == "delivered"
    assert hops[5].duration_ms is not None
    assert hops[5].duration_ms >= 0
    assert all(h.duration_ms is not None for h in hops if h.kind == "invoke")
    assert [h.at_ms for h in hops] == sorted(h.at_ms for h in hops)

    # The other order's trace has its own item and email, not this one's.
    other_hops = hops_of(engine, other.headers["x-sluiceway-trace-id"])
    assert [h.kind for h in other_hops].count("item") == 1
    assert other_hops[2].detail["keys"] != hops[2].detail["keys"]

    with Admin(engine.settings.data_dir) as admin:
        recent = admin.traces()
    assert {t.trace_id for t in recent} >= {trace_id, other.headers["x-sluiceway-trace-id"]}
    assert next(t for t in recent if t.trace_id == trace_id).hops == 6

    shown = CliRunner().invoke(
        main, ["traces", trace_id, "--data-dir", str(engine.settings.data_dir)]
    )
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0].split()[:4] == ["AT", "HOP", "NAME", "TOOK"]
    assert [line.split()[2] for line in lines[1:]] == [
        "http",
        "invoke",
        "item",
        "invoke",
        "publish",
        "delivery",
    ]


def test_an_incoming_traceparent_is_kept_and_reaches_the_handler_as_aws_trace_header(
    make_engine: EngineFactory,
) -> None:
    app = App("traced")
    queue = app.queue("inbox")
    seen: list[dict[str, Any]] = []

    @app.on_queue(queue)
    def handle(event: dict[str, Any], context: Any) -> None:
        seen.extend(event["Records"])

    engine = make_engine(app)
    app.route("POST", "/in", to=queue)
    engine = make_engine(app, data_dir=engine.settings.data_dir.parent / "routed")
    with gateway(engine) as url:
        answer = httpx.post(
            f"{url}/in", json={"a": 1}, headers={"traceparent": TRACEPARENT}, timeout=10
        )
        bad = httpx.post(
            f"{url}/in", json={"a": 2}, headers={"traceparent": "00-zz-yy-01"}, timeout=10
        )
    assert answer.headers["x-sluiceway-trace-id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert bad.headers["x-sluiceway-trace-id"] != "00-zz-yy-01"
    engine.drain()
    headers = {json.loads(r["body"])["a"]: r["attributes"].get("AWSTraceHeader") for r in seen}
    assert headers[1] == "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Sampled=1"
    assert headers[2] is not None


def test_a_message_sent_without_a_trace_carries_none(make_engine: EngineFactory) -> None:
    app = App("untraced")
    queue = app.queue("inbox")
    seen: list[dict[str, Any]] = []

    @app.on_queue(queue)
    def handle(event: dict[str, Any], context: Any) -> None:
        seen.extend(event["Records"])

    engine = make_engine(app)
    queue.send_message("plain")
    engine.drain()
    assert "AWSTraceHeader" not in seen[0]["attributes"]
    with Admin(engine.settings.data_dir) as admin:
        assert admin.traces() == []


def test_each_record_of_a_batch_keeps_its_own_trace(make_engine: EngineFactory) -> None:
    app = App("batch")
    inbox = app.queue("inbox")
    outbox = app.queue("outbox")

    @app.on_queue(inbox, batch_size=10, uses=[outbox.sends])
    def forward(event: dict[str, Any], context: Any) -> None:
        for record in event["Records"]:
            outbox.send_message(record["body"])

    app.route("POST", "/in", to=inbox)
    engine = make_engine(app)
    with gateway(engine) as url:
        ids = [
            httpx.post(f"{url}/in", json={"n": n}, timeout=10).headers["x-sluiceway-trace-id"]
            for n in range(3)
        ]
    engine.drain()
    for trace_id in ids:
        kinds = [(h.kind, h.name) for h in hops_of(engine, trace_id)]
        assert kinds == [("http", "POST /in"), ("invoke", "forward"), ("send", "outbox")]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (TRACEPARENT, "4bf92f3577b34da6a3ce929d0e0e4736"),
        (TRACEPARENT.upper(), "4bf92f3577b34da6a3ce929d0e0e4736"),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", None),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", None),
        ("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", None),
        ("garbage", None),
        ("", None),
        (None, None),
    ],
    ids=[
        "valid",
        "upper",
        "zero-trace",
        "zero-parent",
        "future-version",
        "garbage",
        "empty",
        "none",
    ],
)
def test_traceparent_parsing(header: str | None, expected: str | None) -> None:
    assert traces.from_traceparent(header) == expected


def test_hops_older_than_a_day_are_swept(make_engine: EngineFactory, clock: VirtualClock) -> None:
    app = App("swept")
    queue = app.queue("inbox")
    app.route("POST", "/in", to=queue)
    engine = make_engine(app)
    with gateway(engine) as url:
        trace_id = httpx.post(f"{url}/in", json={}, timeout=10).headers["x-sluiceway-trace-id"]
    assert hops_of(engine, trace_id)
    clock.advance(24 * 3600 + 1)
    engine.sweep()
    assert hops_of(engine, trace_id) == []


def test_a_hop_is_kept_only_if_its_work_commits(tmp_path: Path) -> None:
    from sluiceway.core.store import Store, Tx

    def kept(tx: Tx) -> None:
        traces.hop(tx, "a" * 32, "item", "orders", {"eventName": "INSERT"})

    def undone(tx: Tx) -> None:
        traces.hop(tx, "b" * 32, "item", "orders", {"eventName": "INSERT"})
        raise ValueError("the condition failed")

    def early_undone(tx: Tx) -> None:
        traces.hop(tx, "c" * 32, "item", "orders", {"eventName": "INSERT"})
        raise ValueError("the condition failed")

    with Store(tmp_path) as store:
        store.write(kept)
        with pytest.raises(ValueError, match="condition"):
            store.write(undone)
        with pytest.raises(ValueError, match="condition"):
            store.write(early_undone, early=True)
        store.write(lambda tx: None)  # commits the early transaction
        store.traces.flush()
        assert [(h.kind, h.detail) for h in store.traces.hops("a" * 32)] == [
            ("item", {"eventName": "INSERT"})
        ]
        assert store.traces.hops("b" * 32) == []
        assert store.traces.hops("c" * 32) == []
    # Written to traces.db beside the data, and readable by another process's store.
    with Store(tmp_path) as again:
        assert len(again.traces.hops("a" * 32)) == 1


def test_hops_added_from_many_threads_while_flushing_are_all_written(tmp_path: Path) -> None:
    import threading

    from sluiceway.core.clock import SystemClock

    log = traces.TraceLog(tmp_path / "traces.db", SystemClock())
    trace_id = "d" * 32
    now_ms = int(SystemClock().now() * 1000)  # (older than a day would be trimmed)

    def add_many(worker: int) -> None:
        for _ in range(500):
            log.add([(trace_id, now_ms, "send", f"q{worker}", None, None, traces.next_seq())])

    workers = [threading.Thread(target=add_many, args=(w,)) for w in range(4)]
    for worker in workers:
        worker.start()
    while any(w.is_alive() for w in workers):
        log.flush()  # racing the adds, as the log's own thread does
    log.close()
    assert log.written == 2000
    reopened = traces.TraceLog(tmp_path / "traces.db", SystemClock())
    assert len(reopened.hops(trace_id)) == 2000
    reopened.close()


def test_a_batch_that_cannot_be_written_leaves_the_log_usable(tmp_path: Path) -> None:
    from sluiceway.core.clock import SystemClock

    log = traces.TraceLog(tmp_path / "traces.db", SystemClock())
    lost: Any = ("e" * 32, 0, "send", "q", None, None, 1)
    bad: Any = ("e" * 32, 0, "send", "q", None, object(), 2)  # SQLite cannot store it
    log.add([lost, bad])
    with pytest.raises(sqlite3.ProgrammingError):
        log.flush()
    log.add([("e" * 32, 0, "send", "q", {"ok": True}, None, 3)])
    assert log.flush() == 1
    assert [h.detail for h in log.hops("e" * 32)] == [{"ok": True}]
    log.close()
