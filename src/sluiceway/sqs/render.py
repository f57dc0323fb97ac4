"""SQS on AWS: a queue as an ``AWS::SQS::Queue``, its dead-letter queue as its redrive
policy, its URL as an output."""

from __future__ import annotations

from typing import Any

from sluiceway.core.cfn import get_att, ref
from sluiceway.core.render import names
from sluiceway.core.render.checks import RenderedFields, check_rendered, described
from sluiceway.core.render.fragment import Fragment
from sluiceway.sqs.spec import QueueSpec

RENDERED_FIELDS: RenderedFields = {
    QueueSpec: frozenset(
        {
            "name",
            "visibility_timeout",
            "delay_seconds",
            "message_retention_period",
            "maximum_message_size",
            "dead_letter",
            "max_receive_count",
            "content_based_deduplication",
        }
    ),
}


def describe(spec: QueueSpec) -> str:
    return described("queue", spec.name)


def render_queue(spec: QueueSpec) -> Fragment:
    check_rendered(spec, describe(spec), RENDERED_FIELDS)
    logical = names.resource_id(spec.name)
    properties: dict[str, Any] = {"QueueName": spec.name}
    if spec.fifo:
        properties["FifoQueue"] = True
        properties["ContentBasedDeduplication"] = spec.content_based_deduplication
    properties |= {
        "VisibilityTimeout": spec.visibility_timeout,
        "DelaySeconds": spec.delay_seconds,
        "MessageRetentionPeriod": spec.message_retention_period,
        "MaximumMessageSize": spec.maximum_message_size,
        "SqsManagedSseEnabled": True,
    }
    if spec.dead_letter is not None:
        properties["RedrivePolicy"] = {
            "deadLetterTargetArn": get_att(names.resource_id(spec.dead_letter), "Arn"),
            "maxReceiveCount": spec.max_receive_count,
        }
    return Fragment(
        resources={
            logical: {
                "Type": "AWS::SQS::Queue",
                # Said out loud: `sluiceway destroy aws` removes waiting messages too.
                "DeletionPolicy": "Delete",
                "UpdateReplacePolicy": "Delete",
                "Properties": properties,
            }
        },
        outputs={
            names.output_id(spec.name, "url"): {
                "Description": f"URL of queue {spec.name}",
                "Value": ref(logical),
            }
        },
    )
