"""Units of background work and the threads that run them.

Every piece of background work (a mapping, a delivery worker, the sweeper) is a `step()`
that does at most one batch and says whether it did anything and when it next may have
something to do. Tests run the steps directly (`LocalEngine.drain()`); the runtime runs each
in a thread that sleeps until a commit wakes it or its next due time comes, never polling.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sluiceway.core.clock import Clock

log = logging.getLogger("sluiceway.work")


@dataclass(frozen=True, slots=True)
class Step:
    did_work: bool
    due: float | None = None  # when there may be work again (epoch seconds), if known


IDLE = Step(False)
RETRY_CAP_SECONDS = 60


def backoff_ms(attempts: int) -> int:
    """Wait before retry number `attempts` (of a delivery, a stream batch): 1 s, doubling,
    at most a minute."""
    return int(min(RETRY_CAP_SECONDS, 2 ** max(0, attempts - 1)) * 1000)


@dataclass(frozen=True)
class Work:
    """A named step, the commit channel that wakes it, and whether it is periodic upkeep
    (which `drain` does not wait for). Units of one `crew` share a source of work."""

    name: str
    step: Callable[[], Step]
    channel: str | None
    periodic: bool = False
    crew: str | None = None


class Worker(threading.Thread):
    """Runs one `step` function until stopped; `wake()` ends its wait early."""

    def __init__(
        self, name: str, step: Callable[[], Step], clock: Clock, stop: threading.Event
    ) -> None:
        super().__init__(name=name, daemon=True)
        self._step = step
        self._clock = clock
        self._stopping = stop
        self._wake = threading.Event()
        self.failures = 0
        self.waiting = False

    def wake(self) -> None:
        self._wake.set()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                result = self._step()
                self.failures = 0
            except Exception:
                # A broken step must not spin: back off up to 5 s between attempts.
                self.failures += 1
                log.exception("%s failed", self.name)
                result = Step(False, self._clock.now() + min(5.0, 0.1 * 2**self.failures))
            if result.did_work:
                continue
            timeout = None if result.due is None else max(0.0, result.due - self._clock.now())
            self.waiting = True
            self._wake.wait(timeout)
            self.waiting = False
            self._wake.clear()


class Crew:
    """Workers sharing one source of work (the pollers of a queue, the delivery workers).

    A commit wakes one of them, not all: a trickle of messages then wakes one thread where
    it used to wake ten that mostly found nothing. A worker that finds a full batch calls
    `wake_one` again, so a backlog draws in the rest. `active()` says how many of the
    workers may work now (a queue mapping scales its pollers)."""

    def __init__(self, active: Callable[[], int] | None = None) -> None:
        self.workers: list[Worker] = []
        self._active = active
        self._next = 0

    def wake_one(self) -> None:
        count = len(self.workers)
        if self._active is not None:
            count = min(count, self._active())
        if count <= 0:
            return
        start = self._next
        for offset in range(count):
            worker = self.workers[(start + offset) % count]
            if worker.waiting:
                self._next = (start + offset + 1) % count
                worker.wake()
                return
        # All busy: one of them looks again after its current step, so no wake-up is lost.
        self._next = (start + 1) % count
        self.workers[start % count].wake()
