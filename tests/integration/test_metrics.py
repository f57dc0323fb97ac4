"""`GET /metrics` on the runtime's port: Prometheus text that the Prometheus client parses,
and whose numbers move as orders flow through the orders blueprint."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from conftest import EngineFactory
from sluiceway import App
from sluiceway.blueprints.orders import app as orders_app
from sluiceway.core.clock import VirtualClock
from sluiceway.firewall import Rule, managed
from support import SmtpServer, gateway

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    answer = httpx.get(f"{url}/metrics", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_move_as_orders_flow_from_http_to_email(
    make_engine: EngineFactory, smtp: SmtpServer, clock: VirtualClock
) -> None:
    engine = make_engine(orders_app, smtp=smtp.url, auto_confirm=True)
    with gateway(engine) as url:
        before = scrape(url)
        assert value(before, "sluiceway_http_requests_total", route="/orders") == 0
        for n in range(3):
            assert httpx.post(f"{url}/orders", json={"item": n}).status_code == 200
        assert httpx.post(f"{url}/orders", json=[1]).status_code == 400
        assert httpx.get(f"{url}/no/such/page").status_code == 403  # as API Gateway
        clock.advance(30)
        waiting = scrape(url)
        engine.drain()
        smtp.mailbox.wait_for(3)
        after = scrape(url)

    ok = {"route": "/orders", "method": "POST", "status": "200"}
    assert value(waiting, "sluiceway_http_requests_total", **ok) == 3
    assert value(waiting, "sluiceway_http_requests_total", **{**ok, "status": "400"}) == 1
    assert (
        value(
            waiting,
            "sluiceway_http_requests_total",
            route="(unmatched)",
            method="GET",
            status="403",
        )
        == 1
    )
    assert value(waiting, "sluiceway_http_request_duration_seconds_count", route="/orders") == 4
    assert (
        value(waiting, "sluiceway_http_request_duration_seconds_bucket", route="/orders", le="+Inf")
        == 4
    )
    assert value(waiting, "sluiceway_queue_messages", queue="POC-Queue", state="visible") == 3
    assert value(waiting, "sluiceway_queue_oldest_message_age_seconds", queue="POC-Queue") == 30
    lambda_1 = {"mapping": "POC-Lambda-1", "source": "queue:POC-Queue"}
    assert value(waiting, "sluiceway_mapping_records_behind", **lambda_1) == 3
    assert value(waiting, "sluiceway_mapping_lag_seconds", **lambda_1) == 30
    assert value(waiting, "sluiceway_invocations_total", function="POC-Lambda-1") == 0

    assert value(after, "sluiceway_queue_messages", queue="POC-Queue", state="visible") == 0
    assert value(after, "sluiceway_mapping_records_behind", **lambda_1) == 0
    assert value(after, "sluiceway_mapping_lag_seconds", **lambda_1) == 0
    lambda_2 = {"mapping": "POC-Lambda-2", "source": "table:orders"}
    assert value(after, "sluiceway_mapping_records_behind", **lambda_2) == 0
    assert value(after, "sluiceway_mapping_paused", **lambda_2) == 0
    for function in ("POC-Lambda-1", "POC-Lambda-2"):
        assert value(after, "sluiceway_invocations_total", function=function) >= 1
        assert value(after, "sluiceway_invocation_errors_total", function=function) == 0
        assert value(after, "sluiceway_invocation_duration_seconds_count", function=function) >= 1
    assert value(after, "sluiceway_deliveries", protocol="email", status="delivered") == 3
    assert (
        value(after, "sluiceway_delivery_attempts_total", protocol="email", outcome="delivered")
        == 3
    )
    commits = value(after, "sluiceway_store_commits_total")
    assert commits > value(before, "sluiceway_store_commits_total")
    assert value(after, "sluiceway_store_fsyncs_total") == commits
    assert value(after, "sluiceway_store_group_commit_size_count") == commits
    assert value(after, "sluiceway_store_committed_ops_total") >= commits
    assert value(after, "sluiceway_store_group_commit_size_bucket", le="+Inf") == commits


def test_a_stream_mapping_behind_shows_its_records_and_their_age(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    app = App("feed")
    things = app.table("things", partition_key="id", stream="NEW_IMAGE")
    seen: list[str] = []

    @app.on_stream(things, parallelization_factor=2)
    def watch(event: dict[str, object], context: object) -> None:
        seen.append("batch")

    engine = make_engine(app)
    with gateway(engine) as url:
        for n in range(5):
            things.put_item({"id": f"t{n}"})
        clock.advance(12)
        behind = scrape(url)
        engine.drain()
        caught_up = scrape(url)
    labels = {"mapping": "watch", "source": "table:things"}
    assert value(behind, "sluiceway_mapping_records_behind", **labels) == 5
    assert value(behind, "sluiceway_mapping_lag_seconds", **labels) == 12
    assert value(behind, "sluiceway_mapping_retry_attempts", **labels) == 0
    assert value(caught_up, "sluiceway_mapping_records_behind", **labels) == 0
    assert seen


def test_invocation_errors_are_counted_per_function(make_engine: EngineFactory) -> None:
    app = App("failing")
    jobs = app.queue("jobs")

    @app.on_queue(jobs)
    def broken(event: dict[str, object], context: object) -> None:
        raise RuntimeError("no")

    engine = make_engine(app)
    with gateway(engine) as url:
        jobs.send_message("{}")
        engine.drain()
        samples = scrape(url)
    assert value(samples, "sluiceway_invocations_total", function="broken") == 1
    assert value(samples, "sluiceway_invocation_errors_total", function="broken") == 1


def test_the_firewall_counts_its_verdicts_and_does_not_screen_metrics(
    make_engine: EngineFactory,
) -> None:
    app = App("guarded")
    inbox = app.queue("inbox")
    app.route("POST", "/open", to=inbox)
    app.firewall([Rule("sqli", 0, "block", managed("AWSManagedRulesSQLiRuleSet"))], default="block")
    engine = make_engine(app)
    with gateway(engine) as url:
        assert httpx.post(f"{url}/open", json={"q": "1' OR '1'='1' --"}).status_code == 403
        assert httpx.post(f"{url}/open", json={"q": "fine"}).status_code == 403  # default: block
        samples = scrape(url)
    assert (
        value(samples, "sluiceway_firewall_requests_total", rule="sqli:SQLi_BODY", action="blocked")
        == 1
    )
    assert (
        value(samples, "sluiceway_firewall_requests_total", rule="Default_Action", action="blocked")
        == 1
    )
    assert (
        value(samples, "sluiceway_http_requests_total", route="/open", method="POST", status="403")
        == 2
    )
