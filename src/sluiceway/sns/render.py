"""SNS on AWS: a topic as an ``AWS::SNS::Topic`` (its ARN an output), and a subscription of
an endpoint SNS takes as declared (an address, a URL, a phone number for SMS) or of a queue
of the app (its ARN), with its filter policy.

A subscribed queue also gets an ``AWS::SQS::QueuePolicy`` letting its topics send to it:
SNS delivers only where the queue's policy allows ``sqs:SendMessage`` to
``sns.amazonaws.com`` for the topic's ARN. A queue has one policy, so it is rendered once,
with the queue's first subscription, for every topic subscribing it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from sluiceway.core.cfn import POLICY_VERSION, get_att, ref
from sluiceway.core.errors import RenderError
from sluiceway.core.naming import logical_id
from sluiceway.core.render import names
from sluiceway.core.render.checks import RenderedFields, check_rendered, described
from sluiceway.core.render.fragment import Fragment
from sluiceway.core.specs import ParameterRef
from sluiceway.sns.spec import FilterPolicy, SubscriptionSpec, TopicSpec

RENDERED_FIELDS: RenderedFields = {
    TopicSpec: frozenset({"name", "kms_key"}),
    SubscriptionSpec: frozenset(
        {"topic", "protocol", "endpoint", "filter_policy", "raw_message_delivery"}
    ),
    FilterPolicy: frozenset({"policy", "scope"}),
}

# Subscription protocols whose endpoint SNS takes as declared (an address, a URL, a number).
RENDERED_PROTOCOLS = frozenset({"email", "email-json", "http", "https", "sms"})
# Subscriptions to a queue of the app, by its ARN.
QUEUE_PROTOCOL = "sqs"


def describe_topic(spec: TopicSpec) -> str:
    return described("topic", spec.name)


def describe_subscription(spec: SubscriptionSpec) -> str:
    endpoint = spec.endpoint
    shown = f"<{endpoint.name}>" if isinstance(endpoint, ParameterRef) else endpoint
    return f"subscription {spec.protocol}:{shown} on topic '{spec.topic}'"


def subscription_id(subscription: SubscriptionSpec) -> str:
    """Stable across declaration order: named after the parameter that holds the endpoint,
    the queue an sqs one sends to, or a short digest of a literal endpoint (which keeps
    addresses out of IDs)."""
    endpoint = subscription.endpoint
    if isinstance(endpoint, ParameterRef):
        tail = endpoint.name
    elif subscription.protocol == "sqs":  # a queue of the app, by its name
        tail = endpoint
    else:
        tail = hashlib.sha256(endpoint.encode()).hexdigest()[:8]
    return logical_id(f"{subscription.topic}-{subscription.protocol}-{tail}")


def render_topic(spec: TopicSpec) -> Fragment:
    check_rendered(spec, describe_topic(spec), RENDERED_FIELDS)
    logical = names.resource_id(spec.name)
    properties: dict[str, Any] = {"TopicName": spec.name}
    if spec.name.endswith(".fifo"):
        properties["FifoTopic"] = True
    if spec.kms_key is not None:
        properties["KmsMasterKeyId"] = spec.kms_key
    return Fragment(
        resources={logical: {"Type": "AWS::SNS::Topic", "Properties": properties}},
        outputs={
            names.output_id(spec.name, "arn"): {
                "Description": f"ARN of topic {spec.name}",
                "Value": ref(logical),
            }
        },
    )


def render_subscription(
    spec: SubscriptionSpec, subscriptions: Sequence[SubscriptionSpec]
) -> Fragment:
    """One subscription; `subscriptions` are all the app's (a queue's one policy names every
    topic subscribing it)."""
    where = describe_subscription(spec)
    check_rendered(spec, where, RENDERED_FIELDS)
    if spec.protocol not in RENDERED_PROTOCOLS | {QUEUE_PROTOCOL}:
        raise RenderError(f"{where}: the {spec.protocol} protocol is not rendered for AWS yet")
    if spec.filter_policy is not None:
        check_rendered(spec.filter_policy, where, RENDERED_FIELDS)
    endpoint = spec.endpoint
    rendered: Any
    if isinstance(endpoint, ParameterRef):
        rendered = ref(names.parameter_id(endpoint))
    elif spec.protocol == QUEUE_PROTOCOL:
        rendered = get_att(names.resource_id(endpoint), "Arn")
    else:
        rendered = endpoint
    properties: dict[str, Any] = {
        "TopicArn": ref(names.resource_id(spec.topic)),
        "Protocol": spec.protocol,
        "Endpoint": rendered,
        **filter_policy(spec.filter_policy),
    }
    if spec.raw_message_delivery:
        properties["RawMessageDelivery"] = True
    resources = {
        subscription_id(spec): {"Type": "AWS::SNS::Subscription", "Properties": properties}
    }
    if spec.protocol == QUEUE_PROTOCOL and isinstance(endpoint, str):
        topics = [
            s.topic for s in subscriptions if (s.protocol, s.endpoint) == (QUEUE_PROTOCOL, endpoint)
        ]
        if topics[0] == spec.topic:
            resources[names.queue_policy_id(endpoint)] = queue_policy(endpoint, topics)
    return Fragment(resources=resources)


def queue_policy(queue: str, topics: list[str]) -> dict[str, Any]:
    """The policy letting SNS send `queue` what `topics` publish, and nothing else."""
    sources = [ref(names.resource_id(topic)) for topic in topics]
    return {
        "Type": "AWS::SQS::QueuePolicy",
        "Properties": {
            "Queues": [ref(names.resource_id(queue))],
            "PolicyDocument": {
                "Version": POLICY_VERSION,
                "Statement": [
                    {
                        "Sid": "TopicsSend",
                        "Effect": "Allow",
                        "Principal": {"Service": "sns.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": get_att(names.resource_id(queue), "Arn"),
                        "Condition": {
                            "ArnEquals": {
                                "aws:SourceArn": sources[0] if len(sources) == 1 else sources
                            }
                        },
                    }
                ],
            },
        },
    }


def filter_policy(policy: FilterPolicy | None) -> dict[str, Any]:
    """A subscription's ``FilterPolicy`` (an object in the template, as CloudFormation takes
    it) and its scope; nothing when every message passes."""
    if policy is None:
        return {}
    return {"FilterPolicy": json.loads(policy.policy), "FilterPolicyScope": policy.scope}
