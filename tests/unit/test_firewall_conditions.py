"""Byte matches and the And, Or and Not of statements, as WAF evaluates them: declared in
Python, read from a template's web ACL, and evaluated on requests (their AWS render:
tests/aws/test_aws_waf_conditions.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_template_firewall import load, rule

from sluiceway.core.errors import DeclarationError
from sluiceway.firewall import (
    Firewall,
    Rule,
    WebRequest,
    all_of,
    any_of,
    byte_match,
    ip_set,
    negate,
    rate_limit,
    size_limit,
)
from sluiceway.testing.plugin import Launcher

OFFICE = "203.0.113.0/24"


def verdict(firewall: Firewall, method: str = "GET", path: str = "/", **request: Any) -> str:
    headers = tuple((k.lower(), v) for k, v in request.pop("headers", {}).items())
    request.setdefault("client_ip", "198.51.100.1")
    request.setdefault("body", b"")
    answer = firewall.evaluate(WebRequest(method, path, headers=headers, **request))
    return f"{answer.action}:{answer.rule}"


@pytest.mark.parametrize(
    ("statement", "matching", "other"),
    [
        (byte_match("uri", "/admin", "STARTS_WITH"), {"path": "/admin/users"}, {"path": "/a"}),
        (byte_match("uri", ".php", "ENDS_WITH"), {"path": "/x/index.php"}, {"path": "/php/x"}),
        (byte_match("method", "DELETE", "EXACTLY"), {"method": "DELETE"}, {"method": "GET"}),
        (
            byte_match("query", "drop table", "CONTAINS", ["URL_DECODE", "LOWERCASE"]),
            {"query": "q=DROP%20Table%20x"},
            {"query": "q=drop-table"},
        ),
        (
            byte_match("header:user-agent", "bot", "CONTAINS_WORD"),
            {"headers": {"User-Agent": "a bot/1.0"}},
            {"headers": {"User-Agent": "robot/1.0"}},
        ),
        (
            byte_match("body", "<script>", "CONTAINS", "HTML_ENTITY_DECODE"),
            {"body": b"x=&lt;script&gt;"},
            {"body": b"x=script"},
        ),
        (
            byte_match("header:x-note", "a b", "EXACTLY", "COMPRESS_WHITE_SPACE"),
            {"headers": {"X-Note": "a \t\n b"}},
            {"headers": {"X-Note": "ab"}},
        ),
        (
            byte_match("header:x-token", "secret", "EXACTLY", "BASE64_DECODE"),
            {"headers": {"X-Token": "c2VjcmV0"}},
            {"headers": {"X-Token": "c2VjcmV"}},
        ),
    ],
)
def test_a_byte_match_finds_its_text_where_and_as_it_says(
    statement: Any, matching: dict[str, Any], other: dict[str, Any]
) -> None:
    firewall = Firewall([Rule("guard", 0, "block", statement)])
    assert verdict(firewall, **matching) == "block:guard"
    assert verdict(firewall, **other) == "allow:Default_Action"


def test_a_missing_header_matches_no_byte_match_so_its_negation_matches() -> None:
    firewall = Firewall(
        [Rule("keyless", 0, "block", negate(byte_match("header:x-api-key", "k", "STARTS_WITH")))]
    )
    assert verdict(firewall) == "block:keyless"
    assert verdict(firewall, headers={"X-Api-Key": "key-1"}) == "allow:Default_Action"
    assert verdict(firewall, headers={"X-Api-Key": "other"}) == "block:keyless"


def test_and_or_not_combine_ip_sets_sizes_and_byte_matches() -> None:
    admin = byte_match("uri", "/admin", "STARTS_WITH")
    firewall = Firewall(
        [
            # the admin pages from outside the office are blocked
            Rule("admin-outside", 0, "block", all_of(admin, negate(ip_set(OFFICE)))),
            # large bodies or deletes are counted, then evaluation goes on
            Rule(
                "watch",
                1,
                "count",
                any_of(size_limit("body", 10), byte_match("method", "DELETE", "EXACTLY")),
            ),
        ]
    )
    assert verdict(firewall, path="/admin/x") == "block:admin-outside"
    assert verdict(firewall, path="/admin/x", client_ip="203.0.113.9") == "allow:Default_Action"
    assert verdict(firewall, path="/orders", body=b"x" * 11) == "allow:Default_Action"
    assert verdict(firewall, "DELETE", "/orders") == "allow:Default_Action"
    counters = firewall.counters()
    assert counters["admin-outside"]["blocked"] == 1
    assert counters["watch"]["counted"] == 2
    assert firewall.needs_body  # the size limit inside any_of reads the body


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        (lambda: all_of(rate_limit(100)), "needs at least two statements"),
        (
            lambda: all_of(rate_limit(100), ip_set(OFFICE)),
            "a rate limit cannot be inside all_of(), any_of() or negate()",
        ),
        (lambda: byte_match("uri", ""), "is not 1..200 bytes"),
        (lambda: byte_match("uri", "x" * 201), "is not 1..200 bytes"),
        (lambda: byte_match("cookie", "x"), "part='cookie' is not a request part"),
        (lambda: byte_match("uri", "x", "MATCHES"), "is not a WAF positional constraint"),  # type: ignore[arg-type]
        (lambda: byte_match("uri", "x", transforms=["CMD_LINE"]), "'CMD_LINE' is not applied"),
    ],
)
def test_what_waf_would_refuse_is_refused_at_declaration(statement: Any, problem: str) -> None:
    with pytest.raises(DeclarationError, match="firewall rule 'guard'") as error:
        Rule("guard", 0, "block", statement())
    assert problem in str(error.value)


def test_a_template_s_byte_match_and_logical_statements_become_the_same_rules(
    tmp_path: Path,
) -> None:
    stack = load(
        tmp_path,
        rule(
            "admin-outside",
            0,
            """
            AndStatement:
              Statements:
                - ByteMatchStatement:
                    SearchString: /admin
                    FieldToMatch: {UriPath: {}}
                    PositionalConstraint: STARTS_WITH
                    TextTransformations: [{Priority: 1, Type: LOWERCASE},
                                          {Priority: 0, Type: URL_DECODE}]
                - NotStatement:
                    Statement:
                      IPSetReferenceStatement: {Arn: !GetAtt Blocked.Arn}
            """,
        ),
        rule(
            "no-delete",
            1,
            """
            OrStatement:
              Statements:
                - ByteMatchStatement:
                    SearchStringBase64: REVMRVRF
                    FieldToMatch: {Method: {}}
                    PositionalConstraint: EXACTLY
                    TextTransformations: [{Priority: 0, Type: NONE}]
                - ByteMatchStatement:
                    SearchString: evil
                    FieldToMatch: {SingleHeader: {Name: User-Agent}}
                    PositionalConstraint: CONTAINS_WORD
                    TextTransformations: [{Priority: 0, Type: NONE}]
            """,
        ),
    )
    acl = stack.app.graph.firewall
    assert acl is not None
    assert acl.rules == (
        Rule(
            "admin-outside",
            0,
            "block",
            all_of(
                byte_match("uri", "/admin", "STARTS_WITH", ["URL_DECODE", "LOWERCASE"]),
                negate(ip_set(["203.0.113.0/24", "198.51.100.7/32"])),
            ),
        ),
        Rule(
            "no-delete",
            1,
            "block",
            any_of(
                byte_match("method", "DELETE", "EXACTLY", ["NONE"]),
                byte_match("header:User-Agent", "evil", "CONTAINS_WORD", ["NONE"]),
            ),
        ),
    )
    firewall = Firewall(acl.rules, acl.default_action)
    assert verdict(firewall, path="/%41dmin/x") == "block:admin-outside"
    assert verdict(firewall, path="/admin/x", client_ip="203.0.113.5") == "allow:Default_Action"
    assert verdict(firewall, "DELETE", "/x") == "block:no-delete"
    assert verdict(firewall, headers={"User-Agent": "so evil"}) == "block:no-delete"


def test_a_template_s_byte_match_guards_its_api_end_to_end(
    tmp_path: Path, sluiceway: Launcher
) -> None:
    load(
        tmp_path,
        rule(
            "no-evil",
            0,
            """
            NotStatement:
              Statement:
                NotStatement:
                  Statement:
                    ByteMatchStatement:
                      SearchString: evil
                      FieldToMatch: {QueryString: {}}
                      PositionalConstraint: CONTAINS_WORD
                      TextTransformations: [{Priority: 0, Type: URL_DECODE}]
            """,
        ),
    )
    (tmp_path / "src" / "app.py").write_text(
        "def handler(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n"
    )
    app = sluiceway.run(tmp_path / "template.yaml")
    allowed = app.http.get("/Prod", params={"q": "devilish"})
    assert (allowed.status_code, allowed.text) == (200, "ok")
    blocked = app.http.get("/Prod?q=so%20evil")
    assert blocked.status_code == 403
    assert blocked.json()["rule"] == "no-evil"
