"""The orders app's front door alone: ``POST /orders`` into ``POC-Queue``, declared as the
blueprint declares them, with no function consuming the queue.

Ingest is measured on the whole orders app (its mappings and deliveries competing for the
same two cores) and, with this app, on the front door alone: the path from the request to
the fsync'd message and the answer, which is what the bare-ASGI ceiling is the ceiling of.

    sluiceway run benchmarks/bench/accept_only.py
"""

from __future__ import annotations

from sluiceway import App

app = App("accept-only")
dead_letters = app.queue("POC-DLQ", message_retention_period=1_209_600)
queue = app.queue(
    "POC-Queue",
    visibility_timeout=30,
    maximum_message_size=262_144,
    dead_letter=dead_letters,
    max_receive_count=5,
)
app.route("POST", "/orders", to=queue, forward_headers=["Idempotency-Key"])
