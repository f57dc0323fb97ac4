"""SQS on AWS: a queue as an ``AWS::SQS::Queue``, its dead-letter queue as its redrive
policy, its URL as an output."""

from __future__ import annotations

from typing import Any

from sluiceway.aws import names
from sluiceway.aws.checks import check_rendered, describe
from sluiceway.aws.fragment import Fragment
from sluiceway.core.cfn import get_att, ref
from sluiceway.sqs.spec import QueueSpec


def render_queue(spec: QueueSpec) -> Fragment:
    check_rendered(spec, describe(spec))
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
