"""SQS's API on the runtime's port, both protocols (json as current SDKs speak it, query as
older ones do), on the same queues the app declares (see `sluiceway.local.aws_api`).

The operations register in `wire_common.operations` as their modules are imported here:
`wire_queues` (queues, attributes, tags, dead-letter queues, move tasks) and
`wire_messages` (send, receive, delete, visibility).
"""

from __future__ import annotations

from sluiceway.sqs import wire_messages, wire_queues
from sluiceway.sqs.wire_common import QUERY_CODES, QUERY_NAMES, QueueEngine, operations

__all__ = [
    "QUERY_CODES",
    "QUERY_NAMES",
    "QueueEngine",
    "operations",
    "wire_messages",
    "wire_queues",
]
