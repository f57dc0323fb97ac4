"""`sluiceway run` as a new user meets it: one command, a curl, an email."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from runtime import RuntimeProcess, cli

from support import SmtpServer

pytestmark = pytest.mark.slow

SEED_ORDER = {"item": "latex gloves", "customerID": "12345"}


def test_the_seed_order_flows_from_http_to_email(tmp_path: Path, smtp: SmtpServer) -> None:
    data = tmp_path / "data"
    runtime = RuntimeProcess(data, ["--smtp", smtp.url, "--auto-confirm"]).start()
    try:
        answer = httpx.post(f"{runtime.url}/orders", json=SEED_ORDER, timeout=10)
        assert answer.status_code == 200
        message_id = answer.json()["MessageId"]

        (mail,) = smtp.mailbox.wait_for(1)
        assert "latex gloves" in str(mail.get_content())
        assert "12345" in str(mail.get_content())

        scanned = cli("scan", "orders", data_dir=data)
        assert scanned.returncode == 0, scanned.stderr
        (line,) = scanned.stdout.splitlines()
        order = json.loads(line)
        assert order["orderID"] == message_id
        assert json.loads(order["order"]) == SEED_ORDER

        queues = cli("queues", "--json", data_dir=data)
        assert {q["name"]: q["visible"] + q["in_flight"] for q in json.loads(queues.stdout)} == {
            "POC-DLQ": 0,
            "POC-Notify-Failures": 0,
            "POC-Queue": 0,
        }
        deliveries = json.loads(cli("deliveries", "--json", data_dir=data).stdout)
        assert [(d["protocol"], d["destination"], d["status"]) for d in deliveries] == [
            ("email", "ops@example.com", "delivered")
        ]
    finally:
        code = runtime.stop()
    assert code == 0
    assert len(smtp.mailbox.messages) == 1


def test_the_cli_sends_into_a_running_runtime(tmp_path: Path, smtp: SmtpServer) -> None:
    data = tmp_path / "data"
    runtime = RuntimeProcess(data, ["--smtp", smtp.url, "--auto-confirm"]).start()
    try:
        sent = cli("send", "/orders", json.dumps({"item": "mop"}), data_dir=data)
        assert sent.returncode == 0, sent.stderr
        (mail,) = smtp.mailbox.wait_for(1)
        assert "item: mop" in str(mail.get_content())
        refused = cli("send", "/orders", "[]", data_dir=data)
        assert refused.returncode == 1
        assert "400 NotAnObject" in refused.stderr
    finally:
        runtime.stop()


def test_cli_commands_work_with_no_runtime(tmp_path: Path) -> None:
    data = tmp_path / "data"
    missing = cli("queues", data_dir=data)
    assert missing.returncode == 1
    assert "start the app once with `sluiceway run`" in missing.stderr

    runtime = RuntimeProcess(data, ["--auto-confirm"]).start()
    runtime.stop()
    assert cli("send", "/orders", json.dumps(SEED_ORDER), data_dir=data).returncode == 0
    table = cli("queues", data_dir=data).stdout
    assert "POC-Queue" in table.splitlines()[1] or "POC-Queue" in table
    assert cli("scan", "orders", data_dir=data).stdout == ""


def test_a_second_runtime_on_the_same_data_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = RuntimeProcess(data, ["--auto-confirm"]).start()
    try:
        second = cli("run", "--port", "0", data_dir=data)
        assert second.returncode == 1
        assert "is in use by pid" in second.stderr
    finally:
        first.stop()


def test_bad_parameters_are_reported_before_anything_runs(tmp_path: Path) -> None:
    unknown = cli("run", "--set", "color=red", data_dir=tmp_path / "d")
    assert unknown.returncode == 1
    assert "app 'orders' declares no such parameter" in unknown.stderr
    bad = cli("run", "--set", "notify_email=nobody", data_dir=tmp_path / "d")
    assert bad.returncode == 1
    assert "'nobody' is not an email address" in bad.stderr
    blueprint = cli("run", "nosuch", data_dir=tmp_path / "d")
    assert "is not a blueprint" in blueprint.stderr
