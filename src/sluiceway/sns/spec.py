"""An SNS topic and its subscriptions as declared."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sluiceway.core.specs import Endpoint

# Subscription protocols the local engine delivers (more arrive with their delivery code).
PROTOCOLS: tuple[str, ...] = ("email", "sms", "sqs")


FilterPolicyScope = Literal["MessageAttributes", "MessageBody"]


FILTER_POLICY_SCOPES: tuple[FilterPolicyScope, ...] = ("MessageAttributes", "MessageBody")


# SNS's AWS-managed key: what a topic is encrypted at rest with on AWS unless another is named.
AWS_MANAGED_KEY = "alias/aws/sns"


@dataclass(frozen=True)
class TopicSpec:
    """A topic. `kms_key` encrypts its messages at rest on AWS (``KmsMasterKeyId``: a key's
    alias, id or ARN); None leaves them unencrypted there."""

    name: str
    kms_key: str | None = AWS_MANAGED_KEY


@dataclass(frozen=True)
class FilterPolicy:
    """An SNS subscription filter policy: its JSON text (as validated) and its scope."""

    policy: str
    scope: FilterPolicyScope = "MessageAttributes"


@dataclass(frozen=True)
class SubscriptionSpec:
    """A declared subscription. An ``sqs`` one's endpoint is the name of a queue of the app
    (its ARN locally and on AWS); `raw_message_delivery` (only for ``sqs``) sends the message
    itself instead of SNS's JSON envelope."""

    topic: str
    protocol: str
    endpoint: Endpoint
    filter_policy: FilterPolicy | None = None
    raw_message_delivery: bool = False
