"""A queue's attributes as SQS's API names them (``VisibilityTimeout``, ``RedrivePolicy``...):
checked and applied to the queue's `QueueSpec`, and described back for GetQueueAttributes.

The attributes the engine acts on live in the spec; the others SQS only keeps and shows
(``Policy``, the KMS settings, ``ReceiveMessageWaitTimeSeconds``, which the wire's receive
reads) are "extras", kept as the strings they were given.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from sluiceway.core import naming
from sluiceway.core.errors import ValidationError
from sluiceway.sqs.spec import QueueSpec

_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
# name -> (low, high) for the integer attributes
RANGES = {
    "DelaySeconds": (0, 900),
    "MaximumMessageSize": (1_024, 1_048_576),
    "MessageRetentionPeriod": (60, 1_209_600),
    "ReceiveMessageWaitTimeSeconds": (0, 20),
    "VisibilityTimeout": (0, 43_200),
    "KmsDataKeyReusePeriodSeconds": (60, 86_400),
}
_SPEC_FIELDS = {
    "DelaySeconds": "delay_seconds",
    "MaximumMessageSize": "maximum_message_size",
    "MessageRetentionPeriod": "message_retention_period",
    "VisibilityTimeout": "visibility_timeout",
}
_EXTRA_DEFAULTS = {"ReceiveMessageWaitTimeSeconds": "0", "SqsManagedSseEnabled": "true"}
_FIFO_DEFAULTS = {"DeduplicationScope": "queue", "FifoThroughputLimit": "perQueue"}
EXTRAS = frozenset(
    {
        "Policy",
        "RedriveAllowPolicy",
        "KmsMasterKeyId",
        "KmsDataKeyReusePeriodSeconds",
        *_EXTRA_DEFAULTS,
        *_FIFO_DEFAULTS,
    }
)
FIFO_ONLY = frozenset({"FifoQueue", "ContentBasedDeduplication", *_FIFO_DEFAULTS})
SETTABLE = frozenset({*_SPEC_FIELDS, *EXTRAS, "RedrivePolicy", "ContentBasedDeduplication"})
COUNTS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)
READ_ONLY = frozenset({*COUNTS, "CreatedTimestamp", "LastModifiedTimestamp", "QueueArn"})
ALL = frozenset({*SETTABLE, *READ_ONLY, "FifoQueue"})
_CHOICES = {
    "DeduplicationScope": ("messageGroup", "queue"),
    "FifoThroughputLimit": ("perQueue", "perMessageGroupId"),
    "SqsManagedSseEnabled": ("true", "false"),
    "ContentBasedDeduplication": ("true", "false"),
    "FifoQueue": ("true", "false"),
}


def invalid(name: str) -> ValidationError:
    return ValidationError(f"Invalid value for the parameter {name}.", code="InvalidAttributeValue")


def unknown(name: str) -> ValidationError:
    return ValidationError(f"Unknown Attribute {name}.", code="InvalidAttributeName")


def check_name(name: str, attributes: Mapping[str, str]) -> None:
    """CreateQueue's name rules: 1-80 letters, digits, hyphens and underscores; a FIFO
    queue's name ends in ``.fifo`` and the queue says ``FifoQueue=true``."""
    fifo = str(attributes.get("FifoQueue", "false")).lower() == "true"
    stem = name[:-5] if name.endswith(".fifo") else name
    if len(name) > 80 or not _QUEUE_NAME.fullmatch(stem):
        raise ValidationError(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
            code="InvalidParameterValue",
        )
    if fifo != name.endswith(".fifo"):
        raise ValidationError(
            "The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
            "underscores, must end with .fifo suffix and be 1 to 80 in length",
            code="InvalidParameterValue",
        )


def apply(
    spec: QueueSpec,
    extras: Mapping[str, str],
    attributes: Mapping[str, str],
    *,
    arn_name: Callable[[str], str | None],
    creating: bool,
) -> tuple[QueueSpec, dict[str, str]]:
    """The spec and extras with `attributes` applied, each checked as SQS checks it.
    `arn_name` names the queue an ARN of this account and region is (None: no such queue)."""
    changes: dict[str, Any] = {}
    out = dict(extras)
    for name, value in attributes.items():
        if name not in SETTABLE and not (creating and name == "FifoQueue"):
            raise unknown(name)
        if name in FIFO_ONLY and not spec.fifo:
            raise unknown(name)
        text = str(value)
        if name in RANGES:
            low, high = RANGES[name]
            if not text.lstrip("-").isdigit() or not low <= int(text) <= high:
                raise invalid(name)
        if name in _CHOICES and text not in _CHOICES[name]:
            raise invalid(name)
        if name in _SPEC_FIELDS:
            changes[_SPEC_FIELDS[name]] = int(text)
        elif name == "ContentBasedDeduplication":
            changes["content_based_deduplication"] = text == "true"
        elif name == "RedrivePolicy":
            changes["dead_letter"], changes["max_receive_count"] = _redrive(spec, text, arn_name)
        elif name in ("Policy", "RedriveAllowPolicy") and text:
            try:
                json.loads(text)
            except ValueError:
                raise invalid(name) from None
            out[name] = text
        elif name in EXTRAS:
            if text:
                out[name] = text
            else:
                out.pop(name, None)
    return dataclasses.replace(spec, **changes), out


def _redrive(
    spec: QueueSpec, text: str, arn_name: Callable[[str], str | None]
) -> tuple[str | None, int | None]:
    if not text.strip() or text.strip() == "{}":
        return None, None

    def bad(reason: str) -> ValidationError:
        return ValidationError(
            f"Value {text} for parameter RedrivePolicy is invalid. Reason: {reason}",
            code="InvalidParameterValue",
        )

    try:
        policy = json.loads(text)
    except ValueError:
        raise bad("Redrive policy is not a valid JSON map.") from None
    if not isinstance(policy, dict):
        raise bad("Redrive policy is not a valid JSON map.")
    target, count = policy.get("deadLetterTargetArn"), policy.get("maxReceiveCount")
    if target is None or count is None:
        raise bad("Redrive policy needs deadLetterTargetArn and maxReceiveCount.")
    if isinstance(count, bool) or not str(count).isdigit() or not 1 <= int(count) <= 1000:
        raise bad("Invalid value for maxReceiveCount: must be an integer from 1 to 1000.")
    name = arn_name(str(target))
    if name is None:
        raise bad("Dead letter target does not exist.")
    if name.endswith(".fifo") != spec.fifo:
        raise bad("Dead-letter queue must be same type of queue as the source.")
    return name, int(count)


def describe(spec: QueueSpec, extras: Mapping[str, str], region: naming.Region) -> dict[str, str]:
    """The attributes a queue's settings make, as GetQueueAttributes shows them (all but
    the counts and times)."""
    out = {
        "QueueArn": naming.queue_arn(region, spec.name),
        "VisibilityTimeout": str(spec.visibility_timeout),
        "DelaySeconds": str(spec.delay_seconds),
        "MessageRetentionPeriod": str(spec.message_retention_period),
        "MaximumMessageSize": str(spec.maximum_message_size),
        **_EXTRA_DEFAULTS,
    }
    if spec.fifo:
        out |= {
            "FifoQueue": "true",
            "ContentBasedDeduplication": "true" if spec.content_based_deduplication else "false",
            **_FIFO_DEFAULTS,
        }
    if spec.dead_letter is not None:
        out["RedrivePolicy"] = json.dumps(
            {
                "deadLetterTargetArn": naming.queue_arn(region, spec.dead_letter),
                "maxReceiveCount": spec.max_receive_count,
            },
            separators=(",", ":"),
        )
    if "KmsMasterKeyId" in extras:
        out["KmsDataKeyReusePeriodSeconds"] = "300"
    return out | dict(extras)


def differing(
    given: Mapping[str, str], stored: Mapping[str, str], wanted: Mapping[str, str]
) -> str | None:
    """The first attribute CreateQueue gave whose value differs from the existing queue's."""
    for name in given:
        if stored.get(name) != wanted.get(name):
            if name == "RedrivePolicy" and _same_json(stored.get(name), wanted.get(name)):
                continue
            return name
    return None


def _same_json(a: str | None, b: str | None) -> bool:
    try:
        return bool(json.loads(a or "null") == json.loads(b or "null"))
    except ValueError:
        return False
