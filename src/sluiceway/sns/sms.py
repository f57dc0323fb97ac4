"""SMS: texts as SNS sends them, and the providers that carry them.

A text reaches a number two ways, as on SNS: a topic's ``sms`` subscription, or a publish
straight to the number (`app.sms.publish`). Either way it becomes a row of the delivery
outbox (``sluiceway deliveries`` shows it with its text and status), and a delivery worker
hands it to the configured provider:

* ``outbox`` (the default): each text is appended, as one JSON line, to
  ``<data dir>/sms/outbox.jsonl`` and fsync'd; nothing leaves the machine. The local
  stand-in for a phone, like the Maildir for email.
* ``http://...`` or ``https://...``: each text is POSTed as JSON to that URL (a webhook: a
  test double, or a bridge to any SMS gateway). 2xx is delivered, 4xx refused for good,
  anything else retried.
* ``python:package.module:attr``: ``attr()`` builds an object with the `SmsProvider`
  methods; a real provider (Twilio, an operator's API) plugs in this way.

A number that opted out (``sluiceway sms opt-out``, what a STOP reply does on AWS) gets
nothing: its deliveries show ``opted-out``.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from sluiceway.sns.deliveries import Delivered, one_by_one
from sluiceway.sns.email import DeliveryError
from sluiceway.sns.outbox import Job
from sluiceway.sns.phones import MAX_CHARACTERS, SENDER_ID, SMS_TYPE, parts

log = logging.getLogger("sluiceway.sms")


@dataclass(frozen=True)
class Sms:
    """One text to one number, as a provider receives it."""

    message_id: str
    phone: str
    text: str
    sender_id: str | None
    sms_type: str
    parts: int


class SmsProvider(Protocol):
    """What sends texts. `send` returns the provider's id for the text, or raises
    `DeliveryError` (``permanent=True`` when retrying cannot help). A ``display``
    attribute, if any, says where texts go in the runtime's banner."""

    def send(self, sms: Sms) -> str: ...

    def close(self) -> None: ...


class OutboxProvider:
    """Appends each text to ``<data dir>/sms/outbox.jsonl`` (fsync'd): the local phone."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / "sms" / "outbox.jsonl"
        self._lock = threading.Lock()

    @property
    def display(self) -> str:
        return f"outbox {self.path}"

    def send(self, sms: Sms) -> str:
        line = json.dumps(asdict(sms), ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(line)
                out.flush()
                os.fsync(out.fileno())
        return sms.message_id

    def close(self) -> None:
        return None


class WebhookProvider:
    """POSTs each text as JSON ``{"messageId", "phone", "text", "senderId", "smsType",
    "parts"}``; the answer's JSON ``"id"``, if any, is the provider's id for it."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        urlopen: Callable[..., Any] | None = None,
    ) -> None:
        self.url = url
        self.timeout = timeout
        # What makes the request: urllib's own, or one that records it (`sluiceway.testing`:
        # the webhook's calls, answered without a server).
        self._open = urllib.request.urlopen if urlopen is None else urlopen

    @property
    def display(self) -> str:
        return f"webhook {self.url}"

    def send(self, sms: Sms) -> str:
        body = json.dumps(
            {
                "messageId": sms.message_id,
                "phone": sms.phone,
                "text": sms.text,
                "senderId": sms.sender_id,
                "smsType": sms.sms_type,
                "parts": sms.parts,
            }
        ).encode()
        request = urllib.request.Request(
            self.url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with self._open(request, timeout=self.timeout) as answer:
                payload = answer.read()
        except urllib.error.HTTPError as error:
            error.close()  # it holds the answer's socket
            permanent = 400 <= error.code < 500 and error.code not in (408, 429)
            raise DeliveryError(f"SMS webhook answered {error.code}", permanent=permanent) from None
        except (OSError, ValueError) as error:
            raise DeliveryError(
                f"SMS webhook {self.url} unreachable: {error}", connection=True
            ) from None
        try:
            found = json.loads(payload or b"{}")
        except ValueError:
            found = {}
        return str(found.get("id", sms.message_id)) if isinstance(found, dict) else sms.message_id

    def close(self) -> None:
        return None


def make_provider(spec: str, data_dir: Path) -> SmsProvider:
    """The provider `--sms` names (see the module's docstring)."""
    if spec == "outbox":
        return OutboxProvider(data_dir)
    if spec.startswith(("http://", "https://")):
        return WebhookProvider(spec)
    if spec.startswith("python:"):
        module, _, attr = spec.removeprefix("python:").partition(":")
        if not module or not attr:
            raise ValueError(f"--sms {spec!r}: use python:package.module:attr")
        factory = getattr(importlib.import_module(module), attr)
        provider: SmsProvider = factory()
        return provider
    raise ValueError(f"--sms {spec!r}: use outbox, an http(s):// URL or python:module:attr")


class SmsCarrier:
    """Hands SMS deliveries to the provider, one text at a time."""

    def __init__(self, provider: SmsProvider) -> None:
        self.provider = provider
        self.sent: Callable[[int], None] | None = None  # the engine's `SentLog.sent`

    def deliver_all(self, jobs: Sequence[Job]) -> list[Delivered]:
        return one_by_one(jobs, self._deliver, self.sent)

    def _deliver(self, job: Job) -> None:
        text = job.text()
        if len(text) > MAX_CHARACTERS:
            raise DeliveryError(
                f"the text is {len(text)} characters; an SMS is at most {MAX_CHARACTERS}",
                permanent=True,
            )
        attributes: Mapping[str, Mapping[str, str]] = (
            json.loads(job.attributes) if job.attributes else {}
        )
        sender = attributes.get(SENDER_ID, {}).get("StringValue")
        kind = attributes.get(SMS_TYPE, {}).get("StringValue") or "Transactional"
        sms = Sms(job.message_id or str(job.id), job.endpoint, text, sender, kind, parts(text))
        self.provider.send(sms)

    def recorded(self, job_id: int) -> None:
        return None

    def close(self) -> None:
        self.provider.close()
