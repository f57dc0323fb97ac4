"""Declaring an app: inert, validated at once, with errors that name the resource and the fix."""

from __future__ import annotations

from typing import Any

import pytest

from sluiceway import App, DeclarationError, NotBound
from sluiceway.awslambda.permissions import grants_for
from sluiceway.awslambda.spec import QueueSource, StreamSource


def handler(event: Any, context: Any) -> None:
    return None


def test_declaring_records_frozen_specs_and_opens_nothing(tmp_path: Any) -> None:
    app = App("orders")
    dlq = app.queue("POC-DLQ")
    queue = app.queue("POC-Queue", visibility_timeout=30, dead_letter=dlq, max_receive_count=5)
    orders = app.table("orders", partition_key="orderID", stream="NEW_IMAGE")
    topic = app.topic("POC-Topic")
    topic.subscribe("email", "ops@example.com")
    app.route("POST", "/orders", to=queue)
    app.on_queue(queue, uses=[orders.writes])(handler)

    graph = app.graph
    assert [q.name for q in graph.queues] == ["POC-DLQ", "POC-Queue"]
    assert graph.queue("POC-Queue").dead_letter == "POC-DLQ"
    assert graph.table("orders").partition_key.name == "orderID"
    assert graph.function("handler").source == QueueSource("POC-Queue")
    assert list(tmp_path.iterdir()) == []


def test_a_handle_used_before_the_app_runs_says_how_to_run_it() -> None:
    app = App("orders")
    queue = app.queue("q")
    with pytest.raises(NotBound, match="sluiceway run"):
        queue.send_message("x")


def test_the_decorator_returns_the_function_unchanged() -> None:
    app = App("a")
    queue = app.queue("q")
    assert app.on_queue(queue)(handler) is handler


@pytest.mark.parametrize(
    ("declare", "message"),
    [
        (
            lambda app: app.table("t01", partition_key="id", stream="FULL"),
            "unknown stream view type 'FULL'",
        ),
        (lambda app: app.queue("bad name"), "queue 'bad name'"),
        (
            lambda app: app.queue("q", visibility_timeout=50_000),
            "visibility_timeout=50000 is outside 0..43200",
        ),
        (
            lambda app: app.queue("q", max_receive_count=3),
            "needs both dead_letter and max_receive_count",
        ),
        (lambda app: app.table("ab", partition_key="id"), "table 'ab'"),
        (lambda app: app.topic("t" * 300), "topic"),
        (
            lambda app: app.on_queue(app.queue("q"), batch_size=0)(handler),
            "batch_size=0 is outside 1..10000",
        ),
        (
            lambda app: app.on_queue(app.queue("q"), maximum_concurrency=1)(handler),
            "maximum_concurrency=1 is outside 2..1000",
        ),
        (
            lambda app: app.on_queue(app.queue("q.fifo"), batch_size=11)(handler),
            "batch_size=11 is outside 1..10 for a FIFO queue",
        ),
        (
            lambda app: app.queue("plain", content_based_deduplication=True),
            "content_based_deduplication applies to FIFO queues only",
        ),
        (
            lambda app: app.on_queue(app.queue("q"), batch_size=100)(handler),
            "needs a batching window",
        ),
        (
            lambda app: app.on_queue(app.queue("q", visibility_timeout=5), timeout=10)(handler),
            "less than the function's timeout",
        ),
        (
            lambda app: app.on_stream(app.table("tab", partition_key="id"))(handler),
            "table 'tab' has no stream",
        ),
        (
            lambda app: app.on_stream(
                app.table("tab", partition_key="id", stream="NEW_IMAGE"),
                starting_position="AT_TIMESTAMP",
            )(handler),
            "starting_position='AT_TIMESTAMP'",
        ),
        (lambda app: app.route("GET", "/orders", to=app.queue("q")), "cannot carry a body"),
        (
            lambda app: app.route("POST", "/console/x", to=app.queue("q")),
            "the runtime serves this path",
        ),
        (
            lambda app: app.topic("t").subscribe("email", "not-an-address"),
            "is not an email address",
        ),
        (lambda app: app.topic("t").subscribe("carrier-pigeon", "x"), "unsupported protocol"),
        (lambda app: app.on_queue(app.queue("q"), name="one")(lambda event: None), "two arguments"),
    ],
)
def test_a_bad_declaration_fails_at_once_naming_the_resource(declare: Any, message: str) -> None:
    app = App("a")
    with pytest.raises(DeclarationError, match="Fix: ") as caught:
        declare(app)
    assert message in str(caught.value)


def test_a_route_to_a_queue_of_another_app_is_refused() -> None:
    other = App("other").queue("elsewhere")
    app = App("a")
    with pytest.raises(DeclarationError, match="queue 'elsewhere' is not declared in app 'a'"):
        app.route("POST", "/orders", to=other)


def test_a_function_may_not_use_a_resource_of_another_app() -> None:
    foreign = App("other").table("foreign", partition_key="id")
    app = App("a")
    with pytest.raises(DeclarationError, match=r"uses=foreign.writes names a table not declared"):
        app.on_queue(app.queue("q"), uses=[foreign.writes])(handler)


def test_names_are_declared_once() -> None:
    app = App("a")
    app.queue("q")
    with pytest.raises(DeclarationError, match="declared twice"):
        app.queue("q")
    app.on_queue(app.queue("r"), name="fn")(handler)
    with pytest.raises(DeclarationError, match="declared twice"):
        app.on_queue(app.queue("s"), name="fn")(handler)


def test_stream_filters_are_checked_at_declaration() -> None:
    app = App("a")
    table = app.table("tab", partition_key="id", stream="NEW_IMAGE")
    with pytest.raises(DeclarationError, match="invalid filter"):
        app.on_stream(table, filter={"eventName": "INSERT"})(handler)
    app.on_stream(table, filter={"eventName": ["INSERT"]}, name="ok")(handler)
    source = app.graph.function("ok").source
    assert isinstance(source, StreamSource)
    assert source.filters == ('{"eventName":["INSERT"]}',)


def test_grants_come_from_the_event_source_and_uses() -> None:
    app = App("a")
    queue = app.queue("q")
    table = app.table("tab", partition_key="id")
    topic = app.topic("t")
    app.on_queue(queue, uses=[table.writes, topic.publishes])(handler)
    grants = {(g.kind, g.name): g.actions for g in grants_for(app.graph.function("handler"))}
    assert "sqs:DeleteMessage" in grants[("queue", "q")]
    assert "dynamodb:PutItem" in grants[("table", "tab")]
    assert "dynamodb:GetItem" not in grants[("table", "tab")]
    assert grants[("topic", "t")] == {"sns:Publish"}


def test_a_parameter_can_stand_for_a_subscription_endpoint() -> None:
    app = App("a")
    email = app.parameter("notify_email", default="ops@example.com")
    app.topic("t").subscribe("email", email)
    assert app.graph.subscriptions[0].endpoint is email
    assert email.env_var == "SLUICEWAY_NOTIFY_EMAIL"


@pytest.mark.parametrize(
    ("environment", "problem"),
    [
        ({"AWS_REGION": "eu-west-1"}, "AWS_REGION is reserved: Lambda sets it"),
        ({"SLUICEWAY_APP": "x"}, "SLUICEWAY_APP is reserved"),
        ({"1ST": "x"}, "name '1ST' is not allowed"),
        ({"A-B": "x"}, "name 'A-B' is not allowed"),
        ({"PORT": 8080}, "PORT=8080 is not a string"),
        ({"BIG": "x" * 5000}, "more than Lambda's 4096"),
        (["A", "B"], "is not a mapping"),
    ],
)
def test_a_functions_environment_is_checked_as_lambda_checks_it(
    environment: Any, problem: str
) -> None:
    app = App("envs")
    with pytest.raises(DeclarationError, match=problem):
        app.function(environment=environment)(handler)
    assert app.graph.functions == ()


def test_environment_and_reserved_concurrency_are_kept_on_the_function() -> None:
    app = App("envs")
    app.function(environment={"BB": "2", "AA": "1"}, reserved_concurrency=3)(handler)
    spec = app.graph.function("handler")
    assert spec.variables == {"AA": "1", "BB": "2"}
    assert spec.reserved_concurrency == 3
    with pytest.raises(DeclarationError, match=r"reserved_concurrency=0 is outside 1\.\.1000"):
        App("other").function(reserved_concurrency=0)(handler)
