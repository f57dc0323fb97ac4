"""OpenTelemetry export: with OTEL_EXPORTER_OTLP_ENDPOINT set, one order's hops reach a real
OTLP/HTTP receiver as spans of the order's trace, in OTLP's protobuf; a configuration that
cannot work is refused at start, saying what to do."""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from conftest import EngineFactory
from otlp_collector import Collector, attributes_of
from sluiceway.blueprints.orders import app as orders_app
from sluiceway.cli import main
from sluiceway.core import otel
from sluiceway.core.clock import VirtualClock
from sluiceway.local import metrics
from support import SmtpServer, gateway, wait_until

ORDER = {"item": "latex gloves", "customerID": "12345"}
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def collector(monkeypatch: pytest.MonkeyPatch) -> Iterator[Collector]:
    receiver = Collector()
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    yield receiver
    receiver.close()


def test_one_order_reaches_an_otlp_receiver_as_the_spans_of_its_trace(
    make_engine: EngineFactory, smtp: SmtpServer, clock: VirtualClock, collector: Collector
) -> None:
    engine = make_engine(orders_app, smtp=smtp.url, auto_confirm=True)
    assert engine.exports_spans
    with gateway(engine) as url:
        answer = httpx.post(
            f"{url}/orders", json=ORDER, headers={"traceparent": TRACEPARENT}, timeout=10
        )
    assert answer.status_code == 200
    clock.advance(0.25)
    engine.drain()
    smtp.mailbox.wait_for(1)
    engine.drain()
    wait_until(lambda: len(collector.spans()) >= 6)

    assert set(collector.paths) == {"/v1/traces"}
    assert set(collector.content_types) == {"application/x-protobuf"}
    spans = sorted(collector.spans(), key=lambda found: found[1].start_time_unix_nano)
    assert {resource["service.name"] for resource, _ in spans} == {orders_app.name}
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"  # the caller's, from its traceparent
    assert {span.trace_id.hex() for _, span in spans} == {trace_id}
    names = [span.name for _, span in spans]
    assert names == [
        "http POST /orders",
        "invoke POC-Lambda-1",
        "item orders",
        "invoke POC-Lambda-2",
        "publish POC-Topic",
        "delivery email ops@example.com",
    ]
    root = spans[0][1]
    assert root.parent_span_id == bytes.fromhex("00f067aa0ba902b7")  # the caller's span
    assert root.kind == Span.SpanKind.SPAN_KIND_SERVER
    assert all(span.parent_span_id == root.span_id for _, span in spans[1:])
    assert len({span.span_id for _, span in spans}) == 6
    kinds = {span.name.split()[0]: span.kind for _, span in spans}
    assert kinds["invoke"] == Span.SpanKind.SPAN_KIND_CONSUMER
    assert kinds["publish"] == Span.SpanKind.SPAN_KIND_PRODUCER
    assert kinds["delivery"] == Span.SpanKind.SPAN_KIND_CLIENT

    invoke = attributes_of(spans[1][1])
    assert invoke["faas.invoked_name"] == "POC-Lambda-1"
    assert invoke["sluiceway.ok"] is True
    assert spans[1][1].end_time_unix_nano > spans[1][1].start_time_unix_nano
    item = attributes_of(spans[2][1])
    assert item["sluiceway.eventName"] == "INSERT"
    assert answer.json()["MessageId"] in item["sluiceway.keys"]
    delivery = spans[5][1]
    assert attributes_of(delivery)["sluiceway.status"] == "delivered"
    # A delivery's span runs from the publish to the moment it was delivered.
    assert delivery.start_time_unix_nano == spans[4][1].start_time_unix_nano
    assert delivery.status.code == delivery.status.STATUS_CODE_UNSET
    wait_until(lambda: engine.store.traces.exporters[0].exported == 6)  # type: ignore[attr-defined]
    assert 'sluiceway_otel_spans_total{outcome="exported"} 6' in metrics.render(engine)


def test_a_failed_invocation_is_an_error_span(
    make_engine: EngineFactory, clock: VirtualClock, collector: Collector
) -> None:
    from sluiceway import App

    app = App("failing")
    queue = app.queue("inbox")

    @app.on_queue(queue, name="Breaks")
    def breaks(event: dict[str, Any], context: Any) -> None:
        raise RuntimeError("the disk is on fire")

    app.route("POST", "/in", to=queue)
    engine = make_engine(app)
    with gateway(engine) as url:
        assert httpx.post(f"{url}/in", json={}, timeout=10).status_code == 200
    engine.drain()  # one failed attempt; the message waits out its visibility timeout
    wait_until(lambda: any(span.name == "invoke Breaks" for _, span in collector.spans()))
    failed = next(span for _, span in collector.spans() if span.name == "invoke Breaks")
    assert failed.status.code == failed.status.STATUS_CODE_ERROR
    assert "the disk is on fire" in failed.status.message
    assert attributes_of(failed)["sluiceway.ok"] is False


def test_otel_service_name_wins_over_the_apps_name(
    make_engine: EngineFactory, collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sluiceway import App

    monkeypatch.setenv("OTEL_SERVICE_NAME", "checkout")
    app = App("named")
    app.route("POST", "/in", to=app.queue("inbox"))
    engine = make_engine(app)
    with gateway(engine) as url:
        assert httpx.post(f"{url}/in", json={}, timeout=10).status_code == 200
    engine.store.traces.flush()
    wait_until(lambda: bool(collector.spans()))
    assert {resource["service.name"] for resource, _ in collector.spans()} == {"checkout"}


def test_nothing_is_exported_without_configuration(
    make_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    assert otel.configured() is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert otel.configured() is None
    assert not make_engine(orders_app).exports_spans


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER='zipkin'"),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
            "OTEL_EXPORTER_OTLP_PROTOCOL='http/json'",
        ),
    ],
)
def test_a_configuration_that_cannot_work_stops_sluiceway_run_with_its_reason(
    variables: dict[str, str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(
        main, ["run", "orders", "--data-dir", str(tmp_path / "data"), "--port", "0"]
    )
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_missing_packages_are_named_with_the_command_that_installs_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_PROTOCOL", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", raising=False)
    # As if the extra were not installed: importing the exporter fails.
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    with pytest.raises(otel.OtelConfigError, match=r"pip install 'sluiceway\[otel\]'"):
        otel.exporter_from_env()


def test_an_unreachable_collector_holds_up_nothing(
    make_engine: EngineFactory, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A port nobody listens on: every export is refused.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    engine = make_engine(orders_app, auto_confirm=True)
    export = engine.store.traces.exporters[0]
    assert isinstance(export, otel.SpanExport)
    with gateway(engine) as url:
        answers = [httpx.post(f"{url}/orders", json=ORDER, timeout=10) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    clock.advance(0.25)
    engine.drain()
    # The hops are stored all the same, and the failed exports are counted.
    trace_id = answers[0].headers["x-sluiceway-trace-id"]
    assert [h.kind for h in engine.store.traces.hops(trace_id)][:3] == ["http", "invoke", "item"]
    wait_until(lambda: export.failed > 0, timeout=30)
    scraped = metrics.render(engine)
    assert 'sluiceway_otel_spans_total{outcome="failed"}' in scraped
    assert 'sluiceway_otel_spans_total{outcome="exported"} 0' in scraped
    # Closing does not wait for the collector longer than its shutdown allowance.
    closed = threading.Thread(target=engine.close)
    closed.start()
    closed.join(timeout=30)
    assert not closed.is_alive()


def test_a_collector_that_cannot_keep_up_loses_the_oldest_spans_not_memory() -> None:
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    release = threading.Event()

    class Stuck(SpanExporter):
        def __init__(self) -> None:
            self.calls = 0

        def export(self, spans: Any) -> SpanExportResult:
            self.calls += 1
            release.wait(30)
            return SpanExportResult.SUCCESS

        def shutdown(self) -> None:
            release.set()

    stuck = Stuck()
    export = otel.SpanExport(stuck, "busy")
    row = ("ab" * 16, 0, "send", "inbox", None, None, 1)
    export.export([row])
    wait_until(lambda: stuck.calls == 1)  # that batch is with the collector, which hangs
    for _ in range(otel.SpanExport.MAX_BATCHES + 50):
        export.export([row])
    # Of the rest, the newest MAX_BATCHES wait; the 50 oldest are dropped and counted.
    assert export.dropped == 50
    release.set()
    wait_until(lambda: export.exported == otel.SpanExport.MAX_BATCHES + 1)
    export.shutdown()


def test_a_function_route_has_its_request_as_the_root_span(
    make_engine: EngineFactory, collector: Collector
) -> None:
    from sluiceway import App

    app = App("hello")

    @app.on_http("GET", "/hello/{name}", name="Hello")
    def hello(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": f"hello {event['pathParameters']['name']}"}

    engine = make_engine(app)
    with gateway(engine) as url:
        answer = httpx.get(f"{url}/hello/ada", timeout=10)
        plain = httpx.get(f"{url}/hello/bob", headers={"traceparent": "00-zz-yy-01"}, timeout=10)
    assert answer.text == "hello ada"
    assert plain.status_code == 200
    trace_id = answer.headers["x-sluiceway-trace-id"]
    engine.store.traces.flush()
    assert [(h.kind, h.name) for h in engine.store.traces.hops(trace_id)] == [
        ("http", "GET /hello/{name}"),
        ("invoke", "Hello"),
    ]
    wait_until(lambda: len(collector.spans()) >= 4)
    mine = [span for _, span in collector.spans() if span.trace_id.hex() == trace_id]
    root = next(span for span in mine if span.name == "http GET /hello/{name}")
    invoke = next(span for span in mine if span.name == "invoke Hello")
    assert root.parent_span_id == b""  # no (valid) traceparent: a trace of its own
    assert invoke.parent_span_id == root.span_id
    # The request's span lasts until its answer, around its invocation.
    assert root.start_time_unix_nano <= invoke.start_time_unix_nano
    assert root.end_time_unix_nano >= invoke.end_time_unix_nano > root.start_time_unix_nano
