"""wrk (Debian's package) as a cross-check of the closed-loop figures: a C load generator
with a Lua script that posts the seed order and prints its summary as JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

from bench.common import SEED_ORDER, TMP

SCRIPT = """
wrk.method = "POST"
wrk.body = '%s'
wrk.headers["Content-Type"] = "application/json"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_us": %%d, "status_errors": %%d, "connect_errors": %%d, '
    .. '"read_errors": %%d, "write_errors": %%d, "timeouts": %%d, '
    .. '"p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "max_us": %%d}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def version() -> str:
    done = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    first = (done.stdout or done.stderr).splitlines()[0]
    return " ".join(first.split()[:2])  # "wrk debian/4.1.0-3+b2"


def _script() -> str:
    path = TMP / "post.lua"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SCRIPT % SEED_ORDER.decode())
    return str(path)


def run(url: str, *, connections: int, duration: float, warmup: float) -> dict[str, Any]:
    """Closed loop: warm up, then measure; one wrk thread (the machine has two cores)."""
    script = _script()

    def once(seconds: float) -> dict[str, Any]:
        done = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "-s", script, url],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 60,
        )
        line = next(x for x in done.stdout.splitlines() if x.startswith("WRKJSON "))
        data: dict[str, Any] = json.loads(line.removeprefix("WRKJSON "))
        return data

    if warmup > 0:
        once(warmup)
    data = once(duration)
    bad = sum(data[k] for k in ("status_errors", "read_errors", "write_errors", "timeouts"))
    seconds = data["duration_us"] / 1e6
    return {
        "acks_per_s": (data["requests"] - bad) / seconds,
        "errors": bad + data["connect_errors"],
        "latency": {
            "p50_ms": data["p50_us"] / 1000,
            "p90_ms": data["p90_us"] / 1000,
            "p99_ms": data["p99_us"] / 1000,
            "max_ms": data["max_us"] / 1000,
        },
    }
