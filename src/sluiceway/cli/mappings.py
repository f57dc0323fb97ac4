"""`sluiceway mappings` (and `pause`, `resume`): event source mappings and pipes."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from sluiceway.cli._common import _admin, _table, _time, data_dir_option, json_option


@click.group(invoke_without_command=True)
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
