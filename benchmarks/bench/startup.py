"""Start-up and idle memory of `sluiceway run`.

Ready time: from spawning `sluiceway run --port 0` (fresh data directory, email to a local
aiosmtpd, --auto-confirm) until it prints its ready line. Idle memory: a second after ready,
the resident set of the runtime process plus its delivery process (its child, found through
/proc/<pid>/task/*/children); PSS too, which does not count shared pages twice.
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import TMP, fresh_dir, memory_mb
from bench.servers import Runtime, SmtpSink


def measure(starts: int, settle: float = 1.0) -> dict[str, Any]:
    ready: list[float] = []
    rss: list[float] = []
    pss: list[float] = []
    processes: list[int] = []
    with SmtpSink(TMP / "startup-arrivals.txt") as sink:
        for _ in range(starts):
            with Runtime(
                fresh_dir("startup-data"), "--smtp", sink.smtp_url, "--auto-confirm"
            ) as runtime:
                ready.append(runtime.ready_after)
                time.sleep(settle)
                pids = runtime.pids()
                sizes = [memory_mb(p) for p in pids]
                rss.append(sum(s[0] for s in sizes))
                pss.append(sum(s[1] for s in sizes))
                processes.append(len(pids))
    return {"ready_s": ready, "idle_rss_mb": rss, "idle_pss_mb": pss, "processes": processes}
