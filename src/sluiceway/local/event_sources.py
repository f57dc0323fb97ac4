"""The event source mappings of the app's functions (a queue's, a table stream's) and its
pipes, with where a stream mapping reports the records it discarded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, assert_never

from sluiceway.awslambda.invoke import Invoker
from sluiceway.awslambda.mappings import FunctionConsumer
from sluiceway.awslambda.queue_mapping import QueueMapping
from sluiceway.awslambda.spec import (
    DirectSource,
    FunctionSpec,
    HttpSource,
    QueueSource,
    ScheduleSource,
    StreamSource,
    TopicSource,
)
from sluiceway.awslambda.stream_mapping import FailureSink, StreamMapping
from sluiceway.core import naming
from sluiceway.core.clock import Clock
from sluiceway.core.specs import Destination
from sluiceway.core.store import Op, Store
from sluiceway.local.registry import Registry
from sluiceway.pipes.consumer import PipeConsumer
from sluiceway.pipes.spec import PipeSpec
from sluiceway.sns import topics
from sluiceway.sns.sqs_fanout import Fanout
from sluiceway.sqs import messages, queues

SourceMapping = QueueMapping | StreamMapping


class EventSources:
    """Makes the mappings of one engine (`LocalEngine.open`)."""

    def __init__(
        self,
        registry: Registry,
        invoker: Invoker,
        store: Store,
        clock: Clock,
        region: naming.Region,
        functions: dict[str, FunctionSpec],
        fanout: Fanout,
    ) -> None:
        self.registry = registry
        self.fanout = fanout  # the engine: what publishing to SQS subscriptions needs
        self.invoker = invoker
        self.store = store
        self.clock = clock
        self.region = region
        self.functions = functions

    def mapping(self, function: FunctionSpec) -> SourceMapping | None:
        registry = self.registry
        source = function.source
        match source:
            case QueueSource():
                return QueueMapping(
                    FunctionConsumer(function, self.invoker, self.region),
                    source,
                    registry.queue(source.queue),
                    store=self.store,
                    clock=self.clock,
                    region=self.region.region,
                )
            case StreamSource():
                return StreamMapping(
                    FunctionConsumer(function, self.invoker, self.region),
                    source,
                    registry.table(source.table),
                    store=self.store,
                    clock=self.clock,
                    region=self.region,
                    on_failure=None if source.on_failure is None else self._sink(source.on_failure),
                )
            case TopicSource() | HttpSource() | DirectSource() | ScheduleSource():
                # invoked by the outbox, the gateway, a pipe or the scheduler, not a mapping
                return None
            case _:
                assert_never(source)

    def pipe(self, pipe: PipeSpec) -> SourceMapping:
        """A pipe: the mapping of its source, handing batches to its enrichment and target."""
        registry = self.registry
        target = pipe.target
        consumer = PipeConsumer(
            pipe,
            invoker=self.invoker,
            functions=self.functions,
            deliver=None
            if target.kind == "function"
            else self._sender(Destination(target.kind, target.name), "pipes"),
            region=self.region,
        )
        source = pipe.source
        if isinstance(source, QueueSource):
            return QueueMapping(
                consumer,
                source,
                registry.queue(source.queue),
                store=self.store,
                clock=self.clock,
                region=self.region.region,
            )
        return StreamMapping(
            consumer,
            source,
            registry.table(source.table),
            store=self.store,
            clock=self.clock,
            region=self.region,
            on_failure=None
            if source.on_failure is None
            else self._sink(source.on_failure, "pipes"),
        )

    def _sink(self, destination: Destination, service: str = "lambda") -> FailureSink:
        """How a stream mapping reports what it discarded: a message to a queue or a
        publish to a topic, committed with the checkpoint that skips the records."""
        send = self._sender(destination, service)
        return lambda notice: send(json.dumps(notice))

    def _sender(self, destination: Destination, service: str) -> Callable[[str], Op[Any]]:
        """The op that sends a text to a queue (as `service`'s principal) or publishes it
        to a topic; the caller commits it with whatever made it necessary."""
        registry = self.registry
        sender = naming.principal_id(service)

        def deliver(text: str) -> Op[Any]:
            if destination.kind == "queue":
                queue = registry.queue(destination.name)
                message = messages.prepare(queue, text, sender_id=sender)
                return lambda tx: queues.send(tx, queue, message)
            topic = registry.topic(destination.name)
            publication = topics.prepare(text, subject=None, attributes=None, structure=None)
            return lambda tx: topics.publish(tx, topic, publication, self.fanout)

        return deliver
