"""WAF's rate-based rule, evaluated: each key's requests counted in the trailing window."""

from __future__ import annotations

from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable

from sluiceway.core.clock import Clock
from sluiceway.wafv2.compiled import Compiled, Outcome, Tally
from sluiceway.wafv2.request import Verdict, View, parse_address
from sluiceway.wafv2.rules import Rule
from sluiceway.wafv2.statements import RateBasedStatement

RATE_LIMIT_MAX_KEYS = 10_000  # WAF rate-limits at most 10,000 aggregation instances per rule


_SLOTS = 60  # buckets per rate window
_ZEROS = bytes(8 * _SLOTS)


class _Window:
    """One key's requests in the trailing window: a ring of per-bucket counts and their sum,
    so memory per key is fixed whatever the request rate."""

    __slots__ = ("counts", "last", "total")

    def __init__(self, slot: int) -> None:
        self.counts = array("Q", _ZEROS)
        self.last = slot
        self.total = 0

    def add(self, slot: int) -> int:
        """Count one request in `slot`; return the requests in the window ending there."""
        gap = slot - self.last
        if gap >= _SLOTS:
            self.counts = array("Q", _ZEROS)
            self.total = 0
        else:
            counts = self.counts
            for expired in range(self.last + 1, slot + 1):
                index = expired % _SLOTS
                self.total -= counts[index]
                counts[index] = 0
        self.last = max(self.last, slot)  # a clock that steps back counts in the latest bucket
        self.counts[self.last % _SLOTS] += 1
        self.total += 1
        return self.total


class RateBased(Compiled):
    """WAF's rate-based rule: count every request that reaches it (and its scope), apply
    the action while the key's count in the trailing window is over the limit."""

    def __init__(self, rule: Rule, statement: RateBasedStatement, clock: Clock, max_keys: int):
        self.name = rule.name
        self._outcome = Outcome(rule.name, rule.action)
        self._limit = statement.limit
        self._bucket_seconds = statement.evaluation_window_sec // _SLOTS
        self._prefix = statement.scope_down_path_prefix
        self._key = _rate_key(statement)
        self._clock = clock
        self._max_keys = max_keys
        # Least recently seen first: idle keys and, at the cap, the stalest go first.
        self.windows: OrderedDict[str, _Window] = OrderedDict()

    def evaluate(self, view: View) -> Verdict | None:
        if self._prefix is not None and not view.decoded_path().startswith(self._prefix):
            return None
        key = self._key(view)
        if key is None:
            return None
        if self._count(key, int(self._clock.now() // self._bucket_seconds)) <= self._limit:
            return None
        return self._outcome.apply()

    def _count(self, key: str, slot: int) -> int:
        windows = self.windows
        while windows:
            oldest = next(iter(windows.values()))
            if slot - oldest.last < _SLOTS:
                break
            windows.popitem(last=False)
        window = windows.get(key)
        if window is None:
            if len(windows) >= self._max_keys:
                windows.popitem(last=False)
            window = windows[key] = _Window(slot)
        else:
            windows.move_to_end(key)
        return window.add(slot)

    def tallies(self) -> Iterable[tuple[str, Tally]]:
        yield self.name, self._outcome.tally


def _rate_key(statement: RateBasedStatement) -> Callable[[View], str | None]:
    key = statement.key
    if key == "ip":
        return lambda view: view.request.client_ip or None
    if key == "forwarded_ip":
        assert statement.forwarded_ip_config is not None
        header = statement.forwarded_ip_config.header_name.lower()

        def forwarded(view: View) -> str | None:
            first = view.headers().get(header, "").split(",", 1)[0].strip()
            return first if parse_address(first) is not None else None

        return forwarded
    header = key[1].lower()
    return lambda view: view.headers().get(header)
