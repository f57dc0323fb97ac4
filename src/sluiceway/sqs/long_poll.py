"""Long polling (ReceiveMessage's ``WaitTimeSeconds``): a receive that found nothing waits
for a commit that touches its queue's channel, instead of polling the table.

One listener per store hears every commit and wakes the receives waiting on the channels
it touched. It is registered once and kept: adding and removing a store listener per
receive would change the listener list while the writer thread walks it.
"""

from __future__ import annotations

import threading
import weakref

from sluiceway.core.store import EXTERNAL, Store


class Waits:
    """The receives waiting on a store's channels."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, set[threading.Event]] = {}

    def __call__(self, channels: set[str]) -> None:
        with self._lock:
            if EXTERNAL in channels:  # another process committed: anything may have changed
                woken = [e for events in self._waiting.values() for e in events]
                self._waiting.clear()
            else:
                woken = [e for c in channels for e in self._waiting.pop(c, ())]
        for event in woken:
            event.set()

    def watch(self, channel: str) -> threading.Event:
        """An event set by the next commit touching `channel` (watch before looking, so a
        commit between the look and the wait is not missed)."""
        event = threading.Event()
        with self._lock:
            self._waiting.setdefault(channel, set()).add(event)
        return event

    def forget(self, channel: str, event: threading.Event) -> None:
        with self._lock:
            events = self._waiting.get(channel)
            if events is not None:
                events.discard(event)
                if not events:
                    del self._waiting[channel]


_BY_STORE: weakref.WeakKeyDictionary[Store, Waits] = weakref.WeakKeyDictionary()
_BY_STORE_LOCK = threading.Lock()


def waits(store: Store) -> Waits:
    """The store's `Waits`, listening from the first call on."""
    with _BY_STORE_LOCK:
        found = _BY_STORE.get(store)
        if found is None:
            found = _BY_STORE[store] = Waits()
            store.on_commit(found)
        return found
