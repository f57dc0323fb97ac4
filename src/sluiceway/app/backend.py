"""The calls resource handles make, whichever target they are bound to: every service's.

The local engine implements this on SQLite; the AWS Lambda shim implements it on boto3. A
handler only ever talks to handles, so it runs unchanged on either.
"""

from __future__ import annotations

from typing import Protocol

from sluiceway.dynamodb.handle import TableBackend
from sluiceway.iot.handle import IotBackend
from sluiceway.sns.handle import TopicBackend
from sluiceway.sqs.handle import QueueBackend


class Backend(QueueBackend, TableBackend, TopicBackend, IotBackend, Protocol):
    """Every handle's calls: what `App.backend` is bound to."""
