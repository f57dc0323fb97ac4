"""What every console page shares: the engine it reads, its templates and their filters,
and the answers common to all (a flash, not found, locked).

Reads go through the store's reader connection of the calling thread; changes are the ops
the CLI runs (`queues.purge`, `moves.start`, ...), committed by the runtime's own writer, so
its workers wake at once. Everything shown passes through autoescaped templates: message
bodies and items are hostile input.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import jinja2

from sluiceway.core import attrvalue
from sluiceway.dynamodb.info import TableInfo
from sluiceway.local.console.request import Request, Response
from sluiceway.local.registry import Registry
from sluiceway.sqs.info import QueueInfo

if TYPE_CHECKING:
    from sluiceway.local.engine import LocalEngine

PAGE_SIZE = 50


class PageBase:
    def __init__(self, engine: LocalEngine, *, csrf: str) -> None:
        assert engine.registry is not None, "the engine is not open"
        self.engine = engine
        self.registry: Registry = engine.registry
        self.store = engine.store
        self.csrf = csrf
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("sluiceway.local.console", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(
            when=_when, q=quoted, pretty=_pretty, plain=plain_item, short=_short, query=_query
        )
        self.env.globals.update(app=engine.app.name, csrf=csrf)

    # -- plumbing -----------------------------------------------------------------------

    def _cx(self) -> sqlite3.Connection:
        return self.store.reader()

    def _now_ms(self) -> int:
        return int(self.engine.clock.now() * 1000)

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        body = self.env.get_template(template).render(now_ms=self._now_ms(), **context)
        return Response(status, body.encode())

    def flash(self, request: Request, text: str, *, ok: bool = True, back: str = "") -> Response:
        """An action's outcome: a fragment for htmx, else the page it came from again."""
        if request.htmx:
            return self.render("_flash.html", text=text, ok=ok)
        if ok and back:
            return Response(303, b"", headers=[(b"location", back.encode())])
        return self.render("message_page.html", 200 if ok else 400, title="Console", text=text)

    def not_found(self, request: Request, what: str = "") -> Response:
        text = what or f"nothing at {request.path}"
        return self.render("message_page.html", 404, title="Not found", text=text)

    def locked(self) -> Response:
        return self.render(
            "message_page.html",
            401,
            title="Console locked",
            text="This runtime listens beyond this machine, so its console needs the token "
            "printed when it started: open the link from its start banner "
            "(…/console?token=…).",
        )

    def enter(self, target: str, cookie: str) -> Response:
        response = self.render("enter.html", target=target)
        response.headers.append((b"set-cookie", cookie.encode("latin-1")))
        return response

    def _queue(self, name: str) -> QueueInfo | None:
        return self.registry.queues.get(name)

    def _table(self, name: str) -> TableInfo | None:
        return self.registry.tables.get(name)


def int_or(text: str | None, default: Any) -> Any:
    if text is None or not text.strip():
        return default
    try:
        return int(text)
    except ValueError:
        return default


def _when(ms: int | float | None) -> str:
    if ms is None:
        return "—"
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def quoted(value: object) -> str:
    return quote(str(value), safe="")


def _query(values: dict[str, Any], **changes: Any) -> str:
    merged = {**values, **changes}
    return urlencode({k: v for k, v in merged.items() if v not in (None, "")})


def _pretty(value: Any) -> str:
    """JSON indented for reading; a text that is not JSON as it is."""
    if isinstance(value, str):
        text = value
        try:
            value = json.loads(text)
        except ValueError:
            return text
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def plain_item(item: Any) -> Any:
    """An AttributeValue item as plain JSON-ready values (what a handler would see)."""
    if item is None:
        return None
    try:
        return attrvalue.to_plain_json(attrvalue.deserialize_item(item))
    except (ValueError, TypeError, KeyError):
        return item


def _short(text: Any, limit: int = 160) -> str:
    shown = text if isinstance(text, str) else json.dumps(text, ensure_ascii=False)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"
