"""The console's mappings page: each event source mapping and pipe, how far behind it is
(per lane, for a stream), and pausing or resuming it."""

from __future__ import annotations

import sqlite3
from typing import Any

from sluiceway.awslambda import pausing
from sluiceway.awslambda.queue_mapping import QueueMapping
from sluiceway.awslambda.stream_mapping import StreamMapping
from sluiceway.local.console.rendering import PageBase
from sluiceway.local.console.request import Request, Response
from sluiceway.sqs import queues


class MappingPages(PageBase):
    def _mappings(self) -> dict[str, Any]:
        cx, now = self._cx(), self._now_ms()
        polled, streamed = [], []
        for mapping in self.engine.mappings:
            if isinstance(mapping, QueueMapping):
                polled.append({"m": mapping, "stats": queues.stats(cx, mapping.queue, now)})
            else:
                streamed.append({"m": mapping, "lanes": _lanes(cx, mapping, now)})
        paused = set(pausing.paused(cx))
        return {"polled": polled, "streamed": streamed, "pausing": True, "paused": paused}

    def mappings_page(self, request: Request) -> Response:
        return self.render("mappings.html", **self._mappings())

    def mappings_fragment(self, request: Request) -> Response:
        return self.render("_mappings.html", **self._mappings())

    def pause_or_resume(self, request: Request) -> Response:
        """Stop a mapping or pipe taking batches, or let it again (across restarts)."""
        pause = request.params[0] == "pause"
        name = request.form.get("name", "")
        if name not in {m.name for m in self.engine.mappings}:
            return self.flash(request, f"No mapping or pipe named {name!r}.", ok=False)
        changed = self.store.write(lambda tx: pausing.set_paused(tx, name, pause))
        done = "Paused" if pause else "Resumed"
        text = f"{done} {name}." if changed else f"{name} was {done.lower()} already."
        return self.flash(request, text, back="/console/mappings")


def _lanes(cx: sqlite3.Connection, mapping: StreamMapping, now_ms: int) -> list[dict[str, Any]]:
    lanes = []
    for lane in range(mapping.lanes):
        state = mapping.lane(cx, lane)
        sql = "SELECT COUNT(*), MIN(created_at) FROM stream_records WHERE table_id = ? AND seq > ?"
        params: tuple[int, ...] = (mapping.table.id, state.position)
        if mapping.lanes > 1:
            sql += " AND key_hash % ? = ?"
            params += (mapping.lanes, lane)
        behind, oldest = cx.execute(sql, params).fetchone()
        lanes.append(
            {
                "lane": lane,
                "position": state.position,
                "behind": behind,
                "oldest_ms": None if oldest is None else now_ms - oldest,
                "attempts": state.attempts,
                "next_attempt_at": state.next_attempt_at
                if state.next_attempt_at > now_ms
                else None,
                "last_error": state.last_error,
            }
        )
    return lanes
