"""The console's access rules and escaping, through the gateway as an ASGI app (so a test
can be any client address): loopback only by default, a token when bound beyond loopback,
no change without the page's CSRF token from its own origin, hostile data shown as text."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from sluiceway import App
from sluiceway.local import LocalEngine, Settings
from sluiceway.local.console import access, with_token
from sluiceway.local.console.pipeline import build
from sluiceway.local.runtime import _banner
from sluiceway.local.web import RuntimeApp as Gateway

EngineFactory = Callable[..., LocalEngine]
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def shop() -> App:
    app = App("console-test")
    dlq = app.queue("Jobs-DLQ")
    jobs = app.queue("Jobs", dead_letter=dlq, max_receive_count=3)
    table = app.table("things", partition_key="id", stream="NEW_AND_OLD_IMAGES")
    app.route("POST", "/jobs", to=jobs)
    app.route("PUT", "/things", to=table)
    return app


_gateways: dict[int, Gateway] = {}


@pytest.fixture(autouse=True)
def _forget_gateways() -> Iterator[None]:
    yield
    _gateways.clear()


def call(
    engine: LocalEngine,
    method: str,
    path: str,
    *,
    client: str = "127.0.0.1",
    host: str = "127.0.0.1:8080",
    **options: Any,
) -> httpx.Response:
    if id(engine) not in _gateways:  # one gateway per engine, as the runtime has
        _gateways[id(engine)] = Gateway(engine)
    gateway = _gateways[id(engine)]

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=gateway, client=(client, 40000))
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as http:
            return await http.request(method, path, **options)

    return asyncio.run(go())


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found is not None, "the page has no CSRF field"
    return found.group(1)


def test_console_answers_loopback_clients(make_engine: EngineFactory) -> None:
    engine = make_engine(shop())
    page = call(engine, "GET", "/console")
    assert page.status_code == 200
    assert 'data-node="queue:Jobs"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert call(engine, "GET", "/console", client="::1").status_code == 200


@pytest.mark.parametrize("client", ["10.0.0.5", "192.168.1.20", "2001:db8::1"])
def test_console_refuses_a_client_that_is_not_loopback(
    make_engine: EngineFactory, client: str
) -> None:
    engine = make_engine(shop())
    refused = call(engine, "GET", "/console", client=client)
    assert refused.status_code == 403
    assert "--console-host" in refused.text
    assert call(engine, "GET", "/console/queues", client=client).status_code == 403


def test_console_host_lets_the_named_network_in(make_engine: EngineFactory) -> None:
    engine = make_engine(shop(), console_hosts=("10.0.0.0/8",))
    assert call(engine, "GET", "/console", client="10.0.0.5").status_code == 200
    assert call(engine, "GET", "/console", client="192.168.1.20").status_code == 403


def test_console_refuses_a_host_name_that_is_not_this_machines(make_engine: EngineFactory) -> None:
    """A site whose name was rebound to 127.0.0.1 must not read the console as its own."""
    engine = make_engine(shop())
    assert call(engine, "GET", "/console", host="evil.example:8080").status_code == 403
    assert call(engine, "GET", "/console", host="localhost:8080").status_code == 200


def test_no_console_serves_nothing_at_console(make_engine: EngineFactory) -> None:
    engine = make_engine(shop(), console=False)
    answer = call(engine, "GET", "/console")  # the app's API, which has no such route
    assert (answer.status_code, answer.json()) == (403, {"message": "Missing Authentication Token"})


def test_a_runtime_bound_beyond_loopback_gets_a_console_token() -> None:
    assert with_token(Settings(host="127.0.0.1")).console_token is None
    assert with_token(Settings(host="0.0.0.0", console=False)).console_token is None
    made = with_token(Settings(host="0.0.0.0")).console_token
    assert made is not None
    assert len(made) >= 24
    assert with_token(Settings(host="0.0.0.0")).console_token != made
    assert with_token(Settings(host="::", console_token="mine")).console_token == "mine"


def test_a_console_bound_beyond_loopback_without_a_token_stays_locked(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(shop(), host="0.0.0.0")
    assert call(engine, "GET", "/console").status_code == 401


def test_the_banner_prints_the_console_link_with_its_token(make_engine: EngineFactory) -> None:
    engine = make_engine(shop(), host="0.0.0.0", console_token="s3cret")
    lines = _banner(engine, "http://0.0.0.0:8080")
    assert "  console: http://0.0.0.0:8080/console?token=s3cret" in lines
    quiet = make_engine(shop(), data_dir=engine.settings.data_dir.parent / "other")
    assert "  console: http://127.0.0.1:8080/console" in _banner(quiet, "http://127.0.0.1:8080")


def test_console_needs_its_token_when_bound_beyond_loopback(make_engine: EngineFactory) -> None:
    engine = make_engine(shop(), host="0.0.0.0", console_token="s3cret")
    assert call(engine, "GET", "/console").status_code == 401
    assert call(engine, "GET", "/console?token=wrong").status_code == 401
    assert (
        call(engine, "GET", "/console", headers={"cookie": "sluiceway_console=no"}).status_code
        == 401
    )

    entered = call(engine, "GET", "/console/queues?token=s3cret")
    assert entered.status_code == 200
    cookie = entered.headers["set-cookie"]
    assert cookie.startswith("sluiceway_console=s3cret;")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Path=/console" in cookie
    # The token leaves the address bar: a same-origin refresh to the page without it.
    assert 'content="0;url=/console/queues"' in entered.text

    page = call(engine, "GET", "/console/queues", headers={"cookie": "sluiceway_console=s3cret"})
    assert page.status_code == 200
    assert 'data-queue="Jobs"' in page.text
    # Another host may be let in (--console-host), and still needs the token.
    remote = make_engine(
        shop(),
        data_dir=engine.settings.data_dir.parent / "remote",
        host="0.0.0.0",
        console_token="s3cret",
        console_hosts=("*",),
    )
    assert call(remote, "GET", "/console", client="203.0.113.9").status_code == 401
    allowed = call(
        remote,
        "GET",
        "/console",
        client="203.0.113.9",
        headers={"cookie": "sluiceway_console=s3cret"},
    )
    assert allowed.status_code == 200


def test_a_post_without_the_csrf_token_changes_nothing(make_engine: EngineFactory) -> None:
    engine = make_engine(shop())
    assert call(engine, "POST", "/jobs", json={"n": 1}).status_code == 200
    page = call(engine, "GET", "/console/queues/Jobs")
    token = csrf_of(page)

    refused = call(engine, "POST", "/console/queues/Jobs/purge", data={})
    assert refused.status_code == 403
    assert "CSRF" in refused.text
    wrong = call(engine, "POST", "/console/queues/Jobs/purge", data={"csrf": "0" * 64})
    assert wrong.status_code == 403
    foreign = call(
        engine,
        "POST",
        "/console/queues/Jobs/purge",
        data={"csrf": token},
        headers={"origin": "http://evil.example"},
    )
    assert foreign.status_code == 403
    cross_site = call(
        engine,
        "POST",
        "/console/queues/Jobs/purge",
        data={"csrf": token},
        headers={"sec-fetch-site": "cross-site"},
    )
    assert cross_site.status_code == 403
    assert 'class="visible">1<' in call(engine, "GET", "/console/_/queues/Jobs").text

    purged = call(
        engine,
        "POST",
        "/console/queues/Jobs/purge",
        headers={
            "x-sluiceway-csrf": token,
            "origin": "http://127.0.0.1:8080",
            "hx-request": "true",
        },
    )
    assert purged.status_code == 200
    assert "Purged 1 message(s) from Jobs." in purged.text
    assert 'class="visible">0<' in call(engine, "GET", "/console/_/queues/Jobs").text


def test_a_get_changes_nothing(make_engine: EngineFactory) -> None:
    engine = make_engine(shop())
    assert call(engine, "POST", "/jobs", json={"n": 1}).status_code == 200
    assert call(engine, "GET", "/console/queues/Jobs/purge").status_code == 405
    assert 'class="visible">1<' in call(engine, "GET", "/console/_/queues/Jobs").text


def test_hostile_message_bodies_and_items_are_shown_as_text(make_engine: EngineFactory) -> None:
    engine = make_engine(shop())
    sent = call(engine, "POST", "/jobs", json={"note": HOSTILE})
    assert sent.status_code == 200
    put = call(engine, "PUT", "/things", json={"id": HOSTILE, "note": f"</pre>{HOSTILE}"})
    assert put.status_code == 200

    pages = [
        call(engine, "GET", "/console/queues/Jobs"),
        call(engine, "GET", "/console/_/queues/Jobs/messages"),
        call(engine, "GET", "/console/queues/Jobs/messages/1"),
        call(engine, "GET", "/console/tables/things"),
        call(engine, "GET", "/console/tables/things", params={"contains": HOSTILE}),
    ]
    item_link = re.search(r'href="(/console/tables/things/item\?key=[^"]+)"', pages[3].text)
    assert item_link is not None
    pages.append(call(engine, "GET", item_link.group(1).replace("&amp;", "&")))
    for page in pages:
        assert page.status_code == 200, page.text
        assert "<script>alert" not in page.text
        assert "<img src=x" not in page.text
        assert "&lt;script&gt;" in page.text
    assert "INSERT" in pages[-1].text  # the item's history from the stream


def test_a_test_message_is_sent_to_the_queue(make_engine: EngineFactory) -> None:
    engine = make_engine(shop())
    token = csrf_of(call(engine, "GET", "/console/queues/Jobs"))
    sent = call(
        engine,
        "POST",
        "/console/queues/Jobs/send",
        data={"csrf": token, "body": '{"n": 2}', "attributes": "Kind=test", "delay": "0"},
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == "/console/queues/Jobs"
    listed = call(engine, "GET", "/console/_/queues/Jobs/messages").text
    assert "{&#34;n&#34;: 2}" in listed
    assert "Kind=test" in listed
    bad = call(engine, "POST", "/console/queues/Jobs/send", data={"csrf": token, "body": ""})
    assert bad.status_code == 400
    assert "Not sent" in bad.text


def test_the_map_has_an_arrow_for_each_hop_of_the_flow() -> None:
    graph = shop().graph
    pipeline = build(graph, {})
    arrows = {(e.source, e.target, e.failure) for e in pipeline.edges}
    assert ("route:POST /jobs", "queue:Jobs", False) in arrows
    assert ("queue:Jobs", "queue:Jobs-DLQ", True) in arrows
    assert ("route:PUT /things", "table:things", False) in arrows
    assert ("table:things", "stream:things", False) in arrows
    columns = {node.id: node.column for node in pipeline.nodes.values()}
    assert columns["route:POST /jobs"] < columns["queue:Jobs"] < columns["queue:Jobs-DLQ"]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False), ("::", False)],
)
def test_which_listen_addresses_need_a_token(host: str, loopback: bool) -> None:
    assert access.is_loopback(host) is loopback
    assert access.needs_token(Settings(host=host)) is not loopback


def test_an_ipv4_mapped_loopback_client_is_loopback() -> None:
    assert access.client_allowed("::ffff:127.0.0.1", ())
    assert not access.client_allowed("::ffff:10.0.0.1", ())
    assert not access.client_allowed(None, None)
    assert not access.client_allowed("not-an-address", None)
