"""Scheduled functions (`app.on_schedule`): EventBridge schedule rules invoking Lambda.

A fire is an asynchronous invocation, as EventBridge makes it: the Scheduled Event (or the
declared input) goes to the delivery outbox as Lambda's ``InvocationType=Event`` puts it
there (`topics.enqueue_invocation`), and the functions' delivery worker runs it with
Lambda's two retries. The outbox row commits in the transaction that records the slot it
fired for (table ``schedules``), so a crash neither loses a fire nor repeats one.

Each schedule's row also keeps when it was first run: a rate counts its periods from then,
across restarts. What falls due while the runtime is stopped is not made up, as EventBridge
does not backfill; slots missed while it could not fire (a laptop asleep) make one fire, for
the latest of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from sluiceway.awslambda.spec import FunctionSpec, ScheduleSource
from sluiceway.core import events, ids, naming
from sluiceway.core.clock import Clock
from sluiceway.core.schedule import Schedule, parse_schedule
from sluiceway.core.store import Store, Tx
from sluiceway.core.work import Step
from sluiceway.sns import topics


@dataclass
class Timer:
    """One scheduled function: its schedule, when the schedule was first run, and the last
    slot it fired for (epoch seconds)."""

    function: str
    source: ScheduleSource
    schedule: Schedule
    anchor: float
    fired: float | None = None


class Scheduler:
    """Fires the app's enabled schedules at their times, as one unit of background work
    (`step`); `floor` is when it started: nothing due before then fires."""

    def __init__(
        self,
        functions: Iterable[FunctionSpec],
        *,
        store: Store,
        clock: Clock,
        region: naming.Region,
    ) -> None:
        self.store = store
        self.clock = clock
        self.region = region
        scheduled = {f.name: f.source for f in functions if isinstance(f.source, ScheduleSource)}
        self.timers = [t for t in store.write(lambda tx: _sync(tx, scheduled)) if t.source.enabled]
        self.floor = clock.now()

    def next_due(self, timer: Timer) -> float | None:
        """The timer's next slot not fired yet and not before the scheduler started."""
        after = self.floor if timer.fired is None else max(timer.fired, self.floor)
        return timer.schedule.next_after(after, anchor=timer.anchor)

    def step(self) -> Step:
        """Fire every timer that is due; say when the next one is."""
        now = self.clock.now()
        fired = False
        for timer in self.timers:
            slot = _latest_due(timer, self.next_due(timer), now)
            if slot is not None:
                fired = self.store.write(partial(self._fire, timer=timer, slot=slot)) or fired
        dues = [due for due in map(self.next_due, self.timers) if due is not None]
        return Step(fired, min(dues, default=None))

    def _fire(self, tx: Tx, timer: Timer, slot: float) -> bool:
        """Record `slot` as fired and enqueue its invocation, unless it already fired (the
        clock went back since)."""
        row = tx.execute(
            "SELECT fired_slot FROM schedules WHERE function = ?", (timer.function,)
        ).fetchone()
        slot_ms = round(slot * 1000)
        if row is not None and row[0] is not None and row[0] >= slot_ms:
            timer.fired = row[0] / 1000
            return False
        tx.execute(
            "UPDATE schedules SET fired_slot = ? WHERE function = ?", (slot_ms, timer.function)
        )
        topics.enqueue_invocation(tx, timer.function, self.payload(timer, slot), ids.uuid4())
        timer.fired = slot
        return True

    def payload(self, timer: Timer, slot: float) -> str:
        """What the function gets: the declared input verbatim, or the Scheduled Event."""
        if timer.source.input is not None:
            return timer.source.input
        event = events.scheduled_event(
            event_id=ids.uuid4(),
            rule_arn=naming.rule_arn(self.region, f"{timer.function}-schedule"),
            when=slot,
            region=self.region.region,
            account=self.region.account_id,
        )
        return json.dumps(event)


def _latest_due(timer: Timer, due: float | None, now: float) -> float | None:
    """The latest slot from `due` on that is not after `now` (None if `due` is later)."""
    if due is None or due > now:
        return None
    while (following := timer.schedule.next_after(due, anchor=timer.anchor)) is not None:
        if following > now:
            break
        due = following
    return due


def _sync(tx: Tx, scheduled: dict[str, ScheduleSource]) -> list[Timer]:
    """The timers of the app's scheduled functions, from their rows: a new schedule, or one
    whose expression changed, starts now (as updating a rule restarts its rate); rows of
    functions no longer scheduled go."""
    rows = {
        r[0]: (r[1], r[2], r[3])
        for r in tx.execute("SELECT function, expression, created_at, fired_slot FROM schedules")
    }
    for gone in rows.keys() - scheduled.keys():
        tx.execute("DELETE FROM schedules WHERE function = ?", (gone,))
    timers = []
    for function, source in scheduled.items():
        expression, created_ms, fired_ms = rows.get(function, (None, tx.now_ms, None))
        if expression != source.expression:
            created_ms, fired_ms = tx.now_ms, None
            tx.execute(
                "INSERT OR REPLACE INTO schedules (function, expression, created_at, fired_slot) "
                "VALUES (?, ?, ?, NULL)",
                (function, source.expression, created_ms),
            )
        fired = None if fired_ms is None else fired_ms / 1000
        schedule = parse_schedule(source.expression)
        timers.append(Timer(function, source, schedule, created_ms / 1000, fired))
    return timers
