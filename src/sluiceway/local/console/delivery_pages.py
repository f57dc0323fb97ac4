"""The console's delivery pages: the outbox's deliveries (filtered), a delivery with the
email it sent (from the Maildir, or composed again), and retrying one now."""

from __future__ import annotations

import email
import email.policy
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sluiceway.local.console.rendering import PageBase
from sluiceway.local.console.request import Request, Response
from sluiceway.sns import outbox
from sluiceway.sns.email import compose


class DeliveryPages(PageBase):
    mail: MailIndex

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
