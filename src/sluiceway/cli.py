"""The `sluiceway` command. Thin: each command calls a function the tests call too.

Every command takes ``--data-dir`` (default ``./.sluiceway`` or ``$SLUICEWAY_DATA_DIR``);
every read command takes ``--json``. The state commands work whether or not the runtime is
running.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, TypeVar

import click

from sluiceway.apigateway.ingest import Rejection
from sluiceway.aws.cli import deploy, destroy, render
from sluiceway.core.errors import ConditionalCheckFailed, SluicewayError

F = TypeVar("F", bound=Callable[..., Any])


def data_dir_option(command: F) -> F:
    # No default here: Settings.from_env is the one place that reads the environment.
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Where the app's data lives [default: $SLUICEWAY_DATA_DIR or ./.sluiceway].",
    )(command)


def _data_dir(flag: Path | None) -> Path:
    from sluiceway.core.settings import Settings

    return Settings.from_env(data_dir=flag).data_dir


def json_option(command: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(command)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sluiceway")
def main() -> None:
    """Run event-driven AWS backends on one machine."""


@contextmanager
def _admin(data_dir: Path | None) -> Iterator[Any]:
    from sluiceway.local.admin import Admin

    try:
        with Admin(_data_dir(data_dir)) as admin:
            yield admin
    except FileNotFoundError as error:
        raise click.ClickException(str(error)) from None
    except Rejection as rejection:
        raise click.ClickException(
            f"{rejection.status} {rejection.code}: {rejection.message}"
        ) from None
    except SluicewayError as error:
        raise click.ClickException(str(error)) from None


def _time(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _table(rows: list[list[str]], headers: list[str]) -> None:
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=False)]
    for row in [headers, *rows]:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())


# -- run ----------------------------------------------------------------------------------


@main.command()
@click.argument("app", default="orders")
@data_dir_option
@click.option("--host", help="Listen address [default: $SLUICEWAY_HOST or 127.0.0.1].")
@click.option(
    "--port",
    type=int,
    help="0 picks a free port, printed when ready [default: $SLUICEWAY_PORT or 8080].",
)
@click.option(
    "--smtp",
    help="smtp://[user:password@]host:port or smtps://... [default: $SLUICEWAY_SMTP]; "
    "without it, mail goes to a Maildir.",
)
@click.option("--smtp-from", help="The From address of notifications.")
@click.option(
    "--sms",
    help="Where texts go: outbox (default: <data dir>/sms/outbox.jsonl), an http(s):// "
    "webhook that gets each text as JSON, or python:module:attr (a provider class) "
    "[default: $SLUICEWAY_SMS].",
)
@click.option(
    "--mqtt",
    help="mqtt://[user:password@]host[:port] or mqtts://... (?ca=FILE, ?insecure=1): the "
    "broker iot.publish delivers to [default: $SLUICEWAY_MQTT]; without it, a broker "
    "embedded in the runtime on a free port (printed at start).",
)
@click.option(
    "--auto-confirm", is_flag=True, help="Confirm email subscriptions without the email round trip."
)
@click.option("--set", "params", multiple=True, metavar="KEY=VALUE", help="Set an app parameter.")
@click.option(
    "--durability",
    type=click.Choice(["full", "relaxed"]),
    default=None,
    help="full (default): a 2xx means fsync'd. relaxed: no fsync per commit; a power "
    "loss (not a crash) may lose the last moments.",
)
@click.option(
    "--public-url", help="Base URL for links in notifications (default: the listen address)."
)
@click.option(
    "--tls-cert", type=click.Path(dir_okay=False), help="Serve HTTPS with this certificate."
)
@click.option("--tls-key", type=click.Path(dir_okay=False), help="The certificate's private key.")
@click.option(
    "--tls",
    type=click.Choice(["self-signed"]),
    help="Serve HTTPS with a self-signed certificate for localhost, made in the data directory.",
)
@click.option("--log-format", type=click.Choice(["auto", "json", "pretty"]))
@click.option("--no-console", is_flag=True, help="Do not serve the web console at /console.")
@click.option(
    "--console-host",
    "console_hosts",
    multiple=True,
    metavar="ADDRESS[/BITS]",
    help="Let these clients open the console too (an address, a network, or * for any); "
    "by default only this machine's.",
)
@click.option(
    "--isolation",
    type=click.Choice(["process", "thread"]),
    default=None,
    help="process (default): each function runs in execution environments of its own, "
    "as on Lambda. thread: handlers share this process (faster to debug, no isolation).",
)
@click.option(
    "--front-door",
    type=click.Choice(["process", "inline"]),
    default=None,
    help="process (default): HTTP is accepted by a process of its own, which stores "
    "queue routes' messages and hands every other request to the runtime. inline: the "
    "runtime serves HTTP itself (always so with TLS or a web ACL).",
)
def run(
    app: str,
    data_dir: Path | None,
    host: str | None,
    port: int | None,
    smtp: str | None,
    smtp_from: str | None,
    sms: str | None,
    mqtt: str | None,
    auto_confirm: bool,
    params: tuple[str, ...],
    durability: str | None,
    public_url: str | None,
    tls_cert: str | None,
    tls_key: str | None,
    tls: str | None,
    log_format: str | None,
    no_console: bool,
    console_hosts: tuple[str, ...],
    isolation: str | None,
    front_door: str | None,
) -> None:
    """Run APP: a blueprint (orders), module:attr, or path/to/app.py."""
    from sluiceway.app.loader import load_app
    from sluiceway.core import logs
    from sluiceway.core.settings import Settings
    from sluiceway.local.runtime import serve

    values: dict[str, str] = {}
    for param in params:
        key, sep, value = param.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{param!r} is not KEY=VALUE", param_hint="--set")
        values[key] = value
    try:
        settings = Settings.from_env(
            data_dir=data_dir,
            host=host,
            port=port,
            smtp=smtp,
            smtp_from=smtp_from,
            sms=sms,
            mqtt=mqtt,
            auto_confirm=auto_confirm or None,
            params=values,
            durability=durability,
            public_url=public_url,
            tls_cert=tls or tls_cert,
            tls_key=tls_key,
            log_format=log_format,
            console=False if no_console else None,
            console_hosts=console_hosts or None,
        )
        if isolation is not None or "SLUICEWAY_ISOLATION" not in os.environ:
            settings = settings.replace(isolation=isolation or "process")
        if front_door is not None or "SLUICEWAY_FRONT_DOOR" not in os.environ:
            settings = settings.replace(front_door=front_door or "process")
        logs.configure(settings.log_format)
        serve(load_app(app), settings)
    except (SluicewayError, ValueError) as error:
        raise click.ClickException(str(error)) from None


# -- queues -------------------------------------------------------------------------------


@main.command()
@data_dir_option
@json_option
def queues(data_dir: Path | None, as_json: bool) -> None:
    """Queues and their messages: visible, in flight, delayed."""
    with _admin(data_dir) as admin:
        stats = admin.queue_stats()
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(s) for s in stats], indent=2))
        return
    rows = [
        [
            s.name,
            str(s.visible),
            str(s.in_flight),
            str(s.delayed),
            f"{s.dead_letter} after {s.max_receive_count}" if s.dead_letter else "-",
        ]
        for s in stats
    ]
    _table(rows, ["QUEUE", "VISIBLE", "IN FLIGHT", "DELAYED", "DEAD LETTERS"])


@main.command()
@click.argument("dlq")
@click.option("--to", "to", help="Move to this queue instead of each message's source queue.")
@click.option("--rate", type=click.IntRange(1, 500), help="At most this many messages a second.")
@click.option("--cancel", is_flag=True, help="Cancel the task running on DLQ.")
@click.option("--status", is_flag=True, help="Show DLQ's recent move tasks.")
@data_dir_option
@json_option
def redrive(
    dlq: str,
    to: str | None,
    rate: int | None,
    cancel: bool,
    status: bool,
    data_dir: Path | None,
    as_json: bool,
) -> None:
    """Move DLQ's messages back to their source queue, as new messages (a move task)."""
    from sluiceway.local.admin import running_runtime

    with _admin(data_dir) as admin:
        if status:
            tasks = admin.move_tasks(dlq)
            if as_json:
                click.echo(json.dumps([dataclasses.asdict(t) for t in tasks], indent=2))
            else:
                rows = [
                    [
                        t.handle,
                        t.status,
                        f"{t.moved}/{t.to_move}",
                        t.destination or "(sources)",
                        str(t.rate or "-"),
                        _time(t.started_at),
                        t.failure or "",
                    ]
                    for t in tasks
                ]
                _table(rows, ["TASK", "STATUS", "MOVED", "TO", "RATE", "STARTED", "FAILURE"])
            return
        if cancel:
            click.echo(f"cancelled {admin.cancel_redrive(dlq)}")
            return
        handle = admin.start_redrive(dlq, to=to, rate=rate)
        show = _progress(dlq)
        if running_runtime(_data_dir(data_dir)) is not None:
            # The runtime carries the task out; follow its progress.
            pause = threading.Event()
            task = admin.move_task(handle)
            while not task.done:
                show(task)
                pause.wait(0.2)
                task = admin.move_task(handle)
        else:
            task = admin.run_move(handle, on_progress=show)
    if sys.stderr.isatty():
        click.echo("", err=True)
    if task.status != "COMPLETED":
        raise click.ClickException(f"the move task ended {task.status}: {task.failure or ''}")
    click.echo(f"moved {task.moved} message{'s' * (task.moved != 1)} out of {dlq}")


def _progress(dlq: str) -> Callable[[Any], None]:
    """Show a task's progress on one updating line when stderr is a terminal."""

    def show(task: Any) -> None:
        _progress_line(f"redriving {dlq}", task.moved, task.to_move)

    return show


def _progress_line(doing: str, done: int, total: int | None, unit: str = "") -> None:
    """``doing: done/total (pct%)`` (or ``doing: done`` with no total), rewritten in place
    on stderr when it is a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        return
    if total is None:
        text = f"{doing}: {done}{unit}"
    else:
        whole = max(total, done, 1)
        text = f"{doing}: {done}/{whole}{unit} ({100 * done // whole}%)"
    click.echo(f"\r{text}\x1b[K", nl=False, err=True)


def _progress_done() -> None:
    if sys.stderr.isatty():
        click.echo("", err=True)


@main.command()
@click.argument("queue")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@data_dir_option
def purge(queue: str, yes: bool, data_dir: Path | None) -> None:
    """Delete every message in QUEUE (in flight too), as SQS's PurgeQueue does."""
    if not yes:
        click.confirm(f"Delete every message in {queue}?", abort=True)
    with _admin(data_dir) as admin:
        count = admin.purge(
            queue, on_progress=lambda done, total: _progress_line(f"purging {queue}", done, total)
        )
    if count:
        _progress_done()
    click.echo(f"purged {count} message{'s' * (count != 1)} from {queue}")


@main.command()
@click.argument("path")
@click.argument("body")
@click.option("--method", default="POST", show_default=True)
@click.option("--header", "headers", multiple=True, metavar="NAME:VALUE")
@data_dir_option
def send(
    path: str, body: str, method: str, headers: tuple[str, ...], data_dir: Path | None
) -> None:
    """Send BODY (JSON text, or @file) to the route PATH, as a POST to it would."""
    raw = Path(body[1:]).read_bytes() if body.startswith("@") else body.encode()
    parsed: dict[str, str] = {}
    for header in headers:
        name, sep, value = header.partition(":")
        if not sep:
            raise click.BadParameter(f"{header!r} is not NAME:VALUE", param_hint="--header")
        parsed[name.strip()] = value.strip()
    with _admin(data_dir) as admin:
        answer = admin.send(path, raw, method=method, headers=parsed)
    click.echo(json.dumps(answer))


# -- tables -------------------------------------------------------------------------------


@main.command()
@click.argument("table")
@click.option("--limit", type=int)
@data_dir_option
@json_option
def scan(table: str, limit: int | None, data_dir: Path | None, as_json: bool) -> None:
    """A table's items as plain JSON, one per line (--json: one array)."""
    with _admin(data_dir) as admin:
        items = list(admin.scan(table, limit=limit))
    if as_json:
        click.echo(json.dumps(items, indent=2, ensure_ascii=False))
    else:
        for item in items:
            click.echo(json.dumps(item, ensure_ascii=False))


@main.command("put-item")
@click.argument("table")
@click.argument("item")
@click.option("--if-not-exists", is_flag=True, help="Refuse to replace an item with the same key.")
@data_dir_option
def put_item(table: str, item: str, if_not_exists: bool, data_dir: Path | None) -> None:
    """Put ITEM (a JSON object: inline, a file, or - for stdin) into TABLE, replacing an item
    with the same key, as DynamoDB's PutItem does; its stream record follows as for any
    put. Prints the key."""
    value = _json_argument(item, "ITEM", parse_float=Decimal)
    if not isinstance(value, dict):
        raise click.BadParameter("an item is a JSON object", param_hint="ITEM")
    with _admin(data_dir) as admin:
        try:
            key = admin.put_item(table, value, if_not_exists=if_not_exists)
        except ConditionalCheckFailed as error:
            raise click.ClickException(str(error)) from None
    click.echo(json.dumps({"key": key}, ensure_ascii=False))


@main.command()
@click.argument("table")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option(
    "--batch-size",
    type=click.IntRange(1, 10_000),
    default=500,
    show_default=True,
    help="Items per commit.",
)
@data_dir_option
def load(table: str, file: Path, batch_size: int, data_dir: Path | None) -> None:
    """Put every item of FILE (JSON lines: one object per line; - for stdin) into TABLE, as
    PutItem does, each with its stream record; a progress line in a terminal. An invalid
    line stops the load; the lines before it stay loaded."""
    stream: IO[bytes] = sys.stdin.buffer if str(file) == "-" else file.open("rb")
    size = None if str(file) == "-" else file.stat().st_size
    where = {"line": 0}
    read = {"bytes": 0}

    def items() -> Iterator[Any]:
        for raw in stream:
            where["line"] += 1
            read["bytes"] += len(raw)
            if not raw.strip():
                continue
            try:
                value = json.loads(raw, parse_float=Decimal)
            except ValueError as error:
                raise click.ClickException(
                    f"{file}, line {where['line']}: not JSON: {error}"
                ) from None
            if not isinstance(value, dict):
                raise click.ClickException(f"{file}, line {where['line']}: not a JSON object")
            yield value

    def show(loaded: int) -> None:
        if size:
            _progress_line(f"loading {table}", read["bytes"] // 1024, size // 1024, " KiB")
        else:
            _progress_line(f"loading {table}", loaded, None, " items")

    from sluiceway.local.admin import LoadError

    try:
        with stream, _admin(data_dir) as admin:
            try:
                count = admin.load(table, items(), batch_size=batch_size, on_batch=show)
            except LoadError as error:
                _progress_done()
                raise click.ClickException(
                    f"{file}, line {where['line']}: {error} (the lines before it are loaded)"
                ) from None
    except click.ClickException:
        _progress_done()
        raise
    _progress_done()
    click.echo(f"loaded {count} item{'s' * (count != 1)} into {table}")


@main.command("get-item")
@click.argument("table")
@click.argument("key")
@data_dir_option
def get_item(table: str, key: str, data_dir: Path | None) -> None:
    """The item of TABLE with KEY (a JSON object of the key attributes), as plain JSON."""
    value = _json_argument(key, "KEY", parse_float=Decimal)
    if not isinstance(value, dict):
        raise click.BadParameter("a key is a JSON object", param_hint="KEY")
    with _admin(data_dir) as admin:
        found = admin.get_item(table, value)
    if found is None:
        raise click.ClickException(f"no item in table '{table}' has the key {json.dumps(key)}")
    click.echo(json.dumps(found, ensure_ascii=False))


# -- deliveries ---------------------------------------------------------------------------


@main.group(invoke_without_command=True)
@data_dir_option
@json_option
@click.pass_context
def mappings(ctx: click.Context, data_dir: Path | None, as_json: bool) -> None:
    """Event source mappings and pipes: running or paused, how far behind, and each stream
    lane's position and retry state. `pause` and `resume` them."""
    if ctx.invoked_subcommand is not None:
        return
    with _admin(data_dir) as admin:
        states = admin.mapping_states()
        lanes = admin.stream_mappings()
        depth = {s.name: s.total for s in admin.queue_stats()}
    listed = []
    for state in states:
        own = [dataclasses.asdict(v) for v in lanes if v.function == state.name]
        queue = state.source.removeprefix("queue:")
        behind = depth.get(queue, 0) if state.source.startswith("queue:") else None
        listed.append(
            {
                "name": state.name,
                "kind": state.kind,
                "source": state.source,
                "state": "paused" if state.paused else "running",
                "paused_at": state.paused_at,
                "behind": sum(v["behind"] for v in own) if behind is None else behind,
                "lanes": own,
            }
        )
    known = {state.name for state in states}
    for view in lanes:  # lanes of a data directory last run before mappings were listed
        if view.function not in known:
            known.add(view.function)
            own = [dataclasses.asdict(v) for v in lanes if v.function == view.function]
            listed.append(
                {
                    "name": view.function,
                    "kind": "function",
                    "source": f"table:{view.table}",
                    "state": "running",
                    "paused_at": None,
                    "behind": sum(v["behind"] for v in own),
                    "lanes": own,
                }
            )
    if as_json:
        click.echo(json.dumps(listed, indent=2))
        return
    rows = []
    for entry in listed:
        head = [entry["name"], entry["kind"], entry["source"], entry["state"]]
        if not entry["lanes"]:
            rows.append([*head, str(entry["behind"]), "-", "-", "-", "-", ""])
        for lane in entry["lanes"]:
            rows.append(
                [
                    *head,
                    str(lane["behind"]),
                    str(lane["lane"]),
                    str(lane["position"]),
                    str(lane["attempts"]),
                    _time(lane["next_attempt_at"]),
                    (lane["last_error"] or "")[:60],
                ]
            )
    headers = ["NAME", "KIND", "SOURCE", "STATE", "BEHIND", "LANE", "POSITION", "ATTEMPTS"]
    _table(rows, [*headers, "RETRY AT", "ERROR"])


@mappings.command("pause")
@click.argument("name")
@data_dir_option
def mappings_pause(name: str, data_dir: Path | None) -> None:
    """Stop NAME (a function's mapping, or a pipe) taking batches until `resume`; its
    records wait in its queue or stream. Holds across restarts; a running runtime stops
    within a second (a batch already taken finishes)."""
    with _admin(data_dir) as admin:
        changed = admin.pause_mapping(name)
    click.echo(f"paused {name}" if changed else f"{name} was paused already")


@mappings.command("resume")
@click.argument("name")
@data_dir_option
def mappings_resume(name: str, data_dir: Path | None) -> None:
    """Let NAME take batches again: what waited is processed, oldest first."""
    with _admin(data_dir) as admin:
        changed = admin.resume_mapping(name)
    click.echo(f"resumed {name}" if changed else f"{name} was not paused")


# -- live events ----------------------------------------------------------------------------


@main.command()
@click.option(
    "--since",
    help="First the events of this long ago (30s, 5m, 1h) or since this time (ISO 8601), "
    "as far as the runtime keeps them (its last 2000).",
)
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(["request", "invocation", "delivery", "mapping"]),
    help="Only events of this kind (repeatable).",
)
@data_dir_option
@json_option
def tail(since: str | None, kinds: tuple[str, ...], data_dir: Path | None, as_json: bool) -> None:
    """Follow the running app live: requests, invocations (duration, outcome), deliveries
    (status), pauses. Colour in a terminal; --json: one object per line. Ctrl-C stops."""
    import time
    import urllib.error

    from sluiceway.local import tail as following
    from sluiceway.local.admin import running_runtime

    directory = _data_dir(data_dir)
    runtime = running_runtime(directory)
    if runtime is None:
        raise click.ClickException(
            f"no runtime is running on {directory}: start it with `sluiceway run`"
        )
    try:
        start = None if since is None else following.parse_since(since, time.time())
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--since") from None
    colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    try:
        for event in following.follow(runtime["url"], start):
            if kinds and event.get("kind") not in kinds:
                continue
            if as_json:
                click.echo(json.dumps(event, default=str))
            else:
                click.echo(following.line(event, colour=colour), color=colour)
    except KeyboardInterrupt:
        return
    except (urllib.error.URLError, OSError) as error:
        raise click.ClickException(f"lost the runtime at {runtime['url']}: {error}") from None
    click.echo("the runtime stopped", err=True)


@main.command()
@click.argument("trace_id", required=False)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@data_dir_option
@json_option
def traces(trace_id: str | None, limit: int, data_dir: Path | None, as_json: bool) -> None:
    """The latest traces, or with TRACE_ID every hop of one (HTTP request, queue, invocations,
    items, publishes, deliveries) with its time since the request and its duration. A
    request's trace id is in its answer's X-Sluiceway-Trace-Id header."""
    with _admin(data_dir) as admin:
        if trace_id is None:
            found = admin.traces(limit)
            if as_json:
                click.echo(json.dumps([dataclasses.asdict(t) for t in found], indent=2))
                return
            rows = [
                [t.trace_id, _time(t.started_at_ms), str(t.hops), f"{t.first_kind} {t.first_name}"]
                for t in found
            ]
            _table(rows, ["TRACE", "STARTED", "HOPS", "FIRST"])
            return
        hops = admin.trace(trace_id)
    if not hops:
        raise click.ClickException(f"no trace {trace_id!r} (traces are kept 24 hours)")
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(h) for h in hops], indent=2))
        return
    start = hops[0].at_ms
    rows = [
        [
            f"+{h.at_ms - start} ms",
            h.kind,
            h.name,
            "-" if h.duration_ms is None else f"{h.duration_ms:.1f} ms",
            json.dumps(h.detail, separators=(",", ":"))[:80],
        ]
        for h in hops
    ]
    _table(rows, ["AT", "HOP", "NAME", "TOOK", "DETAIL"])


@main.command()
@click.option(
    "--status",
    help="Only deliveries in this status (pending, delivered, failed, unconfirmed, ...).",
)
@click.option("--retry", "retry", is_flag=True, help="Make waiting and failed deliveries due now.")
@data_dir_option
@json_option
@click.option("--limit", type=click.IntRange(min=1), help="Only the most recent N.")
def deliveries(
    status: str | None, retry: bool, limit: int | None, data_dir: Path | None, as_json: bool
) -> None:
    """Every notification delivery and its status."""
    with _admin(data_dir) as admin:
        if retry:
            count = admin.retry_deliveries()
            click.echo(f"{count} deliver{'ies' if count != 1 else 'y'} due now")
            return
        views = admin.deliveries(status=status, limit=limit)
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(v) for v in views], indent=2))
        return
    rows = [
        [
            str(v.id),
            v.protocol,
            v.destination,
            v.topic or "-",
            v.kind,
            v.status,
            str(v.attempts),
            _time(v.delivered_at or v.created_at),
            (v.subject or "")[:40],
            (v.last_error or "")[:60],
        ]
        for v in views
    ]
    _table(
        rows,
        [
            "ID",
            "PROTOCOL",
            "DESTINATION",
            "TOPIC",
            "KIND",
            "STATUS",
            "TRIES",
            "AT",
            "SUBJECT",
            "ERROR",
        ],
    )


# -- patterns -----------------------------------------------------------------------------


@main.command()
@click.argument("pattern")
@click.argument("event")
@click.option(
    "--context",
    type=click.Choice(["eventbridge", "pipes", "esm", "sns-attributes", "sns-body"]),
    default="eventbridge",
    show_default=True,
    help="Whose rules: an event bus rule, a pipe filter, a Lambda mapping filter, or an SNS "
    "filter policy on attributes or on the body.",
)
def match(pattern: str, event: str, context: str) -> None:
    """Say whether EVENT matches PATTERN, and if not, which field and condition failed.

    PATTERN and EVENT are inline JSON, a file name, or - for standard input. An SQS record's
    JSON body is matched as JSON (as Lambda and Pipes do); for --context sns-attributes, EVENT
    may be message attributes as Publish takes them. Exit status: 0 match, 1 no match,
    2 the pattern is invalid there.
    """
    from sluiceway.patterns import (
        PatternError,
        compile_pattern,
        esm_view_of_sqs_record,
        sns_attributes_view,
    )

    try:
        compiled = compile_pattern(_json_argument(pattern, "PATTERN"), context=context)  # type: ignore[arg-type]
    except PatternError as error:
        click.echo(f"invalid pattern: {error}", err=True)
        sys.exit(2)
    value = _json_argument(event, "EVENT")
    if isinstance(value, dict) and isinstance(value.get("body"), str) and "messageId" in value:
        value = esm_view_of_sqs_record(value)
    publish_form = isinstance(value, dict) and all(
        isinstance(v, dict) and ("DataType" in v or "Type" in v) for v in value.values()
    )
    if context == "sns-attributes" and publish_form:
        value = sns_attributes_view(value)
    explanation = compiled.explain(value)
    if explanation.matched:
        click.echo("match")
        return
    click.echo("no match")
    for miss in explanation.misses:
        where = f"[{miss.branch}] " if miss.branch else ""
        click.echo(f"  {where}{miss.describe()}")
    sys.exit(1)


def _json_argument(text: str, name: str, **options: Any) -> Any:
    """Inline JSON, a file, or - (stdin)."""
    if text == "-":
        raw = sys.stdin.read()
    elif text.lstrip()[:1] in ("{", "["):
        raw = text
    else:
        path = Path(text)
        if not path.is_file():
            raise click.BadParameter(f"{text!r} is neither JSON nor a file", param_hint=name)
        raw = path.read_text(encoding="utf-8")
    try:
        return json.loads(raw, **options)
    except ValueError as error:
        raise click.BadParameter(f"not valid JSON: {error}", param_hint=name) from None


# -- OAuth2 ---------------------------------------------------------------------------------


@main.group()
def clients() -> None:
    """OAuth2 app clients of the app's user pools (client credentials)."""


@clients.command("create")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, required=True, help="A scope it may get.")
@click.option("--pool", help="The user pool (when the app has several).")
@data_dir_option
@json_option
def clients_create(
    name: str, scopes: tuple[str, ...], pool: str | None, data_dir: Path | None, as_json: bool
) -> None:
    """Make an app client; its secret is printed now and never again."""
    with _admin(data_dir) as admin:
        made = admin.identity.create_client(name, scopes, pool)
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(made), indent=2))
        return
    click.echo(f"client id:     {made.client_id}")
    click.echo(f"client secret: {made.client_secret}  (shown once: keep it now)")
    click.echo(f"scopes:        {' '.join(made.scopes)}")


@clients.command("list")
@data_dir_option
@json_option
def clients_list(data_dir: Path | None, as_json: bool) -> None:
    """Every app client (never a secret)."""
    with _admin(data_dir) as admin:
        views = admin.identity.clients()
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(v) for v in views], indent=2))
        return
    rows = [[v.client_id, v.name, v.pool, " ".join(v.scopes), _time(v.created_at)] for v in views]
    _table(rows, ["CLIENT ID", "NAME", "POOL", "SCOPES", "CREATED"])


@clients.command("delete")
@click.argument("client_id")
@data_dir_option
def clients_delete(client_id: str, data_dir: Path | None) -> None:
    """Delete an app client: it gets no more tokens (those it has expire on their own)."""
    with _admin(data_dir) as admin:
        admin.identity.delete_client(client_id)
    click.echo(f"deleted {client_id}")


@main.command()
@click.option("--client-id", required=True)
@click.option("--client-secret", required=True)
@click.option("--scope", "scopes", multiple=True, help="Ask for these scopes (default: all).")
@data_dir_option
def token(
    client_id: str, client_secret: str, scopes: tuple[str, ...], data_dir: Path | None
) -> None:
    """Get an access token (client credentials): from the running runtime's token endpoint,
    or, with none running, from the data directory's keys. Prints the token response."""
    from sluiceway.cognito import oauth
    from sluiceway.local.admin import running_runtime

    runtime = running_runtime(_data_dir(data_dir))
    if runtime is not None:
        click.echo(_token_from(runtime["url"], client_id, client_secret, scopes))
        return
    with _admin(data_dir) as admin:
        try:
            issued = admin.identity.issue(client_id, client_secret, scopes or None)
        except oauth.OAuthError as error:
            raise click.ClickException(f"{error.error}: {error.description}") from None
    click.echo(json.dumps(issued))


def _token_from(url: str, client_id: str, client_secret: str, scopes: tuple[str, ...]) -> str:
    """POST a client-credentials request to the runtime at `url`; its answer's text."""
    import base64
    import ssl
    import urllib.error
    import urllib.parse
    import urllib.request

    form = {"grant_type": "client_credentials"}
    if scopes:
        form["scope"] = " ".join(scopes)
    credentials = ":".join(urllib.parse.quote(part, safe="") for part in (client_id, client_secret))
    request = urllib.request.Request(
        f"{url}/oauth2/token",
        data=urllib.parse.urlencode(form).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": "Basic " + base64.b64encode(credentials.encode()).decode(),
        },
    )
    # The runtime's own, possibly self-signed, certificate: this is the same machine.
    context = ssl._create_unverified_context() if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as answer:
            return str(answer.read().decode())
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")
        error.close()
        raise click.ClickException(f"{error.code}: {detail}") from None


def _runtime_json(data_dir: Path | None, path: str) -> Any:
    """GET `path` from the runtime serving `data_dir`, as JSON; an error if none runs."""
    import ssl
    import urllib.error
    import urllib.request

    from sluiceway.local.admin import running_runtime

    runtime = running_runtime(_data_dir(data_dir))
    if runtime is None:
        raise click.ClickException(
            f"no runtime is running on {_data_dir(data_dir)}: start it with `sluiceway run`"
        )
    url = runtime["url"]
    context = ssl._create_unverified_context() if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(f"{url}{path}", timeout=10, context=context) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")
        error.close()
        raise click.ClickException(f"{error.code}: {detail}") from None


@main.command()
@data_dir_option
@json_option
def firewall(data_dir: Path | None, as_json: bool) -> None:
    """The running app's firewall rules with the requests each allowed, blocked and
    counted since the runtime started."""
    state = _runtime_json(data_dir, "/_sluiceway/firewall")
    if as_json:
        click.echo(json.dumps(state, indent=2))
        return
    rows = [
        [rule, str(t["allowed"]), str(t["blocked"]), str(t["counted"])]
        for rule, t in state["rules"].items()
    ]
    _table(rows, ["RULE", "ALLOWED", "BLOCKED", "COUNTED"])
    click.echo(f"default action: {state['default']}")


@main.group()
def keys() -> None:
    """The signing keys of access tokens (RS256)."""


@keys.command("list")
@data_dir_option
@json_option
def keys_list(data_dir: Path | None, as_json: bool) -> None:
    """The keys tokens are verified with; the newest signs."""
    with _admin(data_dir) as admin:
        document = admin.identity.keys.jwks()
    if as_json:
        click.echo(json.dumps(document, indent=2))
        return
    for n, key in enumerate(document["keys"]):
        click.echo(f"{key['kid']}{'  (signing)' if n == 0 else ''}")


@keys.command("rotate")
@data_dir_option
def keys_rotate(data_dir: Path | None) -> None:
    """Sign new tokens with a new key; tokens signed before stay valid until they expire."""
    with _admin(data_dir) as admin:
        key = admin.identity.keys.rotate()
    click.echo(f"signing with {key.kid}")


@keys.command("retire")
@click.argument("kid")
@data_dir_option
def keys_retire(kid: str, data_dir: Path | None) -> None:
    """Stop accepting tokens signed with KID (not the signing key: rotate first)."""
    with _admin(data_dir) as admin:
        try:
            admin.identity.keys.retire(kid)
        except (KeyError, ValueError) as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"retired {kid}")


# -- SMS ----------------------------------------------------------------------------------


@main.group()
def sms() -> None:
    """The SMS opt-out list: numbers that get no texts (what a STOP reply does)."""


@sms.command("opt-out")
@click.argument("phone")
@data_dir_option
def sms_opt_out(phone: str, data_dir: Path | None) -> None:
    """Stop texting PHONE (E.164, e.g. +919876543210); waiting texts are not sent."""
    with _admin(data_dir) as admin:
        skipped = admin.sms_opt_out(phone)
    click.echo(f"{phone} opted out; {skipped} waiting text{'s' if skipped != 1 else ''} skipped")


@sms.command("opt-in")
@click.argument("phone")
@data_dir_option
def sms_opt_in(phone: str, data_dir: Path | None) -> None:
    """Text PHONE again (OptInPhoneNumber)."""
    with _admin(data_dir) as admin:
        was = admin.sms_opt_in(phone)
    click.echo(f"{phone} opted in" if was else f"{phone} was not opted out")


@sms.command("opted-out")
@data_dir_option
@json_option
def sms_opted_out(data_dir: Path | None, as_json: bool) -> None:
    """The numbers that opted out (ListPhoneNumbersOptedOut)."""
    with _admin(data_dir) as admin:
        numbers = admin.sms_opted_out()
    if as_json:
        click.echo(json.dumps([{"phone": p, "opted_out_at": at} for p, at in numbers], indent=2))
        return
    _table([[p, _time(at)] for p, at in numbers], ["PHONE", "SINCE"])


# -- AWS: render, deploy, destroy ---------------------------------------------------------

main.add_command(render)
main.add_command(deploy)
main.add_command(destroy)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
