"""`sluiceway queues`, `redrive`, `purge` and `send`: the queues, their dead letters, and
messages sent to a route."""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from sluiceway.cli._common import (
    _admin,
    _data_dir,
    _progress_done,
    _progress_line,
    _table,
    _time,
    data_dir_option,
    json_option,
)


@click.command()
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


@click.command()
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


@click.command()
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


@click.command()
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
