"""`LocalEngine`: an app bound to a data directory, running on one machine.

The engine is the app's backend (every handle call lands here), owns the event source
mappings and the delivery workers, and runs them either in background threads (`start`, what
`sluiceway run` does) or synchronously until nothing is left to do (`drain`, what tests do).

    >>> with LocalEngine(app, Settings(data_dir=tmp_path), clock=VirtualClock()) as engine:
    ...     queue.send_message('{"item": "gloves"}')
    ...     engine.drain()
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar, assert_never

from sluiceway.apigateway import inbox
from sluiceway.app import App
from sluiceway.awslambda import pausing
from sluiceway.awslambda.environments import Environments
from sluiceway.awslambda.invoke import Invoker, Outcome, TaskTimedOut, current, current_trace
from sluiceway.awslambda.mappings import FunctionConsumer, commit_deferred
from sluiceway.awslambda.queue_mapping import QueueMapping
from sluiceway.awslambda.sns_lambda import LambdaCarrier
from sluiceway.awslambda.spec import (
    DirectSource,
    FunctionSpec,
    HttpSource,
    QueueSource,
    StreamSource,
    TopicSource,
)
from sluiceway.awslambda.stream_mapping import FailureSink, StreamMapping
from sluiceway.cognito.identity import Identity
from sluiceway.core import attrvalue, ids, naming, otel, traces
from sluiceway.core.clock import Clock, SystemClock
from sluiceway.core.errors import AccessDenied, SluicewayError
from sluiceway.core.faults import crash_point
from sluiceway.core.permissions import ACTION_OF_METHOD, allows, denied
from sluiceway.core.settings import Settings
from sluiceway.core.specs import Destination
from sluiceway.core.store import EXTERNAL, Op, Store, Tx
from sluiceway.core.work import IDLE, Crew, Step, Work, Worker
from sluiceway.dynamodb import tables
from sluiceway.dynamodb.keys import SortKeyCondition
from sluiceway.dynamodb.spec import TableSpec
from sluiceway.iot.mqtt import EmbeddedBroker, MqttCarrier, MqttPublisher
from sluiceway.local.counters import Metrics
from sluiceway.local.events_bus import EventBus
from sluiceway.local.registry import NewSubscription, Registry, resolve_parameters, sync
from sluiceway.pipes.consumer import PipeConsumer
from sluiceway.pipes.spec import PipeSpec
from sluiceway.sns import phones, topics
from sluiceway.sns.deliveries import DeliveryWorker, MailCarrier
from sluiceway.sns.email import DeliveryError, Links, Mailer
from sluiceway.sns.sender import ChildSender, SenderConfig, make_mailer
from sluiceway.sns.signing import Signer
from sluiceway.sns.sms import SmsCarrier, make_provider
from sluiceway.sns.spec import TopicSpec
from sluiceway.sns.topics import Job
from sluiceway.sqs import messages, moves, queues
from sluiceway.sqs.spec import QueueSpec

log = logging.getLogger("sluiceway.engine")
SourceMapping = QueueMapping | StreamMapping
T = TypeVar("T")

SWEEP_SECONDS = 60.0
ORPHAN_WAIT_STEPS = 600  # x 50 ms: how long to wait for a dead runtime's delivery process


def _alive(owner: str) -> bool:
    """Is the process named in the lock file ("pid 123") running?"""
    try:
        os.kill(int(owner.removeprefix("pid ")), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


class DataDirBusy(SluicewayError):
    code = "DataDirBusy"


class DrainDidNotSettle(SluicewayError):
    code = "DrainDidNotSettle"


def _recover(tx: Tx) -> None:
    """Undo what a crash left half-done: deliveries being sent and messages being
    processed go back to waiting (both are safe to repeat: see their modules)."""
    topics.release_in_flight(tx)
    queues.release_interrupted(tx)


class LocalEngine:
    def __init__(
        self,
        app: App,
        settings: Settings | None = None,
        *,
        clock: Clock | None = None,
        mailer: Mailer | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.app = app
        self.settings = settings or Settings()
        self.clock: Clock = clock or SystemClock()
        self.region = naming.Region(self.settings.region, self.settings.account_id)
        self.graph = app.graph
        self._env = os.environ if env is None else env
        self._mailer_override = mailer
        self.store = Store(
            Path(self.settings.data_dir), durability=self.settings.durability, clock=self.clock
        )
        self.exports_spans = False  # set by open()
        self.invoker = Invoker(region=self.region, now=self.clock.now, tracer=self)
        self.environments: Environments | None = None  # with process isolation, once open
        # The front door process's handle (`front_door.FrontDoor`), while `sluiceway run`
        # serves through one, and the work it adds (its inbox's import).
        self.front_door: Any = None
        self._extra_work: list[Work] = []
        self._wake: Callable[[set[str]], None] | None = None
        self.registry: Registry | None = None
        self.parameters: dict[str, str] = {}
        self.new_subscriptions: list[NewSubscription] = []
        self.identity: Identity | None = None
        self.mappings: list[SourceMapping] = []
        self.deliverers: list[DeliveryWorker] = []
        self.email: MailCarrier | None = None
        self.sms: SmsCarrier | None = None
        self.mqtt: MqttCarrier | None = None
        self.broker: EmbeddedBroker | None = None  # when the app uses IoT and no --mqtt
        self.sender: ChildSender | None = None
        self.links = Links(self.settings.base_url)
        self.signer = Signer(Path(self.settings.data_dir) / "keys")
        self._lock_file: IO[str] | None = None
        self._workers: list[Worker] = []
        self._stop = threading.Event()
        self._unlisten: Callable[[], None] = lambda: None
        self._strict = False  # set while the runtime's workers run (see _authorize)
        self._sweep_due = 0.0
        self._owner = f"runtime-{os.getpid()}-{id(self):x}"
        self._opened = False
        self.bus = EventBus()  # live events: `sluiceway tail`, the console
        self.metrics = Metrics()  # what /metrics counts as it happens
        self.paused: frozenset[str] = frozenset()  # mappings an operator paused

    # -- lifecycle ----------------------------------------------------------------------

    def open(self) -> LocalEngine:
        self._lock_data_dir()
        try:
            if self.settings.isolation == "process":
                self._start_environments()
            self.store.open()
            # Hops as OpenTelemetry spans too, when OTEL_* variables configure an exporter.
            self.exports_spans = otel.install(self.store.traces, self.app.name)
            self.parameters = resolve_parameters(self.graph, self.settings.params, self._env)
            self.registry, self.new_subscriptions = sync(
                self.store,
                self.graph,
                self.region,
                self.parameters,
                auto_confirm=self.settings.auto_confirm,
            )
            self.store.write(_recover)
            # What a front door acknowledged before a crash, before anything consumes.
            inbox.import_leftovers(
                self.settings.data_dir,
                self.settings.durability,
                self.store,
                {q.id: q for q in self.registry.queues.values()},
            )
            self.identity = Identity(
                app=self.graph.name,
                pools=self.graph.user_pools,
                store=self.store,
                data_dir=Path(self.settings.data_dir),
                clock=self.clock,
                region=self.region.region,
            )
            self.mappings = [m for m in map(self._mapping, self.graph.functions) if m is not None]
            self.mappings += [self._pipe(pipe) for pipe in self.graph.pipes]
            for mapping in self.mappings:
                if isinstance(mapping, StreamMapping):
                    mapping.start()
            self.email = MailCarrier(
                self._mailer_override
                or make_mailer(Path(self.settings.data_dir), self.settings.smtp),
                sender=self.settings.smtp_from,
                links=self.links,
            )
            self.sms = SmsCarrier(make_provider(self.settings.sms, Path(self.settings.data_dir)))
            self.deliverers = [
                DeliveryWorker("email", ("email",), self.email, store=self.store, clock=self.clock),
                DeliveryWorker("sms", ("sms",), self.sms, store=self.store, clock=self.clock),
            ]
            if self.graph.iot is not None:
                self.deliverers.append(self._mqtt_deliverer())
            subscribed = {
                f.name: f for f in self.graph.functions if isinstance(f.source, TopicSource)
            }
            if subscribed:
                functions = LambdaCarrier(
                    subscribed,
                    invoker=self.invoker,
                    signer=self.signer,
                    region=self.region,
                    links=lambda: self.links,
                )
                self.deliverers.append(
                    DeliveryWorker(
                        "lambda", ("lambda",), functions, store=self.store, clock=self.clock
                    )
                )
            self._observe()
        except BaseException:
            self._close_environments()
            self._close_mqtt()
            self.store.close()
            self._unlock_data_dir()
            raise
        self.app.bind(self)
        self._opened = True
        return self

    def close(self) -> None:
        if not self._opened:
            return
        self.stop()
        self.invoker.close()
        self._close_environments()
        self.app.bind(None)
        if self.email is not None:
            self.email.close()
        if self.sms is not None:
            self.sms.close()
        self._close_mqtt()
        self.store.close()
        self._unlock_data_dir()
        self._opened = False

    def _mqtt_deliverer(self) -> DeliveryWorker:
        """MQTT goes to ``--mqtt``'s broker or, without one, to a broker embedded here. One
        worker: messages leave in publish order."""
        url = self.settings.mqtt
        if url is None:
            self.broker = EmbeddedBroker().start()
            url = self.broker.url
        self.mqtt = MqttCarrier(MqttPublisher(url))
        return DeliveryWorker(
            "mqtt", ("mqtt",), self.mqtt, store=self.store, clock=self.clock, workers=1
        )

    def _close_mqtt(self) -> None:
        if self.mqtt is not None:
            self.mqtt.close()
            self.mqtt = None
        if self.broker is not None:
            self.broker.stop()
            self.broker = None

    def __enter__(self) -> LocalEngine:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _lock_data_dir(self) -> None:
        directory = Path(self.settings.data_dir)
        directory.mkdir(parents=True, exist_ok=True)
        handle = open(directory / "engine.lock", "a+")  # noqa: SIM115 - held while open
        waited = threading.Event()
        for _ in range(ORPHAN_WAIT_STEPS):
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                handle.seek(0)
                owner = handle.read().strip() or "another process"
                if _alive(owner):
                    handle.close()
                    raise DataDirBusy(
                        f"{directory} is in use by {owner}; stop it or choose another --data-dir"
                    ) from None
                # Its runtime is dead but its delivery process is finishing a delivery.
                waited.wait(0.05)
        else:
            handle.close()
            raise DataDirBusy(f"{directory} stays locked by a process that is not running")
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        self._lock_file = handle

    def _unlock_data_dir(self) -> None:
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    def _mapping(self, function: FunctionSpec) -> SourceMapping | None:
        registry = self._registry()
        source = function.source
        match source:
            case QueueSource():
                return QueueMapping(
                    FunctionConsumer(function, self.invoker, self.region),
                    source,
                    registry.queue(source.queue),
                    store=self.store,
                    clock=self.clock,
                    region=self.region.region,
                )
            case StreamSource():
                return StreamMapping(
                    FunctionConsumer(function, self.invoker, self.region),
                    source,
                    registry.table(source.table),
                    store=self.store,
                    clock=self.clock,
                    region=self.region,
                    on_failure=None if source.on_failure is None else self._sink(source.on_failure),
                )
            case TopicSource() | HttpSource() | DirectSource():
                return None  # invoked by the outbox, the gateway or a pipe, not by a mapping
            case _:
                assert_never(source)

    def _start_environments(self) -> None:
        """Process isolation: each function in execution environments of its own, which
        import the app again by its origin (see `sluiceway.awslambda.environments`)."""
        if self.app.origin is None:
            raise SluicewayError(
                f"app '{self.app.name}' was not loaded by reference, so its functions cannot "
                "be imported in execution environments of their own; load it with "
                "sluiceway.app.loader.load_app('module:attr' or 'path/to/app.py'), or use "
                "isolation='thread' (--isolation thread)"
            )
        self.environments = Environments(
            app=self.app.origin,
            graph=self.graph,
            region=self.region,
            root=Path(self.settings.data_dir) / "environments",
            idle_seconds=self.settings.environment_idle_seconds,
        )
        self.environments.start()
        self.invoker.environments = self.environments
        self.invoker.backend = self

    def _close_environments(self) -> None:
        if self.environments is not None:
            self.environments.close()
            self.environments = None
            self.invoker.environments = None

    def invoke_http(
        self, function: FunctionSpec, event: dict[str, Any], trace_id: str | None = None
    ) -> Outcome:
        """Invoke an HTTP route's function (API Gateway waits for it); its deferred effects
        commit before the answer goes out."""
        outcome = self.invoker.invoke(function, event, [trace_id])
        # Durable before the answer goes out: the deferred effects, and (commits being in
        # order) every table write the handler had answered early.
        deferred = outcome.deferred if outcome.ok else ()
        self.store.write(lambda tx: commit_deferred(tx, deferred))
        return outcome

    def _pipe(self, pipe: PipeSpec) -> SourceMapping:
        """A pipe: the mapping of its source, handing batches to its enrichment and target."""
        registry = self._registry()
        target = pipe.target
        consumer = PipeConsumer(
            pipe,
            invoker=self.invoker,
            functions={f.name: f for f in self.graph.functions},
            deliver=None
            if target.kind == "function"
            else self._sender(Destination(target.kind, target.name), "pipes"),
            region=self.region,
        )
        source = pipe.source
        if isinstance(source, QueueSource):
            return QueueMapping(
                consumer,
                source,
                registry.queue(source.queue),
                store=self.store,
                clock=self.clock,
                region=self.region.region,
            )
        return StreamMapping(
            consumer,
            source,
            registry.table(source.table),
            store=self.store,
            clock=self.clock,
            region=self.region,
            on_failure=None
            if source.on_failure is None
            else self._sink(source.on_failure, "pipes"),
        )

    def _sink(self, destination: Destination, service: str = "lambda") -> FailureSink:
        """How a stream mapping reports what it discarded: a message to a queue or a
        publish to a topic, committed with the checkpoint that skips the records."""
        send = self._sender(destination, service)
        return lambda notice: send(json.dumps(notice))

    def _sender(self, destination: Destination, service: str) -> Callable[[str], Op[Any]]:
        """The op that sends a text to a queue (as `service`'s principal) or publishes it
        to a topic; the caller commits it with whatever made it necessary."""
        registry = self._registry()
        sender = naming.principal_id(service)

        def deliver(text: str) -> Op[Any]:
            if destination.kind == "queue":
                queue = registry.queue(destination.name)
                message = messages.prepare(queue, text, sender_id=sender)
                return lambda tx: queues.send(tx, queue, message)
            topic = registry.topic(destination.name)
            publication = topics.prepare(text, subject=None, attributes=None, structure=None)
            return lambda tx: topics.publish(tx, topic, publication)

        return deliver

    def _registry(self) -> Registry:
        if self.registry is None:
            raise RuntimeError("the engine is not open")
        return self.registry

    def set_base_url(self, url: str) -> None:
        """Where links in notifications point (the runtime learns its port late)."""
        self.links = Links(url)
        if self.email is not None:
            self.email.links = self.links
        if self.sender is not None:
            self.sender.set_links(url)

    # -- what operators see and steer: metrics, live events, pauses ----------------------

    def _observe(self) -> None:
        """Count invocations and deliveries and tell the live events of them; note the
        app's mappings and which of them are paused, and listen for pauses."""
        self.invoker.observers.append(self._invoked)
        for deliverer in self.deliverers:
            deliverer.observers.append(self._delivered)
        entries = []
        for mapping in self.mappings:
            kind = "pipe" if mapping.consumer.pipe else "function"
            source = (
                f"queue:{mapping.queue.name}"
                if isinstance(mapping, QueueMapping)
                else f"table:{mapping.table.name}"
            )
            entries.append((mapping.name, kind, source))
        self.store.write(lambda tx: pausing.record(tx, entries))
        self.paused = frozenset(pausing.paused(self.store.reader()))
        self.store.on_commit(self._notice_pauses)

    def _invoked(self, function: FunctionSpec, outcome: Outcome) -> None:
        self.metrics.invoked(function.name, outcome.duration, outcome.ok)
        self.bus.publish(
            "invocation",
            {
                "function": function.name,
                "request_id": outcome.request_id,
                "duration_ms": round(outcome.duration * 1000, 3),
                "ok": outcome.ok,
                "error": None if outcome.error is None else repr(outcome.error)[:300],
            },
        )

    def _delivered(self, job: Job, failure: DeliveryError | None) -> None:
        status = "delivered" if failure is None else "failed" if failure.permanent else "retrying"
        self.metrics.delivery(job.protocol, status)
        self.bus.publish(
            "delivery",
            {
                "id": job.id,
                "protocol": job.protocol,
                "endpoint": job.endpoint,
                "topic": job.topic or None,
                "delivery_kind": job.kind,  # a notification, or a confirmation request
                "status": status,
                "attempts": job.attempts + 1,
                "error": None if failure is None else str(failure)[:300],
            },
        )

    def _notice_pauses(self, touched: set[str]) -> None:
        """A pause or resume, made here or by another process (the CLI; heard within
        `store.WATCH_SECONDS`): it holds from the mapping's next step; a resumed mapping is
        woken."""
        if EXTERNAL not in touched and pausing.CHANNEL not in touched:
            return
        paused = frozenset(pausing.paused(self.store.reader()))
        if paused == self.paused:
            return
        before, self.paused = self.paused, paused
        for name in sorted(paused - before):
            log.info("mapping %s paused", name, extra={"mapping": name})
            self.bus.publish("mapping", {"name": name, "state": "paused"})
        for name in sorted(before - paused):
            log.info("mapping %s resumed", name, extra={"mapping": name})
            self.bus.publish("mapping", {"name": name, "state": "resumed"})
        for worker in self._workers:
            worker.wake()

    def _unless_paused(self, name: str, step: Callable[[], Step]) -> Callable[[], Step]:
        def run() -> Step:
            return IDLE if name in self.paused else step()

        return run

    # -- running the background work ----------------------------------------------------

    def work(self) -> list[Work]:
        """Every unit of background work."""
        units: list[Work] = []
        for mapping in self.mappings:
            if isinstance(mapping, QueueMapping):
                units += [
                    Work(
                        f"mapping:{mapping.name}:{n}",
                        self._unless_paused(mapping.name, mapping.poller(n)),
                        mapping.channel,
                        crew=f"mapping:{mapping.name}",
                    )
                    for n in range(mapping.pollers)
                ]
            else:
                units += [
                    Work(
                        f"mapping:{mapping.name}:lane{n}",
                        self._unless_paused(mapping.name, step),
                        mapping.channel,
                    )
                    for n, step in enumerate(mapping.steps())
                ]
        # Several batches of deliveries in flight keep a slow peer's connections busy.
        units += [
            Work(f"delivery:{d.name}:{n}", d.step, d.channel, crew=f"delivery:{d.name}")
            for d in self.deliverers
            for n in range(d.workers)
        ]
        units += self._extra_work
        units.append(Work("mover", self.move_messages, "moves"))
        units.append(Work("sweeper", self._sweep_step, None, periodic=True))
        return units

    def move_messages(self) -> Step:
        """Carry out DLQ redrive tasks (StartMessageMoveTask), a chunk per step."""
        registry = self._registry()
        due = self.store.write(lambda tx: moves.step(tx, registry, self._owner))
        if due is None:
            return Step(False)
        if due <= self.clock.now():
            return Step(True)
        return Step(False, due)

    def drain(self, *, advance_time: bool = False, max_steps: int = 100_000) -> int:
        """Run every mapping and delivery until none has anything to do; return how many
        steps did work. With a `VirtualClock` and ``advance_time=True``, jump the clock to the
        next due item (a delayed message, a retry) whenever idle, until nothing is due."""
        done = 0
        units = self.work()
        for _ in range(max_steps):
            results = [(unit, unit.step()) for unit in units]
            if any(r.did_work for _, r in results):
                done += sum(r.did_work for _, r in results)
                continue
            now = self.clock.now()
            dues = [
                r.due for u, r in results if not u.periodic and r.due is not None and r.due > now
            ]
            if advance_time and self.clock.is_virtual and dues:
                self.clock.set(min(dues))  # type: ignore[attr-defined]
                continue
            self.store.settle()  # settled: every hop so far is readable
            self.store.traces.flush()
            return done
        raise DrainDidNotSettle(f"still busy after {max_steps} steps (a handler failing forever?)")

    # -- the invoker's tracer: an invocation as a hop of each trace in its batch. Its place
    # in the trace is taken when it starts (before what its handler does); the hop goes to
    # the trace log once it is over (it belongs to no transaction).

    def started(
        self, function: str, request_id: str, trace_ids: Sequence[str]
    ) -> tuple[str, str, Sequence[str], int, int]:
        return (function, request_id, trace_ids, int(self.clock.now() * 1000), traces.next_seq())

    def finished(self, token: Any, duration_ms: float, error: BaseException | None) -> None:
        function, request_id, trace_ids, at_ms, seq = token
        detail: dict[str, Any] = {
            "request_id": request_id,
            "traces_in_batch": len(trace_ids),
            "ok": error is None,
        }
        if error is not None:
            detail["error"] = repr(error)[:500]

        self.store.traces.add(
            [traces.row(t, at_ms, "invoke", function, detail, duration_ms, seq) for t in trace_ids]
        )

    def sweep(self) -> int:
        """Drop expired messages, stream records older than 24 hours and items past their
        TTL; returns how many went."""
        registry = self._registry()

        def expire(tx: Tx) -> int:
            dropped = sum(queues.sweep_expired(tx, q) for q in registry.queues.values())
            for table in registry.tables.values():
                dropped += tables.trim_stream(tx, table)
                if table.spec.ttl_attribute:
                    dropped += tables.expire(tx, table)
            return dropped

        dropped = self.store.write(expire)
        try:
            dropped += self.store.traces.trim()
        except Exception:  # the trace log's own thread trims again within a minute
            log.exception("trimming trace hops failed")
        return dropped

    def _sweep_step(self) -> Step:
        """`sweep`, once a minute."""
        now = self.clock.now()
        if now >= self._sweep_due:
            self.sweep()
            self._sweep_due = now + SWEEP_SECONDS
        return Step(False, self._sweep_due)

    def _email_deliverers(self) -> list[DeliveryWorker]:
        """The workers that carry email (the delivery process takes them over in `start`;
        SMS and functions on topics stay in this process)."""
        return [d for d in self.deliverers if d.protocols == ("email",)]

    def start(self) -> None:
        """Run every unit of work in its own thread, woken by the commits that concern it."""
        if self._workers:
            return
        self._stop.clear()
        if self._mailer_override is None and self.email is not None:
            # Email leaves through the delivery process (see sender.py): it inherits the
            # data directory's lock, so a restart waits for it to record its last delivery.
            assert self._lock_file is not None
            self.sender = ChildSender(
                SenderConfig(
                    data_dir=str(self.settings.data_dir),
                    durability=self.settings.durability,
                    smtp=self.settings.smtp,
                    sender=self.settings.smtp_from,
                    base_url=self.email.links.base_url,
                ),
                keep_fds=(self._lock_file.fileno(),),
            )
            for deliverer in self._email_deliverers():
                deliverer.carrier = self.sender
        by_channel: dict[str, list[Worker]] = {}
        crews: dict[str, Crew] = {}
        crews_by_channel: dict[str, list[Crew]] = {}
        for mapping in self.mappings:
            if isinstance(mapping, QueueMapping):
                crew = crews[f"mapping:{mapping.name}"] = Crew(_active_pollers(mapping))
                mapping.wake_pollers = crew.wake_one
        for deliverer in self.deliverers:
            crew = crews[f"delivery:{deliverer.name}"] = Crew()
            deliverer.wake_peer = crew.wake_one
        for unit in self.work():
            worker = Worker(unit.name, unit.step, self.clock, self._stop)
            self._workers.append(worker)
            if unit.crew is not None:
                crew = crews[unit.crew]
                if not crew.workers and unit.channel is not None:
                    crews_by_channel.setdefault(unit.channel, []).append(crew)
                crew.workers.append(worker)
            elif unit.channel is not None:
                by_channel.setdefault(unit.channel, []).append(worker)

        def wake(touched: set[str]) -> None:
            if EXTERNAL in touched:  # another process wrote: anything may have work
                for worker in self._workers:
                    worker.wake()
                return
            for channel in touched:
                for worker in by_channel.get(channel, ()):
                    worker.wake()
                for crew in crews_by_channel.get(channel, ()):
                    crew.wake_one()

        self._unlisten = self.store.on_commit(wake)
        self._wake = wake
        self._strict = True
        for worker in self._workers:
            worker.start()

    def add_work(self, unit: Work) -> None:
        """A unit of background work from outside the engine (the front door's inbox), run
        by `start` and `drain` with the rest; added before `start`."""
        self._extra_work.append(unit)

    def notify(self, channels: set[str]) -> None:
        """Wake the work waiting on `channels`, as a commit of them would (for work another
        process made: the front door's inbox)."""
        if self._wake is not None:
            self._wake(channels)

    def stop(self) -> None:
        self._wake = None
        if not self._workers:
            return
        self._stop.set()
        for worker in self._workers:
            worker.wake()
        for worker in self._workers:
            worker.join()
        self._workers.clear()
        self._strict = False
        self._unlisten()
        if self.sender is not None:
            self.sender.close()
            self.sender = None
            assert self.email is not None
            for deliverer in self._email_deliverers():
                deliverer.carrier = self.email

    # -- the Backend the handles call ---------------------------------------------------

    def _authorize(self, method: str, name: str) -> str:
        """Check the running function may call `method` on resource `name`; return the
        principal the call is made as."""
        invocation = current()
        if invocation is None:
            if self._strict:
                # In the runtime only handlers call handles. A call with no invocation comes
                # from a thread a handler started, which does not inherit the invocation.
                raise AccessDenied(
                    "(unknown)",
                    ACTION_OF_METHOD[method][1],
                    f"'{name}'",
                    "call resource handles from the handler's own thread, or start threads "
                    "with contextvars.copy_context().run so they carry the invocation",
                )
            return "sluiceway-admin"
        if invocation.expired:
            function = invocation.function
            raise TaskTimedOut(
                f"function '{function.name}' ran past its {function.timeout}s timeout; "
                "its invocation is over"
            )
        kind, action, _ = ACTION_OF_METHOD[method]
        if not allows(invocation.grants, kind, name, action):
            raise denied(invocation.function.name, method, name)
        return invocation.function.name

    def _effect(self, op: Op[T]) -> T | None:
        """Run a write that a handler cannot read back: deferred to the invocation's
        acknowledgement inside a handler (None then), immediate outside one."""
        invocation = current()
        if invocation is not None:
            invocation.deferred.append(op)
            return None
        return self.store.write(op)

    def send_message(
        self,
        queue: QueueSpec,
        body: str,
        *,
        delay_seconds: int | None,
        message_attributes: Mapping[str, Mapping[str, Any]] | None,
        message_group_id: str | None = None,
        message_deduplication_id: str | None = None,
    ) -> dict[str, str]:
        principal = self._authorize("send_message", queue.name)
        info = self._registry().queue(queue.name)
        message = messages.prepare(
            info,
            body,
            sender_id=naming.principal_id(principal),
            delay_seconds=delay_seconds,
            attributes=message_attributes,
            group_id=message_group_id,
            dedup_id=message_deduplication_id,
            trace_id=current_trace(),
        )
        answer = self._effect(lambda tx: queues.send(tx, info, message))
        return message.response() if answer is None else answer

    def change_message_visibility(
        self, queue: QueueSpec, receipt_handle: str, visibility_timeout: int
    ) -> None:
        self._authorize("change_message_visibility", queue.name)
        info = self._registry().queue(queue.name)
        self.store.write(
            lambda tx: queues.change_visibility(tx, info, receipt_handle, visibility_timeout)
        )

    def _table_write(self, op: Op[T]) -> T:
        """A table write: inside a handler it is answered as soon as it has run (its
        invocation's acknowledgement commits after it, so a crash redelivers and redoes it);
        outside one it is durable when it returns."""
        invocation = current()
        if invocation is None:
            return self.store.write(op)
        invocation.wrote = True
        return self.store.write(op, early=True)

    def _table_read(self, read: Callable[[sqlite3.Connection], T]) -> T:
        """A table read; a handler that wrote reads through the writer, to see its writes."""
        invocation = current()
        if invocation is not None and invocation.wrote:
            return self.store.write(lambda tx: read(tx.cx), early=True)
        return read(self.store.reader())

    def put_item(self, table: TableSpec, item: Mapping[str, Any], *, if_not_exists: bool) -> None:
        self._authorize("put_item", table.name)
        info = self._registry().table(table.name)
        encoded = attrvalue.serialize_item(item)
        tables.check_item(info, encoded)
        trace = current_trace()
        self._table_write(
            lambda tx: tables.put(tx, info, encoded, if_not_exists=if_not_exists, trace_id=trace)
        )
        crash_point("mid-batch")

    def get_item(self, table: TableSpec, key: Mapping[str, Any]) -> dict[str, Any] | None:
        self._authorize("get_item", table.name)
        info = self._registry().table(table.name)
        encoded = tables.key_item(info, key)
        item = self._table_read(lambda cx: tables.get(cx, info, encoded))
        return None if item is None else attrvalue.deserialize_item(item)

    def delete_item(self, table: TableSpec, key: Mapping[str, Any]) -> dict[str, Any] | None:
        self._authorize("delete_item", table.name)
        info = self._registry().table(table.name)
        encoded = tables.key_item(info, key)
        trace = current_trace()
        old = self._table_write(lambda tx: tables.delete(tx, info, encoded, trace_id=trace))
        return None if old is None else attrvalue.deserialize_item(old)

    def query(
        self,
        table: TableSpec,
        partition_value: Any,
        *,
        sort_key: SortKeyCondition | None,
        limit: int | None,
        scan_forward: bool,
    ) -> list[dict[str, Any]]:
        self._authorize("query", table.name)
        info = self._registry().table(table.name)
        items = self._table_read(
            lambda cx: tables.query(
                cx, info, partition_value, sort_key=sort_key, limit=limit, scan_forward=scan_forward
            )
        )
        return [attrvalue.deserialize_item(i) for i in items]

    def scan(self, table: TableSpec, *, limit: int | None) -> list[dict[str, Any]]:
        self._authorize("scan", table.name)
        info = self._registry().table(table.name)
        items = self._table_read(lambda cx: list(tables.scan(cx, info, limit=limit)))
        return [attrvalue.deserialize_item(i) for i in items]

    def publish(
        self,
        topic: TopicSpec,
        message: str,
        *,
        subject: str | None,
        message_attributes: Mapping[str, Mapping[str, Any]] | None,
        message_structure: str | None,
    ) -> dict[str, str]:
        self._authorize("publish", topic.name)
        info = self._registry().topic(topic.name)
        publication = topics.prepare(
            message, subject=subject, attributes=message_attributes, structure=message_structure
        )
        publication = dataclasses.replace(publication, trace_id=current_trace())
        self._effect(lambda tx: topics.publish(tx, info, publication))
        return {"MessageId": publication.message_id}

    def publish_iot(self, topic: str, payload: bytes, qos: int) -> None:
        self._authorize("publish_iot", "*")
        message_id, trace = ids.uuid4(), current_trace()
        self._effect(lambda tx: topics.publish_mqtt(tx, topic, payload, qos, message_id, trace))

    def publish_sms(
        self, phone_number: str, message: str, *, sender_id: str | None, sms_type: str | None
    ) -> dict[str, str]:
        self._authorize("publish_sms", "*")
        phone = phones.check_phone(phone_number)
        publication = topics.prepare(
            phones.check_text(message),
            subject=None,
            attributes=phones.sms_attributes(sender_id, sms_type),
            structure=None,
        )
        publication = dataclasses.replace(publication, trace_id=current_trace())
        self._effect(lambda tx: topics.publish_sms(tx, phone, publication))
        return {"MessageId": publication.message_id}


def _active_pollers(mapping: QueueMapping) -> Callable[[], int]:
    return lambda: mapping.active
