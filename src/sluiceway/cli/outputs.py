"""`sluiceway outputs`: a template's Outputs with their local values (the API's URL, queue
URLs, table names), as the last `sluiceway run` of a template in this data directory printed
them; like ``aws cloudformation describe-stacks --query Stacks[0].Outputs``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sluiceway.cli._common import _data_dir, _table, data_dir_option, json_option


@click.command()
@data_dir_option
@json_option
def outputs(data_dir: Path | None, as_json: bool) -> None:
    """Show the Outputs of the template run with this data directory."""
    from sluiceway.templates.outputs import read_outputs

    folder = _data_dir(data_dir)
    found = read_outputs(folder)
    if found is None:
        raise click.ClickException(
            f"no template has run with {folder}: start one with `sluiceway run template.yaml`"
        )
    if as_json:
        click.echo(json.dumps(found["outputs"], indent=2))
        return
    rows = [[o["OutputKey"], o["OutputValue"], o["Description"]] for o in found["outputs"]]
    click.echo(f"{found['template']} (served on {found['url']})")
    _table(rows, ["OutputKey", "OutputValue", "Description"])
