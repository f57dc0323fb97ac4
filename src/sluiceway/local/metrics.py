"""Prometheus metrics of the runtime, served at ``GET /metrics`` (text format 0.0.4).

Two kinds of numbers:

* counted as things happen, in memory since the runtime started: HTTP requests and their
  latency (per route), invocations and their errors and durations (per function), delivery
  attempts (per protocol and outcome), the store's commits and group-commit sizes, the
  firewall's verdicts. Counting is a dict update on the thread that saw it: the event loop
  for requests (no lock: one loop serves the gateway), a lock for invocations and deliveries
  (worker threads, off the ingest path), the writer thread for commits (see `store.py`).
* read from the store when scraped: queue depths, how far each mapping is behind and how old
  its oldest waiting record is, deliveries by status. These are the data directory's truth
  (another process's writes included); a scrape runs off the event loop.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from sluiceway.apigateway import service_integration
from sluiceway.core import otel, traces
from sluiceway.core.histogram import Histogram
from sluiceway.local.counters import HttpSnapshot, Metrics
from sluiceway.sqs import queues

if TYPE_CHECKING:
    from sluiceway.apigateway.gateway import Gateway
    from sluiceway.local.engine import LocalEngine

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
PATH = "/metrics"
# A request that ended before any answer (the client went away): nginx's code for it.
CLIENT_CLOSED = 499

Labels = tuple[tuple[str, str], ...]
# The runtime's own pages, labelled by their path (an unknown one answers 404).
_RUNTIME_PAGES = ("/_sluiceway/", PATH, "/oauth2/token")


def route_label(gateway: Gateway, method: str, path: str, status: int) -> str:
    """The `route` label of a request: the declared route (a proxy route's resource, with
    its ``{parameters}``), the runtime's own page, or ``(unmatched)`` — never a raw path a
    client made up, so the number of series stays bounded."""
    key = (method, path)
    if key in gateway.routes or key in gateway.table_routes:
        return path
    found = gateway.router.find(method, path) or gateway.router.find(method, path, default=True)
    if found is not None:
        return found[0].resource
    mapped = service_integration.find(gateway.service_routes, method, path)
    if mapped is not None:
        return mapped[0].spec.path
    if path.startswith("/console"):
        return "/console"
    if path.endswith("/.well-known/jwks.json") and status != 404:
        return path
    if status in (404, 405) or not path.startswith(_RUNTIME_PAGES):
        return "(unmatched)"  # what the app's API has no route for (403 or 404 there)
    return path


def observe_request(
    engine: LocalEngine,
    gateway: Gateway,
    scope: dict[str, Any] | Any,
    status: int,
    seconds: float,
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    """Count a request the gateway finished (see `observe`)."""
    method: str = scope["method"]
    path: str = scope["path"]
    status = status or CLIENT_CLOSED
    trace = None
    for name, value in headers:
        if name == traces.TRACE_HEADER:
            trace = value.decode("latin-1")
    client = scope.get("client")
    route = route_label(gateway, method, path, status)
    observe(engine, route, method, path, status, seconds, trace, client[0] if client else None)


def observe(
    engine: LocalEngine,
    route: str,
    method: str,
    path: str,
    status: int,
    seconds: float,
    trace: str | None,
    client: str | None,
) -> None:
    """Count a finished request (the gateway's or the front door process's), and tell the
    live events about it (not the runtime's own pages: a console or a scraper would drown
    the app's traffic), with the trace id its answer names."""
    engine.metrics.request(route, method, status, seconds)
    if not path.startswith(_OWN_PAGES):
        engine.bus.publish(
            "request",
            {
                "method": method,
                "path": path,
                "route": route,
                "status": status,
                "duration_ms": seconds * 1000,
                "client": client,
                "trace_id": trace,
            },
        )


_OWN_PAGES = ("/_sluiceway/", "/console", PATH)


# -- exposition ---------------------------------------------------------------------------


async def serve(engine: LocalEngine, gateway: Gateway, send: Any) -> None:
    """Answer a scrape: the counters copied here in the event loop, the store read in a
    thread."""
    http = engine.metrics.http_snapshot()
    loop = asyncio.get_running_loop()
    body = (await loop.run_in_executor(None, render, engine, gateway, http)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", CONTENT_TYPE),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                (b"x-content-type-options", b"nosniff"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def render(
    engine: LocalEngine, gateway: Gateway | None = None, http: HttpSnapshot | None = None
) -> str:
    """The text a scrape gets. Reads the store (call it off the event loop)."""
    out = _Exposition()
    metrics = engine.metrics
    if http is not None:
        _http(out, http)
    _queues(out, engine)
    _mappings(out, engine)
    _invocations(out, metrics)
    _deliveries(out, engine)
    _token_requests(out, engine)
    _store(out, engine)
    _traces(out, engine)
    if gateway is not None and gateway.firewall is not None:
        counters = gateway.firewall.counters()
        out.family(
            "sluiceway_firewall_requests_total",
            "counter",
            "Requests each web ACL rule (or the default action) allowed, blocked or counted.",
            [
                ("", (("rule", rule), ("action", action)), value)
                for rule, tally in counters.items()
                for action, value in tally.items()
            ],
        )
    return out.text()


def _http(out: _Exposition, http: HttpSnapshot) -> None:
    requests, latency = http
    out.family(
        "sluiceway_http_requests_total",
        "counter",
        "HTTP requests answered, by route, method and status.",
        [
            ("", (("route", route), ("method", method), ("status", str(status))), count)
            for (route, method, status), count in sorted(requests.items())
        ],
    )
    out.histograms(
        "sluiceway_http_request_duration_seconds",
        "Time from a request's arrival to its answer (a queue route's 200 includes the fsync).",
        [((("route", route),), h) for route, h in sorted(latency.items())],
    )


def _queues(out: _Exposition, engine: LocalEngine) -> None:
    registry = engine.registry
    if registry is None:
        return
    cx = engine.store.reader()
    now_ms = int(engine.clock.now() * 1000)
    depth: list[tuple[str, Labels, float]] = []
    age: list[tuple[str, Labels, float]] = []
    for queue in sorted(registry.queues.values(), key=lambda q: q.name):
        stats = queues.stats(cx, queue, now_ms)
        for state, value in (
            ("visible", stats.visible),
            ("in_flight", stats.in_flight),
            ("delayed", stats.delayed),
        ):
            depth.append(("", (("queue", queue.name), ("state", state)), value))
        oldest = cx.execute(
            "SELECT MIN(sent_at) FROM messages WHERE queue_id = ?", (queue.id,)
        ).fetchone()[0]
        age.append(("", (("queue", queue.name),), _age(now_ms, oldest)))
    out.family(
        "sluiceway_queue_messages",
        "gauge",
        "Messages in each queue: visible, in flight (received, not deleted), delayed.",
        depth,
    )
    out.family(
        "sluiceway_queue_oldest_message_age_seconds",
        "gauge",
        "Age of the oldest message in each queue (0 when empty).",
        age,
    )


def _mappings(out: _Exposition, engine: LocalEngine) -> None:
    """Per mapping (a function's or a pipe's): records waiting for it and the age of the
    oldest, and whether it is paused."""
    # Imported here: the mappings import the invoker, which imports nothing of this.
    from sluiceway.awslambda.queue_mapping import QueueMapping

    cx = engine.store.reader()
    now_ms = int(engine.clock.now() * 1000)
    behind: list[tuple[str, Labels, float]] = []
    lag: list[tuple[str, Labels, float]] = []
    paused: list[tuple[str, Labels, float]] = []
    retrying: list[tuple[str, Labels, float]] = []
    for mapping in sorted(engine.mappings, key=lambda m: m.name):
        if isinstance(mapping, QueueMapping):
            source = f"queue:{mapping.queue.name}"
            count, oldest = cx.execute(
                "SELECT COUNT(*), MIN(sent_at) FROM messages WHERE queue_id = ?",
                (mapping.queue.id,),
            ).fetchone()
            attempts: int | None = None  # a queue's retries are its messages' receives
        else:
            source = f"table:{mapping.table.name}"
            count, oldest, attempts = _stream_lag(cx, mapping.name, mapping.table.id, mapping.lanes)
        labels = (("mapping", mapping.name), ("source", source))
        behind.append(("", labels, count))
        lag.append(("", labels, _age(now_ms, oldest)))
        paused.append(("", labels, int(mapping.name in engine.paused)))
        if attempts is not None:
            retrying.append(("", labels, attempts))
    out.family(
        "sluiceway_mapping_records_behind",
        "gauge",
        "Records a mapping has yet to process: messages in its queue, stream records after "
        "its checkpoints.",
        behind,
    )
    out.family(
        "sluiceway_mapping_lag_seconds",
        "gauge",
        "Age of the oldest record a mapping has yet to process (0 when caught up).",
        lag,
    )
    out.family(
        "sluiceway_mapping_paused",
        "gauge",
        "1 while a mapping is paused (sluiceway mappings pause), as the runtime sees it.",
        paused,
    )
    out.family(
        "sluiceway_mapping_retry_attempts",
        "gauge",
        "Failed attempts of the batch a stream mapping is retrying (the most of its lanes).",
        retrying,
    )


def _stream_lag(cx: Any, name: str, table_id: int, lanes: int) -> tuple[int, int | None, int]:
    count, oldest, attempts = 0, None, 0
    for lane, position, tries in cx.execute(
        "SELECT lane, position, attempts FROM mappings WHERE name = ? ORDER BY lane", (name,)
    ).fetchall():
        sql = "SELECT COUNT(*), MIN(created_at) FROM stream_records WHERE table_id = ? AND seq > ?"
        params: tuple[int, ...] = (table_id, position)
        if lanes > 1:
            sql += " AND key_hash % ? = ?"
            params += (lanes, lane)
        waiting, first = cx.execute(sql, params).fetchone()
        count += waiting
        if first is not None and (oldest is None or first < oldest):
            oldest = first
        attempts = max(attempts, tries)
    return count, oldest, attempts


def _invocations(out: _Exposition, metrics: Metrics) -> None:
    with metrics._lock:
        counts = {name: tuple(c) for name, c in metrics.invocations.items()}
        latency = sorted(metrics.invocation_latency.items())
        attempts = sorted(metrics.delivery_attempts.items())
    out.family(
        "sluiceway_invocations_total",
        "counter",
        "Handler invocations, by function.",
        [("", (("function", f),), c[0]) for f, c in sorted(counts.items())],
    )
    out.family(
        "sluiceway_invocation_errors_total",
        "counter",
        "Invocations that raised, timed out or answered what Lambda rejects, by function.",
        [("", (("function", f),), c[1]) for f, c in sorted(counts.items())],
    )
    out.histograms(
        "sluiceway_invocation_duration_seconds",
        "How long handlers ran, by function.",
        [((("function", f),), h) for f, h in latency],
    )
    out.family(
        "sluiceway_delivery_attempts_total",
        "counter",
        "Delivery attempts by protocol and outcome (delivered, retrying, failed).",
        [("", (("protocol", p), ("outcome", o)), n) for (p, o), n in attempts],
    )


def _token_requests(out: _Exposition, engine: LocalEngine) -> None:
    identity = engine.identity
    if identity is None or not identity.pools:
        return
    outcomes = dict(identity.outcomes)
    out.family(
        "sluiceway_token_requests_total",
        "counter",
        "Token endpoint requests by outcome: issued, refused (a bad request or client), "
        "throttled (429: too many failed client authentications).",
        [("", (("outcome", o),), outcomes.get(o, 0)) for o in ("issued", "refused", "throttled")],
    )


def _deliveries(out: _Exposition, engine: LocalEngine) -> None:
    rows = (
        engine.store.reader()
        .execute("SELECT protocol, status, COUNT(*) FROM deliveries GROUP BY protocol, status")
        .fetchall()
    )
    out.family(
        "sluiceway_deliveries",
        "gauge",
        "Deliveries in the outbox by protocol and status (pending, delivered, failed, ...).",
        [("", (("protocol", p), ("status", s)), n) for p, s, n in sorted(rows)],
    )


def _store(out: _Exposition, engine: LocalEngine) -> None:
    store = engine.store
    out.family(
        "sluiceway_store_commits_total",
        "counter",
        "Transactions the store's writer committed (each one group commit).",
        [("", (), store.commits)],
    )
    out.family(
        "sluiceway_store_fsyncs_total",
        "counter",
        "Commits made durable by an fsync of the WAL (all of them with --durability full).",
        [("", (), store.commits if store.durability == "full" else 0)],
    )
    out.family(
        "sluiceway_store_committed_ops_total",
        "counter",
        "Writes (ops) those commits carried.",
        [("", (), store.committed_ops)],
    )
    out.histograms(
        "sluiceway_store_group_commit_size",
        "Ops per group commit: how many writes shared one transaction and one fsync.",
        [((), store.group_sizes)],
    )
    out.histograms(
        "sluiceway_store_commit_duration_seconds",
        "Time COMMIT took (with --durability full, mostly the fsync).",
        [((), store.commit_seconds)],
    )


def _traces(out: _Exposition, engine: LocalEngine) -> None:
    log = engine.store.traces
    out.family(
        "sluiceway_trace_hops_written_total",
        "counter",
        "Trace hops written to traces.db.",
        [("", (), log.written)],
    )
    spans = [export for export in log.exporters if isinstance(export, otel.SpanExport)]
    if spans:
        out.family(
            "sluiceway_otel_spans_total",
            "counter",
            "Hops sent as OpenTelemetry spans: exported, refused by the collector (failed), "
            "or dropped while it could not keep up.",
            [
                ("", (("outcome", outcome),), sum(getattr(e, outcome) for e in spans))
                for outcome in ("exported", "failed", "dropped")
            ],
        )


def _age(now_ms: int, oldest_ms: int | None) -> float:
    return 0.0 if oldest_ms is None else max(0.0, (now_ms - oldest_ms) / 1000)


class _Exposition:
    def __init__(self) -> None:
        self._lines: list[str] = []

    def family(
        self, name: str, kind: str, help_text: str, samples: Iterable[tuple[str, Labels, float]]
    ) -> None:
        self._lines.append(f"# HELP {name} {_escape_help(help_text)}")
        self._lines.append(f"# TYPE {name} {kind}")
        for suffix, labels, value in samples:
            self._lines.append(f"{name}{suffix}{_labels(labels)} {_number(value)}")

    def histograms(
        self, name: str, help_text: str, series: Iterable[tuple[Labels, Histogram]]
    ) -> None:
        self.family(name, "histogram", help_text, _histogram_samples(series))

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"


def _histogram_samples(
    series: Iterable[tuple[Labels, Histogram]],
) -> Iterator[tuple[str, Labels, float]]:
    for labels, histogram in series:
        buckets = histogram.cumulative()
        for bound, count in buckets:
            yield "_bucket", (*labels, ("le", _number(bound))), count
        yield "_sum", labels, histogram.sum
        yield "_count", labels, buckets[-1][1]


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{key}="{_escape_value(value)}"' for key, value in labels)
    return "{" + inner + "}"


def _escape_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))
