"""A damaged or lost store, as a power cut, a full disk or a stray `truncate` leave it: each
case found at start and said plainly (the file, what is wrong, the ways out), never a
traceback and never a silent fresh start; and the ways out, each driven as a user would:
check, backup and restore, recover, --reset."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sluiceway.blueprints.orders import app as orders_app
from sluiceway.cli import main
from sluiceway.core.store_health import DamagedStore
from sluiceway.local import LocalEngine, Settings
from sluiceway.testing.plugin import Launcher


def cli(*args: str, data: Path) -> Result:
    return CliRunner().invoke(main, [*args, "--data-dir", str(data)])


@pytest.fixture
def data(sluiceway: Launcher, tmp_path: Path) -> Path:
    """A data directory holding three orders (its store closed)."""
    folder = tmp_path / "data"
    app = sluiceway.run("orders", data_dir=folder, durability="full")
    for n in range(3):
        assert app.http.post("/orders", json={"n": n, "pad": "x" * 3000}).status_code == 200
    app.drain()
    app.close()
    return folder


def cut_in_half(store: Path) -> None:
    size = store.stat().st_size
    with store.open("r+b") as file:
        file.truncate(size // 2)


def zero_the_header(store: Path) -> None:
    with store.open("r+b") as file:
        file.write(b"\0" * 100)


def overwrite_pages(store: Path) -> None:
    size = store.stat().st_size
    with store.open("r+b") as file:
        for at in range(4096 * 2, size, 4096 * 3):  # every third page after the first two
            file.seek(at)
            file.write(os.urandom(4096))


DAMAGE: dict[str, Callable[[Path], None]] = {
    "cut-in-half": cut_in_half,
    "header-zeroed": zero_the_header,
    "pages-overwritten": overwrite_pages,
}


def starting(data: Path) -> str:
    """What starting the runtime on `data` says (it must refuse)."""
    engine = LocalEngine(orders_app, Settings(data_dir=data), env={})
    with pytest.raises(DamagedStore) as refused:
        engine.open()
    return str(refused.value)


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_store_is_named_with_the_ways_out(data: Path, damage: str) -> None:
    store = data / "sluiceway.db"
    DAMAGE[damage](store)
    said = starting(data)
    assert f"the store {store} is damaged" in said
    assert "sluiceway restore" in said
    assert "sluiceway recover" in said
    assert "--reset" in said
    for command in (["queues"], ["scan", "orders"], ["deliveries"]):
        result = cli(*command, data=data)
        assert result.exit_code == 1, result.output
        assert f"the store {store} is damaged" in result.output
        assert "Traceback" not in result.output
    checked = cli("check", data=data)
    assert checked.exit_code == 1
    assert "damaged" in checked.output


@pytest.mark.parametrize("gone", ["empty", "deleted"])
def test_a_lost_store_is_not_started_over_unless_asked(
    data: Path, gone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = data / "sluiceway.db"
    for leftover in ("sluiceway.db-wal", "sluiceway.db-shm"):
        (data / leftover).unlink(missing_ok=True)
    if gone == "empty":
        store.write_bytes(b"")
    else:
        store.unlink()
    said = starting(data)
    assert ("is empty (0 bytes)" if gone == "empty" else "is gone") in said
    assert "this data directory held one" in said
    assert "its data is lost unless a backup has it" in said
    assert cli("queues", data=data).exit_code == 1

    # --reset sets what is left aside and starts empty (here it only opens, serving nothing).
    def open_only(app: object, settings: Settings, **_: object) -> None:
        with LocalEngine(orders_app, settings, env={}):
            pass

    monkeypatch.setattr("sluiceway.local.runtime.serve", open_only)
    # (and leaves this process's SDK settings as they are: no runtime will listen)
    monkeypatch.setattr("sluiceway.local.runtime.point_thread_handlers_here", lambda s: s)
    result = CliRunner().invoke(
        main, ["run", "orders", "--reset", "--isolation", "thread", "--data-dir", str(data)]
    )
    assert result.exit_code == 0, result.output
    assert "set aside in" in result.output
    (aside,) = data.glob("damaged-*")
    assert (aside / "store.json").exists()
    with LocalEngine(orders_app, Settings(data_dir=data), env={}) as engine:
        assert engine.store.query("SELECT COUNT(*) AS n FROM messages")[0]["n"] == 0


def test_backup_and_restore_bring_the_data_back(data: Path, tmp_path: Path) -> None:
    copy = tmp_path / "backup.db"
    result = cli("backup", str(copy), data=data)
    assert result.exit_code == 0, result.output
    overwrite_pages(data / "sluiceway.db")
    assert cli("check", data=data).exit_code == 1
    restored = cli("restore", str(copy), data=data)
    assert restored.exit_code == 0, restored.output
    assert "the store it replaced is in" in restored.output
    assert cli("check", data=data).exit_code == 0
    with LocalEngine(orders_app, Settings(data_dir=data), env={}) as engine:
        assert (
            len(engine.store.query("SELECT seq FROM messages"))
            + len(engine.store.query("SELECT 1 FROM items"))
            >= 3
        )
    refused = cli("restore", str(data / "keys" / "aws-credentials.key"), data=data)
    assert refused.exit_code == 1
    assert "aws-credentials.key is damaged" in refused.output


def test_recover_salvages_a_damaged_store_into_a_file_to_restore(
    data: Path, tmp_path: Path
) -> None:
    store = data / "sluiceway.db"
    with store.open("r+b") as file:  # one page of the items' data, not the schema
        file.seek(store.stat().st_size - 4096)
        file.write(os.urandom(4096))
    assert cli("check", data=data).exit_code == 1  # damaged indeed
    salvaged = tmp_path / "salvaged.db"
    result = cli("recover", str(salvaged), data=data)
    assert result.exit_code == 0, result.output
    assert "recovered " in result.output
    restored = cli("restore", str(salvaged), data=data)
    assert restored.exit_code == 0, restored.output
    assert cli("check", data=data).exit_code == 0
    with LocalEngine(orders_app, Settings(data_dir=data), env={}) as engine:
        assert engine.store.query("SELECT COUNT(*) AS n FROM queues")[0]["n"] == 3
    assert cli("queues", data=data).exit_code == 0


def test_a_sound_store_checks_ok(data: Path) -> None:
    result = cli("check", data=data)
    assert result.exit_code == 0
    assert result.output.startswith(f"ok: {data / 'sluiceway.db'} (schema ")
