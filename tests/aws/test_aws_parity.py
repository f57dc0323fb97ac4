"""The same handler source, two engines, one outcome: the orders blueprint run by the local
engine, and run by the Lambda shim on boto3 against the rendered stack in moto, with events
built by the local engine's builders. Both store the same orders and publish the same
notifications for the same requests (up to the ids and clocks each engine assigns)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import boto3
import pytest
from aws_support import FakeLambda, Stack, fake_aws, notifications, observe_topic, sam_transform

from conftest import EngineFactory
from sluiceway.apigateway.spec import RouteSpec
from sluiceway.aws import Boto3Backend, Code, ResourceNames, template_for
from sluiceway.blueprints.orders import app, orders
from sluiceway.core import naming
from sluiceway.core.render import names
from sluiceway.local import Admin

SEED_ORDER = json.dumps({"item": "latex gloves", "customerID": "12345"})
Request = tuple[str, dict[str, str]]  # body, headers

SCENARIOS: dict[str, list[Request]] = {
    "the seed's order": [(SEED_ORDER, {})],
    "one order sent three times with one idempotency key": [
        (SEED_ORDER, {"Idempotency-Key": "order-77"}),
        (SEED_ORDER, {"idempotency-key": "order-77"}),
        (SEED_ORDER, {"IDEMPOTENCY-KEY": "order-77"}),
    ],
    "two orders, one keyed": [
        (json.dumps({"item": "mask", "qty": 3, "rush": True}), {"Idempotency-Key": "k-1"}),
        (json.dumps({"item": "gown", "sizes": ["S", "M"]}), {}),
    ],
}


@dataclass(frozen=True)
class Outcome:
    answers: list[list[str]]  # the keys of each HTTP answer
    orders: list[dict[str, Any]]
    published: list[tuple[str, str]]  # (subject, message)


def normalized(
    answers: list[dict[str, str]], items: list[dict[str, Any]], published: list[tuple[str, str]]
) -> Outcome:
    """Each engine's own message ids and clock readings, replaced by placeholders."""
    ids = {a["MessageId"]: f"<message {n}>" for n, a in enumerate(answers, start=1)}

    def text(value: str) -> str:
        for real, placeholder in ids.items():
            value = value.replace(real, placeholder)
        return value

    rows = []
    for item in items:
        assert isinstance(item.pop("receivedAt"), Decimal)  # SentTimestamp, each engine's clock
        rows.append({k: text(v) if isinstance(v, str) else v for k, v in item.items()})
    return Outcome(
        answers=[sorted(a) for a in answers],
        orders=sorted(rows, key=lambda r: str(r["orderID"])),
        published=sorted((text(s), text(m)) for s, m in published),
    )


def on_the_local_engine(make_engine: EngineFactory, requests: list[Request]) -> Outcome:
    engine = make_engine(app, auto_confirm=True)
    with Admin(engine.settings.data_dir, clock=engine.clock) as admin:
        answers = [admin.send("/orders", body.encode(), headers=h) for body, h in requests]
    engine.drain()
    items = orders.scan()
    rows = engine.store.query("SELECT subject, message FROM notifications ORDER BY id")
    engine.close()
    return normalized(answers, items, [(r["subject"], r["message"]) for r in rows])


def through_the_api(stack: Stack, route: RouteSpec, body: str, headers: dict[str, str]) -> Any:
    """What the route's integration sends: its request template, read as Python (the body
    as sent, each forwarded header found case-insensitively as a String attribute), and the
    answer its response template makes of SendMessage's result."""
    lowered = {k.lower(): v for k, v in headers.items()}
    attributes = {
        name: {"DataType": "String", "StringValue": lowered[name.lower()]}
        for name in route.forward_headers
        if lowered.get(name.lower())
    }
    result = boto3.client("sqs").send_message(
        QueueUrl=stack.physical[naming.logical_id(route.target.queue)],
        MessageBody=body,
        **({"MessageAttributes": attributes} if attributes else {}),
    )
    keys = ("MessageId", "MD5OfMessageBody", "MD5OfMessageAttributes")
    return {k: result[k] for k in keys if result.get(k)}


def on_aws(requests: list[Request]) -> Outcome:
    with fake_aws():
        template = sam_transform(template_for(app.graph, Code("sluiceway.blueprints.orders:app")))
        stack = Stack.deploy(template)
        lam = FakeLambda(stack)
        observer = observe_topic(stack.physical["POCTopic"])
        (route,) = app.graph.routes
        answers = [through_the_api(stack, route, body, h) for body, h in requests]
        lam.drain()
        table = Boto3Backend(
            ResourceNames(table_names={"orders": stack.physical[names.resource_id("orders")]})
        )
        items = table.scan(orders.spec, limit=None)
        published = [(e["Subject"], e["Message"]) for e in notifications(observer)]
    app.bind(None)
    return normalized(answers, items, published)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_orders_blueprint_has_the_same_outcome_locally_and_on_aws(
    make_engine: EngineFactory, scenario: str
) -> None:
    requests = SCENARIOS[scenario]
    local = on_the_local_engine(make_engine, requests)
    assert on_aws(requests) == local
    assert len(local.published) == len(local.orders) > 0


def test_the_seed_order_is_stored_and_announced_as_the_blueprint_says() -> None:
    outcome = on_aws(SCENARIOS["the seed's order"])
    assert outcome.answers == [["MD5OfMessageBody", "MessageId"]]
    assert outcome.orders == [
        {"orderID": "<message 1>", "order": SEED_ORDER, "messageId": "<message 1>"}
    ]
    assert outcome.published == [
        (
            "New order <message 1>",
            "New order <message 1>\n\nitem: latex gloves\ncustomerID: 12345\n\n"
            "Message id: <message 1>",
        )
    ]


def test_a_redelivered_message_stores_and_announces_nothing_more_on_aws() -> None:
    with fake_aws():
        template = sam_transform(template_for(app.graph, Code("sluiceway.blueprints.orders:app")))
        stack = Stack.deploy(template)
        lam = FakeLambda(stack)
        observer = observe_topic(stack.physical["POCTopic"])
        (route,) = app.graph.routes
        through_the_api(stack, route, SEED_ORDER, {"Idempotency-Key": "again"})
        lam.drain()
        first_event = lam.invocations[0][1]
        result = lam.invoke("POCLambda1", first_event)  # Lambda delivering it a second time
        lam.drain()
        published = notifications(observer)
    app.bind(None)
    assert result == {"batchItemFailures": []}
    assert [e["Subject"] for e in published] == ["New order again"]
