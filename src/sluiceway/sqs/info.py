"""A queue as the local engine knows it once stored: its id, spec, ARN and dead-letter queue."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from sluiceway.sqs.spec import QueueSpec


@dataclass(frozen=True)
class QueueInfo:
    id: int
    spec: QueueSpec
    arn: str
    dead_letter_id: int | None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def channel(self) -> str:
        return f"queue:{self.id}"


class Queues(Protocol):
    """The stored queues, looked up by name or id (the engine's `Registry`)."""

    @property
    def queues(self) -> Mapping[str, QueueInfo]: ...

    def queue_by_id(self, queue_id: int) -> QueueInfo: ...
