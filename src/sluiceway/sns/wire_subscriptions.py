"""SNS's subscription operations: Subscribe, Unsubscribe, ConfirmSubscription, the listings
and the subscription attributes.

The engine delivers email, SMS, Lambda (a function of the app) and SQS (a queue of this
runtime, by its ARN); the other protocols SNS knows are refused with a clear
InvalidParameter rather than accepted and never delivered. Email waits for its owner's
confirmation (the confirmation email goes through the outbox, as for a declared
subscription) unless the runtime auto-confirms; SMS, Lambda and SQS are confirmed at once,
as SNS confirms them (an SQS queue of the same account needs no confirmation message).
"""

from __future__ import annotations

from typing import Any

from sluiceway.core import naming
from sluiceway.core.errors import NotFound
from sluiceway.core.validation import E164
from sluiceway.core.wire import Call
from sluiceway.sns import sqs_fanout, subscriptions
from sluiceway.sns.subscriptions import SubscriptionRow
from sluiceway.sns.validation import EMAIL
from sluiceway.sns.wire_common import (
    SnsEngine,
    invalid,
    operation,
    page,
    subscription_topic,
    topic_of,
)

DELIVERED = ("email", "sms", "lambda", "sqs")
# What SNS knows but the engine has no delivery for.
UNDELIVERED = ("http", "https", "email-json", "application", "firehose")
# Confirmed at once, without a confirmation message.
CONFIRMED_AT_ONCE = ("lambda", "sms", "sqs")
PENDING_ARN = "pending confirmation"


def _endpoint(engine: SnsEngine, call: Call, protocol: str, endpoint: Any) -> str:
    """The endpoint as the engine keeps it (a function by its name), checked for its
    protocol as SNS checks it."""
    if protocol not in DELIVERED:
        if protocol in UNDELIVERED:
            raise invalid(
                f"Protocol Reason: sluiceway does not deliver to {protocol} subscriptions "
                f"(it delivers {', '.join(DELIVERED)})"
            )
        raise invalid(f"Amazon SNS does not support this protocol string: {protocol}")
    if not isinstance(endpoint, str) or not endpoint:
        raise invalid("Endpoint Reason: an endpoint is required for this protocol")
    if protocol == "email" and not EMAIL.fullmatch(endpoint):
        raise invalid("Email address")
    if protocol == "sms" and not E164.fullmatch(endpoint):
        raise invalid(f"SMS endpoint {endpoint!r} Reason: not a phone number in E.164 form")
    if protocol == "lambda":
        prefix = f"arn:aws:lambda:{call.region.region}:{call.region.account_id}:function:"
        name = endpoint.removeprefix(prefix).split(":", 1)[0]
        if name not in {f.name for f in engine.graph.functions}:
            raise invalid(
                f"Lambda endpoint {endpoint!r} Reason: no function of this app has that ARN "
                "(sluiceway delivers to the app's own functions)"
            )
        return name
    if protocol == "sqs":
        queue = sqs_fanout.queue_of(engine.store.reader(), call.region, endpoint)
        if queue is None:
            # SNS refuses an ARN that names no queue; sluiceway also refuses one that names
            # no queue of this runtime (it would deliver to nothing).
            raise invalid("SQS endpoint ARN")
        if queue.spec.fifo:
            raise invalid(
                "Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be subscribed to "
                "standard SNS topics"
            )
    return endpoint


def shown_endpoint(call: Call, row: SubscriptionRow) -> str:
    if row.protocol == "lambda":
        return naming.function_arn(call.region, row.endpoint)
    return row.endpoint


@operation("Subscribe")
def subscribe(engine: SnsEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    topic = topic_of(engine, call, params["TopicArn"])
    call.authorize("topic", topic.name, "sns:Subscribe", topic.arn)
    protocol = params["Protocol"]
    endpoint = _endpoint(engine, call, protocol, params.get("Endpoint"))
    attributes = dict(params.get("Attributes") or {})
    confirm_now = engine.settings.auto_confirm or protocol in CONFIRMED_AT_ONCE
    made = engine.store.write(
        lambda tx: subscriptions.subscribe(
            tx, topic, protocol, endpoint, attributes, confirm_now=confirm_now
        )
    )
    shown = made.arn if not made.pending or params.get("ReturnSubscriptionArn") else PENDING_ARN
    return {"SubscriptionArn": shown}


@operation("Unsubscribe")
def unsubscribe(engine: SnsEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    arn = params["SubscriptionArn"]
    name = subscription_topic(call, arn)
    call.authorize("topic", name, "sns:Unsubscribe", arn)
    engine.store.write(lambda tx: subscriptions.remove(tx, arn))
    return {}


@operation("ConfirmSubscription")
def confirm_subscription(engine: SnsEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    topic = topic_of(engine, call, params["TopicArn"])
    call.authorize("topic", topic.name, "sns:ConfirmSubscription", topic.arn)
    token = params["Token"]

    def confirm(tx: Any) -> str:
        if subscriptions.token_of(tx, token) != topic.name:
            raise invalid("Token")
        try:
            return subscriptions.confirm(tx, token)
        except NotFound:
            raise invalid("Token") from None

    return {"SubscriptionArn": engine.store.write(confirm)}


def _listed(call: Call, rows: list[SubscriptionRow], token: Any) -> dict[str, Any]:
    chunk, next_token = page(rows, token)
    answer: dict[str, Any] = {
        "Subscriptions": [
            {
                "SubscriptionArn": "PendingConfirmation" if row.status == "pending" else row.arn,
                "Owner": call.region.account_id,
                "Protocol": row.protocol,
                "Endpoint": shown_endpoint(call, row),
                "TopicArn": naming.topic_arn(call.region, row.topic),
            }
            for row in chunk
        ]
    }
    if next_token is not None:
        answer["NextToken"] = next_token
    return answer


@operation("ListSubscriptions")
def list_subscriptions(engine: SnsEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    call.require_admin("sns:ListSubscriptions", naming.topic_arn(call.region, "*"))
    rows = subscriptions.listed(engine.store.reader())
    return _listed(call, rows, params.get("NextToken"))


@operation("ListSubscriptionsByTopic")
def list_subscriptions_by_topic(
    engine: SnsEngine, call: Call, params: dict[str, Any]
) -> dict[str, Any]:
    topic = topic_of(engine, call, params["TopicArn"])
    call.authorize("topic", topic.name, "sns:ListSubscriptionsByTopic", topic.arn)
    rows = subscriptions.listed(engine.store.reader(), topic.id)
    return _listed(call, rows, params.get("NextToken"))


@operation("GetSubscriptionAttributes")
def get_subscription_attributes(
    engine: SnsEngine, call: Call, params: dict[str, Any]
) -> dict[str, Any]:
    arn = params["SubscriptionArn"]
    name = subscription_topic(call, arn)
    call.authorize("topic", name, "sns:GetSubscriptionAttributes", arn)
    row = subscriptions.by_arn(engine.store.reader(), arn)
    confirmed = row.status == "confirmed"
    attributes = {
        "SubscriptionArn": row.arn,
        "TopicArn": naming.topic_arn(call.region, row.topic),
        "Owner": call.region.account_id,
        "Protocol": row.protocol,
        "Endpoint": shown_endpoint(call, row),
        "ConfirmationWasAuthenticated": "true" if confirmed else "false",
        "PendingConfirmation": "false" if confirmed else "true",
        "RawMessageDelivery": "false",
        **row.settings(),
    }
    return {"Attributes": attributes}


@operation("SetSubscriptionAttributes")
def set_subscription_attributes(
    engine: SnsEngine, call: Call, params: dict[str, Any]
) -> dict[str, Any]:
    arn = params["SubscriptionArn"]
    name = subscription_topic(call, arn)
    call.authorize("topic", name, "sns:SetSubscriptionAttributes", arn)
    attribute, value = params["AttributeName"], params.get("AttributeValue") or ""
    engine.store.write(lambda tx: subscriptions.set_attribute(tx, arn, attribute, value))
    return {}
