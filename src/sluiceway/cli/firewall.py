"""`sluiceway firewall`: the running app's firewall rules and what each let through."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from sluiceway.cli._common import _data_dir, _table, data_dir_option, json_option


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


@click.command()
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
