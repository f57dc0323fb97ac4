"""The app the environments benchmark invokes: a handler that does nothing, and one that
makes `n` handle calls (each a round trip over its environment's channel)."""

from __future__ import annotations

from typing import Any

from sluiceway import App

app = App("channel")
items = app.table("items", partition_key="id")


@app.function(name="noop")
def noop(event: dict[str, Any], context: Any) -> None:
    return None


@app.function(uses=[items.reads], name="calls")
def calls(event: dict[str, Any], context: Any) -> None:
    for _ in range(event["n"]):
        items.get_item({"id": "absent"})
