"""OAuth2 client credentials like Cognito, end to end over HTTP: app clients from the CLI, the
token endpoint, JWKS, and routes that require a scope."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from conftest import EngineFactory
from sluiceway import App, DeclarationError
from sluiceway.cli import main
from sluiceway.core.clock import VirtualClock
from sluiceway.local import LocalEngine
from support import gateway


@pytest.fixture(autouse=True)
def cli_on_the_virtual_clock(monkeypatch: pytest.MonkeyPatch, clock: VirtualClock) -> None:
    """The CLI issues tokens at the time the engine under test lives in."""
    monkeypatch.setattr("sluiceway.local.admin.SystemClock", lambda: clock)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


GRANT = {"grant_type": "client_credentials"}


def guarded_app() -> App:
    app = App("relay")
    pool = app.user_pool("devices", domain="sibesg")
    pool.resource_server("devices", scopes={"send": "post messages", "read": "read messages"})
    queue = app.queue("messages")
    app.route("POST", "/messages", to=queue, auth=pool.requires("devices/send"))
    return app


def cli(*args: str, data_dir: Path) -> Any:
    result = CliRunner().invoke(main, [*args, "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    return result.output


def new_client(data_dir: Path, *scopes: str) -> tuple[str, str]:
    flags = [part for scope in scopes for part in ("--scope", scope)]
    made = json.loads(cli("clients", "create", "demo", *flags, "--json", data_dir=data_dir))
    return made["client_id"], made["client_secret"]


def token_for(url: str, client: tuple[str, str], scope: str | None = None) -> str:
    form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    answer = httpx.post(f"{url}/oauth2/token", data=form, auth=client)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
    return str(body["access_token"])


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


def queued(engine: LocalEngine) -> int:
    return int(engine.store.query("SELECT COUNT(*) AS n FROM messages")[0]["n"])


@pytest.fixture
def relay(make_engine: EngineFactory) -> LocalEngine:
    return make_engine(guarded_app())


def test_a_client_with_the_scope_gets_a_token_and_its_post_is_queued(
    relay: LocalEngine, data_dir: Path
) -> None:
    client = new_client(data_dir, "devices/send")
    with gateway(relay) as url:
        token = token_for(url, client, "devices/send")
        posted = httpx.post(
            f"{url}/messages",
            json={"ClientID": "DemoClient"},
            headers={"Authorization": f"Bearer {token}"},
        )
        # AWS's examples send the bare token; API Gateway's Cognito authorizer takes it.
        bare = httpx.post(f"{url}/messages", json={"n": 2}, headers={"Authorization": token})
        jwks = httpx.get(f"{url}/.well-known/jwks.json").json()
    assert posted.status_code == 200, posted.text
    assert bare.status_code == 200
    assert queued(relay) == 2
    claims = claims_of(token)
    assert claims["client_id"] == claims["sub"] == client[0]
    assert claims["token_use"] == "access"
    assert claims["scope"] == "devices/send"
    assert claims["iss"].startswith("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_")
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["kid"] in {key["kid"] for key in jwks["keys"]}


def test_no_token_a_bad_token_or_the_wrong_scope_queues_nothing(
    relay: LocalEngine, data_dir: Path, clock: VirtualClock
) -> None:
    reader = new_client(data_dir, "devices/read")
    with gateway(relay) as url:
        missing = httpx.post(f"{url}/messages", json={})
        garbage = httpx.post(f"{url}/messages", json={}, headers={"Authorization": "Bearer x.y.z"})
        wrong = httpx.post(
            f"{url}/messages",
            json={},
            headers={"Authorization": f"Bearer {token_for(url, reader)}"},
        )
        sender = new_client(data_dir, "devices/send")
        token = token_for(url, sender)
        clock.advance(3600 + 31)  # past expiry and the 30 s leeway
        expired = httpx.post(
            f"{url}/messages", json={}, headers={"Authorization": f"Bearer {token}"}
        )
    assert (missing.status_code, missing.headers["www-authenticate"]) == (
        401,
        'Bearer realm="sluiceway"',
    )
    assert garbage.status_code == 401
    assert 'error="invalid_token"' in garbage.headers["www-authenticate"]
    assert wrong.status_code == 403
    assert 'error="insufficient_scope"' in wrong.headers["www-authenticate"]
    assert expired.status_code == 401
    assert queued(relay) == 0


@pytest.mark.parametrize(
    ("request_kwargs", "status", "error"),
    [
        (
            {"data": {"grant_type": "client_credentials"}, "auth": ("nobody", "x")},
            401,
            "invalid_client",
        ),
        ({"data": {"grant_type": "password"}, "auth": ("a", "b")}, 400, "unsupported_grant_type"),
        (
            {"data": {"grant_type": "client_credentials", "scope": "devices/admin"}},
            400,
            "invalid_scope",
        ),
        (
            {"content": b"{}", "headers": {"content-type": "application/json"}},
            400,
            "invalid_request",
        ),
    ],
)
def test_the_token_endpoint_answers_errors_as_rfc_6749_says(
    relay: LocalEngine, data_dir: Path, request_kwargs: dict[str, Any], status: int, error: str
) -> None:
    client = new_client(data_dir, "devices/send")
    request_kwargs.setdefault("auth", client)
    with gateway(relay) as url:
        answer = httpx.post(f"{url}/oauth2/token", **request_kwargs)
        wrong_method = httpx.get(f"{url}/oauth2/token")
    assert (answer.status_code, answer.json()["error"]) == (status, error)
    if status == 401:
        assert answer.headers["www-authenticate"].startswith("Basic")
    assert wrong_method.status_code == 405


def test_rotated_keys_keep_old_tokens_valid_until_their_key_is_retired(
    relay: LocalEngine, data_dir: Path
) -> None:
    client = new_client(data_dir, "devices/send")
    with gateway(relay) as url:
        old = token_for(url, client)
        cli("keys", "rotate", data_dir=data_dir)
        new = token_for(url, client)
        old_kid = json.loads(base64.urlsafe_b64decode(old.split(".")[0] + "=="))["kid"]
        assert json.loads(base64.urlsafe_b64decode(new.split(".")[0] + "=="))["kid"] != old_kid

        def post(token: str) -> int:
            headers = {"Authorization": f"Bearer {token}"}
            return httpx.post(f"{url}/messages", json={}, headers=headers).status_code

        assert (post(old), post(new)) == (200, 200)
        cli("keys", "retire", old_kid, data_dir=data_dir)
        assert (post(old), post(new)) == (401, 200)


def test_a_deleted_client_gets_no_more_tokens(relay: LocalEngine, data_dir: Path) -> None:
    client = new_client(data_dir, "devices/send")
    listed = json.loads(cli("clients", "list", "--json", data_dir=data_dir))
    assert [(c["client_id"], c["scopes"]) for c in listed] == [(client[0], ["devices/send"])]
    assert "secret" not in json.dumps(listed)
    cli("clients", "delete", client[0], data_dir=data_dir)
    with gateway(relay) as url:
        answer = httpx.post(
            f"{url}/oauth2/token", data={"grant_type": "client_credentials"}, auth=client
        )
    assert answer.status_code == 401


def test_the_token_command_issues_without_a_runtime(relay: LocalEngine, data_dir: Path) -> None:
    client_id, secret = new_client(data_dir, "devices/send")
    issued = json.loads(
        cli("token", "--client-id", client_id, "--client-secret", secret, data_dir=data_dir)
    )
    with gateway(relay) as url:
        headers = {"Authorization": f"Bearer {issued['access_token']}"}
        assert httpx.post(f"{url}/messages", json={}, headers=headers).status_code == 200
    refused = CliRunner().invoke(
        main,
        [
            "token",
            "--client-id",
            client_id,
            "--client-secret",
            "wrong",
            "--data-dir",
            str(data_dir),
        ],
    )
    assert refused.exit_code == 1
    assert "invalid_client" in refused.output


def test_a_client_for_an_undeclared_scope_is_refused(relay: LocalEngine, data_dir: Path) -> None:
    result = CliRunner().invoke(
        main, ["clients", "create", "x", "--scope", "devices/admin", "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 1
    assert "defines no scope devices/admin" in result.output


@pytest.mark.parametrize(
    ("declare", "reason"),
    [
        (lambda app: app.user_pool("p", domain="My Domain"), "domain prefix"),
        (lambda app: app.user_pool("p", domain="aws-thing"), "may not contain aws"),
        (lambda app: app.user_pool("p").requires("nope/scope"), "not defined"),
        (
            lambda app: app.user_pool("p").resource_server("r", scopes={"a/b": "x"}),
            "no '/'",
        ),
        (lambda app: app.route("POST", "/x", to=app.queue("q"), auth="devices/send"), "auth="),
    ],
)
def test_bad_oauth_declarations_are_refused(declare: Any, reason: str) -> None:
    with pytest.raises(DeclarationError, match=reason):
        declare(App("bad"))
