"""The orders blueprint end to end: real HTTP in, real SMTP out, drained deterministically;
and, where neither a socket nor SMTP is the point, under the testing kit (`sluiceway`)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re

import httpx
import pytest

from conftest import EngineFactory
from sluiceway.blueprints.orders import app
from sluiceway.core.clock import VirtualClock
from sluiceway.local import Admin
from sluiceway.testing.plugin import Launcher
from support import Mailbox, SmtpServer, free_port, gateway, smtp_server

SEED_ORDER = {"item": "latex gloves", "customerID": "12345"}
JSON = {"content-type": "application/json"}


def orders_in(engine: object) -> list[dict[str, object]]:
    with Admin(engine.settings.data_dir) as admin:  # type: ignore[attr-defined]
        return list(admin.scan("orders"))


def test_the_seed_order_is_stored_and_emailed_once(
    make_engine: EngineFactory, smtp: SmtpServer
) -> None:
    engine = make_engine(app, smtp=smtp.url, auto_confirm=True)
    with gateway(engine) as url:
        answer = httpx.post(f"{url}/orders", json=SEED_ORDER)
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"MessageId", "MD5OfMessageBody"}
    engine.drain()

    (order,) = orders_in(engine)
    assert order["orderID"] == body["MessageId"]
    assert json.loads(str(order["order"])) == SEED_ORDER
    (mail,) = smtp.mailbox.wait_for(1)
    assert mail["To"] == "ops@example.com"
    assert mail["Subject"] == f"New order {body['MessageId']}"
    text = str(mail.get_content())
    assert "item: latex gloves" in text
    assert "customerID: 12345" in text
    assert "/_sluiceway/sns/unsubscribe?" in text


def test_emails_wait_while_smtp_is_down_and_go_out_once_it_returns(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    port = free_port()
    engine = make_engine(app, smtp=f"smtp://127.0.0.1:{port}", auto_confirm=True)
    with gateway(engine) as url:
        for i in range(3):
            assert httpx.post(f"{url}/orders", json={"item": f"gloves {i}"}).status_code == 200
    engine.drain()
    with Admin(engine.settings.data_dir) as admin:
        waiting = admin.deliveries()
    assert [d.status for d in waiting] == ["pending"] * 3
    assert all("unreachable" in (d.last_error or "") for d in waiting)

    clock.advance(1)
    engine.drain()  # still down: another attempt, a longer wait
    mailbox = Mailbox()
    with smtp_server(port, mailbox):
        engine.drain()
        assert mailbox.messages == []  # not due yet: backoff
        clock.advance(60)
        engine.drain()
        mails = mailbox.wait_for(3)
        engine.close()  # hang up before the server stops
    assert sorted(m["Subject"] for m in mails) == sorted(
        f"New order {o['orderID']}" for o in orders_in(engine)
    )
    assert len(mails) == 3
    with Admin(engine.settings.data_dir) as admin:
        assert [d.status for d in admin.deliveries()] == ["delivered"] * 3


def test_without_smtp_mail_goes_to_a_maildir(make_engine: EngineFactory, data_dir: object) -> None:
    engine = make_engine(app, auto_confirm=True)
    with gateway(engine) as url:
        httpx.post(f"{url}/orders", json=SEED_ORDER)
    engine.drain()
    files = list((engine.settings.data_dir / "maildir" / "new").iterdir())  # type: ignore[operator]
    assert len(files) == 1
    assert "latex gloves" in files[0].read_text()


@pytest.mark.parametrize(
    ("headers", "content", "status", "code"),
    [
        ({"content-type": "application/json"}, b"not json", 400, "InvalidJson"),
        ({"content-type": "application/json"}, b"[1, 2]", 400, "NotAnObject"),
        ({"content-type": "application/json"}, b'"text"', 400, "NotAnObject"),
        ({"content-type": "application/json"}, b"", 400, "EmptyBody"),
        ({"content-type": "application/json"}, b'{"a": NaN}', 400, "InvalidJson"),
        ({"content-type": "application/json"}, b'{"a": "\xff"}', 400, "InvalidEncoding"),
        ({"content-type": "application/json"}, b"[" * 100_000, 400, "InvalidJson"),
        ({"content-type": "text/plain"}, b"{}", 415, "UnsupportedMediaType"),
        ({}, b"{}", 415, "UnsupportedMediaType"),
        ({"content-type": "application/json; charset=latin-1"}, b"{}", 415, "UnsupportedMediaType"),
        (
            {"content-type": "application/json"},
            b'{"a": "' + b"x" * 1_048_577 + b'"}',
            413,
            "PayloadTooLarge",
        ),
        (
            {"content-type": "application/json", "idempotency-key": "k" * 1025},
            b"{}",
            400,
            "InvalidHeader",
        ),
    ],
)
def test_bad_requests_get_a_clear_4xx_and_store_nothing(
    make_engine: EngineFactory, headers: dict[str, str], content: bytes, status: int, code: str
) -> None:
    engine = make_engine(app, auto_confirm=True)
    with gateway(engine) as url:
        answer = httpx.post(f"{url}/orders", content=content, headers=headers)
        assert answer.status_code == status
        assert answer.json()["code"] == code
        assert answer.json()["message"]
        assert httpx.post(f"{url}/orders", json=SEED_ORDER).status_code == 200  # still serving
    assert engine.store.query("SELECT COUNT(*) AS n FROM messages")[0]["n"] == 1


def test_the_cli_send_command_takes_the_same_path_as_http(make_engine: EngineFactory) -> None:
    from sluiceway.apigateway.ingest import Rejection

    engine = make_engine(app, auto_confirm=True)
    with Admin(engine.settings.data_dir, clock=engine.clock) as admin:
        answer = admin.send("/orders", json.dumps(SEED_ORDER).encode())
        with pytest.raises(Rejection) as refused:
            admin.send("/orders", b"[]")
    assert refused.value.status == 400
    engine.drain()
    assert [o["orderID"] for o in orders_in(engine)] == [answer["MessageId"]]


def test_the_notification_address_can_come_from_the_environment(
    data_dir: object, clock: VirtualClock, smtp: SmtpServer
) -> None:
    from sluiceway.local import LocalEngine, Settings

    settings = Settings(data_dir=data_dir, smtp=smtp.url, auto_confirm=True)  # type: ignore[arg-type]
    with LocalEngine(
        app, settings, clock=clock, env={"SLUICEWAY_NOTIFY_EMAIL": "env@shop.test"}
    ) as engine:
        with Admin(engine.settings.data_dir, clock=clock) as admin:
            admin.send("/orders", json.dumps(SEED_ORDER).encode())
        engine.drain()
        assert smtp.mailbox.wait_for(1)[0]["To"] == "env@shop.test"


def test_concurrent_posts_each_get_their_own_stored_message(make_engine: EngineFactory) -> None:
    """Requests that arrive together share one store op and one commit; each still gets the
    answer for its own message, and a bad one among them changes nothing for the others."""
    engine = make_engine(app)

    def body(n: int) -> bytes:
        return json.dumps({"n": n}).encode()

    async def post_all(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=50)) as client:
            good = [client.post(f"{url}/orders", content=body(n), headers=JSON) for n in range(200)]
            bad = [client.post(f"{url}/orders", content=b"[1]", headers=JSON) for _ in range(5)]
            return await asyncio.gather(*good, *bad)

    with gateway(engine) as url:
        answers = asyncio.run(post_all(url))
    good, bad = answers[:200], answers[200:]
    assert {a.status_code for a in good} == {200}
    assert {a.status_code for a in bad} == {400}
    ids = [a.json()["MessageId"] for a in good]
    assert len(set(ids)) == 200
    for n, answer in enumerate(good):  # each answer's MD5 is of its own body
        assert answer.json()["MD5OfMessageBody"] == hashlib.md5(body(n)).hexdigest()
    with Admin(engine.settings.data_dir) as admin:
        (stats,) = [s for s in admin.queue_stats() if s.name == "POC-Queue"]
    assert stats.visible == 200


# -- under the testing kit ---------------------------------------------------------------


def test_the_notification_address_comes_from_a_parameter(sluiceway: Launcher) -> None:
    app = sluiceway.run("orders", params={"notify_email": "me@shop.test"})
    app.http.post("/orders", json=SEED_ORDER)
    app.drain()
    assert [mail["To"] for mail in app.emails] == ["me@shop.test"]


def test_an_idempotency_key_makes_a_repeated_order_a_no_op(sluiceway: Launcher) -> None:
    app = sluiceway.run("orders")
    for _ in range(3):
        answer = app.http.post("/orders", json=SEED_ORDER, headers={"Idempotency-Key": "order-77"})
        assert answer.status_code == 200
    app.drain()
    assert [o["orderID"] for o in app.items("orders")] == ["order-77"]
    assert [mail["Subject"] for mail in app.emails] == ["New order order-77"]
    # Three stored messages, one order: the two repeats were no-ops, not failures.
    assert [i.ok for i in app.invocations if i.function == "POC-Lambda-1"] == [True]


def test_email_subscriptions_wait_for_confirmation(sluiceway: Launcher) -> None:
    app = sluiceway.run("orders", auto_confirm=False)
    app.drain()
    (confirmation,) = app.emails
    assert confirmation["Subject"] == "AWS Notification - Subscription Confirmation"
    link = re.search(
        r"http://\S+/_sluiceway/sns/confirm\?Token=\w+", str(confirmation.get_content())
    )
    assert link is not None

    app.http.post("/orders", json={"item": "before confirmation"})
    app.drain()
    statuses = [(d.kind, d.status) for d in app.deliveries()]
    assert statuses == [("confirmation", "delivered"), ("notification", "unconfirmed")]

    page = app.http.get(link.group())
    assert page.status_code == 200
    assert "Subscription confirmed!" in page.text
    app.http.post("/orders", json={"item": "after confirmation"})
    app.drain()
    assert len(app.emails) == 2
    assert "item: after confirmation" in str(app.emails[1].get_content())


def test_unknown_paths_and_methods_are_answered_plainly(sluiceway: Launcher) -> None:
    app = sluiceway.run("orders")
    missing = app.http.post("/nope", json={})
    wrong = app.http.get("/orders")
    health = app.http.get("/_sluiceway/health")
    # API Gateway's answer to any method or path a REST API has no route for.
    for unrouted in (missing, wrong):
        assert unrouted.status_code == 403
        assert unrouted.json() == {"message": "Missing Authentication Token"}
    assert health.json() == {"status": "ok", "app": "orders"}
    assert missing.headers["x-content-type-options"] == "nosniff"
