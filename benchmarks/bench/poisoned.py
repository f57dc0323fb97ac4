"""The orders app with one more queue whose function is stuck: every message on
``POST /poison`` makes it spin in ``while True`` until its timeout stops it, again at each
redelivery. Ingest of ``POST /orders`` is measured on this app right after a poison message
went in, beside the plain orders app: what a stuck handler costs the front door.

    sluiceway run benchmarks/bench/poisoned.py
"""

from __future__ import annotations

from typing import Any

from sluiceway.blueprints.orders import app

stuck = app.queue("Poison", visibility_timeout=3, max_receive_count=None)
app.route("POST", "/poison", to=stuck)


@app.on_queue(stuck, batch_size=1, timeout=2, name="Stuck")
def spin(event: dict[str, Any], context: Any) -> None:
    while True:
        pass
