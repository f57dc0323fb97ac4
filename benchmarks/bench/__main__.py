"""Run every benchmark and write benchmarks/results/latest.{md,json,png}.

    python -m bench [--quick] [--only ingest,e2e,...] [--src DIR]

`benchmarks/run` sets up the environment and calls this.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

from bench import e2e, ingest, peers, report, startup, wrk
from bench.common import REPO, RESULTS, TMP, log, run_module

PHASES = ("generator", "ingest", "sweep", "e2e", "engine", "startup", "wire")
RATE_GRID = (250, 500, 1000, 2000, 4000, 8000, 12000, 16000, 24000, 32000, 48000)
QUICK_GRID = (1000, 4000, 16000)

T = TypeVar("T")


@dataclass(frozen=True)
class Profile:
    """How long and how often: the full run, or --quick (a smoke test, not figures)."""

    ingest_trials: int
    ingest_warmup: float
    ingest_duration: float
    generator_trials: int
    sweep_trials: int
    sweep_duration: float
    e2e_trials: int
    e2e_orders: int
    e2e_rate: float
    e2e_low_rate: float
    e2e_duration: float
    e2e_timeout: float
    engine_trials: int
    engine_messages: int
    engine_items: int
    engine_matches: int
    moto_orders: int
    rabbit_messages: int
    queue_batch: int
    starts: int
    wire_trials: int = 3
    wire_n: int = 2000
    wire_moto_n: int = 400


FULL = Profile(
    ingest_trials=5,
    ingest_warmup=2.0,
    ingest_duration=6.0,
    generator_trials=3,
    sweep_trials=3,
    sweep_duration=3.0,
    e2e_trials=3,
    e2e_orders=6000,
    e2e_rate=500.0,
    e2e_low_rate=50.0,
    e2e_duration=15.0,
    e2e_timeout=120.0,
    engine_trials=3,
    engine_messages=20_000,
    engine_items=20_000,
    engine_matches=300_000,
    moto_orders=300,
    rabbit_messages=20_000,
    queue_batch=10,
    starts=5,
)

QUICK = Profile(
    ingest_trials=1,
    ingest_warmup=1.0,
    ingest_duration=2.0,
    generator_trials=1,
    sweep_trials=1,
    sweep_duration=1.5,
    e2e_trials=1,
    e2e_orders=1000,
    e2e_rate=500.0,
    e2e_low_rate=50.0,
    e2e_duration=3.0,
    e2e_timeout=60.0,
    engine_trials=1,
    engine_messages=3000,
    engine_items=3000,
    engine_matches=50_000,
    moto_orders=60,
    rabbit_messages=3000,
    queue_batch=10,
    starts=3,
    wire_trials=1,
    wire_n=300,
    wire_moto_n=100,
)


def machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return done.stdout.strip()

    import sluiceway

    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gb": round(int(memory) / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "uvicorn": version("uvicorn"),
        "httptools": version("httptools"),
        "uvloop": version("uvloop"),
        "moto": version("moto"),
        "pika": version("pika"),
        "aiosmtpd": version("aiosmtpd"),
        "wrk": wrk.version() if wrk.available() else "not installed",
        "sluiceway_source": str(Path(sluiceway.__file__).parent),
        "git_commit": git("rev-parse", "--short", "HEAD"),
        "git_dirty_src": bool(git("status", "--porcelain", "--", "src")),
        "load_average_at_start": os.getloadavg(),
    }


def rates_up_to(closed_loop: float, factor: float, *, quick: bool) -> list[float]:
    """The grid's rates up to `factor` x the closed-loop throughput (the sweep also stops
    by itself one rate past the knee)."""
    cap = closed_loop * factor
    rates = [float(r) for r in (QUICK_GRID if quick else RATE_GRID) if r <= cap]
    return rates or [float(RATE_GRID[0])]


def run(profile: Profile, phases: set[str], *, quick: bool) -> dict[str, Any]:
    results: dict[str, Any] = {
        "meta": {
            "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "quick": quick,
            "profile": profile.__dict__,
            "machine": machine(),
        },
        "errors": {},
    }
    use_wrk = wrk.available()

    def phase(name: str, body: Callable[[], Any]) -> None:
        if name not in phases:
            return
        log(f"-- {name}")
        started = time.perf_counter()
        try:
            results[name] = body()
        except Exception:
            results["errors"][name] = traceback.format_exc(limit=4)
            log(f"{name} failed:\n{results['errors'][name]}")
        results["meta"].setdefault("phase_seconds", {})[name] = time.perf_counter() - started

    p = profile
    phase(
        "generator",
        lambda: ingest.generator_ceiling(
            p.generator_trials, 64, p.ingest_warmup, p.ingest_duration, use_wrk
        ),
    )
    phase(
        "ingest",
        lambda: ingest.closed_loop_trials(
            p.ingest_trials, 64, p.ingest_warmup, p.ingest_duration, use_wrk
        ),
    )

    def sweep() -> Any:
        closed = results.get("ingest") or {}
        best = {
            name: max((r["acks_per_s"] for r in closed.get(name, [])), default=4000.0)
            for name in ("sluiceway", "ceiling")
        }
        rates = {
            "sluiceway": rates_up_to(best["sluiceway"], 1.5, quick=quick),
            "ceiling": rates_up_to(best["ceiling"], 1.2, quick=quick),
        }
        return ingest.sweep(rates, p.sweep_trials, p.sweep_duration)

    phase("sweep", sweep)

    def end_to_end() -> Any:
        # Each sluiceway burst is followed by a moto run, so the ratio compares runs taken
        # back to back (the machine is shared; its load drifts).
        found: dict[str, Any] = {"throughput": [], "moto": [], "errors": {}}
        moto = _try(found["errors"], "moto", peers.MotoServer)
        for trial in range(p.e2e_trials):
            found["throughput"].append(e2e.throughput(p.e2e_orders, p.e2e_timeout))
            log(f"e2e throughput {trial + 1}: {found['throughput'][-1]['orders_per_s']:.0f}/s")
            if moto is not None:
                run = _try(
                    found["errors"],
                    "moto",
                    run_module,
                    "peers",
                    "moto",
                    "--endpoint",
                    moto.endpoint,
                    "--orders",
                    str(p.moto_orders),
                )
                found["moto"].append(run)
                if run is not None:
                    log(f"moto {trial + 1}: {run['orders_per_s']:.1f} orders/s")
        if moto is not None:
            moto.close()
        # Cross-check: the same burst with aiosmtpd as the receiving server.
        found["throughput_aiosmtpd"] = [e2e.throughput(p.e2e_orders, p.e2e_timeout, "aiosmtpd")]
        log(f"e2e with aiosmtpd: {found['throughput_aiosmtpd'][-1]['orders_per_s']:.0f}/s")
        found["latency"] = []
        for trial in range(p.e2e_trials):
            found["latency"].append(e2e.latency(p.e2e_rate, p.e2e_duration, p.e2e_timeout))
            log(f"e2e latency {trial + 1}: p99 {found['latency'][-1]['latency']['p99_ms']:.1f} ms")
        # Informational: the same at a rate the pipeline sustains, for its unloaded latency.
        found["latency_low_rate"] = [
            e2e.latency(p.e2e_low_rate, p.e2e_duration, p.e2e_timeout) for _ in range(p.e2e_trials)
        ]
        low = found["latency_low_rate"][-1]["latency"]["p99_ms"]
        log(f"e2e latency at {p.e2e_low_rate:.0f}/s: p99 {low:.1f} ms")
        return found

    phase("e2e", end_to_end)

    def engine_bench(parts: str, trials: int) -> Any:
        return run_module(
            "engine_bench",
            "--parts",
            parts,
            "--messages",
            str(p.engine_messages),
            "--batch",
            str(p.queue_batch),
            "--items",
            str(p.engine_items),
            "--matches",
            str(p.engine_matches),
            "--trials",
            str(trials),
            "--handle-seconds",
            "1" if quick else "2",
        )

    def engine() -> Any:
        found: dict[str, Any] = engine_bench("all", p.engine_trials)
        # The queue against RabbitMQ: an empty-queue trial, then a RabbitMQ trial, in turn.
        found["paired_empty"], found["rabbitmq"], found["errors"] = [], [], {}
        _try(found["errors"], "rabbitmq", peers.ensure_rabbitmq)
        if "rabbitmq" in found["errors"]:
            return found
        for trial in range(p.engine_trials):
            ours = engine_bench("empty", 1)["queue"]["empty_msgs_per_s"][0]
            theirs = _try(
                found["errors"],
                "rabbitmq",
                run_module,
                "peers",
                "rabbit",
                "--messages",
                str(p.rabbit_messages),
                "--batch",
                str(p.queue_batch),
            )
            found["paired_empty"].append(ours)
            found["rabbitmq"].append(theirs)
            if theirs is not None:
                log(
                    f"queue {trial + 1}: sluiceway {ours:.0f} msgs/s, "
                    f"RabbitMQ {theirs['msgs_per_s']:.0f} msgs/s"
                )
        return found

    phase("engine", engine)

    def starting() -> Any:
        found = startup.measure(p.starts)
        # A user's test of the app: under sluiceway.testing, and as a subprocess runtime.
        found["kit"] = _try(found.setdefault("errors", {}), "kit", run_module, "testing_kit")
        return found

    phase("startup", starting)

    def wire() -> Any:
        # boto3 over the wire: sluiceway's AWS APIs, then moto's, then the handles, in turn.
        found: dict[str, Any] = {"sluiceway": [], "moto": [], "handles": [], "errors": {}}
        for trial in range(p.wire_trials):
            for target, n in (
                ("sluiceway", p.wire_n),
                ("moto", p.wire_moto_n),
                ("handles", p.wire_n),
            ):
                run = _try(found["errors"], target, run_module, "wire", target, "--n", str(n))
                found[target].append(run)
                if run is not None:
                    log(
                        f"wire {target} {trial + 1}: "
                        + ", ".join(f"{k} {v:.0f}" for k, v in run.items() if k.endswith("_per_s"))
                    )
        return found

    phase("wire", wire)
    results["meta"]["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    return results


def _try(errors: dict[str, str], name: str, body: Callable[..., T], *args: str) -> T | None:
    """`body(*args)`, or None with the traceback kept under `name` (a peer that fails must
    not take the sluiceway figures with it)."""
    try:
        return body(*args)
    except Exception:
        errors[name] = traceback.format_exc(limit=4)
        log(f"{name} failed: {errors[name].strip().splitlines()[-1]}")
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {PHASES}")
    parser.add_argument("--out", default=str(RESULTS), help="where latest.* go")
    args = parser.parse_args()
    phases = set(args.only.split(",")) if args.only else set(PHASES)
    unknown = phases - set(PHASES)
    if unknown:
        parser.error(f"unknown phases {sorted(unknown)}; choose from {PHASES}")
    TMP.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results = run(QUICK if args.quick else FULL, phases, quick=args.quick)
    results["meta"]["seconds"] = time.perf_counter() - started
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report.write(results, out)
    log(f"wrote {out / 'latest.md'}, latest.json and latest.png")
    print((out / "latest.md").read_text())
    raw = TMP / "last-results.json"
    raw.write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
