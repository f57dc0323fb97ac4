"""The seeds' orders system wired around the seeds' own Lambda code, unchanged
(`seed_code/`): the queue and the table's stream invoke it as the seed's triggers do."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "seed_code"))

import poc_lambda_1
import poc_lambda_2

from sluiceway import App

app = App("seed-orders")
queue = app.queue("POC-Queue")
orders = app.table("orders", partition_key="orderID", stream="NEW_IMAGE")
topic = app.topic("POC-Topic")
topic.subscribe("email", "ops@example.com")
app.route("POST", "/orders", to=queue)
app.on_queue(queue, uses=[orders.writes], name="POC-Lambda-1")(poc_lambda_1.lambda_handler)
app.on_stream(orders, uses=[topic.publishes], name="POC-Lambda-2")(poc_lambda_2.lambda_handler)
