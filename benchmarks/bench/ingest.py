"""Ingest: `POST /orders` on `sluiceway run` beside the bare-ASGI ceiling on the same stack.

Every sluiceway measurement gets a fresh runtime on a fresh data directory, with the whole
orders app running behind it (the mappings, the delivery process and email to a local SMTP
server), as a user runs it; and again with the front door alone (`accept_only.py`: the same
route and queue, nothing consuming it). Ceiling and runtime alternate within each trial, so a slow
patch of the machine hurts both rather than one.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench import wrk
from bench.common import TMP, cpu_seconds, fresh_dir, log, run_module
from bench.servers import Runtime, Service, SmtpSink

ACCEPT_ONLY = Path(__file__).with_name("accept_only.py")
POISONED = Path(__file__).with_name("poisoned.py")
SATURATED = 0.9  # a target answering less than this share of the offered rate is saturated


def closed(url: str, connections: int, warmup: float, duration: float) -> dict[str, Any]:
    result: dict[str, Any] = run_module(
        "loadgen",
        "closed",
        "--url",
        url,
        "-c",
        str(connections),
        "-w",
        str(warmup),
        "-d",
        str(duration),
    )
    return result


def open_loop(url: str, rate: float, duration: float) -> dict[str, Any]:
    result: dict[str, Any] = run_module(
        "loadgen", "open", "--url", url, "--rate", str(rate), "-d", str(duration), "--drain", "10"
    )
    return result


def _with_cpu(pids: Sequence[int], measure: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run `measure` and add how many CPU-seconds the server processes used meanwhile."""
    before = [cpu_seconds(p) for p in pids]
    result = measure()
    result["server_cpu_s"] = sum(cpu_seconds(p) - b for p, b in zip(pids, before, strict=True))
    return result


def sluiceway_target(measure: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """`measure(url)` against a fresh `sluiceway run` whose email goes to a local aiosmtpd."""
    with (
        SmtpSink(TMP / "ingest-arrivals.txt") as sink,
        Runtime(fresh_dir("ingest-data"), "--smtp", sink.smtp_url, "--auto-confirm") as runtime,
    ):
        return _with_cpu(runtime.pids(), lambda: measure(runtime.url + "/orders"))


def poisoned_target(measure: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """`measure(url)` against the orders app beside a function stuck on a poison message."""
    import time
    import urllib.request

    with (
        SmtpSink(TMP / "ingest-poisoned-arrivals.txt") as sink,
        Runtime(
            fresh_dir("ingest-poisoned-data"),
            str(POISONED),
            "--smtp",
            sink.smtp_url,
            "--auto-confirm",
        ) as runtime,
    ):
        poison = urllib.request.Request(
            runtime.url + "/poison",
            data=b'{"poison": true}',
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(poison, timeout=10) as answer:
            assert answer.status == 200
        time.sleep(0.5)  # the handler is spinning by now
        return _with_cpu(runtime.pids(), lambda: measure(runtime.url + "/orders"))


def alone_target(measure: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """`measure(url)` against `sluiceway run` of the orders app's front door alone."""
    with Runtime(fresh_dir("ingest-alone-data"), str(ACCEPT_ONLY)) as runtime:
        return _with_cpu(runtime.pids(), lambda: measure(runtime.url + "/orders"))


def ceiling_target(
    measure: Callable[[str], dict[str, Any]], kind: str = "ceiling"
) -> dict[str, Any]:
    with Service(kind) as ceiling:
        return _with_cpu([ceiling.pid], lambda: measure(ceiling.url("/orders")))


def closed_loop_trials(
    trials: int, connections: int, warmup: float, duration: float, use_wrk: bool
) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {
        "sluiceway": [],
        "poisoned": [],
        "alone": [],
        "ceiling": [],
        "handoff": [],
        "sluiceway_wrk": [],
        "ceiling_wrk": [],
    }

    def ours(url: str) -> dict[str, Any]:
        return closed(url, connections, warmup, duration)

    def theirs(url: str) -> dict[str, Any]:
        return wrk.run(url, connections=connections, duration=duration, warmup=warmup)

    for trial in range(trials):
        runs["sluiceway"].append(sluiceway_target(ours))
        runs["poisoned"].append(poisoned_target(ours))
        runs["alone"].append(alone_target(ours))
        runs["ceiling"].append(ceiling_target(ours))
        runs["handoff"].append(ceiling_target(ours, "handoff"))
        if use_wrk:
            runs["sluiceway_wrk"].append(sluiceway_target(theirs))
            runs["ceiling_wrk"].append(ceiling_target(theirs))
        log(
            f"ingest trial {trial + 1}/{trials}: sluiceway "
            f"{runs['sluiceway'][-1]['acks_per_s']:.0f}/s, beside a stuck handler "
            f"{runs['poisoned'][-1]['acks_per_s']:.0f}/s, front door alone "
            f"{runs['alone'][-1]['acks_per_s']:.0f}/s, ceiling "
            f"{runs['ceiling'][-1]['acks_per_s']:.0f}/s, with a hand-off "
            f"{runs['handoff'][-1]['acks_per_s']:.0f}/s"
        )
    return runs


def generator_ceiling(
    trials: int, connections: int, warmup: float, duration: float, use_wrk: bool
) -> dict[str, list[float]]:
    """What the generators reach against a server that does almost nothing."""
    found: dict[str, list[float]] = {"loadgen": [], "wrk": []}
    with Service("canned") as canned:
        url = canned.url("/orders")
        for _ in range(trials):
            found["loadgen"].append(closed(url, connections, warmup, duration)["acks_per_s"])
            if use_wrk:
                result = wrk.run(url, connections=connections, duration=duration, warmup=warmup)
                found["wrk"].append(result["acks_per_s"])
    return found


def sweep(
    rates: dict[str, Sequence[float]], trials: int, duration: float
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Open-loop fixed-rate runs: for each target ("sluiceway", "ceiling"), at its rates."""
    targets = {"sluiceway": sluiceway_target, "ceiling": ceiling_target}
    points: dict[str, dict[str, list[dict[str, Any]]]] = {name: {} for name in rates}
    for name, target_rates in rates.items():
        target = targets[name]
        for rate in target_rates:

            def measure(url: str, rate: float = rate) -> dict[str, Any]:
                return open_loop(url, rate, duration)

            runs = [target(measure) for _ in range(trials)]
            points[name][str(int(rate))] = runs
            answered = statistics.median(run["acks_per_s"] for run in runs)
            log(
                f"sweep {name} {rate:.0f}/s: p50 {runs[-1]['latency']['p50_ms']:.1f} ms, "
                f"p99 {runs[-1]['latency']['p99_ms']:.1f} ms, answered {answered:.0f}/s"
            )
            if answered < SATURATED * rate:
                break  # past the knee: higher rates only pile up a longer queue
    return points
