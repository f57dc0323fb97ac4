"""What every part of the harness shares: paths, ports, processes, and statistics."""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent.parent
REPO = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
TMP = RESULTS / "tmp"
PYTHON = sys.executable
VENV_BIN = Path(PYTHON).parent

SEED_ORDER = b'{"item": "latex gloves", "customerID": "12345"}'


# -- processes ---------------------------------------------------------------------------


def bench_env() -> dict[str, str]:
    """The environment for harness subprocesses: `bench` importable, unbuffered output, and
    bytecode caches written and used, as a user's installed sluiceway has them (pip compiles
    them at install): a machine that sets PYTHONDONTWRITEBYTECODE would otherwise compile
    every module at every start (about 0.4 s of a runtime's start here)."""
    path = os.environ.get("PYTHONPATH", "")
    inherited = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {
        **inherited,
        "PYTHONPATH": str(BENCH_DIR) + (os.pathsep + path if path else ""),
        "PYTHONUNBUFFERED": "1",
    }


def run_module(module: str, *args: str, timeout: float = 900.0) -> Any:
    """Run `python -m bench.<module> args...` in its own process; return the JSON it prints
    last on stdout."""
    done = subprocess.run(
        [PYTHON, "-m", f"bench.{module}", *args],
        capture_output=True,
        text=True,
        env=bench_env(),
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.{module} {' '.join(args)} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not port_open(port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")
        time.sleep(0.05)


def stop(process: subprocess.Popen[Any], timeout: float = 20.0) -> None:
    """SIGTERM, then SIGKILL if it will not go."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def fresh_dir(name: str) -> Path:
    path = TMP / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def children(pid: int) -> list[int]:
    """Every descendant of `pid`, from /proc/<pid>/task/*/children."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            continue
        for kid in kids:
            found += [kid, *children(kid)]
    return found


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of one process in MB."""
    rss = pss = 0.0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("Pss:"):
                pss = int(line.split()[1]) / 1024
    except OSError:
        pass
    return rss, pss


# -- statistics --------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of already sorted values, nearest-rank."""
    if not sorted_values:
        return math.nan
    rank = max(0, math.ceil(q / 100 * len(sorted_values)) - 1)
    return sorted_values[min(rank, len(sorted_values) - 1)]


def latency_summary(latencies: Iterable[float]) -> dict[str, float]:
    """p50/p90/p99/max in milliseconds of latencies given in seconds."""
    ordered = sorted(latencies)
    return {
        "count": len(ordered),
        "p50_ms": percentile(ordered, 50) * 1000,
        "p90_ms": percentile(ordered, 90) * 1000,
        "p99_ms": percentile(ordered, 99) * 1000,
        "max_ms": (ordered[-1] * 1000) if ordered else math.nan,
    }


@dataclass(frozen=True)
class Figure:
    """One measured figure: the runs and their median."""

    runs: tuple[float, ...]

    @property
    def median(self) -> float:
        clean = [r for r in self.runs if not math.isnan(r)]
        return statistics.median(clean) if clean else math.nan

    @property
    def spread(self) -> float:
        """(max - min) / median: how far apart the runs were."""
        clean = [r for r in self.runs if not math.isnan(r)]
        if len(clean) < 2 or not self.median:
            return 0.0
        return (max(clean) - min(clean)) / abs(self.median)

    def as_json(self) -> dict[str, Any]:
        return {"median": self.median, "runs": list(self.runs), "spread": self.spread}


def figure(runs: Iterable[float]) -> Figure:
    return Figure(tuple(float(r) for r in runs))


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
