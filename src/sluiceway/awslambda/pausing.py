"""Pausing and resuming mappings and pipes (Lambda: a mapping's ``Enabled: false``;
EventBridge Pipes: StopPipe / StartPipe).

A paused mapping takes no batches: its queue's messages wait there (and may expire), its
stream's records wait after its checkpoint. A batch already taken finishes. The pause is a
row of ``mapping_states``, so it holds across restarts, and the CLI (another process) can
set it: the runtime hears of the commit (the store's cross-process notice) and stops at the
mapping's next step; a resumed mapping is woken at once.

Names: a function's mapping is named after the function, a pipe ``pipe:NAME`` (the name its
checkpoints and logs use); the CLI also takes a pipe's bare name.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from sluiceway.core.errors import NotFound
from sluiceway.core.store import Tx

CHANNEL = "mapping-states"  # what a pause or resume touches (the engine listens)


@dataclass(frozen=True)
class MappingState:
    name: str
    kind: str  # "function" or "pipe"
    source: str  # "queue:NAME" or "table:NAME"
    paused_at: int | None

    @property
    def paused(self) -> bool:
        return self.paused_at is not None


def record(tx: Tx, mappings: Iterable[tuple[str, str, str]]) -> None:
    """Note the app's mappings (name, kind, source) as it starts; a pause stays, a mapping
    the app no longer declares goes (with its pause)."""
    names = []
    for name, kind, source in mappings:
        names.append(name)
        tx.execute(
            "INSERT INTO mapping_states (name, kind, source, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, source = excluded.source",
            (name, kind, source, tx.now_ms),
        )
    marks = ",".join("?" * len(names))
    tx.execute(f"DELETE FROM mapping_states WHERE name NOT IN ({marks})", names)


def states(cx: sqlite3.Connection) -> list[MappingState]:
    return [
        MappingState(*row)
        for row in cx.execute(
            "SELECT name, kind, source, paused_at FROM mapping_states ORDER BY name"
        )
    ]


def paused(cx: sqlite3.Connection) -> dict[str, int]:
    """Paused mappings, and when each was paused (epoch ms)."""
    return dict(
        cx.execute("SELECT name, paused_at FROM mapping_states WHERE paused_at IS NOT NULL")
    )


def resolve(cx: sqlite3.Connection, name: str) -> str:
    """The mapping called `name` (or the pipe whose bare name it is)."""
    known = [state.name for state in states(cx)]
    if name in known:
        return name
    if f"pipe:{name}" in known:
        return f"pipe:{name}"
    listed = ", ".join(known) or "none: start the app once with `sluiceway run`"
    raise NotFound(f"no mapping or pipe named '{name}' (known: {listed})")


def set_paused(tx: Tx, name: str, pause: bool) -> bool:
    """Pause or resume `name` (as `resolve` finds it); returns whether that changed it."""
    target = resolve(tx.cx, name)
    changed = tx.execute(
        "UPDATE mapping_states SET paused_at = ?, updated_at = ? WHERE name = ? AND "
        + ("paused_at IS NULL" if pause else "paused_at IS NOT NULL"),
        (tx.now_ms if pause else None, tx.now_ms, target),
    ).rowcount
    if changed:
        tx.touch(CHANNEL)
    return bool(changed)
