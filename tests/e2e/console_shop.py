"""A small orders app for the console's browser tests: like the orders blueprint, but its
queue gives up fast (visibility timeout 1 s, dead letters after 2 receives), and its store
function refuses every order while the file named by $CONSOLE_SHOP_BROKEN exists (the
"warehouse is down": the test takes the file away before redriving)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sluiceway import App, deserialize_item

app = App("console-shop")

dead_letters = app.queue("Orders-DLQ")
queue = app.queue("Orders", visibility_timeout=1, dead_letter=dead_letters, max_receive_count=2)
orders = app.table("orders", partition_key="orderID", stream="NEW_IMAGE")
topic = app.topic("Shop-Topic")
topic.subscribe("email", "shop@example.com")

app.route("POST", "/orders", to=queue)


# The runtime's variables are not a function's (each runs in its own environment): the
# switch reaches the function through its declared environment, as on Lambda.
SWITCH = {"CONSOLE_SHOP_BROKEN": os.environ.get("CONSOLE_SHOP_BROKEN", "/nonexistent")}


@app.on_queue(
    queue, batch_size=10, uses=[orders.writes], name="store-order", timeout=1, environment=SWITCH
)
def store_order(event: dict[str, Any], context: Any) -> dict[str, Any]:
    broken = Path(os.environ.get("CONSOLE_SHOP_BROKEN", "/nonexistent")).exists()
    failures = []
    for record in event["Records"]:
        if broken:
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        orders.put_item(
            {"orderID": record["messageId"], "order": record["body"]}, if_not_exists=True
        )
    return {"batchItemFailures": failures}


@app.on_stream(orders, uses=[topic.publishes], name="notify")
def notify(event: dict[str, Any], context: Any) -> None:
    for record in event["Records"]:
        item = deserialize_item(record["dynamodb"]["NewImage"])
        order = json.loads(item["order"])
        topic.publish(json.dumps(order), subject=f"Order {item['orderID']}")
