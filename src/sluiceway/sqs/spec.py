"""An SQS queue as declared."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QueueSpec:
    name: str
    visibility_timeout: int = 30
    delay_seconds: int = 0
    message_retention_period: int = 345_600
    maximum_message_size: int = 1_048_576
    dead_letter: str | None = None
    max_receive_count: int | None = None
    content_based_deduplication: bool = False

    @property
    def fifo(self) -> bool:
        return self.name.endswith(".fifo")
