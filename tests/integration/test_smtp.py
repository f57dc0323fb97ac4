"""Email through SMTP servers that want credentials, or TLS from the first byte (smtps)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.smtp import AuthResult

from conftest import EngineFactory
from sluiceway.blueprints.orders import app
from sluiceway.local import Admin
from sluiceway.local.email import redact
from support import smtp_server


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
