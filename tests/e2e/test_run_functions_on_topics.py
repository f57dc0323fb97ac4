"""A function on a topic under `sluiceway run`, beside an email subscription: the delivery
process takes the email, the function still runs in the runtime."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from runtime import RuntimeProcess, cli

from support import SmtpServer, wait_until

pytestmark = pytest.mark.slow

APP = """
from sluiceway import App

app = App("fanout")
inbox = app.queue("inbox")
seen = app.table("seen", partition_key="id")
news = app.topic("news")
news.subscribe("email", "ops@example.com")
app.route("POST", "/news", to=inbox)


@app.on_queue(inbox, uses=[news.publishes])
def announce(event, context):
    for record in event["Records"]:
        news.publish(record["body"], subject="news")


@app.on_topic(news, uses=[seen.writes])
def remember(event, context):
    message = event["Records"][0]["Sns"]["Message"]
    seen.put_item({"id": message})
"""


def test_a_topic_feeds_both_the_mail_and_a_function(tmp_path: Path, smtp: SmtpServer) -> None:
    app_file = tmp_path / "fanout.py"
    app_file.write_text(APP)
    data = tmp_path / "data"
    runtime = RuntimeProcess(data, [str(app_file), "--smtp", smtp.url, "--auto-confirm"]).start()
    try:
        sent = httpx.post(
            f"{runtime.url}/news", content=b'{"n": 1}', headers={"content-type": "application/json"}
        )
        assert sent.status_code == 200
        (mail,) = smtp.mailbox.wait_for(1)
        assert mail["Subject"] == "news"

        def remembered() -> list[str]:
            lines = cli("scan", "seen", data_dir=data).stdout.splitlines()
            return [json.loads(line)["id"] for line in lines]

        wait_until(lambda: remembered() == ['{"n": 1}'])
        deliveries = json.loads(cli("deliveries", "--json", data_dir=data).stdout)
        assert sorted((d["protocol"], d["status"]) for d in deliveries) == [
            ("email", "delivered"),
            ("lambda", "delivered"),
        ]
    finally:
        assert runtime.stop() == 0
