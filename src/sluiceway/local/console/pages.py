"""The console's pages, fragments and actions: each a function of a request to a response.

Reads go through the store's reader connection of the calling thread; changes are the ops
the CLI runs (`queues.purge`, `moves.start`, ...), committed by the runtime's own writer, so
its workers wake at once. Everything shown passes through autoescaped templates: message
bodies and items are hostile input.
"""

from __future__ import annotations

import email
import email.policy
import json
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import jinja2

from sluiceway.awslambda import pausing
from sluiceway.awslambda.queue_mapping import QueueMapping
from sluiceway.awslambda.stream_mapping import StreamMapping
from sluiceway.core import attrvalue, naming, traces
from sluiceway.core.errors import SluicewayError
from sluiceway.dynamodb import tables
from sluiceway.dynamodb.info import TableInfo
from sluiceway.local.console import pipeline
from sluiceway.local.registry import Registry
from sluiceway.sns import outbox
from sluiceway.sns.email import compose
from sluiceway.sqs import messages, moves, queues
from sluiceway.sqs.info import QueueInfo

if TYPE_CHECKING:
    from sluiceway.local.console.handler import Request
    from sluiceway.local.engine import LocalEngine

_HTML = "text/html; charset=utf-8"
PAGE_SIZE = 50
SENDER = "sluiceway-console"


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = _HTML
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    @classmethod
    def text(cls, status: int, text: str) -> Response:
        return cls(status, text.encode(), "text/plain; charset=utf-8")


class Pages:
    def __init__(self, engine: LocalEngine, *, csrf: str) -> None:
        assert engine.registry is not None, "the engine is not open"
        self.engine = engine
        self.registry: Registry = engine.registry
        self.store = engine.store
        self.csrf = csrf
        self.pipeline = pipeline.build(engine.graph, engine.parameters)
        self.mail = MailIndex(Path(engine.settings.data_dir) / "maildir")
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("sluiceway.local.console", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(
            when=_when, q=_quote, pretty=_pretty, plain=_plain, short=_short, query=_query
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

    # -- the map ------------------------------------------------------------------------

    def map_page(self, request: Request) -> Response:
        return self.render("map.html", **self._map())

    def map_fragment(self, request: Request) -> Response:
        return self.render("_map.html", **self._map())

    def _map(self) -> dict[str, Any]:
        counts = pipeline.counts(
            self.pipeline,
            self._cx(),
            self.registry,
            self.engine.mappings,
            self._now_ms(),
            self.engine.metrics,
        )
        return {
            "p": self.pipeline,
            "counts": counts,
            "blank": pipeline.Count(""),
            "node_width": pipeline.NODE_WIDTH,
            "node_height": pipeline.NODE_HEIGHT,
        }

    # -- queues -------------------------------------------------------------------------

    def _queue_rows(self) -> list[dict[str, Any]]:
        cx, now = self._cx(), self._now_ms()
        rows = []
        for info in sorted(self.registry.queues.values(), key=lambda q: q.name):
            stats = queues.stats(cx, info, now)
            dlq = self._queue(info.spec.dead_letter) if info.spec.dead_letter else None
            rows.append(
                {
                    "info": info,
                    "stats": stats,
                    "dead_letters": None if dlq is None else queues.stats(cx, dlq, now).total,
                    "is_dlq": bool(moves.sources_of(self.registry, info)),
                }
            )
        return rows

    def queues_page(self, request: Request) -> Response:
        return self.render("queues.html", rows=self._queue_rows())

    def queues_fragment(self, request: Request) -> Response:
        return self.render("_queues.html", rows=self._queue_rows())

    def _queue_state(self, info: QueueInfo) -> dict[str, Any]:
        cx, now = self._cx(), self._now_ms()
        dlq = self._queue(info.spec.dead_letter) if info.spec.dead_letter else None
        tasks = moves.tasks(cx, info, limit=1)
        return {
            "info": info,
            "stats": queues.stats(cx, info, now),
            "dlq": dlq,
            "dlq_stats": None if dlq is None else queues.stats(cx, dlq, now),
            "sources": moves.sources_of(self.registry, info),
            "task": tasks[0] if tasks else None,
        }

    def queue_page(self, request: Request) -> Response:
        info = self._queue(request.params[0])
        if info is None:
            return self.not_found(request, f"no queue named {request.params[0]!r}")
        return self.render(
            "queue.html", **(self._queue_state(info) | self._messages(info, request))
        )

    def queue_fragment(self, request: Request) -> Response:
        info = self._queue(request.params[0])
        if info is None:
            return self.not_found(request)
        return self.render("_queue_state.html", **self._queue_state(info))

    def _messages(self, info: QueueInfo, request: Request) -> dict[str, Any]:
        after = _int(request.query.get("after"), 0)
        found = queues.browse(self._cx(), info, self._now_ms(), limit=PAGE_SIZE + 1, after=after)
        return {
            "info": info,
            "messages": found[:PAGE_SIZE],
            "after": after,
            "next_after": found[PAGE_SIZE - 1].seq if len(found) > PAGE_SIZE else None,
        }

    def messages_fragment(self, request: Request) -> Response:
        info = self._queue(request.params[0])
        if info is None:
            return self.not_found(request)
        return self.render("_messages.html", **self._messages(info, request))

    def message_page(self, request: Request) -> Response:
        info = self._queue(request.params[0])
        found = (
            None
            if info is None
            else queues.peek(self._cx(), info, int(request.params[1]), self._now_ms())
        )
        if info is None or found is None:
            return self.not_found(request, "no such message (received and deleted, perhaps)")
        source = None
        if found.source_queue_id is not None:
            source = next(
                (q for q in self.registry.queues.values() if q.id == found.source_queue_id), None
            )
        return self.render("message.html", info=info, m=found, source=source)

    def send_message(self, request: Request) -> Response:
        info = self._queue(request.params[0])
        if info is None:
            return self.not_found(request)
        back = f"/console/queues/{_quote(info.name)}"
        try:
            attributes = _attributes(request.form.get("attributes", ""))
            message = messages.prepare(
                info,
                request.form.get("body", ""),
                sender_id=naming.principal_id(SENDER),
                delay_seconds=_int(request.form.get("delay"), None),
                attributes=attributes or None,
                group_id=request.form.get("group") or None,
                dedup_id=request.form.get("dedup") or None,
            )
            answer = self.store.write(lambda tx: queues.send(tx, info, message))
        except (SluicewayError, ValueError) as error:
            return self.flash(request, f"Not sent: {error}", ok=False)
        return self.flash(request, f"Sent message {answer['MessageId']}.", back=back)

    def purge(self, request: Request) -> Response:
        info = self._queue(request.params[0])
        if info is None:
            return self.not_found(request)
        try:
            purged = self.store.write(lambda tx: queues.purge(tx, info))
        except SluicewayError as error:
            return self.flash(request, f"Not purged: {error}", ok=False)
        return self.flash(
            request,
            f"Purged {purged} message(s) from {info.name}.",
            back=f"/console/queues/{_quote(info.name)}",
        )

    def redrive(self, request: Request) -> Response:
        info = self._queue(request.params[0])
        if info is None:
            return self.not_found(request)
        target = request.form.get("to") or None
        destination = None if target is None else self._queue(target)
        if target is not None and destination is None:
            return self.flash(request, f"No queue named {target!r}.", ok=False)
        rate = _int(request.form.get("rate"), None)
        registry = self.registry
        try:
            handle = self.store.write(
                lambda tx: moves.start(tx, registry, info, destination=destination, rate=rate)
            )
        except SluicewayError as error:
            return self.flash(request, f"Redrive not started: {error}", ok=False)
        return self.flash(
            request,
            f"Redrive started ({handle}); progress shows above.",
            back=f"/console/queues/{_quote(info.name)}",
        )

    def cancel_redrive(self, request: Request) -> Response:
        info = self._queue(request.params[0])
        if info is None:
            return self.not_found(request)
        try:
            handle = self.store.write(lambda tx: moves.cancel(tx, info))
        except SluicewayError as error:
            return self.flash(request, f"Nothing cancelled: {error}", ok=False)
        return self.flash(
            request, f"Cancelled {handle}.", back=f"/console/queues/{_quote(info.name)}"
        )

    # -- tables -------------------------------------------------------------------------

    def tables_page(self, request: Request) -> Response:
        cx = self._cx()
        rows = [
            {"info": info, "items": tables.count(cx, info)}
            for info in sorted(self.registry.tables.values(), key=lambda t: t.name)
        ]
        return self.render("tables.html", rows=rows)

    def _items(self, info: TableInfo, request: Request) -> dict[str, Any]:
        contains = request.query.get("contains", "")
        offset = max(0, _int(request.query.get("offset"), 0))
        found = tables.browse(
            self._cx(), info, contains=contains or None, limit=PAGE_SIZE + 1, offset=offset
        )
        return {
            "info": info,
            "items": [_item_row(info, item) for item in found[:PAGE_SIZE]],
            "contains": contains,
            "offset": offset,
            "more": len(found) > PAGE_SIZE,
            "total": tables.count(self._cx(), info),
        }

    def table_page(self, request: Request) -> Response:
        info = self._table(request.params[0])
        if info is None:
            return self.not_found(request, f"no table named {request.params[0]!r}")
        return self.render("table.html", **self._items(info, request))

    def items_fragment(self, request: Request) -> Response:
        info = self._table(request.params[0])
        if info is None:
            return self.not_found(request)
        return self.render("_items.html", **self._items(info, request))

    def item_page(self, request: Request) -> Response:
        info = self._table(request.params[0])
        if info is None:
            return self.not_found(request)
        try:
            key = json.loads(request.query.get("key", ""))
            if not isinstance(key, dict):
                raise ValueError("a key is a JSON object")
            item = tables.get(self._cx(), info, key)
            history = tables.history(self._cx(), info, key) if info.spec.stream else []
        except (ValueError, SluicewayError, KeyError, TypeError) as error:
            return self.render("message_page.html", 400, title="Bad key", text=str(error))
        return self.render("item.html", info=info, key=key, item=item, history=history)

    # -- mappings and pipes -------------------------------------------------------------

    def _mappings(self) -> dict[str, Any]:
        cx, now = self._cx(), self._now_ms()
        polled, streamed = [], []
        for mapping in self.engine.mappings:
            if isinstance(mapping, QueueMapping):
                polled.append({"m": mapping, "stats": queues.stats(cx, mapping.queue, now)})
            else:
                streamed.append({"m": mapping, "lanes": _lanes(cx, mapping, now)})
        paused = set(pausing.paused(cx))
        return {"polled": polled, "streamed": streamed, "pausing": True, "paused": paused}

    def mappings_page(self, request: Request) -> Response:
        return self.render("mappings.html", **self._mappings())

    def mappings_fragment(self, request: Request) -> Response:
        return self.render("_mappings.html", **self._mappings())

    def pause_or_resume(self, request: Request) -> Response:
        """Stop a mapping or pipe taking batches, or let it again (across restarts)."""
        pause = request.params[0] == "pause"
        name = request.form.get("name", "")
        if name not in {m.name for m in self.engine.mappings}:
            return self.flash(request, f"No mapping or pipe named {name!r}.", ok=False)
        changed = self.store.write(lambda tx: pausing.set_paused(tx, name, pause))
        done = "Paused" if pause else "Resumed"
        text = f"{done} {name}." if changed else f"{name} was {done.lower()} already."
        return self.flash(request, text, back="/console/mappings")

    # -- deliveries ---------------------------------------------------------------------

    def _deliveries(self, request: Request) -> dict[str, Any]:
        status = request.query.get("status") or None
        protocol = request.query.get("protocol") or None
        topic = request.query.get("topic") or None
        found = outbox.list_deliveries(self._cx(), status=status, limit=2000)
        shown = [
            d
            for d in reversed(found)
            if (protocol is None or d.protocol == protocol) and (topic is None or d.topic == topic)
        ]
        return {
            "deliveries": shown[:200],
            "filters": {"status": status, "protocol": protocol, "topic": topic},
            "statuses": ["pending", "sending", "delivered", "failed", "unconfirmed", "filtered"],
            "protocols": ["email", "sms", "mqtt", "lambda"],
        }

    def deliveries_page(self, request: Request) -> Response:
        return self.render("deliveries.html", **self._deliveries(request))

    def deliveries_fragment(self, request: Request) -> Response:
        return self.render("_deliveries.html", **self._deliveries(request))

    def delivery_page(self, request: Request) -> Response:
        delivery_id = int(request.params[0])
        cx = self._cx()
        view = next(iter(_delivery(cx, delivery_id)), None)
        if view is None:
            return self.not_found(request, f"no delivery {delivery_id}")
        mail = self._mail(delivery_id) if view.protocol == "email" else None
        return self.render(
            "delivery.html", d=view, mail=mail, trace_id=_delivery_trace(cx, delivery_id)
        )

    def delivery_raw(self, request: Request) -> Response:
        mail = self._mail(int(request.params[0]))
        if mail is None:
            return self.not_found(request, "no email for this delivery")
        return Response(200, mail.raw, "text/plain; charset=utf-8")

    def _mail(self, delivery_id: int) -> Mail | None:
        """The email as it was sent: from the Maildir, or (sent over SMTP, not kept)
        composed again from its notification."""
        found = self.mail.find(delivery_id)
        if found is not None:
            return Mail.parse(found, kept=True)
        job = outbox.job(self._cx(), delivery_id)
        if job is None or job.protocol != "email" or self.engine.email is None:
            return None
        made = compose(job, sender=self.engine.settings.smtp_from, links=self.engine.links)
        return Mail.parse(made.data, kept=False)

    def retry_delivery(self, request: Request) -> Response:
        delivery_id = int(request.params[0])
        count = self.store.write(lambda tx: outbox.retry_now(tx, [delivery_id]))
        text = "Retrying now." if count else "Only a waiting or failed delivery can be retried."
        return self.flash(request, text, ok=bool(count), back=f"/console/deliveries/{delivery_id}")

    # -- traces -------------------------------------------------------------------------

    def traces_page(self, request: Request) -> Response:
        return self.render("traces.html", traces=self.store.traces.recent(50))

    def traces_fragment(self, request: Request) -> Response:
        return self.render("_traces.html", traces=self.store.traces.recent(50))

    def trace_page(self, request: Request) -> Response:
        return self._trace(request, "trace.html")

    def trace_fragment(self, request: Request) -> Response:
        return self._trace(request, "_trace.html")

    def _trace(self, request: Request, template: str) -> Response:
        trace_id = request.params[0]
        hops = self.store.traces.hops(trace_id)
        if not hops:
            return self.not_found(request, f"no trace {trace_id!r} (kept 24 hours)")
        return self.render(template, trace_id=trace_id, **_waterfall(hops))


# -- helpers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    raw: bytes
    headers: list[tuple[str, str]]
    body: str
    kept: bool  # read from the Maildir (else composed again from the notification)

    @classmethod
    def parse(cls, raw: bytes, *, kept: bool) -> Mail:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        shown = ("From", "To", "Date", "Subject", "Message-ID")
        headers = [(name, str(message[name])) for name in shown if message[name] is not None]
        part = message.get_body(("plain", "html")) if message.is_multipart() else message
        try:
            body = str(part.get_content()) if part is not None else ""
        except (LookupError, ValueError):
            body = raw.decode("utf-8", "replace")
        return cls(raw, headers, body, kept)


class MailIndex:
    """Which Maildir file holds which delivery's email (by its X-Sluiceway-Delivery-Id);
    files are read once, as they appear."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: set[str] = set()
        self._files: dict[int, Path] = {}

    def find(self, delivery_id: int) -> bytes | None:
        if delivery_id not in self._files:
            self._scan()
        path = self._files.get(delivery_id)
        if path is None:
            return None
        try:
            return path.read_bytes()
        except FileNotFoundError:  # moved from new/ to cur/ by a mail client
            del self._files[delivery_id]
            self._scan()
            moved = self._files.get(delivery_id)
            return None if moved is None else moved.read_bytes()

    def _scan(self) -> None:
        for folder in ("new", "cur"):
            directory = self.path / folder
            if not directory.is_dir():
                continue
            for entry in directory.iterdir():
                if entry.name in self._seen:
                    continue
                self._seen.add(entry.name)
                delivery_id = _delivery_id(entry)
                if delivery_id is not None:
                    self._files[delivery_id] = entry


def _delivery_id(path: Path) -> int | None:
    try:
        with path.open("rb") as handle:
            head = handle.read(8192)
    except OSError:
        return None
    for line in head.split(b"\r\n\r\n", 1)[0].splitlines():
        if line.lower().startswith(b"x-sluiceway-delivery-id:"):
            value = line.split(b":", 1)[1].strip()
            return int(value) if value.isdigit() else None
    return None


def _delivery(cx: sqlite3.Connection, delivery_id: int) -> list[outbox.DeliveryView]:
    # `list_deliveries` gives the newest N: N = how many are at least as new as this one.
    (newer,) = cx.execute(
        "SELECT COUNT(*) FROM deliveries WHERE id >= ?", (delivery_id,)
    ).fetchone()
    found = outbox.list_deliveries(cx, limit=max(1, newer))
    return [d for d in found[:1] if d.id == delivery_id]


def _delivery_trace(cx: sqlite3.Connection, delivery_id: int) -> str | None:
    row = cx.execute(
        "SELECT n.trace_id FROM deliveries d JOIN notifications n ON n.id = d.notification_id "
        "WHERE d.id = ?",
        (delivery_id,),
    ).fetchone()
    return None if row is None or row[0] is None else str(row[0])


def _lanes(cx: sqlite3.Connection, mapping: StreamMapping, now_ms: int) -> list[dict[str, Any]]:
    lanes = []
    for lane in range(mapping.lanes):
        state = mapping.lane(cx, lane)
        sql = "SELECT COUNT(*), MIN(created_at) FROM stream_records WHERE table_id = ? AND seq > ?"
        params: tuple[int, ...] = (mapping.table.id, state.position)
        if mapping.lanes > 1:
            sql += " AND key_hash % ? = ?"
            params += (mapping.lanes, lane)
        behind, oldest = cx.execute(sql, params).fetchone()
        lanes.append(
            {
                "lane": lane,
                "position": state.position,
                "behind": behind,
                "oldest_ms": None if oldest is None else now_ms - oldest,
                "attempts": state.attempts,
                "next_attempt_at": state.next_attempt_at
                if state.next_attempt_at > now_ms
                else None,
                "last_error": state.last_error,
            }
        )
    return lanes


def _waterfall(hops: list[traces.Hop]) -> dict[str, Any]:
    """Each hop's offset from the trace's start and its bar on a shared scale."""
    start = hops[0].at_ms
    end = max(h.at_ms + (h.duration_ms or 0) for h in hops)
    span = max(end - start, 1)
    width = 600
    rows = []
    for hop in hops:
        offset = hop.at_ms - start
        rows.append(
            {
                "hop": hop,
                "offset": offset,
                "x": min(width - 2, round(offset / span * width)),
                "w": max(2, round((hop.duration_ms or 0) / span * width)),
                "href": _hop_link(hop),
            }
        )
    return {"rows": rows, "span": round(span, 1), "width": width, "started": start}


def _hop_link(hop: traces.Hop) -> str | None:
    """Where the console shows what a hop touched."""
    name, detail = _quote(hop.name), hop.detail
    if hop.kind == "send":
        return f"/console/queues/{name}"
    if hop.kind == "invoke":
        return f"/console/mappings#function-{name}"
    if hop.kind == "item" and isinstance(detail.get("keys"), dict):
        key = json.dumps(detail["keys"], separators=(",", ":"))
        return f"/console/tables/{name}/item?{urlencode({'key': key})}"
    if hop.kind == "publish":
        return f"/console/deliveries?{urlencode({'topic': hop.name})}"
    if hop.kind == "delivery" and isinstance(detail.get("delivery_id"), int):
        return f"/console/deliveries/{detail['delivery_id']}"
    return None


def _item_row(info: TableInfo, item: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """An item with its key as the item page's address takes it, and as words."""
    keys = tables.keys_of(info, item)
    plain = _plain(keys)
    words = " / ".join(str(plain.get(name)) for name in info.spec.key_names)
    return json.dumps(keys, separators=(",", ":")), words, item


def _attributes(text: str) -> dict[str, dict[str, str]]:
    """Message attributes from "Name=value" lines (String attributes)."""
    found: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"attribute line {line!r} is not Name=value")
        found[name.strip()] = {"DataType": "String", "StringValue": value}
    return found


def _int(text: str | None, default: Any) -> Any:
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


def _quote(value: object) -> str:
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


def _plain(item: Any) -> Any:
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
