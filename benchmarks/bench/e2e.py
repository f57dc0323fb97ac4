"""End to end: POST /orders -> queue -> POC-Lambda-1 -> table -> stream -> POC-Lambda-2 ->
topic -> email, delivered over SMTP to a server in its own process (`servers.LeanSmtp`;
aiosmtpd for a cross-check).

The load generator records each order's MessageId and wall-clock send time; the SMTP sink
records each email's arrival time and the order id from its subject ("New order <id>");
both clocks are this machine's.

* throughput: a burst of N orders on 64 connections, then wait for the N emails; orders/s
  is N over the time from the first POST to the last email.
* latency: open loop at a fixed rate (500/s); POST->email latency per order. An order whose
  email has not arrived by the deadline counts with the time it had waited by then.
* stages: afterwards, the data directory tells when each order was accepted (the message's
  SentTimestamp), stored with its stream record (POC-Lambda-1 done), published
  (POC-Lambda-2 done) and recorded as delivered; so the latency splits into stages without
  a profiler. (Best effort: it reads the schema as it is, and says so if it cannot.)
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.common import TMP, cpu_seconds, fresh_dir, latency_summary, run_module
from bench.servers import Runtime, SmtpSink


def _sent(path: Path) -> dict[str, float]:
    sent = {}
    for line in path.read_text().splitlines():
        order, _, when = line.partition(" ")
        sent[order] = float(when)
    return sent


def _stages(data_dir: Path, sent: dict[str, float], arrivals: dict[str, float]) -> Any:
    """p50/p99 (ms) of each stage an order went through, from the data directory."""
    try:
        cx = sqlite3.connect(f"file:{data_dir / 'sluiceway.db'}?mode=ro", uri=True)
        accepted, stored, published, delivered = {}, {}, {}, {}
        for (text,) in cx.execute("SELECT item FROM items"):
            item = json.loads(text)
            accepted[item["orderID"]["S"]] = int(item["receivedAt"]["N"]) / 1000
        for keys, created in cx.execute("SELECT keys, created_at FROM stream_records"):
            stored[json.loads(keys)["orderID"]["S"]] = created / 1000
        by_notification = {}
        for nid, subject, at in cx.execute("SELECT id, subject, published_at FROM notifications"):
            order = str(subject).removeprefix("New order ")
            published[order] = at / 1000
            by_notification[nid] = order
        for nid, at in cx.execute(
            "SELECT notification_id, delivered_at FROM deliveries WHERE delivered_at IS NOT NULL"
        ):
            if nid in by_notification:
                delivered[by_notification[nid]] = at / 1000
        cx.close()
    except (sqlite3.Error, KeyError, ValueError, TypeError) as error:
        return {"unavailable": f"{type(error).__name__}: {error}"}

    def gaps(later: dict[str, float], earlier: dict[str, float]) -> dict[str, float]:
        both: Iterable[str] = later.keys() & earlier.keys() & sent.keys()
        summary = latency_summary(later[k] - earlier[k] for k in both)
        return {k: v for k, v in summary.items() if k in ("count", "p50_ms", "p99_ms")}

    return {
        "post_to_accepted": gaps(accepted, sent),
        "accepted_to_stored (POC-Lambda-1)": gaps(stored, accepted),
        "stored_to_published (POC-Lambda-2)": gaps(published, stored),
        "published_to_email_arrived (delivery)": gaps(arrivals, published),
        "email_arrived_to_recorded": gaps(delivered, arrivals),
    }


def _run(
    load: list[str], expected: int | None, timeout: float, sink_kind: str = "smtp"
) -> dict[str, Any]:
    """Start sink + runtime, drive `load` (loadgen args, --url and --record added), wait for
    the emails, and match them with the orders."""
    record = TMP / "e2e-sent.txt"
    data_dir = fresh_dir("e2e-data")
    with (
        SmtpSink(TMP / "e2e-arrivals.txt", sink_kind) as sink,
        Runtime(data_dir, "--smtp", sink.smtp_url, "--auto-confirm") as runtime,
    ):
        pids = [*runtime.pids(), sink.pid]
        cpu_before = [cpu_seconds(p) for p in pids]
        generated = run_module(
            "loadgen", *load, "--url", runtime.url + "/orders", "--record", str(record)
        )
        sent = _sent(record)
        want = len(sent) if expected is None else expected
        delivered = sink.wait_for(want, timeout)
        waited_until = time.time()
        cpu = [cpu_seconds(p) - b for p, b in zip(pids, cpu_before, strict=True)]
        arrivals = {order: when for when, order in sink.read() if order in sent}
    return {
        "stages": _stages(data_dir, sent, arrivals),
        "generator": generated,
        "sent": sent,
        "arrivals": arrivals,
        "emails": delivered,
        "waited_until": waited_until,
        "cpu_s": {"runtime": cpu[0], "delivery_process": sum(cpu[1:-1]), "smtp_sink": cpu[-1]},
    }


def throughput(orders: int, timeout: float, sink_kind: str = "smtp") -> dict[str, Any]:
    run = _run(["closed", "-c", "64", "--count", str(orders)], orders, timeout, sink_kind)
    sent, arrivals = run["sent"], run["arrivals"]
    first_post = min(sent.values())
    complete = len(arrivals) >= orders
    last = max(arrivals.values()) if complete else run["waited_until"]
    seconds = last - first_post
    return {
        "stages": run["stages"],
        "orders": orders,
        "acked": len(sent),
        "delivered": len(arrivals),
        "complete": complete,
        "seconds": seconds,
        "orders_per_s": len(arrivals) / seconds if seconds > 0 else 0.0,
        "ingest_seconds": run["generator"]["duration_s"],
        "cpu_s": run["cpu_s"],
    }


def latency(rate: float, duration: float, timeout: float) -> dict[str, Any]:
    run = _run(["open", "--rate", str(rate), "-d", str(duration)], None, timeout)
    sent, arrivals = run["sent"], run["arrivals"]
    waits = [
        (arrivals[order] if order in arrivals else run["waited_until"]) - when
        for order, when in sent.items()
    ]
    return {
        "stages": run["stages"],
        "rate": rate,
        "duration_s": duration,
        "acked": len(sent),
        "delivered": len(arrivals),
        "latency": latency_summary(waits),
        "ack_latency": run["generator"]["latency"],
        "cpu_s": run["cpu_s"],
    }
