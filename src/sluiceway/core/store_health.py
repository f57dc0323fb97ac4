"""A damaged or lost store, found at open and said plainly, and what SQLite offers for it.

At each open the store is checked (``PRAGMA quick_check``: about 50 ms for 50 MB): a file cut
short, a zeroed header or overwritten pages make `DamagedStore`, which names the file, says
what is wrong and how out of it, instead of a traceback. A data directory remembers that it
held a store (``store.json``, written when the store is made): a store file that is then gone
or empty (truncated to 0 bytes, which SQLite would open as a new database) is refused too,
rather than started over as if the data had never been. The ways out:

* ``sluiceway check``: SQLite's full ``integrity_check``;
* ``sluiceway backup FILE`` (any time, the runtime running or not: SQLite's online backup)
  and ``sluiceway restore FILE``;
* ``sluiceway recover FILE``: what SQLite's ``.recover`` salvages of a damaged store, into a
  new file to restore from;
* ``sluiceway run --reset``: set the store aside (``damaged-<time>/``, never deleted) and
  start anew.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from pathlib import Path

from sluiceway.core.errors import SluicewayError

MARKER = "store.json"
STORE_FILES = ("sluiceway.db", "sluiceway.db-wal", "sluiceway.db-shm", "traces.db", MARKER)


class DamagedStore(SluicewayError):
    code = "DamagedStore"


def ways_out(path: Path) -> str:
    data = path.parent
    return (
        f"check it with `sluiceway check --data-dir {data}`; restore a backup with "
        f"`sluiceway restore FILE --data-dir {data}`; salvage what SQLite can with "
        f"`sluiceway recover FILE --data-dir {data}` (then restore that file); or set it aside "
        f"and start empty with `sluiceway run --reset --data-dir {data}`"
    )


def damaged(path: Path, problem: str) -> DamagedStore:
    return DamagedStore(f"the store {path} is damaged ({problem}): {ways_out(path)}")


def refuse_if_lost(path: Path) -> None:
    """Raise `DamagedStore` if the data directory held a store that is gone or empty now."""
    marker = path.parent / MARKER
    if not marker.exists():
        return
    size = path.stat().st_size if path.exists() else None
    if size:
        return
    try:
        made = json.loads(marker.read_text()).get("created", "earlier")
    except (OSError, ValueError, AttributeError):
        made = "earlier"
    state = "is gone" if size is None else "is empty (0 bytes)"
    raise DamagedStore(
        f"the store {path} {state}, but this data directory held one (made {made}): its data "
        f"is lost unless a backup has it; {ways_out(path)}"
    )


def check(cx: sqlite3.Connection, path: Path, *, thorough: bool = False) -> None:
    """Raise `DamagedStore` unless SQLite finds the open store sound."""
    pragma = "integrity_check" if thorough else "quick_check"
    try:
        found = [str(row[0]) for row in cx.execute(f"PRAGMA {pragma}(10)").fetchall()]
    except sqlite3.DatabaseError as error:
        raise damaged(path, str(error)) from None
    if found != ["ok"]:
        raise damaged(path, "; ".join(found[:3]))


def remember(path: Path) -> None:
    """Note that this data directory holds a store (`refuse_if_lost` reads it)."""
    marker = path.parent / MARKER
    if not marker.exists():
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        marker.write_text(json.dumps({"created": stamp, "file": path.name}) + "\n")


def set_aside(data_dir: Path) -> Path | None:
    """Move the store's files to ``damaged-<time>/`` in `data_dir` (kept, never deleted);
    returns that folder, or None if there was nothing to move."""
    present = [data_dir / name for name in STORE_FILES if (data_dir / name).exists()]
    if not present:
        return None
    aside = data_dir / time.strftime("damaged-%Y%m%dT%H%M%SZ", time.gmtime())
    n = 1
    while aside.exists():
        n += 1
        aside = aside.with_name(f"{aside.name.split('.')[0]}.{n}")
    aside.mkdir()
    for file in present:
        shutil.move(str(file), aside / file.name)
    return aside
