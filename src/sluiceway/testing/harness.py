"""`run_app`: an app under test, in the test's process, on a virtual clock.

    with run_app("orders") as app:
        app.http.post("/orders", json={"item": "gloves"})
        app.drain()
        (mail,) = app.emails

See the README's "Testing your app" for the whole kit; `sluiceway.testing.plugin` offers it as
pytest fixtures.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from sluiceway.app import App
from sluiceway.awslambda.invoke import Outcome
from sluiceway.awslambda.spec import FunctionSpec
from sluiceway.core.clock import VirtualClock
from sluiceway.core.errors import NotBound, SluicewayError
from sluiceway.core.settings import Isolation, Settings
from sluiceway.iot.loopback import Loopback
from sluiceway.iot.publisher import Publisher
from sluiceway.local.engine import LocalEngine
from sluiceway.sns.outbox import DeliveryView, list_deliveries
from sluiceway.sns.sms import Sms, WebhookProvider
from sluiceway.sqs import queues
from sluiceway.sqs.queues import MessageView
from sluiceway.testing import inprocess
from sluiceway.testing.faults import Faults
from sluiceway.testing.outbound import (
    PEERS,
    MqttMessage,
    Peer,
    RecordingMailer,
    RecordingPublisher,
    RecordingSms,
    RecordingWebhook,
    WebhookCall,
)
from sluiceway.testing.sdk_environment import point_sdks_at

if TYPE_CHECKING:
    from sluiceway.templates.stack import Stack


@dataclass(frozen=True)
class Invocation:
    """One invocation of a function: its event, and what came of it."""

    function: str
    event: Any
    result: Any
    error: BaseException | None
    request_id: str
    duration: float

    @property
    def ok(self) -> bool:
        return self.error is None


class RunningApp:
    """An app running under the kit (made by `run_app`; close it, or use it with ``with``).

    What it sent is in `emails`, `texts`, `mqtt`, `webhooks`; what ran, in `invocations`;
    `deliveries()` and `dead_letters()` read the data directory."""

    def __init__(
        self,
        app: App,
        settings: Settings,
        *,
        url: str,
        stack: Stack | None = None,
        cleanup: Path | None = None,
        undo: Sequence[Any] = (),
    ) -> None:
        self.app = app
        self.clock = VirtualClock()
        self._peers = {name: Peer(name) for name in PEERS}
        self._mailer = RecordingMailer(self._peers["smtp"])
        self._webhook = RecordingWebhook(self._peers["webhook"])
        self._sms = RecordingSms(self._peers["sms"])
        self._mqtt: RecordingPublisher | None = None
        self.invocations: list[Invocation] = []
        self._cleanup = cleanup
        self._undo: list[Any] = list(undo)
        self.stack = stack
        sms = (
            WebhookProvider(settings.sms, urlopen=self._webhook)
            if settings.sms.startswith(("http://", "https://"))
            else self._sms
        )
        self.engine = LocalEngine(
            app,
            settings,
            clock=self.clock,
            mailer=self._mailer,
            sms=sms,
            mqtt=self._record_mqtt,
            env={},
        )
        self.faults = Faults(app, self.engine.invoker, self._peers)
        try:
            self._open(url)
        except BaseException:
            self.close()
            raise

    def _record_mqtt(self, forward: Loopback | None) -> Publisher:
        self._mqtt = RecordingPublisher(self._peers["mqtt"], forward)
        return self._mqtt

    def _open(self, url: str) -> None:
        from sluiceway.local.web import RuntimeApp

        self.url = url
        try:
            self.app.backend  # noqa: B018 (bound: another engine runs it)
        except NotBound:
            pass
        else:
            raise SluicewayError(
                f"app '{self.app.name}' is running already (its handles are bound to another "
                "engine): close that one first"
            )
        self.engine.open()
        self._undo.append(self.engine.close)
        self.engine.invoker.observers.append(self._invoked)
        transport: httpx.BaseTransport | None = None
        served: inprocess.InProcess | None = None
        if url == inprocess.BASE_URL:
            served = inprocess.InProcess(RuntimeApp(self.engine))
            self._undo.append(served.close)
            self.engine.aws_endpoint = url
            self._undo.append(inprocess.route_aws(served))
            transport = inprocess.Transport(served)
        else:
            self._serve(int(url.rsplit(":", 1)[1]))
        self.engine.set_base_url(url)
        self._served = served if transport is not None else None
        self.http = httpx.Client(base_url=self.url, transport=transport, timeout=30)
        self._undo.append(self.http.close)

    def _serve(self, port: int) -> None:
        """The gateway on `port` of 127.0.0.1 (uvicorn in a thread), for clients that cannot
        be handed a transport: process isolation's environments, a browser, curl."""
        from sluiceway.local.runtime import http_server

        ready = threading.Event()
        server = http_server(self.engine, "127.0.0.1", port, lambda _: ready.set())
        thread = threading.Thread(target=server.run, name="sluiceway-testing-serve", daemon=True)
        thread.start()

        def stop() -> None:
            server.should_exit = True
            thread.join(10)

        self._undo.append(stop)
        if not ready.wait(10):
            raise SluicewayError("the app under test did not start serving within 10 s")

    def _invoked(self, function: FunctionSpec, event: Any, outcome: Outcome) -> None:
        self.invocations.append(
            Invocation(
                function.name,
                event,
                outcome.result,
                outcome.error,
                outcome.request_id,
                outcome.duration,
            )
        )

    # -- running: the engine's work, and time --------------------------------------------

    def drain(self) -> int:
        """Run every mapping, pipe, schedule and delivery until nothing is left to do now;
        returns how many steps did work. The clock does not move."""
        return self.engine.drain()

    def advance(self, seconds: float) -> int:
        """Let `seconds` pass on the clock, each thing due meanwhile happening when it is
        due (visibility timeouts, delays, retries and their backoff, batching windows,
        schedules, TTL); returns how many steps did work."""
        if seconds < 0:
            raise ValueError("time does not go backwards")
        until = self.clock.now() + seconds
        return self.engine.drain(advance_time=True, until=until)

    # -- what went out -------------------------------------------------------------------

    @property
    def emails(self) -> list[EmailMessage]:
        """Every email the SMTP server accepted, in order (confirmation requests too)."""
        return list(self._mailer.sent)

    @property
    def texts(self) -> list[Sms]:
        """Every text the SMS provider accepted, in order."""
        return list(self._sms.sent)

    @property
    def webhooks(self) -> list[WebhookCall]:
        """Every request the runtime made to the SMS webhook (``sms="https://..."``)."""
        return list(self._webhook.calls)

    @property
    def mqtt(self) -> list[MqttMessage]:
        """Every message the MQTT broker accepted, in order."""
        return [] if self._mqtt is None else list(self._mqtt.sent)

    def publish_mqtt(self, topic: str, payload: bytes | str | Any, qos: int = 1) -> None:
        """A device publishes to the broker: the app's topic rules whose filter matches get
        it (at the next `drain`). A payload that is not bytes or text is sent as JSON."""
        loopback = self.engine.loopback
        if loopback is None:
            raise ValueError(f"app '{self.app.name}' has no topic rules: nothing of it reads MQTT")
        if isinstance(payload, str):
            payload = payload.encode()
        elif not isinstance(payload, bytes):
            payload = json.dumps(payload).encode()
        loopback.publish(topic, payload, qos)

    def deliveries(self, status: str | None = None) -> list[DeliveryView]:
        """Every delivery of the outbox (email, SMS, MQTT, functions on topics) with its
        status (``delivered``, ``pending``, ``failed``, ``unconfirmed``, ``opted-out``)."""
        return list_deliveries(self.engine.store.reader(), status=status)

    def dead_letters(self, queue: str | None = None) -> list[MessageView]:
        """The messages waiting in the app's dead-letter queues (those a queue's redrive
        policy or a mapping's on-failure destination names), or in `queue`."""
        names = [queue] if queue is not None else _dead_letter_queues(self.app)
        return [message for name in names for message in self.messages(name)]

    def messages(self, queue: str) -> list[MessageView]:
        """The messages stored in `queue`, without receiving them."""
        registry = self.engine.registry
        assert registry is not None
        now_ms = int(self.clock.now() * 1000)
        reader = self.engine.store.reader()
        return queues.browse(reader, registry.queue(queue), now_ms, limit=10_000)

    def items(self, table: str) -> list[dict[str, Any]]:
        """A table's items, as plain Python values."""
        from sluiceway.dynamodb import tables

        registry = self.engine.registry
        assert registry is not None
        info = registry.table(table)
        return [tables.plain(i) for i in tables.scan(self.engine.store.reader(), info)]

    @property
    def outputs(self) -> dict[str, str]:
        """A template's Outputs, their AWS endpoints turned into the app's URL."""
        return {} if self.stack is None else self.stack.local_outputs(self.url)

    # -- clients ---------------------------------------------------------------------------

    def async_http(self) -> httpx.AsyncClient:
        """An `httpx.AsyncClient` on the same gateway as `http`, for a test that runs on an
        event loop (``async with app.async_http() as client: await client.post(...)``)."""
        if self._served is None:
            return httpx.AsyncClient(base_url=self.url, timeout=30)
        return httpx.AsyncClient(
            base_url=self.url, transport=inprocess.AsyncTransport(self._served), timeout=30
        )

    def token(self, *scopes: str, pool: str | None = None) -> str:
        """An access token for `scopes` of the app's user pool (`pool` if it has several),
        as its token endpoint issues one to a client allowed them: send it as
        ``Authorization: Bearer ...``."""
        identity = self.engine.identity
        assert identity is not None
        client = identity.create_client("sluiceway-testing", scopes, pool)
        answer = identity.issue(client.client_id, client.client_secret, scopes)
        return str(answer["access_token"])

    def client(self, service: str) -> Any:
        """A boto3 client of `service` on the app's AWS APIs, as its admin."""
        import boto3
        from botocore.config import Config

        keys = self.engine.keyring.admin
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=self.engine.settings.region,
            aws_access_key_id=keys.access_key,
            aws_secret_access_key=keys.secret_key,
            aws_session_token=keys.session_token,
            config=Config(retries={"max_attempts": 1}),
        )

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        while self._undo:
            self._undo.pop()()
        if self._cleanup is not None:
            shutil.rmtree(self._cleanup, ignore_errors=True)
            self._cleanup = None

    def __enter__(self) -> RunningApp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _dead_letter_queues(app: App) -> list[str]:
    """The queues a redrive policy, a stream mapping's or a pipe's on-failure names."""
    graph = app.graph
    named = [q.dead_letter for q in graph.queues if q.dead_letter]
    sources = [f.source for f in graph.functions] + [p.source for p in graph.pipes]
    for source in sources:
        target = getattr(source, "on_failure", None)
        if target is not None and target.kind == "queue":
            named.append(target.name)
    return list(dict.fromkeys(named))


def _resolve(
    target: App | str | os.PathLike[str], overrides: Mapping[str, str]
) -> tuple[App, Stack | None]:
    """The app `run_app` was given, and its template's stack if it is one."""
    if isinstance(target, App):
        if overrides:
            raise ValueError("parameter_overrides are a template's; give an app's params=")
        return target, None
    from sluiceway.app.loader import load_app
    from sluiceway.templates.document import is_template

    name = os.fspath(target)
    if is_template(name):
        from sluiceway.templates.stack import load_stack

        stack = load_stack(name, overrides)
        return stack.app, stack
    if overrides:
        raise ValueError("parameter_overrides are a template's; give an app's params=")
    return load_app(name), None


def run_app(
    target: App | str | os.PathLike[str],
    *,
    data_dir: Path | None = None,
    params: Mapping[str, str] | None = None,
    parameter_overrides: Mapping[str, str] | None = None,
    auto_confirm: bool = True,
    sms: str = "outbox",
    serve: bool = False,
    isolation: Isolation = "thread",
    **settings: Any,
) -> RunningApp:
    """Run `target` (an `App`, ``module:attr``, ``path/to/app.py``, a blueprint's name, or a
    SAM or CloudFormation template) under test; see `RunningApp`.

    - `data_dir`: where its data lives (default: a temporary directory, removed at close);
    - `params`: the app's parameters; `parameter_overrides`: a template's;
    - `auto_confirm`: email subscriptions confirmed at once (False: the confirmation request
      is the first email, its link followed with `RunningApp.http`);
    - `sms`: ``outbox`` (texts recorded in `RunningApp.texts`) or a webhook URL (its requests
      recorded in `RunningApp.webhooks`, answered without a server);
    - `serve`: the gateway on a real port too (`RunningApp.url`); needed with
      ``isolation="process"``, whose environments reach the runtime over HTTP;
    - `settings`: any other `Settings` field (``durability``, ``console``, ...).
    """
    if isolation == "process":
        serve = True
    cleanup = None
    if data_dir is None:
        data_dir = cleanup = Path(tempfile.mkdtemp(prefix="sluiceway-test-"))
    chosen = Settings(
        data_dir=Path(data_dir),
        auto_confirm=auto_confirm,
        params=dict(params or {}),
        sms=sms,
        isolation=isolation,
        durability=settings.pop("durability", "relaxed"),
        console=settings.pop("console", False),
        **settings,
    )
    url = f"http://127.0.0.1:{_free_port()}" if serve else inprocess.BASE_URL
    undo = point_sdks_at(Path(data_dir), chosen.region, url)
    try:
        app, stack = _resolve(target, parameter_overrides or {})
        return RunningApp(app, chosen, url=url, stack=stack, cleanup=cleanup, undo=[undo])
    except BaseException:
        undo()
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)
        raise


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
