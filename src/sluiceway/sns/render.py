"""SNS on AWS: a topic as an ``AWS::SNS::Topic`` (its ARN an output), and a subscription of
an endpoint SNS takes as declared (an address, a URL, a phone number for SMS) with its filter
policy."""

from __future__ import annotations

import json
from typing import Any

from sluiceway.aws import names
from sluiceway.aws.checks import check_rendered, describe
from sluiceway.aws.errors import RenderError
from sluiceway.aws.fragment import Fragment
from sluiceway.core.cfn import ref
from sluiceway.core.specs import ParameterRef
from sluiceway.sns.spec import FilterPolicy, SubscriptionSpec, TopicSpec

# Subscription protocols whose endpoint SNS takes as declared (an address, a URL, a number).
RENDERED_PROTOCOLS = frozenset({"email", "email-json", "http", "https", "sms"})


def render_topic(spec: TopicSpec) -> Fragment:
    check_rendered(spec, describe(spec))
    logical = names.resource_id(spec.name)
    properties: dict[str, Any] = {"TopicName": spec.name}
    if spec.name.endswith(".fifo"):
        properties["FifoTopic"] = True
    return Fragment(
        resources={logical: {"Type": "AWS::SNS::Topic", "Properties": properties}},
        outputs={
            names.output_id(spec.name, "arn"): {
                "Description": f"ARN of topic {spec.name}",
                "Value": ref(logical),
            }
        },
    )


def render_subscription(spec: SubscriptionSpec) -> Fragment:
    check_rendered(spec, describe(spec))
    if spec.protocol not in RENDERED_PROTOCOLS:
        raise RenderError(
            f"{describe(spec)}: the {spec.protocol} protocol is not rendered for AWS yet"
        )
    if spec.filter_policy is not None:
        check_rendered(spec.filter_policy, describe(spec))
    endpoint = spec.endpoint
    rendered = ref(names.parameter_id(endpoint)) if isinstance(endpoint, ParameterRef) else endpoint
    return Fragment(
        resources={
            names.subscription_id(spec): {
                "Type": "AWS::SNS::Subscription",
                "Properties": {
                    "TopicArn": ref(names.resource_id(spec.topic)),
                    "Protocol": spec.protocol,
                    "Endpoint": rendered,
                    **filter_policy(spec.filter_policy),
                },
            }
        }
    )


def filter_policy(policy: FilterPolicy | None) -> dict[str, Any]:
    """A subscription's ``FilterPolicy`` (an object in the template, as CloudFormation takes
    it) and its scope; nothing when every message passes."""
    if policy is None:
        return {}
    return {"FilterPolicy": json.loads(policy.policy), "FilterPolicyScope": policy.scope}
