"""`sluiceway run`: the engine's workers and the HTTP gateway, with a front door process
accepting HTTP in front of them (`front_door.py`) unless TLS or a web ACL keeps it inline.

Ready means: the database is open and recovered, the workers run, and the port accepts
connections. The ready line names the URL (useful with ``--port 0``); ``runtime.json`` in
the data directory says the same for other tools while the runtime lives.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import uvicorn

from sluiceway.apigateway.front_door import (
    KEEP_ALIVE_SECONDS,
    FrontDoor,
    Spawned,
    abandon,
    eligible,
    listen,
    spawn,
)
from sluiceway.apigateway.spec import TableTarget
from sluiceway.app import App
from sluiceway.awslambda.invoke import log_fields
from sluiceway.awslambda.spec import HttpSource, QueueSource, ScheduleSource
from sluiceway.core import events, logs, otel
from sluiceway.core.edge import GuardedHttpToolsProtocol, tls_files, with_hsts
from sluiceway.core.gctune import tune_gc
from sluiceway.core.redact import redact
from sluiceway.core.settings import Settings
from sluiceway.iot import topic_rules
from sluiceway.local import metrics
from sluiceway.local.aws_redirect import redirect_aws_endpoints
from sluiceway.local.console import with_token
from sluiceway.local.engine import LocalEngine
from sluiceway.local.web import RuntimeApp

log = logging.getLogger("sluiceway.runtime")


def _event_loop() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


class _Server(uvicorn.Server):
    def __init__(
        self,
        config: uvicorn.Config,
        on_ready: Callable[[int], None],
        on_shutdown: Callable[[], None] = lambda: None,
        front_door: Callable[[Callable[[], asyncio.Protocol]], FrontDoor] | None = None,
    ) -> None:
        super().__init__(config)
        self._on_ready = on_ready
        self._on_shutdown = on_shutdown
        self._make_front_door = front_door
        self.front_door: FrontDoor | None = None

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # The front door first: the messages it is storing get their answers while the
        # writer is still up. Then the live event streams: uvicorn waits for every response.
        if self.front_door is not None:
            await self.front_door.stop()
        self._on_shutdown()
        await super().shutdown(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # uvicorn re-raises the signal once it has shut down, which would end the process
        # before the engine closes; forget it, so `serve` returns and cleans up.
        super().handle_exit(sig, frame)
        self._captured_signals.clear()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        if self._make_front_door is None:
            await super().startup(sockets)
            if not self.should_exit:
                self._on_ready(self.servers[0].sockets[0].getsockname()[1])
            return
        # uvicorn listens nowhere: the front door accepts, and hands over what it does not
        # serve; those connections become uvicorn's own here.
        await super().startup(sockets=[])
        loop = asyncio.get_running_loop()
        config = self.config

        def create_protocol() -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config,
                server_state=self.server_state,
                app_state=self.lifespan.state,
                _loop=loop,
            )

        self.front_door = self._make_front_door(create_protocol)
        # Ready once the port accepts connections: it does (the runtime listens; the kernel
        # queues them until the front door, still importing, accepts).
        await self.front_door.start(wait=False)
        if not self.should_exit:
            self._on_ready(self.front_door.listener.getsockname()[1])


def http_server(
    engine: LocalEngine,
    host: str,
    port: int,
    on_ready: Callable[[int], None],
    tls: tuple[str, str] | None = None,
    front_door: bool | tuple[socket.socket, Spawned] = False,
) -> _Server:
    """The uvicorn server of `engine`'s gateway and own pages (`RuntimeApp`): httptools
    behind the edge's deadlines and limits (`edge.py`), uvloop when installed, HTTPS with
    `tls` (certificate, key). With `front_door`, a front door process accepts on
    `host`:`port` (`front_door.py`): True to start one, or the listening socket and the
    process `spawn` started on it."""
    served = RuntimeApp(engine)
    config = uvicorn.Config(
        served if tls is None else with_hsts(served),
        host=host,
        port=port,
        loop=_event_loop(),
        http=GuardedHttpToolsProtocol,
        lifespan="off",
        access_log=False,
        log_level="warning",
        server_header=False,
        timeout_keep_alive=int(KEEP_ALIVE_SECONDS),
        backlog=2048,
        ssl_certfile=None if tls is None else tls[0],
        ssl_keyfile=None if tls is None else tls[1],
    )
    make: Callable[[Callable[[], asyncio.Protocol]], FrontDoor] | None = None
    if front_door:
        listener, spawned = (
            front_door if isinstance(front_door, tuple) else (listen(host, port), None)
        )

        def make(create_protocol: Callable[[], asyncio.Protocol]) -> FrontDoor:
            door = FrontDoor(
                engine,
                listener,
                create_protocol,
                engine.settings.log_format,
                spawned,
                observe=lambda *seen: metrics.observe(engine, *seen),
            )
            engine.front_door = door
            return door

    def ready(bound: int) -> None:
        # Where the functions' SDKs reach the runtime's AWS APIs (`aws_api.py`).
        engine.aws_endpoint = f"{'https' if tls else 'http'}://{_local_host(host)}:{bound}"
        on_ready(bound)

    return _Server(config, ready, engine.bus.disconnect_all, make)


def serve(
    app: App,
    settings: Settings,
    *,
    announce: Callable[[str], None] | None = None,
    on_ready: Callable[[str], list[str]] | None = None,
) -> None:
    """Run `app` until SIGINT/SIGTERM. `on_ready` gets the URL once it serves and returns
    lines to print after the banner (a template's Outputs)."""
    say = announce or (lambda line: print(line, flush=True))
    settings = with_token(settings)  # the console's, when bound beyond loopback
    engine = LocalEngine(app, settings)
    tls = tls_files(Path(settings.data_dir), settings.tls_cert, settings.tls_key)
    door: tuple[socket.socket, Spawned] | None = None
    if eligible(settings, engine.graph, tls is not None):
        # The front door starts while the engine opens (its imports take a few hundred ms).
        listener = listen(settings.host, settings.port)
        door = listener, spawn(listener)
    try:
        engine.open()
    except BaseException:
        if door is not None:
            abandon(door[1])
            door[0].close()
        raise
    tune_gc()
    runtime_file = Path(settings.data_dir) / "runtime.json"
    restore_output = logs.route_handler_output(log_fields)  # handlers' prints become log lines
    try:

        def ready(port: int) -> None:
            url = f"{'https' if tls else 'http'}://{settings.host}:{port}"
            if settings.public_url is None:
                engine.set_base_url(settings.replace(port=port).base_url)
            # Workers start once the port is known, so the first email already links to it.
            engine.start()
            runtime_file.write_text(
                json.dumps(
                    {
                        "pid": os.getpid(),
                        "url": url,
                        "app": app.name,
                        "aws": engine.aws_endpoint,
                        "region": settings.region,
                    }
                )
            )
            for line in _banner(engine, url):
                say(line)
            for line in on_ready(url) if on_ready is not None else ():
                say(line)

        http_server(
            engine, settings.host, settings.port, ready, tls, front_door=door or False
        ).run()
    finally:
        runtime_file.unlink(missing_ok=True)
        engine.close()
        restore_output()


def point_thread_handlers_here(settings: Settings) -> Settings:
    """With ``--isolation thread`` handlers share this process's environment, and a handler
    module makes its SDK clients when it is imported: before the app is loaded, point every
    SDK of this process at the runtime about to listen (so that no handler's call reaches AWS
    with whatever credentials the shell holds), as its admin. Returns the settings with the
    port fixed (a free one for ``--port 0``), since the endpoint must be known first. Only
    process isolation gives each function credentials of its own, checked against ``uses=``."""
    if settings.isolation != "thread":
        return settings
    from sluiceway.core.wire.credentials import Keyring

    port = settings.port
    if port == 0:
        with socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET) as probe:
            probe.bind((settings.host, 0))
            port = probe.getsockname()[1]
    scheme = "https" if settings.tls_cert else "http"
    os.environ["AWS_ENDPOINT_URL"] = f"{scheme}://{_local_host(settings.host)}:{port}"
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(Keyring.load(Path(settings.data_dir) / "keys").admin.variables())
    os.environ.setdefault("AWS_DEFAULT_REGION", settings.region)
    redirect_aws_endpoints(os.environ["AWS_ENDPOINT_URL"])
    log.warning(
        "isolation=thread: boto3 calls from handlers go to this runtime as its admin (uses= "
        "is checked for handle calls only); run with --isolation process to check them too"
    )
    return settings.replace(port=port)


def _local_host(host: str) -> str:
    """How this machine's own processes reach a runtime listening on `host`."""
    if host in ("", "0.0.0.0", "*"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _banner(engine: LocalEngine, url: str) -> list[str]:
    settings = engine.settings
    mail = (
        f"SMTP {redact(settings.smtp)}"
        if settings.smtp
        else f"Maildir {Path(settings.data_dir) / 'maildir'}"
    )
    provider = engine.sms.provider if engine.sms is not None else None
    texts = getattr(provider, "display", type(provider).__name__)
    lines = [
        f"sluiceway: app '{engine.app.name}' ready on {url} "
        f"(data: {settings.data_dir}; mail: {mail}; sms: {texts})"
    ]
    if settings.console:
        token = f"?token={settings.console_token}" if settings.console_token else ""
        lines.append(f"  console: {url}/console{token}")
    if engine.exports_spans:
        lines.append(f"  traces: exported to OpenTelemetry ({otel.describe()})")
    for route in engine.graph.routes:
        target = route.target
        into = (
            f"table {target.table}" if isinstance(target, TableTarget) else f"queue {target.queue}"
        )
        lines.append(f"  {route.method} {url}{route.path} -> {into}")
    for mapped in engine.graph.service_routes:
        what = mapped.action or mapped.uri_path
        lines.append(f"  {mapped.method} {url}{mapped.path} -> {mapped.service} {what}")
    for function in engine.graph.functions:
        if isinstance(function.source, HttpSource):
            source_ = function.source
            path = "/* ($default)" if source_.path == "$default" else source_.served_path
            lines.append(f"  {source_.method} {url}{path} -> function {function.name}")
    for pipe in engine.graph.pipes:
        source = pipe.source
        origin = (
            f"queue {source.queue}" if isinstance(source, QueueSource) else f"table {source.table}"
        )
        via = f" via {pipe.enrichment}" if pipe.enrichment else ""
        lines.append(f"  pipe {pipe.name}: {origin}{via} -> {pipe.target.kind} {pipe.target.name}")
    lines += _schedules(engine)
    if engine.mqtt is not None:
        broker = engine.mqtt.publisher.display
        if engine.broker is not None:
            lines.append(
                f"  mqtt: embedded broker on {broker} (subscribe with: mosquitto_sub -h "
                f"{engine.broker.host} -p {engine.broker.port} -t '#' -v)"
            )
        else:
            lines.append(f"  mqtt: broker {broker}")
    for rule in engine.graph.topic_rules:
        actions = ", ".join(topic_rules.describe(action) for action in rule.actions)
        off = "" if rule.enabled else " (disabled)"
        lines.append(f"  topic rule {rule.name}{off}: {rule.sql} -> {actions}")
    if engine.graph.firewall is not None:
        acl = engine.graph.firewall
        names = ", ".join(rule.name for rule in acl.rules) or "no rules"
        lines.append(f"  firewall: {names}; default {acl.default_action}")
    for sub in engine.new_subscriptions:
        lines.append(
            f"  {sub.protocol} subscription {sub.endpoint} to topic {sub.topic} is pending "
            "confirmation: open the link in the confirmation email (or run with --auto-confirm)"
        )
    return lines


def _schedules(engine: LocalEngine) -> list[str]:
    """A line per scheduled function: its expression and when it next fires."""
    scheduler = engine.scheduler
    timers = {} if scheduler is None else {t.function: t for t in scheduler.timers}
    lines = []
    for function in engine.graph.functions:
        source = function.source
        if not isinstance(source, ScheduleSource):
            continue
        timer = timers.get(function.name)
        due = None if timer is None or scheduler is None else scheduler.next_due(timer)
        if not source.enabled:
            when = "disabled"
        elif due is None:
            when = "no time left to fire"
        else:
            when = "next " + events.iso_millis(round(due * 1000))
        lines.append(f"  schedule {source.expression} -> {function.name} ({when})")
    return lines
