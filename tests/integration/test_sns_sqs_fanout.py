"""A topic fanned out to queues as declared (`topic.subscribe("sqs", queue)`): a handler's
publish lands in each subscribed queue, as SNS's envelope or raw, through the subscription's
filter policy, and on to the queue's own function."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import EngineFactory
from sluiceway import App, DeclarationError, Queue, Topic
from sluiceway.local import Admin, LocalEngine
from sluiceway.sns.signing import verify

ORDER = {"kind": {"DataType": "String", "StringValue": "order"}}
REFUND = {"kind": {"DataType": "String", "StringValue": "refund"}}


class Consumer:
    """A queue's function: the SQS records it was handed."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> None:
        self.records.extend(event["Records"])


def visible(engine: LocalEngine) -> dict[str, int]:
    with Admin(engine.settings.data_dir, clock=engine.clock) as admin:
        return {s.name: s.visible for s in admin.queue_stats()}


def fanout_app(audit: Consumer, raw: Consumer) -> tuple[App, Topic, dict[str, Queue]]:
    """An HTTP-free pipeline: a `checkout` function publishes to `orders`, which fans out to
    `audit` (the envelope), `ledger` (raw) and `refunds` (raw, refunds only, no consumer)."""
    app = App("fanout")
    orders = app.topic("orders")
    queues = {name: app.queue(name) for name in ("jobs", "audit", "ledger", "refunds")}
    orders.subscribe("sqs", queues["audit"])
    orders.subscribe("sqs", queues["ledger"], raw_message_delivery=True)
    orders.subscribe(
        "sqs", queues["refunds"], raw_message_delivery=True, filter_policy={"kind": ["refund"]}
    )

    @app.on_queue(queues["jobs"], uses=[orders.publishes], name="checkout")
    def checkout(event: Any, context: Any) -> None:
        for record in event["Records"]:
            job = json.loads(record["body"])
            orders.publish(job["text"], subject="New order", message_attributes=job["attributes"])

    app.on_queue(queues["audit"], name="auditor")(audit)
    app.on_queue(queues["ledger"], name="bookkeeper")(raw)
    return app, orders, queues


def test_a_handler_s_publish_reaches_each_queue_s_function_as_envelope_or_raw(
    make_engine: EngineFactory,
) -> None:
    audit, ledger = Consumer(), Consumer()
    app, _, queues = fanout_app(audit, ledger)
    engine = make_engine(app)
    queues["jobs"].send_message(json.dumps({"text": "order o-1", "attributes": ORDER}))
    engine.drain()

    (record,) = audit.records
    assert record["eventSourceARN"] == "arn:aws:sqs:us-east-1:000000000000:audit"
    envelope = json.loads(record["body"])
    assert envelope["Type"] == "Notification"
    assert envelope["TopicArn"] == "arn:aws:sns:us-east-1:000000000000:orders"
    assert (envelope["Subject"], envelope["Message"]) == ("New order", "order o-1")
    assert envelope["MessageAttributes"] == {"kind": {"Type": "String", "Value": "order"}}
    assert verify(engine.signer.certificate(), envelope)
    assert record["messageAttributes"] == {}

    (raw,) = ledger.records
    assert raw["body"] == "order o-1"
    assert raw["messageAttributes"]["kind"]["stringValue"] == "order"
    assert raw["messageAttributes"]["kind"]["dataType"] == "String"
    # The refunds subscription's filter policy dropped the order: nothing waits there.
    assert visible(engine)["refunds"] == 0


def test_a_filter_policy_lets_through_only_what_it_matches(make_engine: EngineFactory) -> None:
    app, orders, _ = fanout_app(Consumer(), Consumer())
    engine = make_engine(app)
    orders.publish("refund r-1", message_attributes=REFUND)
    orders.publish("order o-2", message_attributes=ORDER)
    orders.publish("no attributes")
    # Sent in the publish's own transaction: there before any worker runs.
    assert visible(engine)["refunds"] == 1
    with Admin(engine.settings.data_dir, clock=engine.clock) as admin:
        rows = [(d.destination, d.status) for d in admin.deliveries() if "refunds" in d.destination]
    assert sorted(status for _, status in rows) == ["delivered", "filtered", "filtered"]


def test_a_declared_subscription_is_stored_as_subscribe_stores_one(
    make_engine: EngineFactory,
) -> None:
    app, _, _ = fanout_app(Consumer(), Consumer())
    engine = make_engine(app)
    rows = (
        engine.store.reader()
        .execute(
            "SELECT endpoint, status, attributes, filter_policy FROM subscriptions "
            "ORDER BY endpoint"
        )
        .fetchall()
    )
    prefix = "arn:aws:sqs:us-east-1:000000000000:"
    assert [(r[0], r[1], json.loads(r[2] or "{}"), r[3] is not None) for r in rows] == [
        (prefix + "audit", "confirmed", {}, False),
        (prefix + "ledger", "confirmed", {"RawMessageDelivery": "true"}, False),
        (prefix + "refunds", "confirmed", {"RawMessageDelivery": "true"}, True),
    ]


def test_redeclaring_without_raw_delivery_sends_the_envelope_again(
    make_engine: EngineFactory,
) -> None:
    first = App("fanout")
    topic, queue = first.topic("orders"), first.queue("ledger")
    topic.subscribe("sqs", queue, raw_message_delivery=True)
    make_engine(first).close()

    again = App("fanout")
    topic, queue = again.topic("orders"), again.queue("ledger")
    topic.subscribe("sqs", queue)
    consumer = Consumer()
    again.on_queue(queue, name="bookkeeper")(consumer)
    engine = make_engine(again)
    topic.publish("order o-3")
    engine.drain()
    (record,) = consumer.records
    assert json.loads(record["body"])["Message"] == "order o-3"


def test_an_sqs_subscription_takes_a_standard_queue_of_the_app_by_its_handle() -> None:
    app = App("bad")
    topic = app.topic("orders")
    queue = app.queue("audit")
    with pytest.raises(DeclarationError, match=r"topic.subscribe\('sqs', app.queue"):
        topic.subscribe("sqs", "arn:aws:sqs:us-east-1:000000000000:audit")
    with pytest.raises(DeclarationError, match="not declared in app 'bad'"):
        topic.subscribe("sqs", App("other").queue("audit"))
    with pytest.raises(DeclarationError, match="FIFO queue to a standard topic"):
        topic.subscribe("sqs", app.queue("audit.fifo"))
    with pytest.raises(DeclarationError, match="subscribe it with protocol 'sqs'"):
        topic.subscribe("email", queue)
    with pytest.raises(DeclarationError, match="raw_message_delivery is for sqs"):
        topic.subscribe("email", "ops@example.com", raw_message_delivery=True)
    topic.subscribe("sqs", queue)
    with pytest.raises(DeclarationError, match="declared twice"):
        topic.subscribe("sqs", queue, raw_message_delivery=True)
    assert [(s.protocol, s.endpoint) for s in app.graph.subscriptions] == [("sqs", "audit")]
