"""`sluiceway run registrations` as a new user meets it (seed 003): sign-ups over HTTP, a
text to each new Indian number, seen with `sluiceway deliveries --json`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from runtime import RuntimeProcess, cli

from support import wait_until

pytestmark = pytest.mark.slow

INDIA = "+919876543210"


def texts(data: Path) -> list[dict[str, Any]]:
    found = cli("deliveries", "--json", data_dir=data)
    assert found.returncode == 0, found.stderr
    return [d for d in json.loads(found.stdout) if d["protocol"] == "sms"]


def test_a_new_indian_user_gets_exactly_one_text(tmp_path: Path) -> None:
    data = tmp_path / "data"
    runtime = RuntimeProcess(data, ["registrations"]).start()
    try:
        asha = {"id": "u1", "roll": "7", "name": "Asha", "phone": INDIA}
        posted = httpx.post(f"{runtime.url}/users", json=asha, timeout=10)
        assert posted.status_code == 200, posted.text
        assert posted.json() == {"key": {"id": "u1", "roll": "7"}}
        bob = {"id": "u2", "roll": "8", "name": "Bob", "phone": "+14155550100"}
        assert httpx.post(f"{runtime.url}/users", json=bob, timeout=10).status_code == 200
        wait_until(lambda: any(t["status"] == "delivered" for t in texts(data)))

        # Asha corrects her name: a MODIFY, which sends nothing more.
        renamed = httpx.post(f"{runtime.url}/users", json={**asha, "name": "Asha K"}, timeout=10)
        assert renamed.status_code == 200
        # A later sign-up is texted: once it is, the MODIFY before it has been passed over.
        carol = {"id": "u3", "roll": "9", "name": "Carol", "phone": "+919800000003"}
        assert httpx.post(f"{runtime.url}/users", json=carol, timeout=10).status_code == 200
        wait_until(lambda: len([t for t in texts(data) if t["status"] == "delivered"]) == 2)

        sent = texts(data)
        assert [(t["destination"], t["status"]) for t in sent] == [
            (INDIA, "delivered"),
            ("+919800000003", "delivered"),
        ]
        assert sent[0]["text"] == "Hi Asha, welcome! Your registration 7 is confirmed."
        outbox = (data / "sms" / "outbox.jsonl").read_text().splitlines()
        assert [json.loads(line)["phone"] for line in outbox] == [INDIA, "+919800000003"]

        refused = httpx.post(f"{runtime.url}/users", json={"id": "u4"}, timeout=10)
        assert refused.status_code == 400
        assert "$.roll: required" in refused.json()["errors"]
    finally:
        code = runtime.stop()
    assert code == 0


def test_match_explains_why_a_user_got_no_text() -> None:
    from sluiceway.blueprints.registrations import NEW_INDIAN_USERS

    record = {
        "eventName": "INSERT",
        "dynamodb": {"NewImage": {"phone": {"S": "+14155550100"}, "id": {"S": "u2"}}},
    }
    pattern, event = json.dumps(NEW_INDIAN_USERS), json.dumps(record)
    said = subprocess.run(
        [sys.executable, "-m", "sluiceway", "match", pattern, event, "--context", "pipes"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert said.returncode == 1
    assert 'dynamodb.NewImage.phone.S is "+14155550100", which does not start with "+91"' in (
        said.stdout
    )
