"""The web console in headless Chromium against a real `sluiceway run`: the map and its
counts, an order's trace, its email, and a message failed into the DLQ and redriven with
the button. Playwright's `expect` waits for what the page's polling brings (no sleeps)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
from runtime import RuntimeProcess

from support import wait_until

pytestmark = pytest.mark.slow

SHOP = Path(__file__).with_name("console_shop.py")

# -- headless Chromium: Debian's `chromium` (scripts/services installs it), driven by
# Playwright, which never downloads a browser of its own.

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# What the page's polling (every 1-2 s) and the runtime's work may take, at most.
expect.set_options(timeout=20_000)
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "console"


# Module-scoped: Playwright's sync API keeps an event loop running in this thread while it
# is open, which would break every later test that starts one of its own.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("no chromium: run scripts/services (it installs Debian's chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    opened = context.new_page()
    opened.set_default_timeout(20_000)
    yield opened
    context.close()


class Shots:
    """Screenshots kept as test artifacts (tests/artifacts/console/<test>-<n>-<name>.png)."""

    def __init__(self, test: str) -> None:
        self.test = test
        self.taken = 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def __call__(self, page: Page, name: str) -> Path:
        self.taken += 1
        path = ARTIFACTS / f"{self.test}-{self.taken:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Shots:
    return Shots(request.node.name)


@pytest.fixture
def orders(tmp_path: Path) -> Iterator[RuntimeProcess]:
    runtime = RuntimeProcess(tmp_path / "data", ["orders", "--auto-confirm"]).start()
    yield runtime
    runtime.stop()


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    """While this file exists, the shop's store function refuses every order."""
    switch = tmp_path / "warehouse-down"
    switch.touch()
    return switch


@pytest.fixture
def shop(tmp_path: Path, broken: Path) -> Iterator[RuntimeProcess]:
    runtime = RuntimeProcess(
        tmp_path / "data",
        [str(SHOP), "--auto-confirm"],
        env={"CONSOLE_SHOP_BROKEN": str(broken)},
    ).start()
    yield runtime
    runtime.stop()


def node(page: Page, node_id: str) -> Locator:
    return page.locator(f'g.node[data-node="{node_id}"]')


def count(page: Page, node_id: str) -> Locator:
    return page.locator(f'g.node[data-node="{node_id}"] text.count')


def test_an_order_moves_the_map_and_shows_its_trace_and_email(
    orders: RuntimeProcess, page: Page, shot: Shots
) -> None:
    page.goto(f"{orders.url}/console")
    pipeline = [
        "route:POST /orders",
        "queue:POC-Queue",
        "function:POC-Lambda-1",
        "table:orders",
        "stream:orders",
        "function:POC-Lambda-2",
        "topic:POC-Topic",
        "sub:POC-Topic:email:ops@example.com",
        "queue:POC-DLQ",
        "queue:POC-Notify-Failures",
    ]
    for node_id in pipeline:
        expect(page.locator(f'g.node[data-node="{node_id}"]')).to_be_visible()
    for arrow in [
        "route:POST /orders -> queue:POC-Queue",
        "queue:POC-Queue -> function:POC-Lambda-1",
        "function:POC-Lambda-1 -> table:orders",
        "table:orders -> stream:orders",
        "stream:orders -> function:POC-Lambda-2",
        "function:POC-Lambda-2 -> topic:POC-Topic",
        "topic:POC-Topic -> sub:POC-Topic:email:ops@example.com",
        "queue:POC-Queue -> queue:POC-DLQ",
    ]:
        expect(page.locator(f'path.edge[data-edge="{arrow}"]')).to_have_count(1)
    expect(count(page, "table:orders")).to_have_text("0 items")
    shot(page, "map-before")

    answer = httpx.post(
        f"{orders.url}/orders",
        json={"item": "latex gloves", "customerID": "12345"},
        headers={"Idempotency-Key": "order-1"},
        timeout=10,
    )
    assert answer.status_code == 200
    trace_id = answer.headers["x-sluiceway-trace-id"]

    # The map polls: the counts move without a reload.
    expect(count(page, "table:orders")).to_have_text("1 item")
    expect(count(page, "stream:orders")).to_have_text("1 record")
    expect(count(page, "topic:POC-Topic")).to_have_text("1 published")
    expect(count(page, "sub:POC-Topic:email:ops@example.com")).to_have_text("1 sent")
    expect(count(page, "function:POC-Lambda-1")).to_have_text("1 invocation")
    expect(count(page, "route:POST /orders")).to_have_text("1 request")
    expect(count(page, "queue:POC-Queue")).to_have_text("0 visible · 0 in flight")
    shot(page, "map-after-order")

    page.click("text=Traces")
    page.locator(f'tr[data-trace="{trace_id}"] a').click()
    expect(page.locator("h1")).to_have_text(f"Trace {trace_id}")
    hops = page.locator("tr[data-hop]")
    expect(hops).to_have_count(6)
    kinds = [row.get_attribute("data-hop") for row in hops.all()]
    assert kinds == ["http", "invoke", "item", "invoke", "publish", "delivery"]
    names = page.locator("tr[data-hop] td.name").all_inner_texts()
    assert names[:5] == ["POST /orders", "POC-Lambda-1", "orders", "POC-Lambda-2", "POC-Topic"]
    assert "ops@example.com" in names[5]
    shot(page, "trace")

    # The delivery hop leads to the email as it was written to the Maildir.
    page.locator('tr[data-hop="delivery"] td.name a').click()
    expect(page.locator("h2")).to_contain_text("The email as it was sent")
    expect(page.locator("dl.facts dd.status")).to_have_text("delivered")
    expect(page.locator(".email")).to_contain_text("New order order-1")
    expect(page.locator("pre.email-body")).to_contain_text("item: latex gloves")
    shot(page, "email")

    # The item, and its history from the table's stream, back to the trace.
    page.goto(f"{orders.url}/console/tables/orders")
    page.locator("table.items a", has_text="order-1").click()
    expect(page.locator("li[data-event]")).to_have_count(1)
    expect(page.locator("li[data-event] strong")).to_have_text("INSERT")
    expect(page.locator("pre.item")).to_contain_text("latex gloves")
    page.locator("li[data-event] a", has_text="trace").click()
    expect(page.locator("h1")).to_have_text(f"Trace {trace_id}")
    shot(page, "item-history")


def test_a_message_failed_into_the_dlq_is_redriven_with_the_button_and_processed(
    shop: RuntimeProcess, broken: Path, page: Page, shot: Shots
) -> None:
    page.goto(f"{shop.url}/console")
    expect(count(page, "table:orders")).to_have_text("0 items")
    answer = httpx.post(f"{shop.url}/orders", json={"item": "crate"}, timeout=10)
    assert answer.status_code == 200
    message_id = answer.json()["MessageId"]

    # Received twice and refused twice (1 s apart), it lands in the DLQ: the map says so.
    dlq = node(page, "queue:Orders-DLQ")
    expect(dlq).to_have_class("node queue alert")
    expect(count(page, "queue:Orders-DLQ")).to_have_text("1 visible · 0 in flight")
    shot(page, "map-dead-letter")

    page.locator('g.node[data-node="queue:Orders-DLQ"] a').click()
    expect(page.locator("h1")).to_contain_text("Queue Orders-DLQ")
    row = page.locator(f'tr[data-message="{message_id}"]')
    expect(row).to_be_visible()
    expect(row.locator("td").nth(3)).to_have_text("2")  # its receive count
    expect(row.locator("code.body")).to_have_text('{"item":"crate"}')
    row.locator("a").click()
    expect(page.locator("dl.facts")).to_contain_text("Dead-lettered from")
    expect(page.locator("dl.facts")).to_contain_text("Orders")
    page.go_back()
    shot(page, "dlq")

    broken.unlink()  # the warehouse is back
    page.click("#redrive")
    expect(page.locator("#flash")).to_contain_text("Redrive started")
    task = page.locator(".move-task")
    expect(task).to_have_attribute("data-status", "COMPLETED")
    expect(task.locator(".moved")).to_have_text("1")
    expect(page.locator("dd.visible")).to_have_text("0")
    shot(page, "redriven")

    page.click("text=Map")
    expect(count(page, "table:orders")).to_have_text("1 item")
    expect(count(page, "queue:Orders-DLQ")).to_have_text("0 visible · 0 in flight")
    expect(count(page, "sub:Shop-Topic:email:shop@example.com")).to_have_text("1 sent")
    shot(page, "map-processed")


def test_a_test_message_is_sent_and_the_queue_purged_after_confirmation(
    shop: RuntimeProcess, page: Page, shot: Shots
) -> None:
    alerts: list[str] = []
    page.goto(f"{shop.url}/console/queues/Orders-DLQ")
    page.click("text=Send a test message")
    hostile = '</textarea><script>alert("pwned")</script><img src=x onerror=alert(1)>'
    page.fill("textarea[name=body]", hostile)
    page.fill("textarea[name=attributes]", "Origin=<b>console</b>")
    page.click("#send-form button[type=submit]")
    expect(page.locator("#flash")).to_contain_text("Sent message")
    row = page.locator("table.messages tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("code.body")).to_have_text(hostile)  # shown as text, never run
    expect(row).to_contain_text("Origin=<b>console</b>")
    shot(page, "test-message")

    # Dismissing the confirmation keeps the messages; accepting it purges them.
    page.once("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
    page.click("#purge")
    expect(page.locator("dd.visible")).to_have_text("1")
    assert len(alerts) == 1
    assert "Delete every message in Orders-DLQ" in alerts[0]
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#purge")
    expect(page.locator("#flash")).to_contain_text("Purged 1 message(s) from Orders-DLQ")
    expect(page.locator("dd.visible")).to_have_text("0")
    expect(page.locator("table.messages")).to_have_count(0)
    shot(page, "purged")


def test_a_paused_mapping_leaves_orders_waiting_until_resumed(
    shop: RuntimeProcess, broken: Path, page: Page, shot: Shots
) -> None:
    broken.unlink()
    page.goto(f"{shop.url}/console/mappings")
    page.click('button.pause[data-mapping="store-order"]')
    expect(page.locator('tr[data-mapping="store-order"] .tag')).to_have_text("paused")
    answer = httpx.post(f"{shop.url}/orders", json={"item": "crate"}, timeout=10)
    assert answer.status_code == 200

    page.click("text=Map")
    expect(count(page, "function:store-order")).to_have_text("paused · 0 invocations")
    expect(count(page, "queue:Orders")).to_have_text("1 visible · 0 in flight")
    shot(page, "paused")

    page.click("text=Mappings & pipes")
    page.click('button.resume[data-mapping="store-order"]')
    expect(page.locator('tr[data-mapping="store-order"] .tag')).to_have_count(0)
    page.click("text=Map")
    expect(count(page, "table:orders")).to_have_text("1 item")
    expect(count(page, "function:store-order")).to_have_text("1 invocation")
    shot(page, "resumed")


def test_a_runtime_bound_beyond_loopback_opens_its_console_with_the_printed_token(
    tmp_path: Path, page: Page, shot: Shots
) -> None:
    runtime = RuntimeProcess(tmp_path / "data", ["orders", "--host", "0.0.0.0"]).start()
    try:
        wait_until(lambda: any(line.startswith("  console: ") for line in runtime.output))
        (line,) = [line for line in runtime.output if line.startswith("  console: ")]
        link = line.removeprefix("  console: ").replace("0.0.0.0", "127.0.0.1")
        assert "/console?token=" in link
        base = runtime.url.replace("0.0.0.0", "127.0.0.1")

        locked = page.goto(f"{base}/console")
        assert locked is not None
        assert locked.status == 401
        expect(page.locator("h1")).to_have_text("Console locked")
        shot(page, "locked")

        page.goto(link)
        expect(page.locator('g.node[data-node="queue:POC-Queue"]')).to_be_visible()
        assert page.url == f"{base}/console"  # the token left the address bar
        (cookie,) = page.context.cookies()
        assert cookie["httpOnly"]
        assert cookie["sameSite"] == "Strict"
        assert cookie["path"] == "/console"
        page.goto(f"{base}/console/queues")  # the cookie opens every page from now on
        expect(page.locator('tr[data-queue="POC-Queue"]')).to_be_visible()
        shot(page, "entered")
    finally:
        runtime.stop()
