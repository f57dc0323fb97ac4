"""An EventBridge pipe as declared: source, filters, enrichment, target."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sluiceway.awslambda.spec import QueueSource, StreamSource


@dataclass(frozen=True)
class PipeTarget:
    """Where a pipe delivers: a function (invoked with the batch), a queue (one message per
    record) or a topic (one publish per record)."""

    kind: Literal["function", "queue", "topic"]
    name: str


@dataclass(frozen=True)
class PipeSpec:
    """An EventBridge Pipe: records from a table's stream or a queue, filtered, optionally
    enriched by a function, delivered to a target. `source` is a `StreamSource` or a
    `QueueSource` carrying the source parameters Pipes share with Lambda's mappings
    (filters in the Pipes context; `on_failure` is the pipe's dead-letter target)."""

    name: str
    source: StreamSource | QueueSource
    target: PipeTarget
    enrichment: str | None = None
