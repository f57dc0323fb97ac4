"""The runtime's threads: a `Worker` for each unit of background work, woken by the commits
that concern it. The workers of a crew (a queue mapping's pollers, a delivery worker's
batches in flight) are woken one at a time (`work.Crew`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from sluiceway.awslambda.queue_mapping import QueueMapping
from sluiceway.core.clock import Clock
from sluiceway.core.store import EXTERNAL
from sluiceway.core.work import Crew, Work, Worker
from sluiceway.local.event_sources import SourceMapping
from sluiceway.sns.deliveries import DeliveryWorker

Wake = Callable[[set[str]], None]


def workers_for(
    units: Sequence[Work],
    mappings: Sequence[SourceMapping],
    deliverers: Sequence[DeliveryWorker],
    clock: Clock,
    stop: threading.Event,
) -> tuple[list[Worker], Wake]:
    """A worker per unit (not started), and what wakes them for the channels a commit
    touched."""
    workers: list[Worker] = []
    by_channel: dict[str, list[Worker]] = {}
    crews: dict[str, Crew] = {}
    crews_by_channel: dict[str, list[Crew]] = {}
    for mapping in mappings:
        if isinstance(mapping, QueueMapping):
            crew = crews[f"mapping:{mapping.name}"] = Crew(_active_pollers(mapping))
            mapping.wake_pollers = crew.wake_one
    for deliverer in deliverers:
        crew = crews[f"delivery:{deliverer.name}"] = Crew()
        deliverer.wake_peer = crew.wake_one
    for unit in units:
        worker = Worker(unit.name, unit.step, clock, stop)
        workers.append(worker)
        if unit.crew is not None:
            crew = crews[unit.crew]
            if not crew.workers and unit.channel is not None:
                crews_by_channel.setdefault(unit.channel, []).append(crew)
            crew.workers.append(worker)
        elif unit.channel is not None:
            by_channel.setdefault(unit.channel, []).append(worker)

    def wake(touched: set[str]) -> None:
        if EXTERNAL in touched:  # another process wrote: anything may have work
            for worker in workers:
                worker.wake()
            return
        for channel in touched:
            for worker in by_channel.get(channel, ()):
                worker.wake()
            for crew in crews_by_channel.get(channel, ()):
                crew.wake_one()

    return workers, wake


def _active_pollers(mapping: QueueMapping) -> Callable[[], int]:
    return lambda: mapping.active
