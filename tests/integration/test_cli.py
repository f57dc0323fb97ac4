"""The CLI commands, run in-process over a data directory an engine left behind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import EngineFactory
from sluiceway import App
from sluiceway.cli import main
from sluiceway.core.clock import VirtualClock


@pytest.fixture(autouse=True)
def cli_on_the_virtual_clock(monkeypatch: pytest.MonkeyPatch, clock: VirtualClock) -> None:
    """The CLI reads the time the engine under test lives in."""
    monkeypatch.setattr("sluiceway.local.admin.SystemClock", lambda: clock)


def run(*args: str, data_dir: Path) -> Any:
    return CliRunner().invoke(main, [*args, "--data-dir", str(data_dir)], catch_exceptions=False)


def failing_app() -> tuple[App, Any]:
    app = App("cli")
    dlq = app.queue("dead")
    queue = app.queue("work", dead_letter=dlq, max_receive_count=1)
    table = app.table("things", partition_key="id")

    @app.on_queue(queue, batch_size=1, uses=[table.writes])
    def handler(event: dict[str, Any], context: Any) -> None:
        for record in event["Records"]:
            if record["body"] == "poison":
                raise ValueError("poison")
            table.put_item({"id": record["body"], "n": 1})

    return app, queue


def test_queues_scan_redrive_through_the_cli(
    make_engine: EngineFactory, data_dir: Path, clock: VirtualClock
) -> None:
    app, queue = failing_app()
    engine = make_engine(app)
    queue.send_message("a")
    queue.send_message("poison")
    engine.drain(advance_time=True)
    engine.close()

    listed = json.loads(run("queues", "--json", data_dir=data_dir).output)
    assert {q["name"]: q["visible"] for q in listed} == {"dead": 1, "work": 0}
    table = run("queues", data_dir=data_dir).output.splitlines()
    assert table[0].split() == ["QUEUE", "VISIBLE", "IN", "FLIGHT", "DELAYED", "DEAD", "LETTERS"]
    assert "dead after 1" in table[2]

    assert run("scan", "things", data_dir=data_dir).output == '{"id": "a", "n": 1}\n'
    moved = run("redrive", "dead", data_dir=data_dir)
    assert moved.output.strip() == "moved 1 message out of dead"

    engine = make_engine(app)
    assert engine.store.query("SELECT receive_count FROM messages")[0]["receive_count"] == 0
    engine.drain(advance_time=True)  # still poison: back in the DLQ
    engine.close()
    listed = json.loads(run("queues", "--json", data_dir=data_dir).output)
    assert {q["name"]: q["visible"] for q in listed} == {"dead": 1, "work": 0}
    assert json.loads(run("scan", "things", "--json", data_dir=data_dir).output) == [
        {"id": "a", "n": 1}
    ]


def test_cli_errors_are_one_clear_line(make_engine: EngineFactory, data_dir: Path) -> None:
    app, _ = failing_app()
    make_engine(app).close()
    unknown = run("scan", "nope", data_dir=data_dir)
    assert unknown.exit_code == 1
    assert "no table named 'nope' (known: things)" in unknown.output
    not_dlq = run("redrive", "work", data_dir=data_dir)
    assert "not the dead-letter queue of any queue" in not_dlq.output
    bad_header = run("send", "/x", "{}", "--header", "nocolon", data_dir=data_dir)
    assert bad_header.exit_code == 2
    assert "NAME:VALUE" in bad_header.output


def test_deliveries_can_be_listed_and_made_due(make_engine: EngineFactory, data_dir: Path) -> None:
    app = App("mail")
    topic = app.topic("t")
    topic.subscribe("email", "a@example.com")
    engine = make_engine(app, smtp="smtp://127.0.0.1:9", auto_confirm=True)
    topic.publish("hello", subject="Hi")
    engine.drain()
    engine.close()
    listed = json.loads(run("deliveries", "--json", data_dir=data_dir).output)
    assert [(d["status"], d["subject"], d["attempts"]) for d in listed] == [("pending", "Hi", 1)]
    assert "unreachable" in listed[0]["last_error"]
    assert run("deliveries", "--retry", data_dir=data_dir).output.strip() == "1 delivery due now"
    assert "pending" in run("deliveries", "--status", "pending", data_dir=data_dir).output


def test_put_item_and_get_item_seed_and_read_any_table(
    make_engine: EngineFactory, data_dir: Path
) -> None:
    app = App("lookup")
    app.table("clients", partition_key="ClientID", stream="NEW_IMAGE")
    engine = make_engine(app)
    put = run(
        "put-item", "clients", '{"ClientID": "DemoClient", "Topic": "MyTopic"}', data_dir=data_dir
    )
    assert put.exit_code == 0, put.output
    assert json.loads(put.output) == {"key": {"ClientID": "DemoClient"}}
    got = run("get-item", "clients", '{"ClientID": "DemoClient"}', data_dir=data_dir)
    assert json.loads(got.output) == {"ClientID": "DemoClient", "Topic": "MyTopic"}
    again = run(
        "put-item",
        "clients",
        '{"ClientID": "DemoClient", "Topic": "X"}',
        "--if-not-exists",
        data_dir=data_dir,
    )
    assert again.exit_code == 1
    assert "already exists" in again.output
    missing = run("put-item", "clients", '{"Topic": "X"}', data_dir=data_dir)
    assert missing.exit_code == 1
    assert "ClientID" in missing.output
    events = [
        row[0] for row in engine.store.reader().execute("SELECT event_name FROM stream_records")
    ]
    assert events == ["INSERT"]
    assert run("get-item", "clients", '{"ClientID": "nobody"}', data_dir=data_dir).exit_code == 1
