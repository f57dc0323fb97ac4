"""The console's queue pages: the queues, a queue's state and messages, a message; and its
actions: send a test message, purge, start or cancel a DLQ redrive."""

from __future__ import annotations

from typing import Any

from sluiceway.core import naming
from sluiceway.core.errors import SluicewayError
from sluiceway.local.console.rendering import PAGE_SIZE, PageBase, int_or, quoted
from sluiceway.local.console.request import Request, Response
from sluiceway.sqs import messages, moves, queues
from sluiceway.sqs.info import QueueInfo

SENDER = "sluiceway-console"


class QueuePages(PageBase):
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
        after = int_or(request.query.get("after"), 0)
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
        back = f"/console/queues/{quoted(info.name)}"
        try:
            attributes = _attributes(request.form.get("attributes", ""))
            message = messages.prepare(
                info,
                request.form.get("body", ""),
                sender_id=naming.principal_id(SENDER),
                delay_seconds=int_or(request.form.get("delay"), None),
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
            back=f"/console/queues/{quoted(info.name)}",
        )

    def redrive(self, request: Request) -> Response:
        info = self._queue(request.params[0])
        if info is None:
            return self.not_found(request)
        target = request.form.get("to") or None
        destination = None if target is None else self._queue(target)
        if target is not None and destination is None:
            return self.flash(request, f"No queue named {target!r}.", ok=False)
        rate = int_or(request.form.get("rate"), None)
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
            back=f"/console/queues/{quoted(info.name)}",
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
            request, f"Cancelled {handle}.", back=f"/console/queues/{quoted(info.name)}"
        )


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
