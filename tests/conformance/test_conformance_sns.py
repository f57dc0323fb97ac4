"""SNS over the wire (the query protocol), the same on moto and on sluiceway: topics,
subscriptions, attributes, publish (MessageStructure json, message attributes, batches),
filter policies, and SNS's errors. Deliveries are observed on SQS queues subscribed to the
topic."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import conformance_harness as h
import pytest
from conformance_harness import Clients

DOCS = "https://docs.aws.amazon.com/sns/latest/api/"
suite = h.Suite("sns")
case = suite.case
# What two correct deliveries differ in: ids, times, signatures, the runtime's own URLs.
ENVELOPE_OPAQUE = ("MessageId", "Timestamp", "Signature", "SigningCertURL", "UnsubscribeURL")
INVALID = {"Error": "InvalidParameter", "HTTPStatusCode": 400}
NOT_FOUND = {"Error": "NotFound", "HTTPStatusCode": 404}


@pytest.fixture(scope="module")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[h.Backend, h.Backend]]:
    with h.backends(tmp_path_factory.mktemp("sns")) as pair:
        yield pair


def _topic(c: Clients, tag: str = "", **attributes: str) -> str:
    name = c.name(tag) + (".fifo" if attributes.get("FifoTopic") == "true" else "")
    arn: str = c.sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
    return arn


def _subscribed_queue(c: Clients, topic: str, **attributes: str) -> tuple[str, str]:
    """A queue subscribed to `topic`: (queue URL, subscription ARN)."""
    url = c.sqs.create_queue(QueueName=c.name("q"))["QueueUrl"]
    arn = c.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    subscription = c.sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=arn,
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    return url, subscription


def _sms(c: Clients, topic: str, **attributes: str) -> str:
    """A confirmed SMS subscription to `topic` (SNS confirms those at once)."""
    arn: str = c.sns.subscribe(
        TopicArn=topic,
        Protocol="sms",
        Endpoint="+15555550100",
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    return arn


def _delivered(c: Clients, url: str) -> list[Any]:
    """The bodies the queue got, SNS envelopes parsed with their ids and signatures
    blanked."""
    c.deliver()
    got = c.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    bodies: list[Any] = []
    for message in got:
        try:
            body = json.loads(message["Body"])
        except ValueError:
            bodies.append(message["Body"])
            continue
        if isinstance(body, dict) and body.get("Type") == "Notification":
            body = {k: f"<{k}>" if k in ENVELOPE_OPAQUE else v for k, v in body.items()}
        bodies.append(body)
    return sorted(bodies, key=repr)


# -- topics ------------------------------------------------------------------------------


@case()
def create_topic_is_idempotent_and_listed(c: Clients) -> list[Any]:
    first = c.sns.create_topic(Name=c.name())
    again = c.sns.create_topic(Name=c.name())
    listed = [t for t in c.sns.list_topics()["Topics"] if c.name() in t["TopicArn"]]
    return [first, again, listed]


@case()
def get_topic_attributes_of_a_new_topic(c: Clients) -> list[Any]:
    arn = _topic(c)
    attributes = c.sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    kept = ("TopicArn", "Owner", "DisplayName", "SubscriptionsConfirmed", "SubscriptionsPending")
    return [{k: attributes.get(k) for k in kept}]


@case()
def set_topic_attributes_changes_the_display_name(c: Clients) -> list[Any]:
    arn = _topic(c)
    c.sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="Shop")
    return [c.sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"]]


@case()
def a_fifo_topic_needs_its_suffix(c: Clients) -> list[Any]:
    return [
        c.error(
            c.sns.create_topic,
            message=False,
            Name=c.name("plain"),
            Attributes={"FifoTopic": "true"},
        ),
    ]


@case()
def create_topic_refuses_a_bad_name(c: Clients) -> list[Any]:
    return [
        c.error(c.sns.create_topic, message=False, Name="has space"),
        c.error(c.sns.create_topic, message=False, Name="x" * 257),
    ]


@case()
def delete_topic_then_it_is_not_found(c: Clients) -> list[Any]:
    arn = _topic(c)
    return [
        c.sns.delete_topic(TopicArn=arn),
        c.error(c.sns.get_topic_attributes, message=False, TopicArn=arn),
        c.error(c.sns.publish, message=False, TopicArn=arn, Message="x"),
    ]


@case()
def tags_of_a_topic(c: Clients) -> list[Any]:
    arn = _topic(c)
    c.sns.tag_resource(
        ResourceArn=arn, Tags=[{"Key": "team", "Value": "orders"}, {"Key": "env", "Value": "dev"}]
    )
    tagged = c.sns.list_tags_for_resource(ResourceArn=arn)
    tagged["Tags"].sort(key=lambda t: t["Key"])
    c.sns.untag_resource(ResourceArn=arn, TagKeys=["env"])
    return [tagged, c.sns.list_tags_for_resource(ResourceArn=arn)]


# -- subscriptions -----------------------------------------------------------------------


@case()
def an_sqs_subscription_is_confirmed_and_listed(c: Clients) -> list[Any]:
    topic = _topic(c)
    _, subscription = _subscribed_queue(c, topic)
    listed = c.sns.list_subscriptions_by_topic(TopicArn=topic)
    attributes = c.sns.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"]
    kept = ("TopicArn", "Protocol", "Endpoint", "Owner", "RawMessageDelivery")
    return [
        subscription.startswith(topic + ":"),
        listed,
        {k: attributes.get(k) for k in kept},
        c.differs(
            c.sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsConfirmed"],
            aws="1",
            moto="0",
            source=DOCS + "API_GetTopicAttributes.html#API_GetTopicAttributes_ResponseElements",
            note="moto does not count a topic's confirmed subscriptions",
        ),
    ]


@case()
def an_sms_subscription_is_confirmed_and_listed(c: Clients) -> list[Any]:
    topic = _topic(c)
    subscription = _sms(c, topic)
    listed = c.sns.list_subscriptions_by_topic(TopicArn=topic)
    every = [s for s in c.sns.list_subscriptions()["Subscriptions"] if s["TopicArn"] == topic]
    attributes = c.sns.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"]
    kept = ("TopicArn", "Protocol", "Endpoint", "Owner", "SubscriptionArn")
    return [
        subscription.startswith(topic + ":"),
        listed,
        every,
        {k: attributes.get(k) for k in kept},
        c.differs(
            c.sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsConfirmed"],
            aws="1",
            moto="0",
            source=DOCS + "API_GetTopicAttributes.html#API_GetTopicAttributes_ResponseElements",
            note="moto does not count a topic's confirmed subscriptions",
        ),
    ]


@case()
def an_email_subscription_waits_for_confirmation(c: Clients) -> list[Any]:
    topic = _topic(c)
    answer = c.sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="someone@example.com")
    listed = c.sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    note = "moto confirms an email subscription at once"
    arn = f"arn:aws:sns:us-east-1:123456789012:{c.name()}:<uuid>"
    entry = {
        "Endpoint": "someone@example.com",
        "Owner": "123456789012",
        "Protocol": "email",
        "TopicArn": f"arn:aws:sns:us-east-1:123456789012:{c.name()}",
    }
    return [
        c.differs(
            answer,
            aws={"SubscriptionArn": "pending confirmation"},
            moto={"SubscriptionArn": arn},
            source=DOCS + "API_Subscribe.html#API_Subscribe_ResponseElements",
            note=note,
        ),
        c.differs(
            listed,
            aws=[{**entry, "SubscriptionArn": "PendingConfirmation"}],
            moto=[{**entry, "SubscriptionArn": arn}],
            source=DOCS + "API_ListSubscriptionsByTopic.html",
            note=note,
        ),
    ]


@case()
def subscribe_refuses_a_bad_protocol_or_endpoint(c: Clients) -> list[Any]:
    topic = _topic(c)
    return [
        c.differs(
            c.error(
                c.sns.subscribe,
                message=False,
                TopicArn=topic,
                Protocol="carrier-pigeon",
                Endpoint="x",
            ),
            aws=INVALID,
            moto={
                "UnexpectedSuccess": {
                    "SubscriptionArn": f"arn:aws:sns:us-east-1:123456789012:{c.name()}:<uuid>"
                }
            },
            source=DOCS + "API_Subscribe.html#API_Subscribe_RequestParameters",
            note="moto subscribes with a protocol SNS does not have",
        ),
        c.error(
            c.sns.subscribe, message=False, TopicArn=topic, Protocol="sms", Endpoint="not a number"
        ),
        c.error(
            c.sns.subscribe,
            message=False,
            TopicArn=topic + "-missing",
            Protocol="email",
            Endpoint="a@example.com",
        ),
    ]


@case()
def unsubscribe_removes_the_subscription(c: Clients) -> list[Any]:
    topic = _topic(c)
    subscription = _sms(c, topic)
    return [
        c.sns.unsubscribe(SubscriptionArn=subscription),
        c.sns.list_subscriptions_by_topic(TopicArn=topic),
    ]


@case()
def a_filter_policy_is_kept_and_a_bad_one_refused(c: Clients) -> list[Any]:
    topic = _topic(c)
    subscription = _sms(c, topic)
    policy = json.dumps({"kind": ["order", {"prefix": "ret"}], "total": [{"numeric": [">", 10]}]})
    c.sns.set_subscription_attributes(
        SubscriptionArn=subscription, AttributeName="FilterPolicy", AttributeValue=policy
    )
    got = c.sns.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"]
    return [
        json.loads(got["FilterPolicy"]),
        c.error(
            c.sns.set_subscription_attributes,
            message=False,
            SubscriptionArn=subscription,
            AttributeName="FilterPolicy",
            AttributeValue=json.dumps({"kind": "not-a-list"}),
        ),
        c.differs(
            c.error(
                c.sns.set_subscription_attributes,
                message=False,
                SubscriptionArn=subscription,
                AttributeName="FilterPolicy",
                AttributeValue="{not json",
            ),
            aws=INVALID,
            moto={"Crash": "JSONDecodeError"},
            source=DOCS + "API_SetSubscriptionAttributes.html",
            note="moto raises an exception of its own for a filter policy that is not JSON",
        ),
        c.differs(
            c.error(
                c.sns.set_subscription_attributes,
                message=False,
                SubscriptionArn=subscription,
                AttributeName="RawMessageDelivery",
                AttributeValue="true",
            ),
            aws=INVALID,
            moto={"UnexpectedSuccess": {}},
            source=DOCS
            + "API_SetSubscriptionAttributes.html#API_SetSubscriptionAttributes_RequestParameters",
            note="moto sets RawMessageDelivery on an sms subscription (only SQS, HTTP/S, Firehose)",
        ),
    ]


# -- publish -----------------------------------------------------------------------------


@case()
def publish_reaches_a_subscribed_queue_in_an_envelope(c: Clients) -> list[Any]:
    topic = _topic(c)
    url, _ = _subscribed_queue(c, topic)
    published = c.sns.publish(TopicArn=topic, Message="hello", Subject="greeting")
    (envelope,) = _delivered(c, url)
    version = envelope.pop("SignatureVersion")
    return [
        published,
        envelope,
        c.differs(
            version,
            aws="1",
            moto="2",
            source="https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html",
            note="moto always signs with SHA256 (SignatureVersion 2); a topic signs with "
            "version 1 unless its SignatureVersion attribute says 2",
        ),
    ]


@case()
def publish_with_message_attributes(c: Clients) -> list[Any]:
    topic = _topic(c)
    published = c.sns.publish(
        TopicArn=topic,
        Message="with attributes",
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "order"},
            "total": {"DataType": "Number", "StringValue": "12"},
            "tags": {"DataType": "String.Array", "StringValue": '["a", "b"]'},
        },
    )
    return [
        published,
        c.error(
            c.sns.publish,
            message=False,
            TopicArn=topic,
            Message="x",
            MessageAttributes={"n": {"DataType": "Number", "StringValue": "not a number"}},
        ),
        c.error(
            c.sns.publish,
            message=False,
            TopicArn=topic,
            Message="x",
            MessageAttributes={"n": {"DataType": "Whatever", "StringValue": "v"}},
        ),
    ]


@case()
def message_structure_json_gives_each_protocol_its_text(c: Clients) -> list[Any]:
    topic = _topic(c)
    _sms(c, topic)
    return [
        c.sns.publish(
            TopicArn=topic,
            MessageStructure="json",
            Message=json.dumps({"default": "for everyone", "sms": "for phones"}),
        ),
        c.differs(
            c.error(
                c.sns.publish,
                message=False,
                TopicArn=topic,
                MessageStructure="json",
                Message=json.dumps({"sms": "no default"}),
            ),
            aws=INVALID,
            moto={"UnexpectedSuccess": {"MessageId": "<MessageId>"}},
            source=DOCS + "API_Publish.html#API_Publish_RequestParameters",
            note="moto publishes MessageStructure json without a default entry",
        ),
        c.error(
            c.sns.publish,
            message=False,
            TopicArn=topic,
            MessageStructure="json",
            Message="not json",
        ),
    ]


@case()
def publish_refuses_what_sns_refuses(c: Clients) -> list[Any]:
    topic = _topic(c)
    return [
        c.differs(
            c.error(c.sns.publish, message=False, TopicArn=topic, Message=""),
            aws=INVALID,
            moto={"UnexpectedSuccess": {"MessageId": "<MessageId>"}},
            source=DOCS + "API_Publish.html#API_Publish_RequestParameters",
            note="moto publishes an empty message",
        ),
        c.error(c.sns.publish, message=False, TopicArn=topic, Message="x", Subject="s" * 101),
        c.error(
            c.sns.publish,
            message=False,
            TopicArn=topic + "-missing",
            Message="x",
        ),
        c.error(
            c.sns.publish,
            message=False,
            TopicArn=topic,
            Message="x" * (256 * 1024 + 1),
        ),
    ]


@case()
def publish_batch_answers_each_entry(c: Clients) -> list[Any]:
    topic = _topic(c)
    answer = c.sns.publish_batch(
        TopicArn=topic,
        PublishBatchRequestEntries=[{"Id": f"e{i}", "Message": f"m{i}"} for i in range(3)],
    )
    answer["Successful"].sort(key=lambda e: e["Id"])
    return [answer]


@case()
def publish_to_a_phone_number(c: Clients) -> list[Any]:
    return [
        c.sns.publish(PhoneNumber="+15555550100", Message="your code is 1234"),
        c.error(c.sns.publish, message=False, PhoneNumber="not a number", Message="x"),
    ]


@case()
def publish_batch_refuses_repeated_ids_and_too_many_entries(c: Clients) -> list[Any]:
    topic = _topic(c)
    return [
        c.error(
            c.sns.publish_batch,
            message=False,
            TopicArn=topic,
            PublishBatchRequestEntries=[{"Id": "same", "Message": "a"}] * 2,
        ),
        c.error(
            c.sns.publish_batch,
            message=False,
            TopicArn=topic,
            PublishBatchRequestEntries=[{"Id": f"e{i}", "Message": "a"} for i in range(11)],
        ),
    ]


@case(gap="FIFO topics (CreateTopic refuses a .fifo name with InvalidParameter)")
def a_fifo_topic_publish_needs_a_group(c: Clients) -> list[Any]:
    topic = _topic(c, FifoTopic="true", ContentBasedDeduplication="true")
    return [
        c.error(c.sns.publish, message=False, TopicArn=topic, Message="x"),
        c.sns.publish(TopicArn=topic, Message="x", MessageGroupId="g"),
    ]


# After every case is registered.
@pytest.mark.parametrize("name", suite.params())
def test_sns_case(name: str, backends: tuple[h.Backend, h.Backend]) -> None:
    sluiceway, moto = h.run(suite, name, *backends)
    assert sluiceway == moto
