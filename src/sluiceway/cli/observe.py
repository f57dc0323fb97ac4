"""`sluiceway tail`, `traces` and `deliveries`: what the running app did and does."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

import click

from sluiceway.cli._common import _admin, _data_dir, _table, _time, data_dir_option, json_option


@click.command()
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


@click.command()
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


@click.command()
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
