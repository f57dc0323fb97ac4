"""OpenTelemetry: every trace hop exported as a span when an exporter is configured.

Configured the standard way, by OpenTelemetry's own environment variables, so the same
settings serve the runtime and any other instrumented process:

- ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) turns export on,
  over OTLP/HTTP with protobuf (``OTEL_EXPORTER_OTLP_PROTOCOL=grpc`` uses gRPC when its
  exporter package is installed); headers, timeout, certificates and compression come from
  the exporter's own ``OTEL_EXPORTER_OTLP_*`` variables;
- ``OTEL_TRACES_EXPORTER`` = ``otlp`` (the default once an endpoint is set), ``console``
  (spans printed to stderr as JSON) or ``none`` (off, whatever else is set);
- ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` name the service (else the app's
  name).

The packages are an extra (``pip install 'sluiceway[otel]'``): nothing is imported unless
export is configured, and a configured export without them is refused at start with that
command, not ignored.

A hop becomes one span, exported in the trace log's batches (every 100 ms). Span ids are
derived from the hop, so a span exported twice is the same span. Decision: the HTTP hop is
the root span (its id derived from the trace id) and every other hop of the trace is its
child, a flat waterfall that needs no state across batches. (The one hop another process
records, a delivery's outcome written by the delivery process after the runtime was killed
mid-send, goes to ``traces.db`` only.) With an incoming ``traceparent`` the spans join the
caller's trace, the root span a child of the caller's span.

Known limit: a trace is sluiceway's unit, so when one caller's trace makes several requests
(the same trace id in several ``traceparent`` headers), their HTTP hops share the root
span id and the collector sees one root with several parents' worth of children.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import importlib
import logging
import os
import threading
from typing import TYPE_CHECKING, Any

from sluiceway.core import traces
from sluiceway.core.errors import SluicewayError
from sluiceway.core.redact import redact

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter


log = logging.getLogger("sluiceway.otel")


class OtelConfigError(SluicewayError):
    """Export is configured in a way that cannot work (an unknown exporter or protocol, or
    the packages missing)."""

    code = "OtelConfigError"


def configured() -> str | None:
    """Which exporter the environment asks for: "otlp", "console", or None (also when
    ``OTEL_SDK_DISABLED=true``)."""
    environ = os.environ
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    chosen = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if chosen == "none":
        return None
    if chosen in ("otlp", "console"):
        return chosen
    if chosen:
        raise OtelConfigError(
            f"OTEL_TRACES_EXPORTER={chosen!r}: sluiceway exports to 'otlp' or 'console' (or 'none')"
        )
    return "otlp" if _endpoint() else None


def _endpoint() -> str:
    """The OTLP endpoint the environment names for traces ("" when none)."""
    environ = os.environ
    return (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or ""
    )


def exporter_from_env() -> SpanExporter | None:
    """The span exporter the environment configures, or None."""
    chosen = configured()
    if chosen is None:
        return None
    environ = os.environ
    try:
        if chosen == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            return ConsoleSpanExporter()
        protocol = (
            environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
            or "http/protobuf"
        )
        if protocol == "grpc":
            # An optional package of its own (grpcio is large): imported by name.
            grpc = importlib.import_module("opentelemetry.exporter.otlp.proto.grpc.trace_exporter")
            exporter: SpanExporter = grpc.OTLPSpanExporter()
            return exporter
        if protocol != "http/protobuf":
            raise OtelConfigError(
                f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: sluiceway exports over "
                "'http/protobuf' or 'grpc'"
            )
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    except ImportError as missing:
        extra = "opentelemetry-exporter-otlp-proto-grpc" if "grpc" in str(missing) else ""
        command = f"pip install {extra}" if extra else "pip install 'sluiceway[otel]'"
        raise OtelConfigError(
            f"OpenTelemetry export is configured (OTEL_* variables) but its package is "
            f"missing ({missing.name}): {command}"
        ) from None


class SpanExport:
    """A trace log's exporter: turns each batch of hops into spans for `exporter`, on a
    thread of its own, so that a slow or unreachable collector (the OTLP exporter retries
    for up to its timeout) never holds up the trace log. Decision: at most `MAX_BATCHES`
    batches (about 30 s of hops) wait for the collector; past that the oldest are dropped
    and counted (`dropped`), as the SDK's own batch processor drops when its queue is full.
    At shutdown the collector gets `SHUTDOWN_SECONDS` to take what is left."""

    MAX_BATCHES = 300
    SHUTDOWN_SECONDS = 3.0

    def __init__(self, exporter: SpanExporter, service: str) -> None:
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

        self.exporter = exporter
        # OTEL_SERVICE_NAME or a service.name in OTEL_RESOURCE_ATTRIBUTES (both read by
        # Resource.create) win over the app's name.
        from_env = Resource.create({})
        named = not str(from_env.attributes.get(SERVICE_NAME, "")).startswith("unknown_service")
        self.resource = from_env if named else Resource.create({SERVICE_NAME: service})
        self.scope = InstrumentationScope("sluiceway", _version())
        self.exported = 0
        self.dropped = 0
        self.failed = 0
        self._batches: collections.deque[list[traces.Row]] = collections.deque()
        self._ready = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="sluiceway-otel", daemon=True)
        self._thread.start()

    def export(self, rows: list[traces.Row]) -> None:
        """Queue a batch of hops (never blocks)."""
        with self._ready:
            self._batches.append(rows)
            while len(self._batches) > self.MAX_BATCHES:
                self.dropped += len(self._batches.popleft())
            self._ready.notify()

    def _run(self) -> None:
        from opentelemetry.sdk.trace.export import SpanExportResult

        while True:
            with self._ready:
                while not self._batches and not self._closing:
                    self._ready.wait()
                if not self._batches:
                    return
                rows = self._batches.popleft()
            try:
                result = self.exporter.export([self.span(row) for row in rows])
            except Exception:
                log.exception("exporting spans failed")
                result = SpanExportResult.FAILURE
            if result == SpanExportResult.SUCCESS:
                self.exported += len(rows)
            else:
                self.failed += len(rows)

    def span(self, row: traces.Row) -> ReadableSpan:
        from opentelemetry.sdk.trace import ReadableSpan
        from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

        trace_id, at_ms, kind, name, detail, duration_ms, seq = row
        trace = int(trace_id, 16)
        root = _span_id(trace_id)
        is_root = kind == "http"
        span_id = root if is_root else _span_id(f"{trace_id}:{seq}:{kind}:{name}")
        flags = TraceFlags(TraceFlags.SAMPLED)
        context = SpanContext(trace, span_id, is_remote=False, trace_flags=flags)
        fields = traces.detail_of(detail)
        caller = fields.get("parent_span_id")
        if not is_root:
            parent: SpanContext | None = SpanContext(trace, root, False, trace_flags=flags)
        elif caller:  # the span of whoever sent the traceparent
            parent = SpanContext(trace, int(caller, 16), is_remote=True, trace_flags=flags)
        else:
            parent = None
        took_ns = int((duration_ms or 0) * 1_000_000)
        at_ns = at_ms * 1_000_000
        # An invocation's hop is taken when it starts; a delivery's when it is over (its
        # duration runs back to the publish); the others are instants.
        start, end = (at_ns - took_ns, at_ns) if kind == "delivery" else (at_ns, at_ns + took_ns)
        attributes: dict[str, Any] = {"sluiceway.hop": kind, "sluiceway.name": name}
        for key, value in fields.items():
            if value is None:
                continue
            attributes[f"sluiceway.{key}"] = (
                value if isinstance(value, str | bool | int | float) else traces.to_json(value)
            )
        if kind == "invoke":
            attributes["faas.invoked_name"] = name
            if "request_id" in fields:
                attributes["faas.invocation_id"] = fields["request_id"]
        failed = fields.get("ok") is False or fields.get("status") in ("failed", "error")
        status = (
            Status(StatusCode.ERROR, str(fields.get("error") or "failed"))
            if failed
            else Status(StatusCode.UNSET)
        )
        return ReadableSpan(
            name=f"{kind} {name}",
            context=context,
            parent=parent,
            resource=self.resource,
            attributes=attributes,
            kind=_kinds().get(kind, SpanKind.INTERNAL),
            status=status,
            start_time=start,
            end_time=end,
            instrumentation_scope=self.scope,
        )

    def shutdown(self) -> None:
        with self._ready:
            self._closing = True
            self._ready.notify()
        self._thread.join(self.SHUTDOWN_SECONDS)
        if self._thread.is_alive():
            with self._ready:
                self.dropped += sum(len(rows) for rows in self._batches)
                self._batches.clear()
            log.warning("the OpenTelemetry collector did not take the last spans in time")
        self.exporter.shutdown()


def _span_id(seed: str) -> int:
    value = int.from_bytes(hashlib.blake2b(seed.encode(), digest_size=8).digest(), "big")
    return value or 1


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sluiceway")
    except PackageNotFoundError:
        return "0"


@functools.cache
def _kinds() -> dict[str, Any]:
    from opentelemetry.trace import SpanKind

    return {
        "http": SpanKind.SERVER,
        "send": SpanKind.PRODUCER,
        "publish": SpanKind.PRODUCER,
        "invoke": SpanKind.CONSUMER,
        "delivery": SpanKind.CLIENT,
    }


def describe() -> str:
    """Where spans go, for the banner."""
    if configured() == "console":
        return "console"
    endpoint = _endpoint()
    return f"otlp {redact(endpoint)}" if endpoint else "otlp, its default endpoint"


def install(log: traces.TraceLog, service: str) -> bool:
    """Export `log`'s hops as spans if the environment configures an exporter; whether it
    does. Raises `OtelConfigError` for a configuration that cannot work."""
    exporter = exporter_from_env()
    if exporter is None:
        return False
    log.exporters.append(SpanExport(exporter, service))
    return True
