"""A flood of wrong client secrets at the token endpoint: limited per client id and per source
address (429 with Retry-After, before any secret is checked), counted on /metrics, and
checked off the event loop so that every other route keeps answering meanwhile."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sluiceway.cognito import token_endpoint
from sluiceway.local.web import RuntimeApp
from sluiceway.testing import RunningApp
from sluiceway.testing.inprocess import InProcess, Transport
from sluiceway.testing.plugin import Launcher

FORM = {"content-type": "application/x-www-form-urlencoded"}


def request(client: httpx.Client, client_id: str, secret: str) -> httpx.Response:
    return client.post(
        "/oauth2/token",
        content=f"grant_type=client_credentials&client_id={client_id}&client_secret={secret}",
        headers=FORM,
    )


def new_client(app: RunningApp) -> tuple[str, str]:
    identity = app.engine.identity
    assert identity is not None
    made = identity.create_client("shop", ["devices/send"])
    return made.client_id, made.client_secret


@contextlib.contextmanager
def from_address(app: RunningApp, address: str) -> Iterator[httpx.Client]:
    """A client of the app's gateway whose requests come from `address`."""
    served = InProcess(RuntimeApp(app.engine), client=(address, 40000))
    try:
        with httpx.Client(transport=Transport(served), base_url=app.url) as client:
            yield client
    finally:
        served.close()


@pytest.mark.parametrize("limit", [5])
def test_wrong_secrets_are_throttled_per_client_and_per_address(
    sluiceway: Launcher, limit: int
) -> None:
    app = sluiceway.run("iot-router", token_failure_limit=limit)
    client_id, secret = new_client(app)
    other_id, other_secret = new_client(app)
    statuses = [request(app.http, client_id, "wrong").status_code for _ in range(1000)]
    assert statuses[:limit] == [400] * limit  # invalid_client (400: the secret was in the body)
    assert set(statuses[limit:]) == {429}
    throttled = request(app.http, client_id, secret)  # even the right secret, for now
    assert throttled.status_code == 429
    assert throttled.json()["error"] == "too_many_requests"
    assert int(throttled.headers["retry-after"]) == 60
    assert throttled.headers["cache-control"] == "no-store"
    # The address is throttled too: another client's right secret from it waits as well...
    assert request(app.http, other_id, other_secret).status_code == 429
    # ...but from another address that client is served, and the guessed one is not.
    with from_address(app, "198.51.100.20") as elsewhere:
        assert request(elsewhere, other_id, other_secret).status_code == 200
        assert request(elsewhere, client_id, secret).status_code == 429
    metrics = app.http.get("/metrics").text
    assert f'sluiceway_token_requests_total{{outcome="refused"}} {limit}' in metrics
    assert 'sluiceway_token_requests_total{outcome="issued"} 1' in metrics
    assert f'sluiceway_token_requests_total{{outcome="throttled"}} {1000 - limit + 3}' in metrics
    app.advance(60)  # a minute after the last failure counted: both may try again
    assert request(app.http, client_id, secret).status_code == 200
    assert request(app.http, other_id, other_secret).status_code == 200


def test_a_success_does_not_count_and_the_limit_is_a_setting(sluiceway: Launcher) -> None:
    app = sluiceway.run("iot-router", token_failure_limit=2)
    client_id, secret = new_client(app)
    for _ in range(10):
        assert request(app.http, client_id, secret).status_code == 200
    assert [request(app.http, client_id, "x").status_code for _ in range(3)] == [400, 400, 429]
    with pytest.raises(ValueError, match="token-failure-limit"):
        sluiceway.run("registrations", token_failure_limit=0)


def test_secrets_are_checked_off_the_event_loop(
    sluiceway: Launcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a token request's secret check runs (held here), the JWKS and the app's routes
    still answer: the check is on a thread of its own, not on the server's event loop."""
    app = sluiceway.run("iot-router", serve=True)
    client_id, secret = new_client(app)
    checking, release = threading.Event(), threading.Event()
    real = token_endpoint.verify_secret

    def held(given: str, stored: str) -> Any:
        checking.set()
        release.wait(30)
        return real(given, stored)

    monkeypatch.setattr(token_endpoint, "verify_secret", held)
    answers: list[int] = []
    asking = threading.Thread(
        target=lambda: answers.append(request(app.http, client_id, secret).status_code)
    )
    asking.start()
    try:
        assert checking.wait(10)
        started = time.perf_counter()
        keys = httpx.get(f"{app.url}/.well-known/jwks.json", timeout=5)
        assert keys.status_code == 200
        assert time.perf_counter() - started < 5
        assert answers == []  # the token request is still being checked
    finally:
        release.set()
        asking.join(30)
    assert answers == [200]
