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

from sluiceway.clock import Clock

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
    (which `drain` does not wait for)."""

    name: str
    step: Callable[[], Step]
    channel: str | None
    periodic: bool = False


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
            self._wake.wait(timeout)
            self._wake.clear()
