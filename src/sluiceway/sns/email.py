"""Email deliveries: messages composed as SNS sends them, and the mailers that carry them.

`SmtpMailer` speaks to a real server (``--smtp smtp://user:pass@host:port`` or ``smtps://``)
over one reused connection. `MaildirMailer` writes into a Maildir under the data directory
when no server is configured, so nothing is lost and every mail can be opened later.

A mailer raises `DeliveryError`; `permanent=False` means "try again later" (server down,
4xx), `permanent=True` means the server refused the message for good (5xx).
"""

from __future__ import annotations

import binascii
import contextlib
import email.header
import email.utils
import mailbox
import re
import smtplib
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlencode, urlsplit

from sluiceway.sns.outbox import Job

CONFIRMATION_SUBJECT = "AWS Notification - Subscription Confirmation"
DEFAULT_SUBJECT = "AWS Notification Message"


class DeliveryError(Exception):
    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        connection: bool = False,
        retry_in_ms: int | None = None,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        # The peer could not be reached at all: later jobs in the batch need not try.
        self.connection = connection
        # When to try again, if not the usual backoff.
        self.retry_in_ms = retry_in_ms


class Links:
    """The URLs the runtime serves for confirming and leaving a subscription."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def confirm(self, token: str) -> str:
        return f"{self.base_url}/_sluiceway/sns/confirm?{urlencode({'Token': token})}"

    def unsubscribe(self, arn: str, token: str) -> str:
        query = urlencode({"SubscriptionArn": arn, "Token": token})
        return f"{self.base_url}/_sluiceway/sns/unsubscribe?{query}"


@dataclass(frozen=True, slots=True)
class Email:
    """A message ready for SMTP: the envelope and the RFC 5322 bytes."""

    sender: str
    recipient: str
    data: bytes


def compose(job: Job, *, sender: str, links: Links) -> Email:
    """The email SNS would send for this delivery, as bytes.

    Written directly rather than with `email.message` (which costs about a millisecond a
    message and bounds delivery throughput): ASCII headers as they are, others as RFC 2047
    words; a quoted-printable UTF-8 body.
    """
    if job.kind == "confirmation":
        subject = CONFIRMATION_SUBJECT
        topic_arn = job.subscription_arn.rsplit(":", 1)[0]
        text = (
            f"You have chosen to subscribe to the topic:\n{topic_arn}\n\n"
            "To confirm this subscription, click or visit the link below "
            "(If this was in error no action is necessary):\n"
            f"Confirm subscription\n{links.confirm(job.token)}\n"
        )
        extra = ""
    else:
        subject = job.subject or DEFAULT_SUBJECT
        text = (
            f"{job.text()}\n\n--\nIf you wish to stop receiving notifications from this topic, "
            "please click or visit the link below to unsubscribe:\n"
            f"{links.unsubscribe(job.subscription_arn, job.token)}\n"
        )
        extra = f"X-Sluiceway-Message-Id: {job.message_id or ''}\r\n"
    # One Message-ID per delivery: a copy re-sent after a crash carries the same one, so
    # mail systems can collapse it.
    head = (
        f"From: {_header(sender)}\r\n"
        f"To: {job.endpoint}\r\n"
        f"Date: {email.utils.formatdate(localtime=False)}\r\n"
        f"Message-ID: <{job.message_id or 'confirmation'}.{job.id}@sluiceway.localhost>\r\n"
        f"Subject: {_header(subject)}\r\n"
        f"X-Sluiceway-Delivery-Id: {job.id}\r\n"
        f"X-Sluiceway-Topic: {job.topic}\r\n"
        f"{extra}"
        "MIME-Version: 1.0\r\n"
        'Content-Type: text/plain; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    )
    body = binascii.b2a_qp(text.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")
    return Email(email.utils.parseaddr(sender)[1], job.endpoint, head.encode("ascii") + body)


def _header(value: str) -> str:
    if value.isascii() and value.isprintable():
        return value
    return email.header.Header(value, "utf-8").encode()


class Mailer(Protocol):
    def send(self, message: Email) -> None: ...

    def close(self) -> None: ...


class MaildirMailer:
    """Writes each email into ``<data-dir>/maildir/new`` (readable by any mail client)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._box = mailbox.Maildir(path, create=True)

    def send(self, message: Email) -> None:
        try:
            self._box.add(message.data)
        except OSError as error:
            raise DeliveryError(f"could not write to {self.path}: {error}") from error

    def close(self) -> None:
        self._box.close()


class SmtpMailer:
    """Sends over SMTP, reusing one connection while it stays healthy."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(
                f"--smtp {url!r}: use smtp://[user:password@]host[:port] or smtps://..."
            )
        self.url = url
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (465 if parts.scheme == "smtps" else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.starttls = "starttls" in parts.query
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None
        self._used_at = 0.0
        self._lock = threading.Lock()

    @property
    def display(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def _connect(self) -> smtplib.SMTP:
        try:
            smtp: smtplib.SMTP
            if self.scheme == "smtps":
                smtp = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except (OSError, smtplib.SMTPException) as error:
            raise DeliveryError(
                f"SMTP server {self.display} unreachable: {error}", connection=True
            ) from error
        try:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username is not None:
                smtp.login(self.username, self.password or "")
        except smtplib.SMTPAuthenticationError as error:
            smtp.close()
            raise DeliveryError(
                f"SMTP login refused by {self.display}: {error}", connection=True
            ) from error
        except (OSError, smtplib.SMTPException) as error:
            smtp.close()
            raise DeliveryError(
                f"SMTP server {self.display} failed at hello: {error}", connection=True
            ) from error
        return smtp

    def _connection(self) -> smtplib.SMTP:
        smtp = self._smtp
        if smtp is not None and time.monotonic() - self._used_at > 5:
            # An idle connection may have been dropped by the server: check before using it,
            # so a message is never half-sent on a dead connection.
            try:
                smtp.noop()
            except (OSError, smtplib.SMTPException):
                self._drop()
                smtp = None
        if smtp is None:
            smtp = self._smtp = self._connect()
        return smtp

    def send(self, message: Email) -> None:
        with self._lock:
            smtp = self._connection()
            try:
                transmit(smtp, message)
            except smtplib.SMTPResponseException as error:
                self._drop()
                permanent = 500 <= error.smtp_code < 600
                raise DeliveryError(
                    f"SMTP {error.smtp_code} {error.smtp_error!r}", permanent=permanent
                ) from error
            except smtplib.SMTPRecipientsRefused as error:
                codes = [code for code, _ in error.recipients.values()]
                raise DeliveryError(
                    f"recipient refused: {error.recipients}",
                    permanent=all(500 <= c < 600 for c in codes),
                ) from error
            except (OSError, smtplib.SMTPException) as error:
                self._drop()
                raise DeliveryError(f"SMTP send failed: {error}") from error
            finally:
                self._used_at = time.monotonic()

    def _drop(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            finally:
                self._smtp = None

    def close(self) -> None:
        with self._lock:
            if self._smtp is not None:
                with contextlib.suppress(OSError, smtplib.SMTPException):
                    self._smtp.quit()
                self._drop()


_LEADING_DOT = re.compile(rb"(?m)^\.")


def transmit(smtp: smtplib.SMTP, message: Email) -> None:
    """Hand `message` to the server, raising what `SMTP.sendmail` raises.

    With PIPELINING (RFC 2920; every mainstream relay offers it) MAIL, RCPT and DATA go out
    in one write and their three replies are read together: two round trips a message
    instead of four, half the system calls and thread switches of the delivery process.
    Without it, `sendmail` does it step by step."""
    smtp.ehlo_or_helo_if_needed()
    if not smtp.has_extn("pipelining"):
        refused = smtp.sendmail(message.sender, [message.recipient], message.data)
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)
        return
    smtp.send(
        f"MAIL FROM:{smtplib.quoteaddr(message.sender)}\r\n"
        f"RCPT TO:{smtplib.quoteaddr(message.recipient)}\r\nDATA\r\n"
    )
    mail, rcpt, data = smtp.getreply(), smtp.getreply(), smtp.getreply()
    accepted = mail[0] == 250 and rcpt[0] in (250, 251)
    if data[0] == 354 and not accepted:
        smtp.send(b".\r\n")  # the server wants data after all: end it empty
        smtp.getreply()
    if mail[0] != 250:
        _reset(smtp)
        raise smtplib.SMTPSenderRefused(mail[0], mail[1], message.sender)
    if rcpt[0] not in (250, 251):
        _reset(smtp)
        raise smtplib.SMTPRecipientsRefused({message.recipient: rcpt})
    if data[0] != 354:
        _reset(smtp)
        raise smtplib.SMTPDataError(data[0], data[1])
    payload = _LEADING_DOT.sub(b"..", message.data)
    if not payload.endswith(b"\r\n"):
        payload += b"\r\n"
    smtp.send(payload + b".\r\n")
    code, reply = smtp.getreply()
    if code != 250:
        _reset(smtp)
        raise smtplib.SMTPDataError(code, reply)


def _reset(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        smtp.rset()
