"""The runtime's live events: what a subscriber gets, from threads and from the event loop."""

from __future__ import annotations

import asyncio
import threading

from sluiceway.local.events_bus import EventBus


def test_a_subscriber_gets_what_is_published_after_it_subscribed_in_order() -> None:
    bus = EventBus()
    bus.publish("request", {"n": 0})
    with bus.subscribe() as events:
        for n in range(1, 4):
            bus.publish("request", {"n": n})
        got = [events.get(timeout=1) for _ in range(3)]
    assert [e.data["n"] for e in got if e is not None] == [1, 2, 3]
    assert [e.json()["kind"] for e in got if e is not None] == ["request"] * 3


def test_since_replays_the_retained_events_first_and_never_twice() -> None:
    bus = EventBus(history=3)
    for n in range(5):
        bus.publish("invocation", {"n": n})
    with bus.subscribe(since=0) as events:
        bus.publish("invocation", {"n": 5})
        got = [events.get(timeout=1) for _ in range(4)]
        assert events.get(timeout=0) is None
    assert [e.data["n"] for e in got if e is not None] == [2, 3, 4, 5]


def test_a_slow_subscriber_loses_its_oldest_events_not_the_publishers_time() -> None:
    bus = EventBus()
    with bus.subscribe(backlog=2) as events:
        for n in range(5):
            bus.publish("delivery", {"n": n})
        assert [e.data["n"] for e in events.take_all()] == [3, 4]
        assert events.dropped == 3


def test_the_event_loop_is_woken_by_a_publish_from_another_thread() -> None:
    bus = EventBus()

    async def follow() -> list[int]:
        seen: list[int] = []
        with bus.subscribe() as events:
            threading.Thread(target=lambda: bus.publish("mapping", {"n": 7})).start()
            async for event in events:
                seen.append(event.data["n"])
                bus.disconnect_all()
        return seen

    assert asyncio.run(follow()) == [7]


def test_disconnect_all_ends_every_subscription_but_the_bus_goes_on() -> None:
    bus = EventBus()
    first = bus.subscribe()
    bus.disconnect_all()
    assert first.closed
    assert first.get(timeout=5) is None
    with bus.subscribe() as second:
        bus.publish("request", {})
        assert second.get(timeout=1) is not None
