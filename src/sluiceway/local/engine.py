"""`LocalEngine`: an app bound to a data directory, running on one machine.

The engine binds the app's handles to its backend (`backend.LocalBackend`: every handle call
lands there), owns the event source mappings (`event_sources.py`) and the delivery workers
(`carriers.py`), and runs them either in background threads (`start`, what `sluiceway run`
does) or synchronously until nothing is left to do (`drain`, what tests do).

    >>> with LocalEngine(app, Settings(data_dir=tmp_path), clock=VirtualClock()) as engine:
    ...     queue.send_message('{"item": "gloves"}')
    ...     engine.drain()
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sluiceway.apigateway import inbox
from sluiceway.apigateway.service_integration import AwsCall
from sluiceway.app import App
from sluiceway.awslambda.invoke import Invoker, Outcome
from sluiceway.awslambda.mappings import commit_deferred
from sluiceway.awslambda.queue_mapping import QueueMapping
from sluiceway.awslambda.schedules import Scheduler
from sluiceway.awslambda.spec import FunctionSpec
from sluiceway.awslambda.stream_mapping import StreamMapping
from sluiceway.cognito.identity import Identity
from sluiceway.core import naming, otel
from sluiceway.core.clock import Clock, SystemClock
from sluiceway.core.errors import SluicewayError
from sluiceway.core.settings import Settings
from sluiceway.core.store import Store
from sluiceway.core.wire.credentials import Keyring
from sluiceway.core.work import Step, Work, Worker
from sluiceway.iot.loopback import Loopback
from sluiceway.iot.publisher import MqttCarrier, Publisher
from sluiceway.local import carriers, iot_rules, recovery
from sluiceway.local.backend import HandleCalls, LocalBackend
from sluiceway.local.counters import Metrics
from sluiceway.local.data_dir import DataDirLock
from sluiceway.local.environments import Environments
from sluiceway.local.event_sources import EventSources, SourceMapping
from sluiceway.local.events_bus import EventBus
from sluiceway.local.housekeeping import Housekeeping
from sluiceway.local.observing import Observer, Pauses
from sluiceway.local.registry import NewSubscription, Registry, resolve_parameters, sync
from sluiceway.local.tracing import InvocationTracer
from sluiceway.local.workers import workers_for
from sluiceway.sns import sent_log
from sluiceway.sns.deliveries import DeliveryWorker, MailCarrier
from sluiceway.sns.email import Links, Mailer
from sluiceway.sns.sender import ChildSender
from sluiceway.sns.sent_log import SentLog
from sluiceway.sns.signing import Signer
from sluiceway.sns.sms import SmsCarrier, SmsProvider

log = logging.getLogger("sluiceway.engine")


class DrainDidNotSettle(SluicewayError):
    code = "DrainDidNotSettle"


class LocalEngine(HandleCalls):
    def __init__(
        self,
        app: App,
        settings: Settings | None = None,
        *,
        clock: Clock | None = None,
        mailer: Mailer | None = None,
        sms: SmsProvider | None = None,
        mqtt: Callable[[Loopback | None], Publisher] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """`mailer`, `sms` and `mqtt` replace the carriers' peers (what `sluiceway.testing`
        records with): email goes to `mailer` (else ``--smtp`` or the Maildir), texts to `sms`
        (else ``--sms``'s provider), and MQTT to what `mqtt` makes, given the in-process
        broker the app's topic rules then read (`iot.loopback`; None without rules)."""
        self.app = app
        self.settings = settings or Settings()
        self.clock: Clock = clock or SystemClock()
        self.region = naming.Region(self.settings.region, self.settings.account_id)
        self.graph = app.graph
        self._env = os.environ if env is None else env
        self._mailer_override = mailer
        self._sms_override = sms
        self._mqtt_override = mqtt
        self.store = Store(
            Path(self.settings.data_dir), durability=self.settings.durability, clock=self.clock
        )
        self.exports_spans = False  # set by open()
        self.invoker = Invoker(
            region=self.region, now=self.clock.now, tracer=InvocationTracer(self.clock, self.store)
        )
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
        self.backend: LocalBackend | None = None  # what the handles call, once open
        self.housekeeping: Housekeeping | None = None
        self.mappings: list[SourceMapping] = []
        self.scheduler: Scheduler | None = None  # once open
        self.deliverers: list[DeliveryWorker] = []
        self.email: MailCarrier | None = None
        self.sms: SmsCarrier | None = None
        self.mqtt: MqttCarrier | None = None
        self.broker: carriers.EmbeddedBroker | None = None  # with IoT and no --mqtt
        self.loopback: Loopback | None = None  # the topic rules' broker, with `mqtt=`
        self.topic_rules: iot_rules.TopicRules | None = None  # subscribed, once open
        self.sender: ChildSender | None = None
        self.sent: SentLog | None = None  # accepted deliveries, noted one by one
        self.links = Links(self.settings.base_url)
        self.signer = Signer(Path(self.settings.data_dir) / "keys")
        self._keyring: Keyring | None = None
        # The runtime's AWS endpoint as its functions reach it (set once it listens).
        self.aws_endpoint: str | None = None
        # API Gateway's AWS service integrations call the AWS API through this (RuntimeApp).
        self.aws_integration: AwsCall | None = None
        self._lock = DataDirLock(Path(self.settings.data_dir))
        self._workers: list[Worker] = []
        self._stop = threading.Event()
        self._unlisten: Callable[[], None] = lambda: None
        self._owner = f"runtime-{os.getpid()}-{id(self):x}"
        self._opened = False
        self.bus = EventBus()  # live events: `sluiceway tail`, the console
        self.metrics = Metrics()  # what /metrics counts as it happens
        self.pauses = Pauses(self.store, self.bus, self._wake_workers)

    # -- lifecycle ----------------------------------------------------------------------

    def open(self) -> LocalEngine:
        self._lock.acquire()
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
            self.backend = LocalBackend(self.store, self.registry, self)
            self.invoker.backend = self  # for calls from execution environments
            self.housekeeping = Housekeeping(self.store, self.registry, self.clock, self._owner)
            recovery.recover(self.store, Path(self.settings.data_dir))
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
                failure_limit=self.settings.token_failure_limit,
            )
            self.identity.sync_declared()  # the app's declared app clients exist from now
            sources = EventSources(
                self.registry,
                self.invoker,
                self.store,
                self.clock,
                self.region,
                {f.name: f for f in self.graph.functions},
                self,
            )
            self.mappings = [m for m in map(sources.mapping, self.graph.functions) if m is not None]
            self.mappings += [sources.pipe(pipe) for pipe in self.graph.pipes]
            for mapping in self.mappings:
                if isinstance(mapping, StreamMapping):
                    mapping.start()
            self.scheduler = Scheduler(
                self.graph.functions, store=self.store, clock=self.clock, region=self.region
            )
            self.email = carriers.mail_carrier(self.settings, self._mailer_override, self.links)
            self.sms = carriers.sms_carrier(self.settings, self._sms_override)
            self.deliverers = [
                DeliveryWorker("email", ("email",), self.email, store=self.store, clock=self.clock),
                DeliveryWorker("sms", ("sms",), self.sms, store=self.store, clock=self.clock),
            ]
            if self.graph.iot is not None or self.graph.topic_rules:
                self.deliverers.append(self._mqtt_deliverer())
            self._note_acceptances()
            functions = carriers.functions_deliverer(
                self.graph,
                self.invoker,
                self.signer,
                self.region,
                lambda: self.links,
                store=self.store,
                clock=self.clock,
            )
            if functions is not None:
                self.deliverers.append(functions)
            self._observe()
            if self.graph.topic_rules:  # on the broker the runtime publishes to
                self.topic_rules = iot_rules.subscribe(self)
        except BaseException:
            self._close_environments()
            self._close_mqtt()
            self.store.close()
            self._lock.release()
            raise
        self.app.bind(self)
        self._opened = True
        return self

    def _note_acceptances(self) -> None:
        """Each delivery this process's carriers send is noted as accepted (`sent_log`)."""
        self.sent = carriers.note_acceptances(self.settings, [self.email, self.sms, self.mqtt])

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
        if self.sent is not None:
            self.sent.close()
            self.sent = None
            sent_log.clear(Path(self.settings.data_dir))  # every outcome is recorded
        self._lock.release()
        self._opened = False

    def _mqtt_deliverer(self) -> DeliveryWorker:
        self.mqtt, self.broker, self.loopback = carriers.mqtt_carrier(
            self.settings, self._mqtt_override, rules=bool(self.graph.topic_rules)
        )
        return DeliveryWorker(
            "mqtt", ("mqtt",), self.mqtt, store=self.store, clock=self.clock, workers=1
        )

    def _close_mqtt(self) -> None:
        if self.topic_rules is not None:
            self.topic_rules.close()
            self.topic_rules = None
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

    def _start_environments(self) -> None:
        """Process isolation: each function in execution environments of its own."""
        self.environments = Environments.of(
            self.app, self.settings, self.region, self.aws_variables
        )
        self.environments.start()
        self.invoker.environments = self.environments

    def _close_environments(self) -> None:
        if self.environments is not None:
            self.environments.close()
            self.environments = None
            self.invoker.environments = None

    def invoke_http(
        self, function: FunctionSpec, event: dict[str, Any], trace_id: str | None = None
    ) -> Outcome:
        """Invoke an HTTP route's function (API Gateway waits for it: a synchronous
        invocation, throttled at its reserved_concurrency); its deferred effects commit
        before the answer goes out."""
        outcome = self.invoker.invoke(function, event, [trace_id], synchronous=True)
        # Durable before the answer goes out: the deferred effects, and (commits being in
        # order) every table write the handler had answered early.
        deferred = outcome.deferred if outcome.ok else ()
        self.store.write(lambda tx: commit_deferred(tx, deferred))
        return outcome

    def refresh_registry(self) -> None:
        """Take in resources the AWS APIs created or deleted since the engine opened."""
        if self.registry is not None:
            self.registry.refresh(self.store)

    @property
    def keyring(self) -> Keyring:
        """The credentials this runtime accepts: the admin's and one set per function."""
        if self._keyring is None:
            self._keyring = Keyring.load(
                Path(self.settings.data_dir) / "keys", [f.name for f in self.graph.functions]
            )
        return self._keyring

    def aws_variables(self, function: str) -> dict[str, str]:
        """What an SDK in `function`'s environment needs to call this runtime's AWS APIs as
        that function: the endpoint and the function's own credentials (Lambda's role)."""
        if self.aws_endpoint is None:
            return {}
        return {
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            **self.keyring.for_principal(function).variables(),
        }

    def set_base_url(self, url: str) -> None:
        """Where links in notifications point (the runtime learns its port late)."""
        self.links = Links(url)
        if self.email is not None:
            self.email.links = self.links
        if self.sender is not None:
            self.sender.set_links(url)

    # -- what operators see and steer: metrics, live events, pauses ----------------------

    @property
    def paused(self) -> frozenset[str]:
        """The mappings an operator paused."""
        return self.pauses.paused

    def _observe(self) -> None:
        """Count invocations and deliveries and tell the live events of them; note the
        app's mappings and which of them are paused, and listen for pauses."""
        observer = Observer(self.metrics, self.bus)
        self.invoker.observers.append(observer.invoked)
        for deliverer in self.deliverers:
            deliverer.observers.append(observer.delivered)
        self.pauses.record(self.mappings)

    def _wake_workers(self) -> None:
        for worker in self._workers:
            worker.wake()

    # -- running the background work ----------------------------------------------------

    def work(self) -> list[Work]:
        """Every unit of background work."""
        units: list[Work] = []
        for mapping in self.mappings:
            if isinstance(mapping, QueueMapping):
                units += [
                    Work(
                        f"mapping:{mapping.name}:{n}",
                        self.pauses.unless_paused(mapping.name, mapping.poller(n)),
                        mapping.channel,
                        crew=f"mapping:{mapping.name}",
                    )
                    for n in range(mapping.pollers)
                ]
            else:
                units += [
                    Work(
                        f"mapping:{mapping.name}:lane{n}",
                        self.pauses.unless_paused(mapping.name, step),
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
        if self.topic_rules is not None:
            units += self.topic_rules.work()
        if self.scheduler is not None and self.scheduler.timers:
            # Periodic: `drain` fires what is due but does not wait for the next slot.
            units.append(Work("scheduler", self.scheduler.step, None, periodic=True))
        units.append(Work("mover", self.move_messages, "moves"))
        units.append(
            Work("sweeper", lambda: self._housekeeping().sweep_step(), None, periodic=True)
        )
        return units

    def move_messages(self) -> Step:
        """Carry out DLQ redrive tasks (StartMessageMoveTask), a chunk per step."""
        return self._housekeeping().move_messages()

    def drain(
        self, *, advance_time: bool = False, until: float | None = None, max_steps: int = 100_000
    ) -> int:
        """Run every mapping and delivery until none has anything to do; return how many
        steps did work. With a `VirtualClock` and ``advance_time=True``, jump the clock to the
        next due item (a delayed message, a retry) whenever idle, until nothing is due; with
        `until` too, only to items due by then, and then to `until` itself: time passes as it
        would have, each thing happening when it is due."""
        done = 0
        units = self.work()
        for _ in range(max_steps):
            results = [(unit, unit.step()) for unit in units]
            if any(r.did_work for _, r in results):
                done += sum(r.did_work for _, r in results)
                continue
            now = self.clock.now()
            # Periodic work (schedules, the sweep) counts only when time is to pass by `until`.
            dues = [
                r.due
                for u, r in results
                if (until is not None or not u.periodic) and r.due is not None and r.due > now
            ]
            if until is not None:
                dues = [due for due in dues if due <= until]
                if not dues and now < until:
                    dues = [until]  # nothing due before then: the rest of the time passes
            if advance_time and self.clock.is_virtual and dues:
                self.clock.set(min(dues))  # type: ignore[attr-defined]
                continue
            self.store.settle()  # settled: every hop so far is readable
            self.store.traces.flush()
            return done
        raise DrainDidNotSettle(f"still busy after {max_steps} steps (a handler failing forever?)")

    def sweep(self) -> int:
        """Drop expired messages, stream records older than 24 hours and items past their
        TTL; returns how many went."""
        return self._housekeeping().sweep()

    def _housekeeping(self) -> Housekeeping:
        if self.housekeeping is None:
            raise RuntimeError("the engine is not open")
        return self.housekeeping

    def start(self) -> None:
        """Run every unit of work in its own thread, woken by the commits that concern it."""
        if self._workers:
            return
        self._stop.clear()
        if self._mailer_override is None and self.email is not None:
            assert self._lock.file is not None
            self.sender = carriers.delivery_process(
                self.settings, self.email.links.base_url, self._lock.file.fileno()
            )
            for deliverer in carriers.email_deliverers(self.deliverers):
                deliverer.carrier = self.sender
        self._workers, wake = workers_for(
            self.work(), self.mappings, self.deliverers, self.clock, self._stop
        )
        self._unlisten = self.store.on_commit(wake)
        self._wake = wake
        if self.backend is not None:
            self.backend.strict = True
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
        if self.backend is not None:
            self.backend.strict = False
        self._unlisten()
        if self.sender is not None:
            self.sender.close()
            self.sender = None
            assert self.email is not None
            for deliverer in carriers.email_deliverers(self.deliverers):
                deliverer.carrier = self.email
