"""SNS to SQS over the wire: a queue subscribed to a topic gets each publish, in SNS's signed
envelope or raw, in the publish's own transaction (boto3 on both sides)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import ServeFactory
from sluiceway import App
from sluiceway.sns import outbox, signing
from support import Wire

REGION = "arn:aws:sns:us-east-1:000000000000"
TOPIC = f"{REGION}:orders"


def _app() -> App:
    app = App("wire-sns-sqs")
    topic = app.topic("orders")
    jobs = app.queue("jobs")

    @app.on_queue(jobs, uses=[topic.publishes])
    def announcer(event: Any, context: Any) -> None:
        for record in event["Records"]:
            topic.publish(record["body"], subject="from a handler")

    return app


def _queue(wire: Wire, name: str, **attributes: str) -> tuple[str, str]:
    """A new queue: (URL, ARN)."""
    sqs = wire.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def _subscribe(wire: Wire, queue_arn: str, **attributes: str) -> str:
    arn: str = wire.client("sns").subscribe(
        TopicArn=TOPIC, Protocol="sqs", Endpoint=queue_arn, Attributes=attributes
    )["SubscriptionArn"]
    return arn


def _received(wire: Wire, url: str) -> list[dict[str, Any]]:
    answer = wire.client("sqs").receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )
    messages: list[dict[str, Any]] = answer.get("Messages", [])
    return messages


def test_a_subscribed_queue_gets_the_signed_envelope(serve: ServeFactory) -> None:
    wire = serve(_app())
    url, queue_arn = _queue(wire, "audit")
    subscription = _subscribe(wire, queue_arn)
    assert subscription.startswith(TOPIC + ":")  # confirmed at once, no confirmation message
    listed = wire.client("sns").list_subscriptions_by_topic(TopicArn=TOPIC)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"], s["SubscriptionArn"]) for s in listed] == [
        ("sqs", queue_arn, subscription)
    ]
    published = wire.client("sns").publish(
        TopicArn=TOPIC,
        Message="New order o-1",
        Subject="New order",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "order"}},
    )
    # In the publish's transaction: no delivery worker has run.
    (message,) = _received(wire, url)
    envelope = json.loads(message["Body"])
    assert envelope["Type"] == "Notification"
    assert envelope["MessageId"] == published["MessageId"]
    assert envelope["TopicArn"] == TOPIC
    assert envelope["Subject"] == "New order"
    assert envelope["Message"] == "New order o-1"
    assert envelope["SignatureVersion"] == "1"
    assert envelope["MessageAttributes"] == {"kind": {"Type": "String", "Value": "order"}}
    assert envelope["Timestamp"].endswith("Z")
    assert len(envelope["Timestamp"]) == 24
    assert "SubscriptionArn=" in envelope["UnsubscribeURL"]
    assert "MessageAttributes" not in message  # they are in the envelope, not on the message
    # The runtime serves its certificate (the serve fixture leaves the links' base URL as
    # configured, so the certificate is fetched from where the test's runtime listens).
    assert envelope["SigningCertURL"].endswith(signing.CERT_PATH)
    with urllib.request.urlopen(wire.url.rstrip("/") + signing.CERT_PATH) as response:
        certificate = response.read()
    assert signing.verify(certificate, envelope)
    assert not signing.verify(certificate, {**envelope, "Message": "tampered"})
    (delivery,) = list(outbox.list_deliveries(wire.engine.store.reader()))
    assert (delivery.protocol, delivery.status, delivery.attempts) == ("sqs", "delivered", 1)


def test_raw_message_delivery_sends_the_message_and_its_attributes(serve: ServeFactory) -> None:
    wire = serve(_app())
    url, queue_arn = _queue(wire, "raw")
    subscription = _subscribe(wire, queue_arn, RawMessageDelivery="true")
    attributes = wire.client("sns").get_subscription_attributes(SubscriptionArn=subscription)
    assert attributes["Attributes"]["RawMessageDelivery"] == "true"
    assert attributes["Attributes"]["PendingConfirmation"] == "false"
    wire.client("sns").publish(
        TopicArn=TOPIC,
        Message='{"order": "o-1"}',
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "order"},
            "total": {"DataType": "Number", "StringValue": "12"},
        },
    )
    (message,) = _received(wire, url)
    assert message["Body"] == '{"order": "o-1"}'
    assert message["MessageAttributes"] == {
        "kind": {"DataType": "String", "StringValue": "order"},
        "total": {"DataType": "Number", "StringValue": "12"},
    }


def test_a_filter_policy_drops_what_it_does_not_match(serve: ServeFactory) -> None:
    wire = serve(_app())
    url, queue_arn = _queue(wire, "big-orders")
    policy = json.dumps({"total": [{"numeric": [">", 100]}]})
    subscription = _subscribe(wire, queue_arn, FilterPolicy=policy, RedrivePolicy="{}")
    shown = wire.client("sns").get_subscription_attributes(SubscriptionArn=subscription)
    assert json.loads(shown["Attributes"]["FilterPolicy"]) == json.loads(policy)
    assert shown["Attributes"]["FilterPolicyScope"] == "MessageAttributes"
    sns = wire.client("sns")
    for total in ("5", "500"):
        sns.publish(
            TopicArn=TOPIC,
            Message=f"total {total}",
            MessageAttributes={"total": {"DataType": "Number", "StringValue": total}},
        )
    (message,) = _received(wire, url)
    assert json.loads(message["Body"])["Message"] == "total 500"
    statuses = [v.status for v in outbox.list_deliveries(wire.engine.store.reader())]
    assert statuses == ["filtered", "delivered"]


def test_message_structure_json_gives_the_queue_its_sqs_text(serve: ServeFactory) -> None:
    wire = serve(_app())
    url, queue_arn = _queue(wire, "structured")
    raw_url, raw_arn = _queue(wire, "structured-raw")
    _subscribe(wire, queue_arn)
    _subscribe(wire, raw_arn, RawMessageDelivery="true")
    wire.client("sns").publish(
        TopicArn=TOPIC,
        MessageStructure="json",
        Message=json.dumps({"default": "for everyone", "sqs": "for queues"}),
    )
    (message,) = _received(wire, url)
    assert json.loads(message["Body"])["Message"] == "for queues"
    (raw,) = _received(wire, raw_url)
    assert raw["Body"] == "for queues"


def test_a_publish_batch_fans_out_to_every_queue(serve: ServeFactory) -> None:
    wire = serve(_app())
    first_url, first_arn = _queue(wire, "first")
    second_url, second_arn = _queue(wire, "second")
    _subscribe(wire, first_arn)
    _subscribe(wire, second_arn, RawMessageDelivery="true")
    answer = wire.client("sns").publish_batch(
        TopicArn=TOPIC,
        PublishBatchRequestEntries=[{"Id": f"e{n}", "Message": f"message {n}"} for n in range(3)],
    )
    assert len(answer["Successful"]) == 3
    first = sorted(json.loads(m["Body"])["Message"] for m in _received(wire, first_url))
    second = sorted(m["Body"] for m in _received(wire, second_url))
    assert first == second == ["message 0", "message 1", "message 2"]


def test_an_unknown_queue_is_refused_and_nothing_is_stored(serve: ServeFactory) -> None:
    wire = serve(_app())
    sns = wire.client("sns")
    for endpoint in ("arn:aws:sqs:us-east-1:000000000000:nowhere", "not-an-arn"):
        with pytest.raises(ClientError) as raised:
            sns.subscribe(TopicArn=TOPIC, Protocol="sqs", Endpoint=endpoint)
        error: Any = raised.value.response
        assert error["Error"]["Code"] == "InvalidParameter"
        assert error["Error"]["Message"] == "Invalid parameter: SQS endpoint ARN"
    assert sns.list_subscriptions_by_topic(TopicArn=TOPIC)["Subscriptions"] == []
    rows = wire.engine.store.reader().execute("SELECT COUNT(*) FROM subscriptions").fetchone()
    assert rows[0] == 0


def test_a_message_too_large_for_the_queue_is_a_failed_delivery(serve: ServeFactory) -> None:
    wire = serve(_app())
    url, queue_arn = _queue(wire, "small", MaximumMessageSize="1024")
    _subscribe(wire, queue_arn)
    published = wire.client("sns").publish(TopicArn=TOPIC, Message="x" * 2000)
    assert published["MessageId"]  # the publish itself succeeds, as on SNS
    assert _received(wire, url) == []
    (delivery,) = outbox.list_deliveries(wire.engine.store.reader())
    assert (delivery.protocol, delivery.status) == ("sqs", "failed")
    assert delivery.last_error is not None
    assert "1024 bytes" in delivery.last_error
    wire.engine.store.write(lambda tx: outbox.retry_now(tx))  # nothing to retry it: it stays
    assert outbox.list_deliveries(wire.engine.store.reader())[0].status == "failed"


def test_a_handlers_publish_reaches_a_subscribed_queue(serve: ServeFactory) -> None:
    wire = serve(_app())
    url, queue_arn = _queue(wire, "announcements")
    _subscribe(wire, queue_arn)
    jobs = wire.client("sqs").get_queue_url(QueueName="jobs")["QueueUrl"]
    wire.client("sqs").send_message(QueueUrl=jobs, MessageBody="job j-1 done")
    wire.engine.drain()
    (message,) = _received(wire, url)
    envelope = json.loads(message["Body"])
    assert (envelope["Message"], envelope["Subject"]) == ("job j-1 done", "from a handler")
