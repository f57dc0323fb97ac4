"""What the commands share: the --data-dir and --json options, the admin of a data directory
(its errors as the command's), JSON arguments, and printing: tables, times, progress lines.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from sluiceway.apigateway.ingest import Rejection
from sluiceway.core.errors import SluicewayError

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


@contextmanager
def _admin(data_dir: Path | None) -> Iterator[Any]:
    from sluiceway.local.admin import Admin

    try:
        with Admin(_data_dir(data_dir)) as admin:
            yield admin
    except FileNotFoundError as error:
        raise click.ClickException(str(error)) from None
    except sqlite3.DatabaseError as error:  # found mid-command (open checks it first)
        from sluiceway.core.store_health import damaged

        store = _data_dir(data_dir) / "sluiceway.db"
        raise click.ClickException(str(damaged(store, str(error)))) from None
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


class GreedyOption(click.Option):
    """An option that takes every following word up to the next option, as ``sam deploy
    --parameter-overrides A=1 B=2`` does (repeating the option works too)."""

    def add_to_parser(self, parser: Any, ctx: click.Context) -> None:
        super().add_to_parser(parser, ctx)
        for name in self.opts:
            option = parser._long_opt.get(name) or parser._short_opt.get(name)
            if option is None:
                continue
            process = option.process

            def greedy(value: Any, state: Any, process: Any = process) -> None:
                process(value, state)
                while state.rargs and not state.rargs[0].startswith("-"):
                    process(state.rargs.pop(0), state)

            option.process = greedy
