"""SNS's topic and subscription operations over the wire: CreateTopic and its attributes
and tags, Subscribe with confirmation, filter policies, listings, Unsubscribe."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

import pytest
from botocore.exceptions import ClientError

from conftest import ServeFactory
from sluiceway import App
from sluiceway.sns import outbox
from support import SmtpServer, Wire

ARN = "arn:aws:sns:us-east-1:000000000000"
invoked: list[Any] = []


def _app() -> App:
    app = App("wire-sns-topics")
    app.topic("orders")

    @app.function()
    def audit(event: Any, context: Any) -> None:
        invoked.append(event)

    return app


@pytest.fixture(autouse=True)
def _forget() -> None:
    invoked.clear()


def _error(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response: Any = raised.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def _texts(wire: Wire) -> list[tuple[str, str | None, str]]:
    views = outbox.list_deliveries(wire.engine.store.reader())
    return [(v.destination, v.text, v.status) for v in views if v.kind == "notification"]


def test_create_topic_is_idempotent_and_keeps_attributes_and_tags(serve: ServeFactory) -> None:
    wire = serve(_app())
    sns = wire.client("sns")
    made = sns.create_topic(
        Name="alerts", Attributes={"DisplayName": "Alerts"}, Tags=[{"Key": "team", "Value": "ops"}]
    )
    assert made["TopicArn"] == f"{ARN}:alerts"
    again = sns.create_topic(Name="alerts", Attributes={"DisplayName": "Alerts"})
    assert again["TopicArn"] == f"{ARN}:alerts"
    attributes = sns.get_topic_attributes(TopicArn=f"{ARN}:alerts")["Attributes"]
    assert attributes["DisplayName"] == "Alerts"
    assert attributes["TopicArn"] == f"{ARN}:alerts"
    assert attributes["Owner"] == "000000000000"
    assert attributes["SubscriptionsConfirmed"] == "0"
    assert json.loads(attributes["Policy"])["Statement"][0]["Resource"] == f"{ARN}:alerts"
    tags = sns.list_tags_for_resource(ResourceArn=f"{ARN}:alerts")["Tags"]
    assert tags == [{"Key": "team", "Value": "ops"}]
    listed = [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    assert listed == [f"{ARN}:alerts", f"{ARN}:orders"]
    assert "alerts" in wire.engine.registry.topics


@pytest.mark.parametrize(
    ("name", "attributes"),
    [
        ("bad name", {}),
        ("x" * 257, {}),
        ("events.fifo", {"FifoTopic": "true"}),
        ("plain", {"FifoTopic": "true"}),
        ("plain", {"Nonsense": "1"}),
        ("plain", {"Policy": "not json"}),
    ],
)
def test_create_topic_refuses_what_sns_refuses_and_makes_nothing(
    serve: ServeFactory, name: str, attributes: dict[str, str]
) -> None:
    wire = serve(_app())
    sns = wire.client("sns")
    with pytest.raises(ClientError) as raised:
        sns.create_topic(Name=name, Attributes=attributes)
    assert _error(raised) == ("InvalidParameter", 400)
    assert [t["TopicArn"] for t in sns.list_topics()["Topics"]] == [f"{ARN}:orders"]


def test_create_topic_with_other_attributes_than_the_existing_is_refused(
    serve: ServeFactory,
) -> None:
    sns = serve(_app()).client("sns")
    sns.create_topic(Name="alerts", Attributes={"DisplayName": "Alerts"})
    with pytest.raises(ClientError) as raised:
        sns.create_topic(Name="alerts", Attributes={"DisplayName": "Other"})
    assert _error(raised) == ("InvalidParameter", 400)
    attributes = sns.get_topic_attributes(TopicArn=f"{ARN}:alerts")["Attributes"]
    assert attributes["DisplayName"] == "Alerts"


def test_set_topic_attributes_and_tags(serve: ServeFactory) -> None:
    sns = serve(_app()).client("sns")
    topic = f"{ARN}:orders"
    sns.set_topic_attributes(TopicArn=topic, AttributeName="DisplayName", AttributeValue="Orders")
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["DisplayName"] == "Orders"
    with pytest.raises(ClientError) as raised:
        sns.set_topic_attributes(TopicArn=topic, AttributeName="Bogus", AttributeValue="x")
    assert _error(raised) == ("InvalidParameter", 400)
    sns.tag_resource(
        ResourceArn=topic, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    )
    sns.untag_resource(ResourceArn=topic, TagKeys=["a"])
    assert sns.list_tags_for_resource(ResourceArn=topic)["Tags"] == [{"Key": "b", "Value": "2"}]
    with pytest.raises(ClientError) as raised:
        sns.tag_resource(ResourceArn=f"{ARN}:nope", Tags=[{"Key": "a", "Value": "1"}])
    assert _error(raised) == ("ResourceNotFound", 404)


def test_delete_topic_removes_it_and_its_subscriptions(serve: ServeFactory) -> None:
    wire = serve(_app())
    sns = wire.client("sns")
    sns.create_topic(Name="alerts")
    sns.subscribe(TopicArn=f"{ARN}:alerts", Protocol="sms", Endpoint="+919876543210")
    sns.delete_topic(TopicArn=f"{ARN}:alerts")
    sns.delete_topic(TopicArn=f"{ARN}:alerts")  # deleting it again is no error, as on SNS
    with pytest.raises(ClientError) as raised:
        sns.get_topic_attributes(TopicArn=f"{ARN}:alerts")
    assert _error(raised) == ("NotFound", 404)
    assert sns.list_subscriptions()["Subscriptions"] == []
    assert "alerts" not in wire.engine.registry.topics


def test_an_email_subscription_waits_for_its_confirmation(
    serve: ServeFactory, smtp: SmtpServer
) -> None:
    wire = serve(_app(), smtp=smtp.url)
    sns = wire.client("sns")
    topic = f"{ARN}:orders"
    answer = sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com")
    assert answer["SubscriptionArn"] == "pending confirmation"
    (listed,) = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert listed["SubscriptionArn"] == "PendingConfirmation"
    assert (listed["Protocol"], listed["Endpoint"]) == ("email", "ops@example.com")
    sns.publish(TopicArn=topic, Message="before confirming")
    wire.engine.drain()
    (request,) = smtp.mailbox.wait_for(1)
    assert "Subscription Confirmation" in request["Subject"]
    found = re.search(r"Token=([0-9a-f]+)", unquote(str(request.get_content())))
    assert found is not None
    with pytest.raises(ClientError) as raised:
        sns.confirm_subscription(TopicArn=topic, Token="0" * 64)
    assert _error(raised) == ("InvalidParameter", 400)
    confirmed = sns.confirm_subscription(TopicArn=topic, Token=found[1])
    assert confirmed["SubscriptionArn"].startswith(f"{topic}:")
    attributes = sns.get_subscription_attributes(SubscriptionArn=confirmed["SubscriptionArn"])
    assert attributes["Attributes"]["PendingConfirmation"] == "false"
    sns.publish(TopicArn=topic, Message="after confirming")
    wire.engine.drain()
    mails = smtp.mailbox.wait_for(2)
    assert "after confirming" in str(mails[1].get_content())
    assert [(text, status) for _, text, status in _texts(wire)] == [
        ("before confirming", "unconfirmed"),
        ("after confirming", "delivered"),
    ]


def test_a_lambda_subscription_invokes_the_function(serve: ServeFactory) -> None:
    wire = serve(_app())
    sns = wire.client("sns")
    function = "arn:aws:lambda:us-east-1:000000000000:function:audit"
    made = sns.subscribe(TopicArn=f"{ARN}:orders", Protocol="lambda", Endpoint=function)
    assert made["SubscriptionArn"].startswith(f"{ARN}:orders:")
    sns.publish(TopicArn=f"{ARN}:orders", Message="to the function")
    wire.engine.drain()
    (event,) = invoked
    assert event["Records"][0]["Sns"]["Message"] == "to the function"
    assert event["Records"][0]["EventSubscriptionArn"] == made["SubscriptionArn"]
    (listed,) = sns.list_subscriptions()["Subscriptions"]
    assert listed["Endpoint"] == function


def test_subscribe_refuses_endpoints_and_protocols_it_cannot_deliver(
    serve: ServeFactory,
) -> None:
    sns = serve(_app()).client("sns")
    topic = f"{ARN}:orders"
    for protocol, endpoint in (
        ("email", "not-an-address"),
        ("sms", "12345"),
        ("lambda", "arn:aws:lambda:us-east-1:000000000000:function:nope"),
        ("sqs", "arn:aws:sqs:us-east-1:000000000000:q"),  # no such queue
        ("https", "https://example.com/hook"),  # no delivery for it
        ("carrier-pigeon", "x"),
    ):
        with pytest.raises(ClientError) as raised:
            sns.subscribe(TopicArn=topic, Protocol=protocol, Endpoint=endpoint)
        assert _error(raised) == ("InvalidParameter", 400)
    with pytest.raises(ClientError) as raised:
        sns.subscribe(TopicArn=f"{ARN}:nope", Protocol="sms", Endpoint="+919876543210")
    assert _error(raised) == ("NotFound", 404)
    assert sns.list_subscriptions()["Subscriptions"] == []


def test_a_filter_policy_is_checked_and_applied(serve: ServeFactory) -> None:
    wire = serve(_app(), auto_confirm=True)
    sns = wire.client("sns")
    topic = f"{ARN}:orders"
    with pytest.raises(ClientError) as raised:
        sns.subscribe(
            TopicArn=topic,
            Protocol="email",
            Endpoint="ops@example.com",
            Attributes={"FilterPolicy": '{"kind": "not a list"}'},
        )
    assert _error(raised) == ("InvalidParameter", 400)
    assert sns.list_subscriptions()["Subscriptions"] == []
    arn = sns.subscribe(
        TopicArn=topic,
        Protocol="email",
        Endpoint="ops@example.com",
        Attributes={"FilterPolicy": json.dumps({"kind": ["order"]})},
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    for kind in ("order", "refund"):
        sns.publish(
            TopicArn=topic,
            Message=f"a {kind}",
            MessageAttributes={"kind": {"DataType": "String", "StringValue": kind}},
        )
    assert [(t, s) for _, t, s in _texts(wire)] == [
        ("a order", "pending"),
        ("a refund", "filtered"),
    ]
    attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert json.loads(attributes["FilterPolicy"]) == {"kind": ["order"]}
    assert attributes["FilterPolicyScope"] == "MessageAttributes"
    sns.set_subscription_attributes(
        SubscriptionArn=arn, AttributeName="FilterPolicyScope", AttributeValue="MessageBody"
    )
    sns.publish(TopicArn=topic, Message=json.dumps({"kind": "order"}))
    assert _texts(wire)[-1][2] == "pending"
    with pytest.raises(ClientError) as raised:
        sns.set_subscription_attributes(
            SubscriptionArn=arn, AttributeName="FilterPolicy", AttributeValue='{"a": 1}'
        )
    assert _error(raised) == ("InvalidParameter", 400)
    with pytest.raises(ClientError) as raised:
        sns.set_subscription_attributes(
            SubscriptionArn=arn, AttributeName="RawMessageDelivery", AttributeValue="true"
        )
    assert _error(raised) == ("InvalidParameter", 400)
    attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert json.loads(attributes["FilterPolicy"]) == {"kind": ["order"]}
    assert attributes["RawMessageDelivery"] == "false"


def test_unsubscribe_stops_deliveries(serve: ServeFactory) -> None:
    wire = serve(_app())
    sns = wire.client("sns")
    topic = f"{ARN}:orders"
    arn = sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint="+919876543210")["SubscriptionArn"]
    sns.unsubscribe(SubscriptionArn=arn)
    sns.publish(TopicArn=topic, Message="nobody listens")
    assert _texts(wire) == []
    with pytest.raises(ClientError) as raised:
        sns.unsubscribe(SubscriptionArn=arn)
    assert _error(raised) == ("NotFound", 404)
    with pytest.raises(ClientError) as raised:
        sns.get_subscription_attributes(SubscriptionArn=arn)
    assert _error(raised) == ("NotFound", 404)


def test_a_subscription_made_by_the_api_outlives_a_restart(
    serve: ServeFactory,
) -> None:
    app = _app()
    wire = serve(app)
    arn = wire.client("sns").subscribe(
        TopicArn=f"{ARN}:orders", Protocol="sms", Endpoint="+919876543210"
    )["SubscriptionArn"]
    wire.engine.close()
    again = serve(app).client("sns")
    (listed,) = again.list_subscriptions()["Subscriptions"]
    assert listed["SubscriptionArn"] == arn
