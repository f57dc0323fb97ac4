"""Topics on AWS: SMS subscriptions, filter policies on every kind of subscription, and
functions that text a number directly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_support import Stack, fake_aws, findings, notifications, sam_transform

from conftest import EngineFactory
from sluiceway import App, Topic
from sluiceway.aws import Code, _yaml, template_for

INDIA = "+919876543210"
US = "+14155550100"
PRICEY = {"store": ["example_corp"], "price": [{"numeric": [">", 100]}]}
ORDERS = {"kind": ["order"]}


def alerts() -> tuple[App, Topic]:
    """Two texted numbers, one of them per deployment, each with its own filter policy, and
    a function subscribed with a policy on the message body."""
    app = App("alerts")
    events = app.topic("events")
    oncall = app.parameter("oncall_phone", default=US, description="Who is texted orders")
    events.subscribe("sms", INDIA, filter_policy=PRICEY)
    events.subscribe("sms", oncall, filter_policy=ORDERS, filter_policy_scope="MessageBody")

    @app.on_topic(events, filter_policy=ORDERS, filter_policy_scope="MessageBody", name="tally")
    def tally(event: Any, context: Any) -> None: ...

    return app, events


def alerts_app() -> App:
    return alerts()[0]


def resources(app: App) -> dict[str, Any]:
    return template_for(app.graph, Code("m:app"))["Resources"]  # type: ignore[no-any-return]


def subscriptions(app: App) -> dict[str, dict[str, Any]]:
    return {
        logical: r["Properties"]
        for logical, r in resources(app).items()
        if r["Type"] == "AWS::SNS::Subscription"
    }


def test_an_sms_subscription_texts_its_number_or_the_deployment_s_parameter() -> None:
    rendered = subscriptions(alerts_app())
    assert {k: (p["Protocol"], p["Endpoint"]) for k, p in rendered.items()} == {
        "EventsSmsF3a47ce5": ("sms", INDIA),
        "EventsSmsOncallPhone": ("sms", {"Ref": "OncallPhone"}),
        "TallySubscription": ("lambda", {"Fn::GetAtt": ["Tally", "Arn"]}),
    }
    assert template_for(alerts_app().graph, Code("m:app"))["Parameters"]["OncallPhone"] == {
        "Type": "String",
        "MinLength": 1,
        "Description": "Who is texted orders",
        "Default": US,
    }


def test_a_filter_policy_is_rendered_as_an_object_with_its_scope_on_every_subscription() -> None:
    rendered = subscriptions(alerts_app())
    assert {
        k: (p.get("FilterPolicy"), p.get("FilterPolicyScope")) for k, p in rendered.items()
    } == {
        "EventsSmsF3a47ce5": (PRICEY, "MessageAttributes"),
        "EventsSmsOncallPhone": (ORDERS, "MessageBody"),
        "TallySubscription": (ORDERS, "MessageBody"),
    }


def test_a_subscription_without_a_policy_says_nothing_of_one() -> None:
    app = App("plain")
    app.topic("news").subscribe("sms", INDIA)
    (properties,) = subscriptions(app).values()
    assert set(properties) == {"TopicArn", "Protocol", "Endpoint"}


def test_sms_subscriptions_and_filter_policies_pass_cfn_lint_and_the_sam_translator() -> None:
    template = template_for(alerts_app().graph, Code("m:app"))
    assert findings(_yaml.dump(template)) == []
    transformed = sam_transform(template)["Resources"]
    assert transformed["TallySubscription"]["Properties"]["FilterPolicy"] == ORDERS


# -- the same policy, the same publishes: what passes locally passes on SNS ------------------

PUBLISHES: list[dict[str, Any]] = [
    {
        "Message": "big order",
        "MessageAttributes": {
            "store": {"DataType": "String", "StringValue": "example_corp"},
            "price": {"DataType": "Number", "StringValue": "3.015e2"},  # 301.5, by value
        },
    },
    {
        "Message": "small order",
        "MessageAttributes": {
            "store": {"DataType": "String", "StringValue": "example_corp"},
            "price": {"DataType": "Number", "StringValue": "99"},
        },
    },
    {"Message": json.dumps({"kind": "order", "n": 1})},
    {"Message": json.dumps({"kind": "refund", "n": 2})},
    {"Message": "no attributes, no JSON"},
]


def texted_locally(make_engine: EngineFactory, data_dir: Path) -> dict[str, list[str]]:
    app, events = alerts()
    engine = make_engine(app)
    for publish in PUBLISHES:
        events.publish(publish["Message"], message_attributes=publish.get("MessageAttributes"))
    engine.drain()
    texted: dict[str, list[str]] = {}
    outbox = data_dir / "sms" / "outbox.jsonl"
    for line in outbox.read_text().splitlines():
        sms = json.loads(line)
        texted.setdefault(sms["phone"], []).append(sms["text"])
    return texted


@pytest.fixture
def sns() -> Iterator[Any]:
    with fake_aws():
        yield boto3.client("sns")


def passed_on_sns(sns: Any) -> dict[str, list[str]]:
    """Each rendered sms subscription's policy and scope, set on a queue subscribed in its
    place (SNS texts cannot be observed), and what reaches each queue."""
    app = alerts_app()
    template = template_for(app.graph, Code("m:app"))
    stack = Stack.deploy(sam_transform(template))
    sqs = boto3.client("sqs")
    observers: dict[str, str] = {}
    for logical, properties in subscriptions(app).items():
        if properties["Protocol"] != "sms":
            continue
        endpoint = properties["Endpoint"]
        phone = (
            template["Parameters"][endpoint["Ref"]]["Default"] if "Ref" in endpoint else endpoint
        )
        url = sqs.create_queue(QueueName=f"observe-{logical}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(
            TopicArn=stack.physical["Events"],
            Protocol="sqs",
            Endpoint=arn,
            Attributes={
                "FilterPolicy": json.dumps(properties["FilterPolicy"]),
                "FilterPolicyScope": properties["FilterPolicyScope"],
            },
        )
        observers[phone] = url
    for publish in PUBLISHES:
        sns.publish(TopicArn=stack.physical["Events"], **publish)
    passed = {phone: [n["Message"] for n in notifications(url)] for phone, url in observers.items()}
    return {phone: messages for phone, messages in passed.items() if messages}


def test_a_rendered_filter_policy_lets_through_on_sns_what_it_lets_through_locally(
    make_engine: EngineFactory, data_dir: Path, sns: Any
) -> None:
    local = texted_locally(make_engine, data_dir)
    assert local == {
        INDIA: ["big order"],
        US: [json.dumps({"kind": "order", "n": 1})],
    }
    assert passed_on_sns(sns) == local


# -- texting a number directly --------------------------------------------------------------


def test_a_function_that_texts_may_publish_to_any_number_and_to_nothing_else() -> None:
    app = App("notify")
    jobs = app.queue("jobs")

    @app.on_queue(jobs, uses=[app.sms.sends], name="texter")
    def texter(event: Any, context: Any) -> None: ...

    rendered = resources(app)
    role = rendered["TexterRole"]["Properties"]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    # Any number, and no topic: a phone number has no ARN, a topic always has one.
    assert statements[1:] == [
        {
            "Sid": "Sms",
            "Effect": "Allow",
            "Action": ["sns:Publish"],
            "NotResource": {"Fn::Sub": "arn:${AWS::Partition}:sns:*:*:*"},
        }
    ]
    assert statements[0]["Resource"] == {"Fn::GetAtt": ["Jobs", "Arn"]}
    # A phone number is no resource: nothing to tell the shim.
    assert rendered["Texter"]["Properties"]["Environment"]["Variables"] == {
        "SLUICEWAY_APP": "m:app",
        "SLUICEWAY_FUNCTION": "texter",
        "SLUICEWAY_QUEUE_Jobs": {"Ref": "Jobs"},
    }


# -- a topic fanned out to queues -----------------------------------------------------------


def fanout() -> tuple[App, Topic]:
    """Two topics on one queue (raw, one with a policy), and one of them on a second queue."""
    app = App("fanout")
    orders, refunds = app.topic("orders"), app.topic("refunds")
    ledger, audit = app.queue("ledger"), app.queue("audit")
    orders.subscribe("sqs", ledger, raw_message_delivery=True, filter_policy=ORDERS_ONLY)
    refunds.subscribe("sqs", ledger, raw_message_delivery=True)
    orders.subscribe("sqs", audit)
    return app, orders


def fanout_app() -> App:
    return fanout()[0]


ORDERS_ONLY = {"kind": ["order"]}
FANNED: list[dict[str, Any]] = [
    {
        "Message": "order o-1",
        "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "order"}},
    },
    {"Message": "no attributes"},
]


def test_an_sqs_subscription_sends_to_the_queue_s_arn_which_lets_its_topics_send() -> None:
    rendered = resources(fanout_app())
    assert subscriptions(fanout_app()) == {
        "OrdersSqsLedger": {
            "TopicArn": {"Ref": "Orders"},
            "Protocol": "sqs",
            "Endpoint": {"Fn::GetAtt": ["Ledger", "Arn"]},
            "FilterPolicy": ORDERS_ONLY,
            "FilterPolicyScope": "MessageAttributes",
            "RawMessageDelivery": True,
        },
        "RefundsSqsLedger": {
            "TopicArn": {"Ref": "Refunds"},
            "Protocol": "sqs",
            "Endpoint": {"Fn::GetAtt": ["Ledger", "Arn"]},
            "RawMessageDelivery": True,
        },
        "OrdersSqsAudit": {
            "TopicArn": {"Ref": "Orders"},
            "Protocol": "sqs",
            "Endpoint": {"Fn::GetAtt": ["Audit", "Arn"]},
        },
    }
    policies = {k: r for k, r in rendered.items() if r["Type"] == "AWS::SQS::QueuePolicy"}
    assert set(policies) == {"LedgerPolicy", "AuditPolicy"}  # one per queue
    ledger = policies["LedgerPolicy"]["Properties"]
    assert ledger["Queues"] == [{"Ref": "Ledger"}]
    assert ledger["PolicyDocument"]["Statement"] == [
        {
            "Sid": "TopicsSend",
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": {"Fn::GetAtt": ["Ledger", "Arn"]},
            "Condition": {"ArnEquals": {"aws:SourceArn": [{"Ref": "Orders"}, {"Ref": "Refunds"}]}},
        }
    ]
    (audit,) = policies["AuditPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert audit["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": "Orders"}}}


def test_sqs_subscriptions_and_queue_policies_pass_cfn_lint_and_the_sam_translator() -> None:
    template = template_for(fanout_app().graph, Code("m:app"))
    assert findings(_yaml.dump(template)) == []
    transformed = sam_transform(template)["Resources"]
    assert transformed["LedgerPolicy"]["Type"] == "AWS::SQS::QueuePolicy"


def _attributes(properties: dict[str, Any]) -> dict[str, str]:
    """A rendered subscription's properties as Subscribe's attributes."""
    attributes = {}
    if "FilterPolicy" in properties:
        attributes["FilterPolicy"] = json.dumps(properties["FilterPolicy"])
        attributes["FilterPolicyScope"] = properties["FilterPolicyScope"]
    if properties.get("RawMessageDelivery"):
        attributes["RawMessageDelivery"] = "true"
    return attributes


def _message(body: str) -> str:
    """What was published: an envelope's Message, or a raw body."""
    return str(json.loads(body)["Message"]) if body.startswith("{") else body


def test_a_rendered_sqs_subscription_delivers_on_sns_what_it_delivers_locally(
    make_engine: EngineFactory, sns: Any
) -> None:
    app, orders = fanout()
    engine = make_engine(app)
    for publish in FANNED:
        orders.publish(publish["Message"], message_attributes=publish.get("MessageAttributes"))
    local = (
        engine.store.reader()
        .execute("SELECT q.name, m.body FROM messages m JOIN queues q ON q.id = m.queue_id")
        .fetchall()
    )

    # The rendered subscriptions and queue policies, made through the APIs (moto's
    # CloudFormation makes neither).
    stack = Stack.deploy(sam_transform(template_for(app.graph, Code("m:app"))))
    sqs = boto3.client("sqs")
    for properties in stack.of_type("AWS::SNS::Subscription").values():
        resolved = stack.resolve_all(properties)
        sns.subscribe(
            TopicArn=resolved["TopicArn"],
            Protocol=resolved["Protocol"],
            Endpoint=resolved["Endpoint"],
            Attributes=_attributes(resolved),
        )
    for properties in stack.of_type("AWS::SQS::QueuePolicy").values():
        resolved = stack.resolve_all(properties)
        for url in resolved["Queues"]:
            policy = json.dumps(resolved["PolicyDocument"])
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    for publish in FANNED:
        sns.publish(TopicArn=stack.physical["Orders"], **publish)
    on_sns = [
        (name, m["Body"])
        for name in ("ledger", "audit")
        for m in sqs.receive_message(
            QueueUrl=stack.physical[name.capitalize()], MaxNumberOfMessages=10
        ).get("Messages", [])
    ]

    assert sorted((n, _message(b)) for n, b in local) == [
        ("audit", "no attributes"),
        ("audit", "order o-1"),
        ("ledger", "order o-1"),  # the policy let the order through, not the other
    ]
    assert sorted((n, _message(b)) for n, b in on_sns) == sorted((n, _message(b)) for n, b in local)
    # Raw on both: the ledger's body is the message itself.
    assert [b for n, b in local if n == "ledger"] == ["order o-1"]
    assert [b for n, b in on_sns if n == "ledger"] == ["order o-1"]
