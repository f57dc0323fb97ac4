"""`sluiceway check`, `backup`, `restore`, `recover`: the store's health and its copies, with
SQLite's own tools (`sluiceway.core.store_health` says when each helps)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import click

from sluiceway.cli._common import _data_dir, data_dir_option


def _store(data_dir: Path | None) -> Path:
    path = _data_dir(data_dir) / "sluiceway.db"
    if not path.exists():
        raise click.ClickException(f"no store at {path}")
    return path


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


@click.command()
@data_dir_option
def check(data_dir: Path | None) -> None:
    """Check the store with SQLite's full integrity check (exit 1 if it is damaged)."""
    from sluiceway.core.store_health import check as integrity

    path = _store(data_dir)
    cx = _read_only(path)
    try:
        integrity(cx, path, thorough=True)
        version = cx.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as error:  # the header itself
        raise click.ClickException(f"the store {path} is damaged ({error})") from None
    except Exception as error:
        raise click.ClickException(str(error)) from None
    finally:
        cx.close()
    click.echo(f"ok: {path} (schema {version}, {path.stat().st_size / 1e6:.1f} MB)")


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@data_dir_option
def backup(file: Path, data_dir: Path | None) -> None:
    """Copy the store to FILE, consistent, while the runtime runs or not (SQLite's online
    backup)."""
    path = _store(data_dir)
    if file.exists():
        raise click.ClickException(f"{file} exists; name a new file")
    source, target = _read_only(path), sqlite3.connect(file)
    try:
        source.backup(target)
    except sqlite3.DatabaseError as error:
        target.close()
        file.unlink(missing_ok=True)
        raise click.ClickException(
            f"the store {path} could not be read whole ({error}): use `sluiceway recover`"
        ) from None
    finally:
        source.close()
        target.close()
    click.echo(f"backed up {path} to {file} ({file.stat().st_size / 1e6:.1f} MB)")


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@data_dir_option
def restore(file: Path, data_dir: Path | None) -> None:
    """Make FILE (a backup, or what `recover` salvaged) the store; the current one is set
    aside in damaged-<time>/. Not while the runtime runs."""
    from sluiceway.core.store_health import check as integrity
    from sluiceway.core.store_health import remember, set_aside
    from sluiceway.local.data_dir import DataDirLock

    folder = _data_dir(data_dir)
    source = _read_only(file)
    try:
        integrity(source, file, thorough=True)
        tables = {row[0] for row in source.execute("SELECT name FROM sqlite_master")}
        if "queues" not in tables or not source.execute("PRAGMA user_version").fetchone()[0]:
            raise click.ClickException(f"{file} is not a sluiceway store")
    except sqlite3.DatabaseError as error:
        source.close()
        raise click.ClickException(f"{file} is not a sound SQLite database ({error})") from None
    except click.ClickException:
        source.close()
        raise
    except Exception as error:
        source.close()
        raise click.ClickException(str(error)) from None
    lock = DataDirLock(folder)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        lock.acquire()
    except Exception as error:
        source.close()
        raise click.ClickException(str(error)) from None
    try:
        aside = set_aside(folder)
        target = sqlite3.connect(folder / "sluiceway.db")
        try:
            source.backup(target)
        finally:
            target.close()
        remember(folder / "sluiceway.db")
    finally:
        source.close()
        lock.release()
    kept = f"; the store it replaced is in {aside}" if aside else ""
    click.echo(f"restored {file} into {folder}{kept}")


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@data_dir_option
def recover(file: Path, data_dir: Path | None) -> None:
    """Salvage every row SQLite can still read of a damaged store into FILE (a new
    database with the store's schema); then `sluiceway restore FILE`."""
    from sluiceway.core.store_recover import recover as salvage

    path = _store(data_dir)
    if file.exists():
        raise click.ClickException(f"{file} exists; name a new file")
    try:
        report = salvage(path, file)
    except sqlite3.DatabaseError as error:
        file.unlink(missing_ok=True)
        raise click.ClickException(
            f"SQLite cannot read the schema of {path} ({error}): nothing to recover; "
            "restore a backup, or start empty with `sluiceway run --reset`"
        ) from None
    for table in report.damaged:
        click.echo(f"table {table}: damaged, {report.kept[table]} rows kept")
    for table in report.unreadable:
        click.echo(f"table {table}: unreadable, nothing kept")
    total = sum(report.kept.values())
    click.echo(
        f"recovered {total} rows of {path} into {file}; check what it holds, then "
        f"`sluiceway restore {file}`"
    )
