"""`sluiceway scan`, `put-item`, `load` and `get-item`: a table's items."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import click

from sluiceway.cli._common import (
    _admin,
    _json_argument,
    _progress_done,
    _progress_line,
    data_dir_option,
    json_option,
)
from sluiceway.core.errors import ConditionalCheckFailed


@click.command()
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


@click.command("put-item")
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


@click.command()
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


@click.command("get-item")
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
