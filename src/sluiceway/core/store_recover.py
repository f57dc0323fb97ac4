"""Salvage what can still be read of a damaged store into a new file (`sluiceway recover`).

The new file gets the damaged one's schema (tables, indexes, ``user_version``) and, table by
table, every row SQLite can still read: the whole table if it reads through; otherwise the
rows before the damage, read in key order, and those after it, read from the other end. A row
on a damaged page is lost; the report says how many rows each table kept and which tables
could not be read at all. (The sqlite3 shell's ``.recover`` does this page by page, but it is
not in Python's sqlite3 module, and not in every shell build.)
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHUNK = 1000


@dataclass
class Salvage:
    kept: dict[str, int] = field(default_factory=dict)  # table -> rows kept
    damaged: list[str] = field(default_factory=list)  # tables read only in part
    unreadable: list[str] = field(default_factory=list)  # tables not read at all


def recover(source: Path, target: Path) -> Salvage:
    """Copy what `source` still holds into a new database at `target`."""
    old = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    new = sqlite3.connect(target, isolation_level=None)
    report = Salvage()
    try:
        schema = old.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL "
            "AND name NOT LIKE 'sqlite_%' ORDER BY type = 'index', rowid"
        ).fetchall()
        version = old.execute("PRAGMA user_version").fetchone()[0]
        new.execute("BEGIN")
        for _kind, _, sql in schema:
            new.execute(sql)
        for kind, name, _ in schema:
            if kind == "table":
                _copy(old, new, name, report)
        new.execute(f"PRAGMA user_version={int(version)}")
        new.execute("COMMIT")
    finally:
        old.close()
        new.close()
    return report


def _copy(old: sqlite3.Connection, new: sqlite3.Connection, table: str, report: Salvage) -> None:
    quoted = '"' + table.replace('"', '""') + '"'
    columns = [row[1] for row in old.execute(f"PRAGMA table_info({quoted})")]
    info = sorted(old.execute(f"PRAGMA table_info({quoted})"), key=_pk)
    keys = [row[1] for row in info if row[5]]
    rowid = not _without_rowid(old, table)
    picked = (["rowid"] if rowid else []) + [f'"{c}"' for c in columns]
    order = ["rowid"] if rowid else [f'"{k}"' for k in keys] or picked
    select = f"SELECT {', '.join(picked)} FROM {quoted} ORDER BY "
    marks = ", ".join("?" * len(picked))
    insert = f"INSERT OR IGNORE INTO {quoted} ({', '.join(picked)}) VALUES ({marks})"
    rows: list[Any] = []
    if not _read(old, select + ", ".join(order), rows):
        # The rows past the damage, from the other end (a row read twice is inserted once).
        _read(old, select + ", ".join(f"{o} DESC" for o in order), rows)
        (report.damaged if rows else report.unreadable).append(table)
    new.executemany(insert, rows)
    report.kept[table] = new.execute(f"SELECT COUNT(*) FROM {quoted}").fetchone()[0]


def _read(cx: sqlite3.Connection, select: str, into: list[Any]) -> bool:
    """Rows of `select` until the end (True) or the first damaged page (False)."""
    try:
        cursor = cx.execute(select)
        while chunk := cursor.fetchmany(CHUNK):
            into.extend(chunk)
    except sqlite3.DatabaseError:
        return False
    return True


def _pk(row: tuple[Any, ...]) -> int:
    return int(row[5])


def _without_rowid(cx: sqlite3.Connection, table: str) -> bool:
    try:
        cx.execute(f'SELECT rowid FROM "{table}" LIMIT 0')
    except sqlite3.OperationalError:
        return True
    return False
