"""The README's "Testing your app" example, verbatim (test_readme_shows_it checks that)."""

import json

import pytest

ORDER = {"item": "latex gloves", "customerID": "12345"}

pytestmark = pytest.mark.sluiceway_app("orders")


def test_an_order_is_stored_and_emailed(sluiceway_app):
    answer = sluiceway_app.http.post("/orders", json=ORDER)
    assert answer.status_code == 200
    sluiceway_app.drain()

    (mail,) = sluiceway_app.emails
    assert mail["Subject"] == f"New order {answer.json()['MessageId']}"
    assert "item: latex gloves" in mail.get_content()
    assert "customerID: 12345" in mail.get_content()


def test_a_failing_handler_is_retried_after_the_visibility_timeout(sluiceway_app):
    sluiceway_app.faults.fail("POC-Lambda-1", times=2)
    sluiceway_app.http.post("/orders", json=ORDER)
    sluiceway_app.drain()
    assert sluiceway_app.emails == []

    sluiceway_app.advance(60)  # POC-Queue's visibility timeout is 30 s: two more receives
    assert [i.ok for i in sluiceway_app.invocations if i.function == "POC-Lambda-1"] == [
        False,
        False,
        True,
    ]
    assert len(sluiceway_app.emails) == 1


def test_an_order_that_keeps_failing_reaches_the_dead_letter_queue(sluiceway_app):
    sluiceway_app.faults.fail("POC-Lambda-1", times=5)  # every receive POC-Queue allows
    sluiceway_app.http.post("/orders", json=ORDER)
    sluiceway_app.advance(5 * 30)

    (dead,) = sluiceway_app.dead_letters("POC-DLQ")
    assert json.loads(dead.body) == ORDER
    assert sluiceway_app.emails == []
