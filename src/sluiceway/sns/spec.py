"""An SNS topic and its subscriptions as declared."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sluiceway.core.specs import Endpoint

# Subscription protocols the local engine delivers (more arrive with their delivery code).
PROTOCOLS: tuple[str, ...] = ("email", "sms")


FilterPolicyScope = Literal["MessageAttributes", "MessageBody"]


FILTER_POLICY_SCOPES: tuple[FilterPolicyScope, ...] = ("MessageAttributes", "MessageBody")


@dataclass(frozen=True)
class TopicSpec:
    name: str


@dataclass(frozen=True)
class FilterPolicy:
    """An SNS subscription filter policy: its JSON text (as validated) and its scope."""

    policy: str
    scope: FilterPolicyScope = "MessageAttributes"


@dataclass(frozen=True)
class SubscriptionSpec:
    topic: str
    protocol: str
    endpoint: Endpoint
    filter_policy: FilterPolicy | None = None
