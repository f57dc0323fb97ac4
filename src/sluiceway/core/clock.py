"""Time as the engine sees it.

Everything time-dependent in the local engine (visibility timeouts, delays, retention,
batching windows, retry backoff) reads a `Clock`, never `time.time()` directly. The runtime uses
`SystemClock`; tests use `VirtualClock` and move it forward explicitly, so a 12-hour visibility
timeout is tested in microseconds and always the same way.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    @property
    def is_virtual(self) -> bool: ...


class SystemClock:
    is_virtual = False

    def now(self) -> float:
        return time.time()


class VirtualClock:
    """A clock that only moves when told to.

    >>> clock = VirtualClock(start=1_700_000_000.0)
    >>> clock.advance(30)
    >>> clock.now()
    1700000030.0
    """

    is_virtual = True

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a virtual clock does not go backwards")
        with self._lock:
            self._now += seconds

    def set(self, when: float) -> None:
        with self._lock:
            self._now = max(self._now, when)


def millis(seconds: float) -> int:
    return int(seconds * 1000)
