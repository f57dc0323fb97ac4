"""The seeds' POC-Lambda-1 and POC-Lambda-2, verbatim (only the topic ARN filled in), on
the orders queue and the table's stream: a posted order becomes an item, its INSERT a
publish, the publish an email."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from conftest import ServeFactory
from sluiceway.app.loader import load_app
from support import Mailbox, SmtpServer

APP = Path(__file__).parent.parent / "apps" / "seed_app.py"


def test_the_seeds_code_runs_unchanged_and_the_email_arrives(
    serve: ServeFactory, smtp: SmtpServer, mailbox: Mailbox
) -> None:
    wire = serve(load_app(str(APP)), isolation="process", smtp=smtp.url, auto_confirm=True)
    order = {"item": "latex gloves", "customerID": "12345"}
    answer = httpx.post(f"{wire.url}/orders", json=order, timeout=10)
    assert answer.status_code == 200, answer.text
    wire.engine.drain()
    items = wire.client("dynamodb").scan(TableName="orders")["Items"]
    assert len(items) == 1
    assert json.loads(items[0]["order"]["S"]) == order
    messages = mailbox.wait_for(1)
    assert "latex gloves" in messages[0].get_content()
