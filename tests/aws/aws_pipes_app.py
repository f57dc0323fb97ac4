"""An app with the pipe kinds the registrations blueprint lacks: a queue source, filtered and
enriched, to a queue; and a stream with every stream option to a topic."""

from __future__ import annotations

import json
from typing import Any

from sluiceway import App

app = App("relay")

intake = app.queue("relay-intake")
orders = app.queue("relay-orders")
ledger = app.table("relay-ledger", partition_key="account", stream="NEW_IMAGE")
ledger_events = app.topic("relay-ledger-events")
ledger_failures = app.topic("relay-ledger-failures")


@app.function(name="shape")
def shape(event: list[dict[str, Any]], context: Any) -> list[dict[str, Any]]:
    """What the orders queue gets of each order: its body, parsed; test orders are dropped
    (a batch of test orders alone reaches the target as nothing)."""
    parsed = [json.loads(record["body"]) for record in event]
    return [{"order": order, "via": "relay"} for order in parsed if not order.get("test")]


app.pipe(
    "intake-to-orders",
    source=intake,
    target=orders,
    filter={"body": {"kind": ["order"]}},
    enrichment=shape,
    batch_size=5,
    maximum_batching_window_in_seconds=2,
)
app.pipe(
    "ledger-to-events",
    source=ledger,
    target=ledger_events,
    batch_size=50,
    starting_position="TRIM_HORIZON",
    maximum_record_age_in_seconds=3600,
    on_partial_batch_item_failure="AUTOMATIC_BISECT",
    parallelization_factor=2,
    dead_letter=ledger_failures,
)
