"""`Metrics`: the counters one engine keeps as things happen (``engine.metrics``), which
``GET /metrics`` exposes (`metrics.py`) and the console's map shows.

Counting is a dict update on the thread that saw it: the event loop for requests (no lock: one
loop serves the gateway), a lock for invocations and deliveries (worker threads, off the
ingest path).
"""

from __future__ import annotations

import threading

from sluiceway.core.histogram import LATENCY_BUCKETS, Histogram

HttpSnapshot = tuple[dict[tuple[str, str, int], int], dict[str, Histogram]]


class Metrics:
    """The counters of one engine (``engine.metrics``)."""

    def __init__(self) -> None:
        # (route, method, status) -> requests; route -> latency. Event loop only.
        self.http_requests: dict[tuple[str, str, int], int] = {}
        self.http_latency: dict[str, Histogram] = {}
        self._lock = threading.Lock()
        # function -> [invocations, errors]; function -> duration
        self.invocations: dict[str, list[int]] = {}
        self.invocation_latency: dict[str, Histogram] = {}
        # (protocol, outcome) -> attempts
        self.delivery_attempts: dict[tuple[str, str], int] = {}

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        self.http_requests[key] = self.http_requests.get(key, 0) + 1
        latency = self.http_latency.get(route)
        if latency is None:
            latency = self.http_latency[route] = Histogram(LATENCY_BUCKETS)
        latency.observe(seconds)

    def http_snapshot(self) -> HttpSnapshot:
        """The request counters as they are now (in the event loop that updates them)."""
        return dict(self.http_requests), {r: h.copy() for r, h in self.http_latency.items()}

    def invoked(self, function: str, seconds: float, ok: bool) -> None:
        with self._lock:
            counts = self.invocations.get(function)
            if counts is None:
                counts = self.invocations[function] = [0, 0]
                self.invocation_latency[function] = Histogram(LATENCY_BUCKETS)
            counts[0] += 1
            counts[1] += not ok
            self.invocation_latency[function].observe(seconds)

    def delivery(self, protocol: str, outcome: str) -> None:
        with self._lock:
            key = (protocol, outcome)
            self.delivery_attempts[key] = self.delivery_attempts.get(key, 0) + 1
