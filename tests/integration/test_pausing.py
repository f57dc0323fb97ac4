"""Pausing and resuming mappings and pipes: what a paused one leaves waiting, that the pause
holds across restarts, and that an engine hears a pause made through another connection
(the CLI's, the console's)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import EngineFactory
from sluiceway import App
from sluiceway.blueprints.orders import app as orders_app
from sluiceway.core.errors import NotFound
from sluiceway.core.store import Store
from sluiceway.local import Admin
from support import SmtpServer, gateway, wait_until


def visible(admin: Admin, queue: str) -> int:
    return next(s.visible for s in admin.queue_stats() if s.name == queue)


def test_a_paused_queue_mapping_leaves_orders_waiting_until_it_is_resumed(
    make_engine: EngineFactory, smtp: SmtpServer, data_dir: Path
) -> None:
    engine = make_engine(orders_app, smtp=smtp.url, auto_confirm=True)
    with Admin(data_dir) as admin:
        assert admin.pause_mapping("POC-Lambda-1") is True
        assert admin.pause_mapping("POC-Lambda-1") is False
        assert set(admin.paused()) == {"POC-Lambda-1"}
        wait_until(lambda: "POC-Lambda-1" in engine.paused)

        with gateway(engine) as url:
            for n in range(3):
                assert httpx.post(f"{url}/orders", json={"n": n}).status_code == 200
        engine.drain()
        assert visible(admin, "POC-Queue") == 3
        assert list(admin.scan("orders")) == []

        assert admin.resume_mapping("POC-Lambda-1") is True
        wait_until(lambda: not engine.paused)
        engine.drain()
        assert visible(admin, "POC-Queue") == 0
        assert sorted(json.loads(o["order"])["n"] for o in admin.scan("orders")) == [0, 1, 2]
    assert len(smtp.mailbox.wait_for(3)) == 3


def test_a_paused_stream_mapping_holds_the_notifications_not_the_orders(
    make_engine: EngineFactory, smtp: SmtpServer, data_dir: Path
) -> None:
    engine = make_engine(orders_app, smtp=smtp.url, auto_confirm=True)
    with Admin(data_dir) as admin:
        admin.pause_mapping("POC-Lambda-2")
        wait_until(lambda: "POC-Lambda-2" in engine.paused)
        with gateway(engine) as url:
            httpx.post(f"{url}/orders", json={"item": "mop"})
        engine.drain()
        assert len(list(admin.scan("orders"))) == 1
        (lane,) = admin.stream_mappings()
        assert lane.behind == 1
        assert smtp.mailbox.messages == []
        admin.resume_mapping("POC-Lambda-2")
        wait_until(lambda: not engine.paused)
        engine.drain()
    (mail,) = smtp.mailbox.wait_for(1)
    assert "item: mop" in str(mail.get_content())


def test_a_pause_holds_across_a_restart(
    make_engine: EngineFactory, data_dir: Path, smtp: SmtpServer
) -> None:
    first = make_engine(orders_app, smtp=smtp.url, auto_confirm=True)
    with Admin(data_dir) as admin:
        admin.pause_mapping("POC-Lambda-1")
    first.close()

    again = make_engine(orders_app, smtp=smtp.url, auto_confirm=True)
    assert again.paused == {"POC-Lambda-1"}
    with gateway(again) as url:
        httpx.post(f"{url}/orders", json={"item": "mop"})
    again.drain()
    with Admin(data_dir) as admin:
        assert visible(admin, "POC-Queue") == 1
        assert [(s.name, s.paused) for s in admin.mapping_states()] == [
            ("POC-Lambda-1", True),
            ("POC-Lambda-2", False),
        ]


def test_a_pipe_is_paused_by_its_bare_name(make_engine: EngineFactory, data_dir: Path) -> None:
    app = App("pipes")
    things = app.table("Things", partition_key="id", stream="KEYS_ONLY")
    out = app.queue("changes")
    app.pipe("copy", source=things, target=out)
    engine = make_engine(app)
    with Admin(data_dir) as admin:
        assert [(s.name, s.kind, s.source) for s in admin.mapping_states()] == [
            ("pipe:copy", "pipe", "table:Things")
        ]
        admin.pause_mapping("copy")
        wait_until(lambda: "pipe:copy" in engine.paused)
        things.put_item({"id": "a"})
        engine.drain()
        assert visible(admin, "changes") == 0
        admin.resume_mapping("pipe:copy")
        wait_until(lambda: not engine.paused)
        engine.drain()
        assert visible(admin, "changes") == 1


def test_pausing_an_unknown_name_lists_the_known_ones(
    make_engine: EngineFactory, data_dir: Path
) -> None:
    make_engine(orders_app)
    with Admin(data_dir) as admin, pytest.raises(NotFound, match="POC-Lambda-1, POC-Lambda-2"):
        admin.pause_mapping("POC-Lambda-9")


def test_a_mapping_the_app_no_longer_declares_is_forgotten_with_its_pause(
    data_dir: Path, make_engine: EngineFactory
) -> None:
    app = App("shrinking")
    jobs = app.queue("jobs")

    @app.on_queue(jobs)
    def old(event: Any, context: Any) -> None:
        return None

    engine = make_engine(app)
    with Admin(data_dir) as admin:
        admin.pause_mapping("old")
    engine.close()
    later = App("shrinking")
    later.queue("jobs")
    make_engine(later)
    with Admin(data_dir) as admin:
        assert admin.mapping_states() == []
        assert admin.paused() == {}


def test_an_older_data_directory_gains_the_mapping_states(tmp_path: Path) -> None:
    v1 = (Path(__file__).parents[1] / "fixtures" / "schema_v1.sql").read_text()
    with sqlite3.connect(tmp_path / "sluiceway.db") as cx:
        cx.executescript(v1)
        cx.execute("PRAGMA user_version = 1")
    with Store(tmp_path) as store:
        assert store.query("SELECT COUNT(*) AS n FROM mapping_states")[0]["n"] == 0
