"""`sluiceway run` with OpenTelemetry's variables set, as a user starts it: the banner says
where spans go, and one order reaches the collector as the spans of its trace."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from runtime import RuntimeProcess

from otlp_collector import Collector
from support import SmtpServer, wait_until

pytestmark = pytest.mark.slow


def test_an_order_reaches_the_collector_as_spans(tmp_path: Path, smtp: SmtpServer) -> None:
    collector = Collector()
    runtime = RuntimeProcess(
        tmp_path / "data",
        ["--smtp", smtp.url, "--auto-confirm"],
        env={"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "OTEL_SERVICE_NAME": "shop"},
    )
    try:
        runtime.start()
        banner = f"  traces: exported to OpenTelemetry (otlp {collector.url})"
        wait_until(lambda: banner in runtime.output)  # the lines after the ready line
        answer = httpx.post(
            f"{runtime.url}/orders", json={"item": "mop", "customerID": "7"}, timeout=10
        )
        assert answer.status_code == 200
        trace_id = answer.headers["x-sluiceway-trace-id"]
        smtp.mailbox.wait_for(1)

        def names() -> list[str]:
            spans = collector.spans()
            return sorted(s.name for _, s in spans if s.trace_id.hex() == trace_id)

        wait_until(lambda: len(names()) == 6)
        assert names() == sorted(
            [
                "http POST /orders",
                "invoke POC-Lambda-1",
                "item orders",
                "invoke POC-Lambda-2",
                "publish POC-Topic",
                "delivery email ops@example.com",
            ]
        )
        assert {resource["service.name"] for resource, _ in collector.spans()} == {"shop"}
    finally:
        assert runtime.stop() == 0
        collector.close()
