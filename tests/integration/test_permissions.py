"""`uses=` is enforced locally the way IAM enforces it on AWS."""

from __future__ import annotations

from typing import Any

from conftest import EngineFactory
from sluiceway import AccessDenied, App


def test_a_handler_calling_outside_its_uses_is_denied_naming_the_permission(
    make_engine: EngineFactory,
) -> None:
    errors: list[BaseException] = []
    app = App("p")
    queue = app.queue("q")
    orders = app.table("orders", partition_key="orderID")
    topic = app.topic("t")

    @app.on_queue(queue, uses=[topic.publishes])
    def handler(event: dict[str, Any], context: Any) -> None:
        try:
            orders.put_item({"orderID": "x"})
        except AccessDenied as error:
            errors.append(error)
            raise

    engine = make_engine(app)
    queue.send_message("m")
    engine.drain()
    (error,) = errors
    assert str(error).startswith(
        "function 'handler' is not authorized to perform dynamodb:PutItem on table 'orders'"
    )
    assert "add orders.writes to uses=[...]" in str(error)
    assert orders.scan() == []


def test_reads_and_writes_are_separate_permissions(make_engine: EngineFactory) -> None:
    outcomes: list[str] = []
    app = App("p")
    queue = app.queue("q")
    orders = app.table("orders", partition_key="orderID")

    @app.on_queue(queue, uses=[orders.writes])
    def handler(event: dict[str, Any], context: Any) -> None:
        orders.put_item({"orderID": "x"})
        try:
            orders.get_item({"orderID": "x"})
        except AccessDenied as error:
            outcomes.append(error.action)

    engine = make_engine(app)
    queue.send_message("m")
    engine.drain()
    assert outcomes == ["dynamodb:GetItem"]


def test_sending_to_another_queue_needs_its_sends_permission(make_engine: EngineFactory) -> None:
    app = App("p")
    source = app.queue("source")
    target = app.queue("target")
    allowed = app.queue("allowed")
    denied: list[str] = []

    @app.on_queue(source, uses=[allowed.sends])
    def handler(event: dict[str, Any], context: Any) -> None:
        allowed.send_message("ok")
        try:
            target.send_message("no")
        except AccessDenied as error:
            denied.append(error.resource)

    engine = make_engine(app)
    source.send_message("m")
    engine.drain()
    assert denied == ["queue 'target'"]
    assert (
        engine.store.query(
            "SELECT COUNT(*) AS n FROM messages m JOIN queues q ON q.id = m.queue_id "
            "WHERE q.name = 'allowed'"
        )[0]["n"]
        == 1
    )
