"""A user's test of the orders app, two ways (the README's first example test).

kit: `sluiceway.testing.run_app("orders")`, POST an order, `drain()`, the one email checked,
closed; in this process, as pytest runs it (the first run also imports the app: `cold_s`).
baseline: what a user did before the kit, in the same run: `sluiceway run orders` as a
subprocess, POST the order, poll the Maildir until its email is there, stop the runtime.

    python -m bench.testing_kit --runs 20
"""

from __future__ import annotations

import argparse
import json
import time

import httpx

from bench.common import fresh_dir
from bench.servers import Runtime

ORDER = {"item": "latex gloves", "customerID": "12345"}


def kit_once() -> float:
    from sluiceway.testing import run_app

    started = time.perf_counter()
    with run_app("orders") as app:
        assert app.http.post("/orders", json=ORDER).status_code == 200
        app.drain()
        (mail,) = app.emails
        assert "item: latex gloves" in mail.get_content()
    return time.perf_counter() - started


def baseline_once() -> float:
    started = time.perf_counter()
    data = fresh_dir("kit-baseline-data")
    with Runtime(data, "orders", "--auto-confirm") as runtime:
        assert httpx.post(f"{runtime.url}/orders", json=ORDER, timeout=30).status_code == 200
        new = data / "maildir" / "new"
        deadline = time.perf_counter() + 30
        while not (new.is_dir() and any(new.iterdir())):
            if time.perf_counter() > deadline:
                raise RuntimeError("the order's email never reached the Maildir")
            time.sleep(0.05)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--baseline-runs", type=int, default=3)
    args = parser.parse_args()
    cold = kit_once()
    warm = [kit_once() for _ in range(args.runs)]
    baseline = [baseline_once() for _ in range(args.baseline_runs)]
    print(json.dumps({"cold_s": [cold], "test_s": warm, "baseline_s": baseline}))


if __name__ == "__main__":
    main()
