"""SNS's API (query) on the runtime's port (see `sluiceway.local.aws_api`): the topic,
subscription and publish operations, registered by their modules in one table."""

from __future__ import annotations

from sluiceway.sns import wire_publish, wire_subscriptions, wire_topics
from sluiceway.sns.wire_common import SnsEngine, operations

# The modules register their operations when imported.
MODULES = (wire_topics, wire_subscriptions, wire_publish)

__all__ = ["MODULES", "SnsEngine", "operations"]
