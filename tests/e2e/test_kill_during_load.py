"""kill -9 while concurrent clients post orders: nothing acknowledged is lost or doubled."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import httpx
import pytest
from runtime import RuntimeProcess

from sluiceway.local import Admin
from support import SmtpServer, wait_until

pytestmark = pytest.mark.slow

ORDERS = 1000
CLIENTS = 32
KILL_AFTER_ACKS = 300


async def post_orders(
    runtime: RuntimeProcess, killed: asyncio.Event, restarted: asyncio.Event
) -> dict[str, str]:
    """Post ORDERS orders from CLIENTS concurrent clients; return ref -> MessageId for every
    order answered 200. A client whose request fails moves on (that order is unacknowledged)."""
    acked: dict[str, str] = {}
    refs = iter(range(ORDERS))

    async def client() -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            for ref in refs:
                if killed.is_set() and not restarted.is_set():
                    await restarted.wait()
                try:
                    answer = await http.post(
                        f"{runtime.url}/orders", json={"ref": f"r{ref}", "item": "gloves"}
                    )
                except httpx.HTTPError:
                    continue
                if answer.status_code == 200:
                    acked[f"r{ref}"] = answer.json()["MessageId"]
                    if len(acked) == KILL_AFTER_ACKS and not killed.is_set():
                        killed.set()

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return acked


def test_a_kill_mid_load_loses_and_doubles_nothing(tmp_path: Path, smtp: SmtpServer) -> None:
    data = tmp_path / "data"
    args = ["--smtp", smtp.url, "--auto-confirm"]
    runtime = RuntimeProcess(data, args).start()

    async def scenario() -> dict[str, str]:
        killed, restarted = asyncio.Event(), asyncio.Event()
        load = asyncio.create_task(post_orders(runtime, killed, restarted))
        await killed.wait()
        runtime.kill()
        await asyncio.to_thread(runtime.start)
        restarted.set()
        return await load

    acked = asyncio.run(scenario())
    assert len(acked) >= KILL_AFTER_ACKS

    def settled() -> bool:
        with Admin(data) as admin:
            busy = sum(s.total for s in admin.queue_stats())
            items = list(admin.scan("orders"))
            undelivered = [d for d in admin.deliveries() if d.status != "delivered"]
        return busy == 0 and not undelivered and len(smtp.mailbox.messages) >= len(items)

    try:
        wait_until(settled, timeout=60)
    finally:
        runtime.stop()

    with Admin(data) as admin:
        items = list(admin.scan("orders"))
    by_ref = Counter(json.loads(str(item["order"]))["ref"] for item in items)
    order_ids = {json.loads(str(item["order"]))["ref"]: item["orderID"] for item in items}
    emails = Counter(str(m["Subject"]).removeprefix("New order ") for m in smtp.mailbox.messages)

    lost = [ref for ref in acked if ref not in by_ref]
    doubled_items = [ref for ref, n in by_ref.items() if n > 1]
    doubled_emails = [oid for oid, n in emails.items() if n > 1]
    unemailed = [ref for ref in acked if emails[order_ids.get(ref, "")] != 1]
    print(
        f"acked={len(acked)} items={len(items)} emails={len(smtp.mailbox.messages)} "
        f"lost={len(lost)} doubled_items={len(doubled_items)} doubled_emails={len(doubled_emails)} "
        f"unemailed={len(unemailed)} "
        f"distinct_message_ids={len({m['Message-ID'] for m in smtp.mailbox.messages})}"
    )
    assert (lost, doubled_items, doubled_emails, unemailed) == ([], [], [], [])
    assert all(order_ids[ref] == message_id for ref, message_id in acked.items())


def test_a_kill_while_the_smtp_server_accepts_an_email_sends_it_once(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    data = tmp_path / "data"
    args = ["--smtp", smtp.url, "--auto-confirm"]
    runtime = RuntimeProcess(data, args).start()
    smtp.mailbox.hold()
    assert httpx.post(f"{runtime.url}/orders", json={"item": "gloves"}).status_code == 200
    assert smtp.mailbox.holding.wait(15)
    # The server has the whole message; its "250" is not sent yet. The runtime dies now.
    runtime.kill()
    smtp.mailbox.release()
    runtime.start()
    try:
        wait_until(lambda: _statuses(data) == ["delivered"], timeout=30)
    finally:
        runtime.stop()
    assert len(smtp.mailbox.messages) == 1


def _statuses(data: Path) -> list[str]:
    with Admin(data) as admin:
        return [d.status for d in admin.deliveries()]
