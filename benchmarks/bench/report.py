"""Turn the raw results into latest.md (the table), latest.json and latest.png (the plot)."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import Figure, figure
from bench.ingest import SATURATED

# The targets of issue 4, item 6.
INGEST_RATIO = 0.5
POISONED_RATIO = 0.8  # issue 13: a stuck handler costs the front door at most a fifth
E2E_ORDERS = 2000.0
E2E_P99_MS = 50.0
MOTO_RATIO = 10.0
RABBIT_RATIO = 1.0
BACKLOG_RATIO = 0.8
READY_S = 1.0
MEMORY_MB = 120.0

GENERATOR_LATE_MS = 5.0  # a sweep point whose requests left this late is the generator's


@dataclass(frozen=True)
class Check:
    figure: str
    value: str
    baseline: str
    ratio: str
    target: str
    passed: bool | None  # None: not measured, or information only

    @property
    def verdict(self) -> str:
        if self.passed is None:
            return "n/a" if self.target == "-" else "not measured"
        return "pass" if self.passed else "**FAIL**"

    def as_json(self) -> dict[str, Any]:
        return {
            "figure": self.figure,
            "value": self.value,
            "baseline": self.baseline,
            "ratio": self.ratio,
            "target": self.target,
            "pass": self.passed,
        }


def fmt(value: float, unit: str = "", digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 1e6:
        text = f"{value / 1e6:.2f}M"
    elif digits == 0:
        text = f"{value:,.0f}"
    else:
        text = f"{value:,.{digits}f}"
    return f"{text}{unit}"


def ratio(value: float, baseline: float) -> float:
    if not baseline or math.isnan(value) or math.isnan(baseline):
        return math.nan
    return value / baseline


def _runs(results: dict[str, Any], path: Iterable[str], pick: Callable[[Any], float]) -> Figure:
    """The figure at `path` (a list of run dicts) through `pick`; empty if not measured."""
    node: Any = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return figure([])
        node = node[key]
    return figure(pick(run) for run in node if run is not None)


def _paired(
    results: dict[str, Any],
    ours: tuple[list[str], Callable[[Any], float]],
    theirs: tuple[list[str], Callable[[Any], float]],
) -> Figure:
    """Per-trial ratios of runs taken back to back (trial i of each side)."""
    a = _nodes(results, ours[0])
    b = _nodes(results, theirs[0])
    return figure(
        ratio(ours[1](x), theirs[1](y))
        for x, y in zip(a, b, strict=False)
        if x is not None and y is not None
    )


def _nodes(results: dict[str, Any], path: Iterable[str]) -> list[Any]:
    node: Any = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return []
        node = node[key]
    return list(node)


class Figures:
    """Every figure of a run, by name."""

    def __init__(self, results: dict[str, Any]) -> None:
        r = results
        acks: Callable[[Any], float] = lambda run: run["acks_per_s"]  # noqa: E731
        self.all: dict[str, Figure] = {
            "ingest_acks_per_s": _runs(r, ["ingest", "sluiceway"], acks),
            "ingest_p50_ms": _runs(r, ["ingest", "sluiceway"], lambda x: x["latency"]["p50_ms"]),
            "ingest_p99_ms": _runs(r, ["ingest", "sluiceway"], lambda x: x["latency"]["p99_ms"]),
            "ingest_server_cores": _runs(
                r, ["ingest", "sluiceway"], lambda x: x["server_cpu_s"] / _span(r)
            ),
            "alone_acks_per_s": _runs(r, ["ingest", "alone"], acks),
            "poisoned_acks_per_s": _runs(r, ["ingest", "poisoned"], acks),
            "poisoned_ratio_paired": _paired(
                r, (["ingest", "poisoned"], acks), (["ingest", "sluiceway"], acks)
            ),
            "alone_p99_ms": _runs(r, ["ingest", "alone"], lambda x: x["latency"]["p99_ms"]),
            "alone_server_cores": _runs(
                r, ["ingest", "alone"], lambda x: x["server_cpu_s"] / _span(r)
            ),
            "alone_ratio_paired": _paired(
                r, (["ingest", "alone"], acks), (["ingest", "ceiling"], acks)
            ),
            "ceiling_acks_per_s": _runs(r, ["ingest", "ceiling"], acks),
            "handoff_acks_per_s": _runs(r, ["ingest", "handoff"], acks),
            "handoff_ratio_paired": _paired(
                r, (["ingest", "handoff"], acks), (["ingest", "ceiling"], acks)
            ),
            "ceiling_p50_ms": _runs(r, ["ingest", "ceiling"], lambda x: x["latency"]["p50_ms"]),
            "ceiling_p99_ms": _runs(r, ["ingest", "ceiling"], lambda x: x["latency"]["p99_ms"]),
            "ceiling_server_cores": _runs(
                r, ["ingest", "ceiling"], lambda x: x["server_cpu_s"] / _span(r)
            ),
            "ingest_wrk_acks_per_s": _runs(r, ["ingest", "sluiceway_wrk"], acks),
            "ceiling_wrk_acks_per_s": _runs(r, ["ingest", "ceiling_wrk"], acks),
            "ingest_wrk_p99_ms": _runs(
                r, ["ingest", "sluiceway_wrk"], lambda x: x["latency"]["p99_ms"]
            ),
            "generator_loadgen_per_s": _runs(r, ["generator", "loadgen"], float),
            "generator_wrk_per_s": _runs(r, ["generator", "wrk"], float),
            "e2e_orders_per_s": _runs(r, ["e2e", "throughput"], lambda x: x["orders_per_s"]),
            "e2e_aiosmtpd_orders_per_s": _runs(
                r, ["e2e", "throughput_aiosmtpd"], lambda x: x["orders_per_s"]
            ),
            "e2e_aiosmtpd_sink_cpu_per_order_ms": _runs(
                r,
                ["e2e", "throughput_aiosmtpd"],
                lambda x: 1000 * x["cpu_s"]["smtp_sink"] / max(1, x["delivered"]),
            ),
            "e2e_p50_ms": _runs(r, ["e2e", "latency"], lambda x: x["latency"]["p50_ms"]),
            "e2e_p99_ms": _runs(r, ["e2e", "latency"], lambda x: x["latency"]["p99_ms"]),
            "e2e_low_p50_ms": _runs(
                r, ["e2e", "latency_low_rate"], lambda x: x["latency"]["p50_ms"]
            ),
            "e2e_low_p99_ms": _runs(
                r, ["e2e", "latency_low_rate"], lambda x: x["latency"]["p99_ms"]
            ),
            "e2e_delivery_cpu_per_order_ms": _runs(
                r,
                ["e2e", "throughput"],
                lambda x: 1000 * x["cpu_s"]["delivery_process"] / max(1, x["delivered"]),
            ),
            "e2e_runtime_cpu_per_order_ms": _runs(
                r,
                ["e2e", "throughput"],
                lambda x: 1000 * x["cpu_s"]["runtime"] / max(1, x["delivered"]),
            ),
            "e2e_smtp_sink_cpu_per_order_ms": _runs(
                r,
                ["e2e", "throughput"],
                lambda x: 1000 * x["cpu_s"]["smtp_sink"] / max(1, x["delivered"]),
            ),
            "queue_empty_msgs_per_s": _runs(r, ["engine", "queue", "empty_msgs_per_s"], float),
            "queue_backlog_msgs_per_s": _runs(r, ["engine", "queue", "backlog_msgs_per_s"], float),
            "table_items_per_s": _runs(r, ["engine", "table", "items_per_s"], float),
            "table_handle_put_per_s": _runs(r, ["engine", "table", "handle_put_item_per_s"], float),
            "pattern_matches_per_s": _runs(r, ["engine", "patterns", "match_per_s"], float),
            "thread_invocations_per_s": _runs(
                r, ["engine", "environments", "thread", "invocations_per_s"], float
            ),
            "process_invocations_per_s": _runs(
                r, ["engine", "environments", "process", "invocations_per_s"], float
            ),
            "thread_us_per_call": _runs(
                r, ["engine", "environments", "thread", "us_per_handle_call"], float
            ),
            "process_us_per_call": _runs(
                r, ["engine", "environments", "process", "us_per_handle_call"], float
            ),
            "pattern_no_match_per_s": _runs(r, ["engine", "patterns", "no_match_per_s"], float),
            "moto_orders_per_s": _runs(r, ["e2e", "moto"], lambda x: x["orders_per_s"]),
            "rabbitmq_msgs_per_s": _runs(r, ["engine", "rabbitmq"], lambda x: x["msgs_per_s"]),
            "queue_paired_msgs_per_s": _runs(r, ["engine", "paired_empty"], float),
            "ingest_ratio_paired": _paired(
                r, (["ingest", "sluiceway"], acks), (["ingest", "ceiling"], acks)
            ),
            "moto_ratio_paired": _paired(
                r,
                (["e2e", "throughput"], lambda x: x["orders_per_s"]),
                (["e2e", "moto"], lambda x: x["orders_per_s"]),
            ),
            "rabbit_ratio_paired": _paired(
                r,
                (["engine", "paired_empty"], float),
                (["engine", "rabbitmq"], lambda x: x["msgs_per_s"]),
            ),
            "ready_s": _runs(r, ["startup", "ready_s"], float),
            "idle_rss_mb": _runs(r, ["startup", "idle_rss_mb"], float),
            "idle_pss_mb": _runs(r, ["startup", "idle_pss_mb"], float),
            "kit_test_s": _runs(r, ["startup", "kit", "test_s"], float),
            "kit_cold_s": _runs(r, ["startup", "kit", "cold_s"], float),
            "kit_baseline_s": _runs(r, ["startup", "kit", "baseline_s"], float),
        }

    def __getitem__(self, name: str) -> float:
        return self.all[name].median


def _span(results: dict[str, Any]) -> float:
    profile = results["meta"]["profile"]
    return float(profile["ingest_warmup"] + profile["ingest_duration"])


def checks(results: dict[str, Any], f: Figures) -> list[Check]:
    def verdict(value: float, ok: Callable[[float], bool]) -> bool | None:
        return None if math.isnan(value) else ok(value)

    ingest_ratio = f["ingest_ratio_paired"]
    moto_ratio = f["moto_ratio_paired"]
    rabbit_ratio = f["rabbit_ratio_paired"]
    backlog_ratio = ratio(f["queue_backlog_msgs_per_s"], f["queue_empty_msgs_per_s"])
    plan_ok = results.get("engine", {}).get("queue", {}).get("claim_uses_messages_ready")
    e2e_latency = results.get("e2e", {}).get("latency", [])
    rate = e2e_latency[0]["rate"] if e2e_latency else 500
    return [
        Check(
            "Durable ingest, POST /orders, 64 conns (acks/s)",
            fmt(f["ingest_acks_per_s"], "/s"),
            f"bare ASGI ceiling {fmt(f['ceiling_acks_per_s'], '/s')}",
            fmt(ingest_ratio, "x", 2),
            f">= {INGEST_RATIO}x ceiling",
            verdict(ingest_ratio, lambda x: x >= INGEST_RATIO),
        ),
        Check(
            "Durable ingest, the front door alone (no consumer running)",
            fmt(f["alone_acks_per_s"], "/s"),
            f"bare ASGI ceiling {fmt(f['ceiling_acks_per_s'], '/s')}",
            fmt(f["alone_ratio_paired"], "x", 2),
            f">= {INGEST_RATIO}x ceiling",
            verdict(f["alone_ratio_paired"], lambda x: x >= INGEST_RATIO),
        ),
        Check(
            "Durable ingest beside a handler stuck in while True (poisoned.py)",
            fmt(f["poisoned_acks_per_s"], "/s"),
            f"without it {fmt(f['ingest_acks_per_s'], '/s')}",
            fmt(f["poisoned_ratio_paired"], "x", 2),
            f">= {POISONED_RATIO}x without",
            verdict(f["poisoned_ratio_paired"], lambda x: x >= POISONED_RATIO),
        ),
        Check(
            "Ingest ack latency p50 / p99 (64 conns)",
            f"{fmt(f['ingest_p50_ms'], '', 2)} / {fmt(f['ingest_p99_ms'], ' ms', 2)}",
            f"ceiling {fmt(f['ceiling_p50_ms'], '', 2)} / {fmt(f['ceiling_p99_ms'], ' ms', 2)}",
            fmt(ratio(f["ingest_p99_ms"], f["ceiling_p99_ms"]), "x p99", 1),
            "-",
            None,
        ),
        Check(
            "End to end, HTTP -> email over SMTP (orders/s)",
            fmt(f["e2e_orders_per_s"], "/s"),
            "-",
            "-",
            f">= {E2E_ORDERS:,.0f}/s",
            verdict(f["e2e_orders_per_s"], lambda x: x >= E2E_ORDERS),
        ),
        Check(
            f"POST -> email latency p50 / p99 at {rate:.0f} orders/s",
            f"{fmt(f['e2e_p50_ms'], '', 1)} / {fmt(f['e2e_p99_ms'], ' ms', 1)}",
            "-",
            "-",
            f"p99 <= {E2E_P99_MS:.0f} ms",
            verdict(f["e2e_p99_ms"], lambda x: x <= E2E_P99_MS),
        ),
        Check(
            "Same path through moto server mode (orders/s)",
            f"sluiceway {fmt(_paired_side(results, ['e2e', 'throughput'], 'orders_per_s'), '/s')}",
            f"moto {fmt(f['moto_orders_per_s'], '/s', 1)}",
            fmt(moto_ratio, "x", 1),
            f">= {MOTO_RATIO:.0f}x moto",
            verdict(moto_ratio, lambda x: x >= MOTO_RATIO),
        ),
        Check(
            "Queue send+receive+delete, batches of 10, empty queue (msgs/s)",
            fmt(f["queue_paired_msgs_per_s"], "/s"),
            f"RabbitMQ {fmt(f['rabbitmq_msgs_per_s'], '/s')}",
            fmt(rabbit_ratio, "x", 2),
            ">= RabbitMQ",
            verdict(rabbit_ratio, lambda x: x >= RABBIT_RATIO),
        ),
        Check(
            "Queue with 100,000 messages waiting (msgs/s); claim plan",
            fmt(f["queue_backlog_msgs_per_s"], "/s")
            + ("; uses messages_ready" if plan_ok else "; plan: see below"),
            f"empty queue {fmt(f['queue_empty_msgs_per_s'], '/s')}",
            fmt(backlog_ratio, "x", 2),
            f">= {BACKLOG_RATIO}x empty, on the index",
            None
            if plan_ok is None or math.isnan(backlog_ratio)
            else (backlog_ratio >= BACKLOG_RATIO and bool(plan_ok)),
        ),
        Check(
            "`sluiceway run` ready (spawn -> ready line)",
            fmt(f["ready_s"], " s", 2),
            "-",
            "-",
            f"<= {READY_S:.0f} s",
            verdict(f["ready_s"], lambda x: x <= READY_S),
        ),
        Check(
            "A test of the orders app under sluiceway.testing (README's first example)",
            fmt(f["kit_test_s"], " s", 3) + f" (first: {fmt(f['kit_cold_s'], ' s', 2)})",
            f"subprocess runtime + Maildir {fmt(f['kit_baseline_s'], ' s', 2)}",
            fmt(f["kit_baseline_s"] / f["kit_test_s"], "x", 0),
            "< 1 s",
            verdict(f["kit_test_s"], lambda x: x < 1.0),
        ),
        Check(
            "Idle memory, runtime + delivery process (RSS)",
            fmt(f["idle_rss_mb"], " MB", 1),
            f"PSS {fmt(f['idle_pss_mb'], ' MB', 1)}",
            "-",
            f"<= {MEMORY_MB:.0f} MB",
            verdict(f["idle_rss_mb"], lambda x: x <= MEMORY_MB),
        ),
    ]


INFO = [
    ("ingest_acks_per_s", "Ingest acks/s (loadgen, 64 conns)", "/s", 0),
    ("ceiling_acks_per_s", "Bare ASGI ceiling req/s (loadgen, 64 conns)", "/s", 0),
    ("handoff_acks_per_s", "Bare ASGI + answer handed back by a thread (no database)", "/s", 0),
    ("handoff_ratio_paired", "Hand-off / ceiling, per pair of trials", "x", 2),
    ("ingest_ratio_paired", "Ingest / ceiling, per pair of trials", "x", 2),
    ("alone_acks_per_s", "Ingest acks/s, front door alone (accept_only.py)", "/s", 0),
    ("poisoned_acks_per_s", "Ingest acks/s beside a stuck handler (poisoned.py)", "/s", 0),
    ("poisoned_ratio_paired", "Beside a stuck handler / without, per pair of trials", "x", 2),
    ("alone_p99_ms", "Ingest p99, front door alone", " ms", 2),
    ("alone_ratio_paired", "Front door alone / ceiling, per pair of trials", "x", 2),
    ("alone_server_cores", "CPU used by the runtime, front door alone", " cores", 2),
    ("ingest_wrk_acks_per_s", "Ingest acks/s (wrk cross-check)", "/s", 0),
    ("ceiling_wrk_acks_per_s", "Ceiling req/s (wrk cross-check)", "/s", 0),
    ("ingest_wrk_p99_ms", "Ingest p99 (wrk cross-check)", " ms", 2),
    ("ingest_server_cores", "CPU used by runtime + delivery process during ingest", " cores", 2),
    ("ceiling_server_cores", "CPU used by the ceiling server", " cores", 2),
    ("generator_loadgen_per_s", "Generator ceiling: loadgen vs canned server", "/s", 0),
    ("generator_wrk_per_s", "Generator ceiling: wrk vs canned server", "/s", 0),
    ("e2e_orders_per_s", "End-to-end orders/s", "/s", 0),
    ("e2e_p50_ms", "POST->email p50", " ms", 1),
    ("e2e_p99_ms", "POST->email p99", " ms", 1),
    ("e2e_low_p50_ms", "POST->email p50 at a low rate (see below)", " ms", 1),
    ("e2e_low_p99_ms", "POST->email p99 at a low rate", " ms", 1),
    ("e2e_runtime_cpu_per_order_ms", "Runtime CPU per order (e2e)", " ms", 2),
    ("e2e_delivery_cpu_per_order_ms", "Delivery process CPU per order (e2e)", " ms", 2),
    ("e2e_smtp_sink_cpu_per_order_ms", "SMTP sink (LeanSmtp) CPU per order (e2e)", " ms", 2),
    ("e2e_aiosmtpd_orders_per_s", "End-to-end orders/s with aiosmtpd as the sink", "/s", 0),
    ("e2e_aiosmtpd_sink_cpu_per_order_ms", "aiosmtpd sink CPU per order", " ms", 2),
    ("queue_empty_msgs_per_s", "Queue send+receive+delete, empty", "/s", 0),
    ("queue_backlog_msgs_per_s", "Queue send+receive+delete, 100k waiting", "/s", 0),
    ("queue_paired_msgs_per_s", "Queue, empty, trials paired with RabbitMQ's", "/s", 0),
    ("rabbitmq_msgs_per_s", "RabbitMQ publish(confirm)+consume+ack", "/s", 0),
    ("rabbit_ratio_paired", "Queue / RabbitMQ, per pair of trials", "x", 2),
    ("table_items_per_s", "Table PutItem + stream record, 4 writers x 10/op", "/s", 0),
    ("table_handle_put_per_s", "Table put_item via handle, 1 per commit", "/s", 0),
    ("pattern_matches_per_s", "Pattern matches/s (matching record)", "/s", 0),
    ("pattern_no_match_per_s", "Pattern matches/s (non-matching record)", "/s", 0),
    ("thread_invocations_per_s", "No-op invocations/s, handler threads", "/s", 0),
    ("process_invocations_per_s", "No-op invocations/s, execution environments", "/s", 0),
    ("thread_us_per_call", "Handle call (get_item), handler thread", " us", 1),
    ("process_us_per_call", "Handle call (get_item) over an environment's channel", " us", 1),
    ("moto_orders_per_s", "moto path orders/s", "/s", 1),
    ("moto_ratio_paired", "sluiceway e2e / moto, per pair of trials", "x", 1),
    ("ready_s", "Ready time", " s", 3),
    ("idle_rss_mb", "Idle RSS, runtime + delivery process", " MB", 1),
    ("idle_pss_mb", "Idle PSS, runtime + delivery process", " MB", 1),
]


def sweep_points(results: dict[str, Any]) -> dict[str, list[dict[str, float]]]:
    """Per target, per offered rate: the medians of p50/p90/p99 and of the answered rate."""
    curves: dict[str, list[dict[str, float]]] = {}
    for target, by_rate in (results.get("sweep") or {}).items():
        rows = []
        for rate, runs in sorted(by_rate.items(), key=lambda kv: float(kv[0])):
            row = {"offered": float(rate)}
            for q in ("p50_ms", "p90_ms", "p99_ms"):
                row[q] = statistics.median(run["latency"][q] for run in runs)
            row["answered"] = statistics.median(run["acks_per_s"] for run in runs)
            row["lag_p99_ms"] = statistics.median(run["lag"]["p99_ms"] for run in runs)
            rows.append(row)
        curves[target] = rows
    return curves


def plot(curves: dict[str, list[dict[str, float]]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=110)
    colors = {"p50_ms": "tab:green", "p90_ms": "tab:orange", "p99_ms": "tab:red"}
    styles = {
        "sluiceway": ("-", "o", "sluiceway POST /orders (durable)"),
        "ceiling": ("--", "s", "bare ASGI ceiling"),
    }
    for target, rows in curves.items():
        line, marker, label = styles.get(target, (":", "x", target))
        xs = [row["offered"] for row in rows]
        for q, color in colors.items():
            ax.plot(
                xs,
                [row[q] for row in rows],
                linestyle=line,
                marker=marker,
                color=color,
                label=f"{label} {q.removesuffix('_ms')}",
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered load (requests/s, open loop)")
    ax.set_ylabel("latency from scheduled send (ms)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def markdown(results: dict[str, Any], f: Figures, table: list[Check]) -> str:
    meta = results["meta"]
    m = meta["machine"]
    kind = "QUICK smoke run (1 trial each: not figures to quote)" if meta["quick"] else "full run"
    lines = [
        "# sluiceway benchmarks: latest results",
        "",
        f"{kind}; {meta['started']} -> {meta.get('finished', '?')} "
        f"({meta.get('seconds', 0) / 60:.1f} min).",
        "",
        f"Machine: {m['nproc']} cores, {m['cpu_model']}, {m['memory_gb']} GB; Linux "
        f"{m['kernel']}; Python {m['python']}; SQLite {m['sqlite']}; uvicorn {m['uvicorn']}, "
        f"httptools {m['httptools']}, uvloop {m['uvloop']}; moto {m['moto']}; "
        f"RabbitMQ {_rabbit_version(results)}; {m['wrk']}. Load average at start: "
        + ", ".join(f"{x:.2f}" for x in m["load_average_at_start"])
        + ".",
        "",
        f"sluiceway: commit {m['git_commit']}"
        + (" with uncommitted changes in src/" if m["git_dirty_src"] else "")
        + f", imported from `{_short(m['sluiceway_source'])}`.",
        "",
        "## Targets (issue 4, item 6)",
        "",
        "Values are medians of the runs. A ratio against a peer or the ceiling is the median of "
        "per-trial ratios, each trial of sluiceway run right before the trial it is divided by.",
        "",
        "| figure | value | baseline | ratio | target | result |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {c.figure} | {c.value} | {c.baseline} | {c.ratio} | {c.target} | {c.verdict} |"
        for c in table
    ]
    lines += [
        "",
        "## Every figure",
        "",
        "| figure | median | runs | spread (max-min)/median |",
        "| --- | --- | --- | --- |",
    ]
    for key, label, unit, digits in INFO:
        fig = f.all[key]
        if not fig.runs:
            continue
        runs = ", ".join(fmt(r, "", digits) for r in fig.runs)
        lines.append(
            f"| {label} | {fmt(fig.median, unit, digits)} | {runs} | {fig.spread * 100:.0f}% |"
        )
    engine = results.get("engine", {})
    if engine:
        q = engine["queue"]
        lines += [
            "",
            "## Claim query plan (queue with the 100,000-message backlog)",
            "",
            "```",
            *q["claim_plan"],
            "```",
            "",
            f"Messages still waiting after the backlog runs: {q['backlog_waiting_after']:,}; "
            f"table writes left {engine['table']['stream_records_written']:,} stream records "
            f"for {engine['table']['items_written']:,} items.",
        ]
    curves = sweep_points(results)
    if curves:
        lines += [
            "",
            "## Latency against offered load (latest.png)",
            "",
            "| target | offered/s | answered/s | p50 ms | p90 ms | p99 ms | generator lag p99 ms "
            "| note |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for target, rows in curves.items():
            lines += [
                f"| {target} | {row['offered']:,.0f} | {row['answered']:,.0f} | "
                f"{row['p50_ms']:.2f} | {row['p90_ms']:.2f} | {row['p99_ms']:.2f} | "
                f"{row['lag_p99_ms']:.2f} | {_note(row)} |"
                for row in rows
            ]
        lines += ["", "![latency against offered load](latest.png)"]
    e2e = results.get("e2e", {})
    if e2e:
        lines += ["", "## End to end details", ""]
        for run in e2e.get("throughput", []):
            lines.append(
                f"- burst of {run['orders']:,}: {run['delivered']:,} emails in "
                f"{run['seconds']:.1f} s (ingest took {run['ingest_seconds']:.1f} s); CPU s: "
                + ", ".join(f"{k} {v:.1f}" for k, v in run["cpu_s"].items())
            )
        for run in [*e2e.get("latency", []), *e2e.get("latency_low_rate", [])]:
            lines.append(
                f"- {run['rate']:.0f}/s for {run['duration_s']:.0f} s: {run['delivered']:,} of "
                f"{run['acked']:,} emails; POST->email p50 {run['latency']['p50_ms']:.1f} ms, "
                f"p99 {run['latency']['p99_ms']:.1f} ms, max {run['latency']['max_ms']:.1f} ms; "
                f"ack p99 {run['ack_latency']['p99_ms']:.1f} ms"
            )
        lines += _stage_table(e2e)
    moto = [run for run in (results.get("e2e") or {}).get("moto", []) if run]
    if moto:
        lines += ["", "## moto path details", ""]
        lines += [
            f"- {run['orders']} orders in {run['seconds']:.1f} s: SendMessage "
            f"{run['send_s']:.1f} s, Lambda-1 (receive/put/delete) {run['lambda1_s']:.1f} s, "
            f"Lambda-2 (stream/publish) {run['lambda2_s']:.1f} s"
            for run in moto
        ]
    lines += _wire_table(results.get("wire") or {})
    errors = dict(results.get("errors", {}))
    for phase in ("e2e", "engine", "wire"):
        for name, text in ((results.get(phase) or {}).get("errors") or {}).items():
            errors[f"{phase}/{name}"] = text
    if errors:
        lines += ["", "## Errors", ""]
        for name, text in errors.items():
            lines += [f"### {name}", "", "```", text.strip(), "```", ""]
    return "\n".join(lines) + "\n"


WIRE_FIGURES = (
    ("sqs_send_per_s", "SQS SendMessage"),
    ("sqs_receive_delete_per_s", "SQS ReceiveMessage + DeleteMessageBatch (messages)"),
    ("ddb_put_per_s", "DynamoDB PutItem"),
    ("ddb_get_per_s", "DynamoDB GetItem"),
    ("ddb_query_per_s", "DynamoDB Query"),
)


def _wire_table(wire: dict[str, Any]) -> list[str]:
    """boto3 over the wire against moto (target: 10x) and against the handles, per call:
    medians of the per-trial ratios, each trial's targets run back to back."""
    ours = list(wire.get("sluiceway", []))
    if not any(ours):
        return []
    lines = [
        "",
        "## boto3 over the wire (issue 15)",
        "",
        "The same boto3 client code against sluiceway's AWS APIs and against moto in server "
        "mode, and the same work through sluiceway's handles in-process; calls per second "
        "from two client processes of four threads (medians); ratios are medians of per-trial "
        "ratios.",
        "",
        "| call | sluiceway wire | moto | handles | wire / moto (target >= 10x) | wire / handles |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    trials = list(zip(ours, wire.get("moto", []), wire.get("handles", []), strict=False))
    for key, label in WIRE_FIGURES:

        def median(values: list[float]) -> float:
            values = sorted(values)
            return values[len(values) // 2] if values else float("nan")

        mine = median([r[key] for r in ours if r and key in r])
        moto = median([t[1][key] for t in trials if t[1] and key in t[1]])
        handles = median([t[2][key] for t in trials if t[2] and key in t[2]])
        vs_moto = median([t[0][key] / t[1][key] for t in trials if t[0] and t[1] and key in t[1]])
        vs_handles = median(
            [t[0][key] / t[2][key] for t in trials if t[0] and t[2] and key in t[2]]
        )
        lines.append(
            f"| {label} | {mine:,.0f}/s | {moto:,.0f}/s | "
            + (f"{handles:,.0f}/s" if handles == handles else "n/a (no handle call)")
            + f" | {vs_moto:.1f}x | "
            + (f"{vs_handles:.2f}x" if vs_handles == vs_handles else "n/a")
            + " |"
        )
    return lines


def _stage_table(e2e: dict[str, Any]) -> list[str]:
    """Where an order's time goes, per stage: medians over the runs of each run's p50/p99."""
    columns = [
        ("burst", e2e.get("throughput", [])),
        (f"{_rate(e2e, 'latency')}/s", e2e.get("latency", [])),
        (f"{_rate(e2e, 'latency_low_rate')}/s", e2e.get("latency_low_rate", [])),
    ]
    columns = [(name, runs) for name, runs in columns if runs and "stages" in runs[0]]
    if not columns or "unavailable" in columns[0][1][0]["stages"]:
        return []
    stages = list(columns[0][1][0]["stages"])
    lines = [
        "",
        "Where the time goes (from the data directory; ms, p50 / p99, medians of the runs):",
        "",
        "| stage | " + " | ".join(name for name, _ in columns) + " |",
        "| --- |" + " --- |" * len(columns),
    ]
    for stage in stages:
        cells = []
        for _, runs in columns:
            got = [run["stages"].get(stage, {}) for run in runs]
            p50 = statistics.median(g.get("p50_ms", math.nan) for g in got)
            p99 = statistics.median(g.get("p99_ms", math.nan) for g in got)
            cells.append(f"{fmt(p50, '', 1)} / {fmt(p99, '', 1)}")
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    return lines


def _rate(e2e: dict[str, Any], key: str) -> str:
    runs = e2e.get(key) or [{}]
    return f"{runs[0].get('rate', 0):.0f}"


def _note(row: dict[str, float]) -> str:
    notes = []
    if row["answered"] < SATURATED * row["offered"]:
        notes.append("saturated")
    if row["lag_p99_ms"] > GENERATOR_LATE_MS:
        notes.append("generator late")
    return ", ".join(notes)


def _rabbit_version(results: dict[str, Any]) -> str:
    runs = [run for run in (results.get("engine") or {}).get("rabbitmq", []) if run]
    return runs[0].get("version", "?") if runs else "not measured"


def _paired_side(results: dict[str, Any], path: list[str], key: str) -> float:
    """The median of the sluiceway side of a paired comparison."""
    return figure(run[key] for run in _nodes(results, path) if run).median


def _short(path: str) -> str:
    marker = "/benchmarks/"
    return path[path.index(marker) + 1 :] if marker in path else path


def write(results: dict[str, Any], out: Path) -> None:
    f = Figures(results)
    table = checks(results, f)
    curves = sweep_points(results)
    results["figures"] = {name: fig.as_json() for name, fig in f.all.items() if fig.runs}
    results["checks"] = [c.as_json() for c in table]
    results["curves"] = curves
    (out / "latest.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    (out / "latest.md").write_text(markdown(results, f, table))
    if curves:
        m = results["meta"]["machine"]
        plot(
            curves,
            out / "latest.png",
            f"POST latency against offered load: sluiceway ingest vs bare ASGI ceiling\n"
            f"{m['nproc']} cores, {m['cpu_model']}; medians of "
            f"{results['meta']['profile']['sweep_trials']} runs per point",
        )
