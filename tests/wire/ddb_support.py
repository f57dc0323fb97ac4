"""What the DynamoDB wire tests share: an app with tables and indexes, and a look at what
the engine stored (items and stream records), read from the store itself."""

from __future__ import annotations

from typing import Any

from sluiceway import App, GlobalIndex, LocalIndex
from sluiceway.dynamodb import tables
from sluiceway.local.engine import LocalEngine


def shop() -> App:
    app = App("shop")
    app.table("orders", partition_key="id", stream="NEW_AND_OLD_IMAGES")
    app.table(
        "events",
        partition_key="customer",
        sort_key=("at", "N"),
        stream="KEYS_ONLY",
        global_indexes=[
            GlobalIndex("by-kind", partition_key="kind", sort_key=("at", "N")),
            GlobalIndex("by-sku", partition_key="sku", projection="KEYS_ONLY"),
        ],
        local_indexes=[
            LocalIndex("by-day", sort_key="day", projection="INCLUDE", non_key_attributes=("qty",))
        ],
    )

    @app.on_queue(app.queue("jobs"), uses=[])
    def worker(event: Any, context: Any) -> None:
        """A function with no grants, to be refused."""

    return app


def stream_events(engine: LocalEngine, table: str) -> list[str]:
    info = engine.registry.table(table)
    records = tables.read_stream(engine.store.reader(), info, 0, 10_000, "us-east-1")
    return [r.record["eventName"] for r in records]


def stored(engine: LocalEngine, table: str) -> list[dict[str, Any]]:
    return list(tables.scan(engine.store.reader(), engine.registry.table(table)))


def s(text: str) -> dict[str, str]:
    return {"S": text}


def n(number: int | str) -> dict[str, str]:
    return {"N": str(number)}
