"""SQS semantics, checked against a reference model by Hypothesis.

Random programs of send, receive, delete, change-visibility, time passing, purge and
redrive run against the engine's queue operations and against `Model`, a plain-Python
statement of the rules. After every step each message must be in the same queue, visible
at the same time, received the same number of times, and in flight or not, in both.

The model mirrors one engine choice SQS leaves open: among visible messages, a receive
takes the earliest-visible first (then the oldest).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from sluiceway import App, ValidationError
from sluiceway.core.clock import VirtualClock
from sluiceway.local import LocalEngine, Settings
from sluiceway.sqs import moves, queues
from sluiceway.sqs.messages import prepare

VISIBILITY = 10
RETENTION = 120
MAX_RECEIVES = 3
TWELVE_HOURS = 12 * 3600 * 1000
EXAMPLES = 150
STEPS = 40


@dataclass
class Entry:
    body: str
    queue: str
    sent_at: int
    visible_at: int
    count: int = 0
    receipt: str | None = None
    received_at: int = 0
    seq: int = 0


@dataclass
class Model:
    now: int
    messages: dict[str, Entry] = field(default_factory=dict)  # by body
    purged_at: int | None = None
    order: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def send(self, body: str, delay: int) -> None:
        self.messages[body] = Entry(
            body, "work", self.now, self.now + delay * 1000, seq=next(self.order)
        )

    def receive(self, limit: int) -> list[str]:
        taken: list[str] = []
        for entry in sorted(
            (e for e in self.messages.values() if e.queue == "work" and e.visible_at <= self.now),
            key=lambda e: (e.visible_at, e.seq),
        ):
            if len(taken) == limit:
                break
            if entry.sent_at <= self.now - RETENTION * 1000:
                del self.messages[entry.body]
            elif entry.count >= MAX_RECEIVES:
                entry.queue, entry.visible_at, entry.receipt = "dead", self.now, None
            else:
                entry.count += 1
                entry.visible_at = self.now + VISIBILITY * 1000
                entry.received_at = self.now
                entry.receipt = "held"
                taken.append(entry.body)
        return taken

    def delete(self, body: str, current: bool) -> bool:
        entry = self.messages.get(body)
        if entry is None or not current or entry.receipt is None:
            return False
        del self.messages[body]
        return True

    def change(self, body: str, current: bool, timeout: int) -> bool:
        entry = self.messages.get(body)
        if entry is None or not current or entry.receipt is None or entry.visible_at <= self.now:
            return False
        if self.now + timeout * 1000 > entry.received_at + TWELVE_HOURS:
            return False
        entry.visible_at = self.now + timeout * 1000
        return True

    def purge(self) -> bool:
        if self.purged_at is not None and self.now - self.purged_at < 60_000:
            return False
        self.purged_at = self.now
        for body in [b for b, e in self.messages.items() if e.queue == "work"]:
            del self.messages[body]
        return True

    def redrive(self) -> None:
        for entry in sorted(
            (e for e in self.messages.values() if e.queue == "dead"), key=lambda e: e.seq
        ):
            entry.queue, entry.sent_at, entry.visible_at = "work", self.now, self.now
            entry.count, entry.receipt, entry.seq = 0, None, next(self.order)

    def view(self) -> dict[str, tuple[str, int, int, bool]]:
        return {
            b: (e.queue, e.visible_at, e.count, e.receipt is not None and e.visible_at > self.now)
            for b, e in self.messages.items()
        }


class QueueMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.bodies = itertools.count()
        self.receipts: dict[str, list[str]] = {}  # body -> receipts handed out, oldest first

    @initialize(tmp=st.builds(lambda: Path(__import__("tempfile").mkdtemp())))
    def open(self, tmp: Path) -> None:
        app = App("model")
        dead = app.queue("dead", message_retention_period=RETENTION * 10)
        app.queue(
            "work",
            visibility_timeout=VISIBILITY,
            message_retention_period=RETENTION,
            dead_letter=dead,
            max_receive_count=MAX_RECEIVES,
        )
        self.clock = VirtualClock()
        self.engine = LocalEngine(
            app, Settings(data_dir=tmp, durability="relaxed"), clock=self.clock, env={}
        )
        self.engine.open()
        registry = self.engine.registry
        assert registry is not None
        self.work = registry.queue("work")
        self.dead = registry.queue("dead")
        self.registry = registry
        self.model = Model(now=int(self.clock.now() * 1000))

    def teardown(self) -> None:
        if hasattr(self, "engine"):
            self.engine.close()

    def write(self, op: Any) -> Any:
        return self.engine.store.write(op)

    @rule(delay=st.integers(0, 15))
    def send(self, delay: int) -> None:
        body = f"m{next(self.bodies)}"
        message = prepare(self.work, body, sender_id="test", delay_seconds=delay)
        self.write(lambda tx: queues.send(tx, self.work, message))
        self.model.send(body, delay)

    @rule(limit=st.integers(1, 4))
    def receive(self, limit: int) -> None:
        got = self.write(lambda tx: queues.claim(tx, self.work, limit))
        expected = self.model.receive(limit)
        assert [m.body for m in got] == expected
        for message in got:
            assert message.receive_count == self.model.messages[message.body].count
            self.receipts.setdefault(message.body, []).append(message.receipt)

    @precondition(lambda self: bool(self.receipts))
    @rule(data=st.data(), current=st.booleans())
    def delete(self, data: st.DataObject, current: bool) -> None:
        body, receipt, is_current = self._pick(data, current)
        deleted = self.write(lambda tx: queues.delete(tx, self.work, receipt))
        assert deleted == self.model.delete(body, is_current)

    @precondition(lambda self: bool(self.receipts))
    @rule(data=st.data(), current=st.booleans(), timeout=st.integers(0, 60))
    def change_visibility(self, data: st.DataObject, current: bool, timeout: int) -> None:
        body, receipt, is_current = self._pick(data, current)
        try:
            self.write(lambda tx: queues.change_visibility(tx, self.work, receipt, timeout))
            changed = True
        except ValidationError:
            changed = False
        assert changed == self.model.change(body, is_current, timeout)

    def _pick(self, data: st.DataObject, current: bool) -> tuple[str, str, bool]:
        body = data.draw(st.sampled_from(sorted(self.receipts)))
        handles = self.receipts[body]
        if current or len(handles) == 1:
            return body, handles[-1], True
        return body, data.draw(st.sampled_from(handles[:-1])), False

    @rule(seconds=st.integers(0, 40))
    def time_passes(self, seconds: int) -> None:
        self.clock.advance(seconds)
        self.model.now = int(self.clock.now() * 1000)

    @rule()
    def purge(self) -> None:
        try:
            self.write(lambda tx: queues.purge(tx, self.work))
            purged = True
        except ValidationError:
            purged = False
        assert purged == self.model.purge()

    @rule()
    def redrive(self) -> None:
        if not any(e.queue == "dead" for e in self.model.messages.values()):
            return
        self.write(lambda tx: moves.start(tx, self.registry, self.dead))
        while self.write(lambda tx: moves.step(tx, self.registry, "model")) is not None:
            pass
        self.model.redrive()

    @invariant()
    def the_queues_agree(self) -> None:
        if not hasattr(self, "engine"):
            return
        now = self.model.now
        rows = self.engine.store.query(
            "SELECT m.body, q.name, m.visible_at, m.receive_count, m.receipt FROM messages m "
            "JOIN queues q ON q.id = m.queue_id"
        )
        actual = {
            r["body"]: (
                r["name"],
                r["visible_at"],
                r["receive_count"],
                r["receipt"] is not None and r["visible_at"] > now,
            )
            for r in rows
        }
        expected = self.model.view()
        # Expired messages linger until met; the model drops them only when met too.
        assert actual == expected


QueueMachine.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_queue_semantics_match_the_reference_model = QueueMachine.TestCase
