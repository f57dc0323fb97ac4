"""The app's topic rules on the local engine: one MQTT subscriber and one unit of work per
rule (`sluiceway.iot.topic_rules` is the rules engine, `sluiceway.iot.subscriber` the
subscription).

A message that arrives wakes its rule's worker, which evaluates the rule, commits the
actions' writes in one transaction and only then acknowledges the message to the broker.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from sluiceway.app.graph import AppGraph
from sluiceway.core import naming
from sluiceway.core.clock import Clock
from sluiceway.core.settings import Settings
from sluiceway.core.store import Store
from sluiceway.core.work import IDLE, Step, Work
from sluiceway.iot import topic_rules
from sluiceway.iot.loopback import Loopback
from sluiceway.iot.publisher import MqttCarrier
from sluiceway.iot.rule_sql import Message
from sluiceway.iot.subscriber import Received, RuleSubscriber
from sluiceway.iot.topic_rules import CompiledRule, Targets
from sluiceway.local.registry import Registry
from sluiceway.sns.email import Links
from sluiceway.sns.signing import Signer
from sluiceway.sns.sqs_fanout import Fanout

log = logging.getLogger("sluiceway.iot.rules")
BATCH = 10


def channel(rule: str) -> str:
    return f"iot-rule:{rule}"


class Subscription(Protocol):
    """A rule's subscription: `RuleSubscriber` on a broker, `LoopbackSubscriber` in-process."""

    @property
    def display(self) -> str: ...

    def start(self, wait: float = 10.0) -> bool: ...

    def take(self, limit: int) -> list[Received]: ...

    def ack(self, received: Received) -> None: ...

    def close(self) -> None: ...


class RuleWorker:
    """One enabled rule: its subscription and the step that runs what arrived."""

    def __init__(
        self,
        rule: CompiledRule,
        subscriber: Subscription,
        *,
        store: Store,
        targets: Targets,
        fanout: Fanout,
        clock: Clock,
    ) -> None:
        self.rule = rule
        self.subscriber = subscriber
        self.store = store
        self.targets = targets
        self.fanout = fanout
        self.clock = clock
        self.matched = 0  # messages whose WHERE held (for tests and logs)

    def step(self) -> Step:
        batch = self.subscriber.take(BATCH)
        if not batch:
            return IDLE
        for received in batch:
            message = Message(
                received.topic, received.payload, timestamp_ms=int(self.clock.now() * 1000)
            )
            plan = topic_rules.plan(self.rule, message, self.targets, self.fanout)
            for failure in plan.failures:
                log.error(
                    "topic rule %s on %r: %s",
                    self.rule.name,
                    received.topic,
                    failure,
                )
            if plan.ops:
                self.store.write(plan.commit)
            if plan.selected is not None:
                self.matched += 1
            self.subscriber.ack(received)  # only now: the actions are durable
        return Step(True)


class TopicRules:
    """Every enabled rule of the app, subscribed to the broker at `url`."""

    def __init__(self, workers: list[RuleWorker]) -> None:
        self.workers = workers

    def work(self) -> list[Work]:
        return [Work(f"iot-rule:{w.rule.name}", w.step, channel(w.rule.name)) for w in self.workers]

    def close(self) -> None:
        for worker in self.workers:
            worker.subscriber.close()


class Host(Protocol):
    """What the rules need of the engine."""

    graph: AppGraph
    settings: Settings
    store: Store
    clock: Clock
    region: naming.Region
    mqtt: MqttCarrier | None
    loopback: Loopback | None
    registry: Registry | None

    @property
    def signer(self) -> Signer: ...

    @property
    def links(self) -> Links: ...

    def notify(self, channels: set[str]) -> None: ...


def subscribe(engine: Host) -> TopicRules:
    """The engine's rules, on the broker its MQTT deliveries go to (or its loopback)."""
    assert engine.mqtt is not None
    assert engine.registry is not None
    return start(
        engine.graph,
        engine.mqtt.publisher.url,
        loopback=engine.loopback,
        data_dir=Path(engine.settings.data_dir),
        store=engine.store,
        targets=engine.registry,
        fanout=engine,
        clock=engine.clock,
        notify=engine.notify,
    )


def start(
    graph: AppGraph,
    url: str,
    *,
    loopback: Loopback | None = None,
    data_dir: Path,
    store: Store,
    targets: Targets,
    fanout: Fanout,
    clock: Clock,
    notify: Callable[[set[str]], None],
) -> TopicRules:
    """Subscribe each enabled rule (waiting up to 10 s for the broker; after that the
    subscription keeps retrying in the background)."""
    workers: list[RuleWorker] = []
    for spec in graph.topic_rules:
        if not spec.enabled:
            log.info("topic rule %s is disabled (RuleDisabled), so it does not run", spec.name)
            continue
        rule = topic_rules.compile_rule(
            spec,
            functions=[f.name for f in graph.functions],
            queues_=[q.name for q in graph.queues],
            topics_=[t.name for t in graph.topics],
            tables_=[t.name for t in graph.tables],
        )
        arrived = functools.partial(notify, {channel(spec.name)})
        subscriber: Subscription = (
            loopback.subscribe(rule.topic_filter, arrived)
            if loopback is not None
            else RuleSubscriber(
                url,
                _client_id(data_dir, graph.name, spec.name),
                rule.topic_filter,
                on_arrival=arrived,
            )
        )
        workers.append(
            RuleWorker(
                rule,
                subscriber,
                store=store,
                targets=targets,
                fanout=fanout,
                clock=clock,
            )
        )
    rules = TopicRules(workers)
    try:
        for worker in workers:
            if not worker.subscriber.start(wait=10):
                log.warning(
                    "topic rule %s: MQTT broker %s not reachable yet; it subscribes when the "
                    "broker is up",
                    worker.rule.name,
                    worker.subscriber.display,
                )
    except BaseException:
        rules.close()
        raise
    return rules


def _client_id(data_dir: Path, app: str, rule: str) -> str:
    """Stable for this data directory and rule, so the broker keeps the rule's session (and
    the messages it has not acknowledged) across restarts."""
    digest = hashlib.sha256(f"{data_dir.resolve()}\0{app}\0{rule}".encode()).hexdigest()
    return f"sluiceway-rule-{digest[:16]}"
