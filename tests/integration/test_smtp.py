"""Email through SMTP servers that want credentials, or TLS from the first byte (smtps)."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.smtp import AuthResult

from conftest import EngineFactory
from sluiceway.blueprints.orders import app
from sluiceway.core.redact import redact
from sluiceway.local import Admin
from sluiceway.sns.email import DeliveryError, Email, SmtpMailer
from support import Mailbox, smtp_server


class Accounts:
    def __init__(self, user: str, password: str) -> None:
        self.user = user
        self.password = password
        self.logins: list[str] = []

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = data.login.decode() == self.user and data.password.decode() == self.password
        self.logins.append(f"{mechanism}:{data.login.decode()}:{ok}")
        return AuthResult(success=ok, handled=False)


# Plain-text AUTH is what many local relays offer; aiosmtpd rightly warns about it.
plain_auth = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@plain_auth
def test_credentials_in_the_smtp_url_are_used_to_log_in(make_engine: EngineFactory) -> None:
    accounts = Accounts("shop", "p@ss:word")
    with smtp_server(authenticator=accounts, auth_required=True, auth_require_tls=False) as smtp:
        url = f"smtp://shop:p%40ss%3Aword@127.0.0.1:{smtp.port}"
        engine = make_engine(app, smtp=url, auto_confirm=True)
        post_order(engine)
        engine.drain()
        (mail,) = smtp.mailbox.wait_for(1)
        engine.close()  # hang up before the server stops
    assert "latex gloves" in str(mail.get_content())
    assert accounts.logins[-1].endswith(":shop:True")
    assert redact(url) == f"smtp://shop:***@127.0.0.1:{smtp.port}"


@plain_auth
def test_a_refused_login_keeps_the_email_waiting(make_engine: EngineFactory) -> None:
    accounts = Accounts("shop", "right")
    with smtp_server(authenticator=accounts, auth_required=True, auth_require_tls=False) as smtp:
        engine = make_engine(
            app, smtp=f"smtp://shop:wrong@127.0.0.1:{smtp.port}", auto_confirm=True
        )
        post_order(engine)
        engine.drain()
        assert smtp.mailbox.messages == []
    with Admin(engine.settings.data_dir, clock=engine.clock) as admin:
        (delivery,) = admin.deliveries()
    assert delivery.status == "pending"
    assert "SMTP login refused" in (delivery.last_error or "")


def test_smtps_speaks_tls_from_the_first_byte(
    make_engine: EngineFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    trusted = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(trusted))
    monkeypatch.setenv("SSL_CERT_FILE", str(trusted))
    with smtp_server(ssl_context=server_context) as smtp:
        engine = make_engine(app, smtp=f"smtps://127.0.0.1:{smtp.port}", auto_confirm=True)
        post_order(engine)
        engine.drain()
        (mail,) = smtp.mailbox.wait_for(1)
        engine.close()
    assert "latex gloves" in str(mail.get_content())


def post_order(engine: Any) -> None:
    with Admin(engine.settings.data_dir, clock=engine.clock) as admin:
        admin.send("/orders", b'{"item": "latex gloves", "customerID": "12345"}')


# -- the SMTP conversation itself ------------------------------------------------------------


def _mail(recipient: str, body: str = "hello") -> Email:
    data = (f"From: sender@example.com\r\nTo: {recipient}\r\nSubject: t\r\n\r\n{body}\r\n").encode()
    return Email("sender@example.com", recipient, data)


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelining", "step-by-step"])
def test_a_refused_recipient_fails_for_good_a_busy_one_for_later_and_the_next_goes_out(
    pipelining: bool,
) -> None:
    mailbox = Mailbox(pipelining=pipelining)
    mailbox.refuse = {
        "nobody@example.com": "550 5.1.1 no such user",
        "full@example.com": "452 4.2.2 mailbox full",
    }
    with smtp_server(mailbox=mailbox) as server:
        mailer = SmtpMailer(server.url)
        try:
            with pytest.raises(DeliveryError) as gone:
                mailer.send(_mail("nobody@example.com"))
            assert gone.value.permanent
            with pytest.raises(DeliveryError) as busy:
                mailer.send(_mail("full@example.com"))
            assert not busy.value.permanent
            mailer.send(_mail("alice@example.com", ".a line that starts with a dot\r\n."))
            (arrived,) = mailbox.wait_for(1)
        finally:
            mailer.close()
    assert arrived["To"] == "alice@example.com"
    assert arrived.get_content().splitlines() == [".a line that starts with a dot", "."]


def test_a_server_offering_pipelining_gets_mail_rcpt_and_data_in_one_write() -> None:
    """RFC 2920: the envelope in one packet, then the message: two round trips, not four."""
    reads: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"220 test ESMTP\r\n")
            pending = b""
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                reads.append(chunk)
                pending += chunk
                if pending[:4].upper() == b"EHLO":
                    conn.sendall(b"250-test\r\n250 PIPELINING\r\n")
                elif pending.startswith(b"MAIL") and pending.endswith(b"DATA\r\n"):
                    conn.sendall(b"250 ok\r\n250 ok\r\n354 go ahead\r\n")
                elif pending.endswith(b"\r\n.\r\n"):
                    conn.sendall(b"250 queued\r\n")
                elif pending[:4].upper() == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    continue
                pending = b""

    thread = threading.Thread(target=serve)
    thread.start()
    mailer = SmtpMailer(f"smtp://127.0.0.1:{port}")
    try:
        mailer.send(_mail("alice@example.com"))
    finally:
        mailer.close()
        thread.join(10)
        listener.close()
    assert reads[1] == (
        b"MAIL FROM:<sender@example.com>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n"
    )
    assert reads[2].endswith(b"hello\r\n.\r\n")
