"""SQS queues and SNS topics and subscriptions from a template."""

from __future__ import annotations

import json
from typing import Any

from sluiceway.sns.handle import Topic
from sluiceway.sqs.handle import Queue
from sluiceway.templates import convert
from sluiceway.templates.build import Build
from sluiceway.templates.errors import TemplateError

QUEUE = "AWS::SQS::Queue"
TOPIC = "AWS::SNS::Topic"
_QUEUE_IGNORED = (
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "RedriveAllowPolicy",
    "ReceiveMessageWaitTimeSeconds",
)


def queue(build: Build, logical: str) -> Queue:
    """Declare the queue (its dead-letter queue first): the handle, once."""
    found = build.handles.get(logical)
    if isinstance(found, Queue):
        return found
    props = build.props(logical)
    where = build.where(logical)
    dead_letter, max_receive = None, None
    redrive = props.get("RedrivePolicy")
    if redrive is not None:
        if isinstance(redrive, str):
            try:
                redrive = json.loads(redrive)
            except json.JSONDecodeError:
                raise TemplateError(
                    f"{where} property RedrivePolicy", "is not JSON", "give a mapping"
                ) from None
        redrive = convert.mapping(f"{where} property RedrivePolicy", redrive)
        target = redrive.get("deadLetterTargetArn")
        dlq = build.origin(target, f"{where} property RedrivePolicy.deadLetterTargetArn", QUEUE)
        dead_letter = queue(build, dlq)
        max_receive = convert.integer(
            f"{where} property RedrivePolicy.maxReceiveCount", redrive.get("maxReceiveCount")
        )
    for key in convert.ignored(_QUEUE_IGNORED, props):
        build.note(f"{where}: {key} is not emulated (no effect locally)")

    def number(key: str, default: int) -> int:
        return convert.integer(f"{where} property {key}", props.get(key), default)

    handle = build.app.queue(
        build.name(logical),
        visibility_timeout=number("VisibilityTimeout", 30),
        delay_seconds=number("DelaySeconds", 0),
        message_retention_period=number("MessageRetentionPeriod", 345_600),
        maximum_message_size=number("MaximumMessageSize", 262_144),
        dead_letter=dead_letter,
        max_receive_count=max_receive,
        content_based_deduplication=convert.boolean(
            f"{where} property ContentBasedDeduplication", props.get("ContentBasedDeduplication")
        ),
    )
    build.handles[logical] = handle
    return handle


def queue_policy(build: Build, logical: str) -> None:
    """A queue policy grants other principals (API Gateway, SNS) the right to send; locally
    those services reach the queue through the runtime, so the policy only has to name
    queues of this template."""
    props = build.props(logical)
    for url in convert.listing(build.where(logical, "Queues"), props.get("Queues")):
        queue(build, build.origin(url, build.where(logical, "Queues"), QUEUE))


def topic(build: Build, logical: str) -> Topic:
    found = build.handles.get(logical)
    if isinstance(found, Topic):
        return found
    props = build.props(logical)
    where = build.where(logical)
    if convert.boolean(f"{where} property FifoTopic", props.get("FifoTopic")):
        raise TemplateError(
            where,
            "FIFO topics are not emulated yet",
            "use a standard topic locally (drop FifoTopic and the .fifo suffix)",
        )
    key = props.get("KmsMasterKeyId")  # kept as the template has it (none: unencrypted)
    handle = build.app.topic(build.name(logical), kms_key=key if isinstance(key, str) else None)
    build.handles[logical] = handle
    for i, item in enumerate(
        convert.listing(f"{where} property Subscription", props.get("Subscription"))
    ):
        entry = convert.mapping(f"{where} property Subscription[{i}]", item)
        subscribe(build, logical, entry.get("Protocol"), entry.get("Endpoint"), {}, where)
    return handle


def subscription(build: Build, logical: str) -> None:
    props = build.props(logical)
    where = build.where(logical)
    topic_logical = build.origin(props.get("TopicArn"), f"{where} property TopicArn", TOPIC)
    subscribe(build, topic_logical, props.get("Protocol"), props.get("Endpoint"), props, where)


def subscribe(
    build: Build,
    topic_logical: str,
    protocol: Any,
    endpoint: Any,
    props: dict[str, Any],
    where: str,
) -> None:
    """One subscription of the topic; a lambda subscription is the function's trigger and is
    declared with the function (`templates.functions`)."""
    handle = topic(build, topic_logical)
    policy = props.get("FilterPolicy")
    scope = props.get("FilterPolicyScope", "MessageAttributes")
    if protocol == "lambda":
        function = build.function_of(endpoint, f"{where} property Endpoint")

        def on_topic(name: str, common: dict[str, Any], handler: Any) -> None:
            build.app.on_topic(
                handle, filter_policy=policy, filter_policy_scope=scope, name=name, **common
            )(handler)

        build.trigger(function, f"SNS {handle.name}", on_topic)
        return
    raw = convert.boolean(f"{where} property RawMessageDelivery", props.get("RawMessageDelivery"))
    target: Any = endpoint
    if protocol == "sqs":
        target = queue(build, build.origin(endpoint, f"{where} property Endpoint", QUEUE))
    elif protocol not in ("email", "sms"):
        raise TemplateError(
            where,
            f"protocol {protocol!r} is not emulated",
            "use email, sms, sqs or lambda (docs/conformance.md lists what runs)",
        )
    if props.get("RedrivePolicy") is not None:
        build.note(f"{where}: RedrivePolicy is not emulated (deliveries retry in the outbox)")
    handle.subscribe(
        protocol, target, filter_policy=policy, filter_policy_scope=scope, raw_message_delivery=raw
    )
