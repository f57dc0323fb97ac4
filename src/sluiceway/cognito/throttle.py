"""Failed client authentications at the token endpoint, limited per client id and per source
address, as Cognito's request quotas limit them.

Each wrong client secret costs the server a deliberate scrypt (about 37 ms of a core): a
flood of them must not become a flood of scrypts. `FailedAttempts` counts each key's failed
attempts over the last minute; once a key has `limit` of them, a request for it is refused
at once (``429`` with ``Retry-After``, before any secret is checked) until its oldest
failure is a minute old. A success does not count; a flood from one address does not lock
out a client that asks from elsewhere with its right secret, unless that client id itself
is the one being guessed.
"""

from __future__ import annotations

import collections
import math
import threading
from collections.abc import Callable, Sequence

WINDOW_SECONDS = 60.0
DEFAULT_FAILURE_LIMIT = 20  # failed attempts a minute, per client id and per address
MAX_KEYS = 10_000  # keys remembered at once: the oldest go first (an attacker's many addresses)


class FailedAttempts:
    def __init__(self, limit: int, now: Callable[[], float]) -> None:
        if limit < 1:
            raise ValueError("the failed-attempt limit is at least 1 per minute")
        self.limit = limit
        self.now = now
        self._failures: collections.OrderedDict[str, collections.deque[float]] = (
            collections.OrderedDict()
        )
        self._lock = threading.Lock()

    def retry_after(self, keys: Sequence[str]) -> int | None:
        """Seconds until `keys` may try again (the longest of them), or None if they may now."""
        now = self.now()
        waits = []
        with self._lock:
            for key in keys:
                failures = self._recent(key, now)
                if failures is not None and len(failures) >= self.limit:
                    waits.append(failures[0] + WINDOW_SECONDS - now)
        return max(1, math.ceil(max(waits))) if waits else None

    def failed(self, keys: Sequence[str]) -> None:
        now = self.now()
        with self._lock:
            for key in keys:
                failures = self._recent(key, now)
                if failures is None:
                    failures = self._failures[key] = collections.deque()
                    while len(self._failures) > MAX_KEYS:
                        self._failures.popitem(last=False)
                failures.append(now)
                self._failures.move_to_end(key)

    def _recent(self, key: str, now: float) -> collections.deque[float] | None:
        failures = self._failures.get(key)
        if failures is None:
            return None
        while failures and failures[0] <= now - WINDOW_SECONDS:
            failures.popleft()
        return failures
