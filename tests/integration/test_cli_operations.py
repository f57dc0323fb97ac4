"""Operating commands: `sluiceway load` (a JSON-lines file into a table, in batches),
`purge` in chunks with progress, `sluiceway mappings` with `pause` and `resume`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from conftest import EngineFactory
from sluiceway import App
from sluiceway.blueprints.orders import app as orders_app
from sluiceway.cli import main
from sluiceway.local import Admin


def run(*args: str, data_dir: Path, stdin: str | None = None) -> Any:
    return CliRunner().invoke(main, [*args, "--data-dir", str(data_dir)], input=stdin)


def catalog(make_engine: EngineFactory) -> None:
    app = App("shop")
    app.table("products", partition_key="sku", stream="NEW_IMAGE")
    make_engine(app).close()


def test_load_puts_every_line_of_a_file_in_batches(
    make_engine: EngineFactory, data_dir: Path, tmp_path: Path
) -> None:
    catalog(make_engine)
    lines = [json.dumps({"sku": f"p{n:03d}", "price": 9.5 + n, "tags": ["a"]}) for n in range(120)]
    source = tmp_path / "products.jsonl"
    source.write_text("\n".join(lines[:60]) + "\n\n" + "\n".join(lines[60:]) + "\n")

    loaded = run("load", "products", str(source), "--batch-size", "50", data_dir=data_dir)

    assert loaded.exit_code == 0, loaded.output
    assert loaded.output == "loaded 120 items into products\n"
    with Admin(data_dir) as admin:
        items = list(admin.scan("products"))
        assert len(items) == 120
        assert next(i for i in items if i["sku"] == "p001")["price"] == 10.5
        records = admin.store.query("SELECT COUNT(*) AS n FROM stream_records")[0]["n"]
    assert records == 120  # each put has its stream record, as PutItem's


def test_load_reads_standard_input(make_engine: EngineFactory, data_dir: Path) -> None:
    catalog(make_engine)
    loaded = run("load", "products", "-", data_dir=data_dir, stdin='{"sku": "x"}\n{"sku": "y"}\n')
    assert loaded.exit_code == 0, loaded.output
    assert "loaded 2 items" in loaded.output


def test_load_stops_at_an_invalid_line_and_keeps_the_lines_before(
    make_engine: EngineFactory, data_dir: Path, tmp_path: Path
) -> None:
    catalog(make_engine)
    source = tmp_path / "products.jsonl"
    source.write_text('{"sku": "a"}\n{"sku": "b"}\n{"name": "no key"}\n{"sku": "d"}\n')

    loaded = run("load", "products", str(source), "--batch-size", "1", data_dir=data_dir)

    assert loaded.exit_code == 1
    assert "line 3" in loaded.output
    assert "2 items loaded" in loaded.output
    with Admin(data_dir) as admin:
        assert sorted(i["sku"] for i in admin.scan("products")) == ["a", "b"]

    source.write_text('{"sku": "c"}\nnot json\n')
    broken = run("load", "products", str(source), data_dir=data_dir)
    assert broken.exit_code == 1
    assert "line 2: not JSON" in broken.output


def test_purge_deletes_in_chunks_and_reports_progress(
    make_engine: EngineFactory, data_dir: Path
) -> None:
    app = App("work")
    jobs = app.queue("jobs")
    make_engine(app)
    for n in range(25):
        jobs.send_message(str(n))
    progress: list[tuple[int, int]] = []
    with Admin(data_dir) as admin:
        assert admin.purge("jobs", chunk=10, on_progress=lambda *p: progress.append(p)) == 25
        assert admin.queue_stats()[0].total == 0
    assert progress == [(10, 25), (20, 25), (25, 25)]


def test_the_mappings_command_lists_pauses_and_resumes(
    make_engine: EngineFactory, data_dir: Path
) -> None:
    make_engine(orders_app)

    paused = run("mappings", "pause", "POC-Lambda-1", data_dir=data_dir)
    assert paused.exit_code == 0
    assert paused.output == "paused POC-Lambda-1\n"
    assert run("mappings", "pause", "POC-Lambda-1", data_dir=data_dir).output == (
        "POC-Lambda-1 was paused already\n"
    )
    listed = json.loads(run("mappings", "--json", data_dir=data_dir).output)
    assert [(m["name"], m["source"], m["state"]) for m in listed] == [
        ("POC-Lambda-1", "queue:POC-Queue", "paused"),
        ("POC-Lambda-2", "table:orders", "running"),
    ]
    assert listed[1]["lanes"][0]["lane"] == 0
    table = run("mappings", data_dir=data_dir).output.splitlines()
    assert table[0].split()[:5] == ["NAME", "KIND", "SOURCE", "STATE", "BEHIND"]
    assert table[1].split()[:4] == ["POC-Lambda-1", "function", "queue:POC-Queue", "paused"]

    assert run("mappings", "resume", "POC-Lambda-1", data_dir=data_dir).output == (
        "resumed POC-Lambda-1\n"
    )
    unknown = run("mappings", "pause", "nope", data_dir=data_dir)
    assert unknown.exit_code == 1
    assert "no mapping or pipe named 'nope'" in unknown.output
