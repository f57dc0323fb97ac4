"""A WAFv2 rule's ``Statement`` from a template, mapped onto the statements the local firewall
evaluates (`sluiceway.firewall`): rate-based, IP set, size constraint, byte match, And, Or
and Not of those, AWS managed groups.

What the local firewall cannot evaluate raises `Unsupported` (the caller turns it into a
`TemplateError`, or skips a rule that only counts); a statement that can never match (an empty
IP set) raises `NeverMatches`.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from sluiceway.firewall import (
    MANAGED_RULE_GROUPS,
    ForwardedIPConfig,
    Statement,
    all_of,
    any_of,
    byte_match,
    ip_set,
    managed,
    negate,
    rate_limit,
    size_limit,
)
from sluiceway.templates import convert
from sluiceway.templates.build import Build
from sluiceway.templates.errors import TemplateError
from sluiceway.wafv2.statements import TEXT_TRANSFORMATIONS

IP_SET = "AWS::WAFv2::IPSet"
EVALUATED = (
    "RateBasedStatement, IPSetReferenceStatement, SizeConstraintStatement, "
    "ByteMatchStatement, AndStatement, OrStatement, NotStatement and "
    "ManagedRuleGroupStatement (" + ", ".join(MANAGED_RULE_GROUPS) + ")"
)
_FIX = (
    "remove the rule for the local run, set its Action to Count (a counting rule is skipped "
    "locally), or express it with the statements the local firewall evaluates: " + EVALUATED
)
# Why some statements have no local equivalent.
_WHY = {
    "GeoMatchStatement": "requests reach the local gateway from this machine, which has no "
    "country (use an IPSetReferenceStatement on the client addresses instead)",
    "AsnMatchStatement": "requests reach the local gateway from this machine, which has no "
    "autonomous system",
    "LabelMatchStatement": "labels are not emulated",
    "RuleGroupReferenceStatement": "rule groups (AWS::WAFv2::RuleGroup) are not emulated",
}


class Unsupported(Exception):
    """The local firewall has no equivalent: `problem` says what, `fix` what to do."""

    def __init__(self, problem: str, fix: str = _FIX) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix


class NeverMatches(Exception):
    """The statement matches no request (an IP set without addresses)."""


def kind_of(where: str, statement: dict[str, Any]) -> str:
    """The statement's one key (``RateBasedStatement``, ...)."""
    if len(statement) != 1:
        raise TemplateError(
            where,
            f"a Statement has exactly one statement type, not {sorted(statement) or 'none'}",
            "give one, e.g. RateBasedStatement: {Limit: 100, AggregateKeyType: IP}",
        )
    return next(iter(statement))


def statement_of(build: Build, where: str, raw: Any) -> Statement:
    """The local statement for a rule's resolved ``Statement``."""
    statement = convert.mapping(f"{where} Statement", raw)
    kind = kind_of(f"{where} Statement", statement)
    body = convert.mapping(f"{where} Statement {kind}", statement[kind])
    here = f"{where} Statement {kind}"
    if kind == "RateBasedStatement":
        return _rate(here, body)
    if kind == "IPSetReferenceStatement":
        return _ip_set(build, here, body)
    if kind == "SizeConstraintStatement":
        return _size(here, body)
    if kind == "ManagedRuleGroupStatement":
        return _managed(build, here, body)
    if kind == "ByteMatchStatement":
        return _byte_match(here, body)
    if kind in ("AndStatement", "OrStatement"):
        inner = convert.listing(f"{here} Statements", body.get("Statements"))
        statements = [
            statement_of(build, f"{here} Statements[{i}]", s) for i, s in enumerate(inner)
        ]
        return all_of(*statements) if kind == "AndStatement" else any_of(*statements)
    if kind == "NotStatement":
        return negate(statement_of(build, here, body.get("Statement")))
    why = _WHY.get(kind, "the local firewall does not evaluate it")
    raise Unsupported(f"{kind} cannot be evaluated locally: {why}")


def _rate(where: str, body: dict[str, Any]) -> Statement:
    limit = convert.integer(f"{where} Limit", body.get("Limit"))
    window = convert.integer(f"{where} EvaluationWindowSec", body.get("EvaluationWindowSec"), 300)
    key_type = str(body.get("AggregateKeyType", "IP")).upper()
    prefix = _scope_down(where, body.get("ScopeDownStatement"))
    if key_type == "IP":
        return rate_limit(limit, window, "ip", path_prefix=prefix)
    if key_type == "FORWARDED_IP":
        config = _forwarded(f"{where} ForwardedIPConfig", body.get("ForwardedIPConfig"), False)
        if config is None:
            raise TemplateError(
                where,
                "AggregateKeyType FORWARDED_IP needs a ForwardedIPConfig",
                "add ForwardedIPConfig: {HeaderName: X-Forwarded-For, FallbackBehavior: NO_MATCH}",
            )
        return rate_limit(
            limit, window, "forwarded_ip", path_prefix=prefix, forwarded_ip_config=config
        )
    if key_type == "CUSTOM_KEYS":
        keys = convert.listing(f"{where} CustomKeys", body.get("CustomKeys"))
        header = convert.mapping(f"{where} CustomKeys[0]", keys[0]).get("Header") if keys else None
        if len(keys) == 1 and isinstance(header, dict):
            _plain(f"{where} CustomKeys[0] Header", header.get("TextTransformations"))
            name = convert.text(f"{where} CustomKeys[0] Header Name", header.get("Name"))
            return rate_limit(limit, window, ("header", name), path_prefix=prefix)
        raise Unsupported(
            "of the CustomKeys, only one Header key (TextTransformations NONE) is evaluated "
            "locally",
            "aggregate by IP, FORWARDED_IP or a single header",
        )
    raise Unsupported(
        f"AggregateKeyType {key_type} is not evaluated locally",
        "aggregate by IP, FORWARDED_IP or CUSTOM_KEYS with one Header",
    )


def _scope_down(where: str, raw: Any) -> str | None:
    """A scope-down the local rate rule has: the URI path starting with a literal prefix."""
    if raw is None:
        return None
    statement = convert.mapping(f"{where} ScopeDownStatement", raw)
    match = statement.get("ByteMatchStatement")
    if len(statement) == 1 and isinstance(match, dict):
        field = convert.mapping(
            f"{where} ScopeDownStatement FieldToMatch", match.get("FieldToMatch")
        )
        transforms = _transforms(where, match.get("TextTransformations"))
        if (
            list(field) == ["UriPath"]
            and str(match.get("PositionalConstraint", "")).upper() == "STARTS_WITH"
            and set(transforms) <= {"NONE", "URL_DECODE"}
        ):
            return convert.text(
                f"{where} ScopeDownStatement SearchString", match.get("SearchString")
            )
    raise Unsupported(
        "a rate-based rule's ScopeDownStatement is evaluated locally only as a "
        "ByteMatchStatement on UriPath with PositionalConstraint STARTS_WITH "
        "(TextTransformations NONE or URL_DECODE)",
        "scope the rule down by path prefix for the local run, or drop the ScopeDownStatement",
    )


def _forwarded(where: str, raw: Any, position: bool) -> ForwardedIPConfig | None:
    if raw is None:
        return None
    config = convert.mapping(where, raw)
    header = convert.text(f"{where} HeaderName", config.get("HeaderName", "X-Forwarded-For"))
    fallback = str(config.get("FallbackBehavior", "NO_MATCH")).upper()
    place = str(config.get("Position", "FIRST")).upper() if position else "FIRST"
    return ForwardedIPConfig(header, fallback, place)  # type: ignore[arg-type]


def _ip_set(build: Build, where: str, body: dict[str, Any]) -> Statement:
    logical = build.origin(body.get("Arn"), f"{where} Arn", IP_SET)
    props = build.props(logical)
    here = build.where(logical, "Addresses")
    addresses = [convert.text(here, a) for a in convert.listing(here, props.get("Addresses"))]
    version = str(props.get("IPAddressVersion", "")).upper()
    wanted = {"IPV4": ".", "IPV6": ":"}.get(version)
    if wanted is None:
        raise TemplateError(
            build.where(logical, "IPAddressVersion"),
            f"is {version or 'missing'}",
            "use IPV4 or IPV6",
        )
    for address in addresses:
        if wanted not in address.split("/", 1)[0]:
            raise TemplateError(
                here,
                f"{address!r} is not an {version} address",
                "put IPv4 and IPv6 CIDRs in separate IP sets, as WAF requires",
            )
    if not addresses:
        raise NeverMatches(f"IP set '{logical}' has no addresses")
    config = _forwarded(f"{where} IPSetForwardedIPConfig", body.get("IPSetForwardedIPConfig"), True)
    return ip_set(addresses, forwarded_ip_config=config)


_SIZE_FIELDS = {"Body": "body", "UriPath": "uri", "QueryString": "query"}
_BYTE_FIELDS = {**_SIZE_FIELDS, "Method": "method"}


def _part(where: str, field: dict[str, Any], parts: dict[str, str]) -> str | None:
    """The local request part a ``FieldToMatch`` names (one of `parts`, or a SingleHeader);
    None when the local firewall does not inspect it."""
    if list(field) == ["SingleHeader"]:
        header = convert.mapping(f"{where} FieldToMatch SingleHeader", field["SingleHeader"])
        name = convert.text(f"{where} FieldToMatch SingleHeader Name", header.get("Name"))
        return f"header:{name}"
    return parts.get(next(iter(field), "")) if len(field) == 1 else None


def _byte_match(where: str, body: dict[str, Any]) -> Statement:
    field = convert.mapping(f"{where} FieldToMatch", body.get("FieldToMatch"))
    part = _part(where, field, _BYTE_FIELDS)
    if part is None:
        raise Unsupported(
            f"a byte match on {sorted(field)} is not evaluated locally",
            "match UriPath, QueryString, Body, Method or a SingleHeader",
        )
    if part == "body" and str(field["Body"].get("OversizeHandling", "CONTINUE")).upper() != (
        "CONTINUE"
    ):
        raise Unsupported(
            "a body byte match with OversizeHandling other than CONTINUE is not evaluated "
            "locally (the local firewall inspects a body's first 8 KB)",
            "use OversizeHandling CONTINUE",
        )
    if body.get("SearchStringBase64") is not None:
        encoded = convert.text(f"{where} SearchStringBase64", body["SearchStringBase64"])
        try:
            search = base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise TemplateError(
                f"{where} SearchStringBase64", "is not base64 of UTF-8 text", "encode the text"
            ) from None
    else:
        search = convert.text(f"{where} SearchString", body.get("SearchString"))
    listed = convert.listing(f"{where} TextTransformations", body.get("TextTransformations"))
    steps = sorted(listed, key=lambda t: t.get("Priority", 0) if isinstance(t, dict) else 0)
    transforms = _transforms(where, steps)
    unknown = [t for t in transforms if t not in TEXT_TRANSFORMATIONS]
    if unknown:
        raise Unsupported(
            f"text transformation {unknown[0]} is not applied locally",
            "use " + ", ".join(TEXT_TRANSFORMATIONS),
        )
    position = str(body.get("PositionalConstraint", "")).upper()
    return byte_match(part, search, position, transforms)  # type: ignore[arg-type]


def _size(where: str, body: dict[str, Any]) -> Statement:
    field = convert.mapping(f"{where} FieldToMatch", body.get("FieldToMatch"))
    part = _part(where, field, _SIZE_FIELDS)
    if part is None:
        raise Unsupported(
            f"a size constraint on {sorted(field)} is not evaluated locally",
            "constrain Body, UriPath, QueryString or a SingleHeader",
        )
    if (
        part == "body"
        and str(field["Body"].get("OversizeHandling", "CONTINUE")).upper() == "NO_MATCH"
    ):
        raise Unsupported(
            "a body size constraint with OversizeHandling NO_MATCH is not evaluated locally",
            "use OversizeHandling CONTINUE or MATCH",
        )
    _plain(where, body.get("TextTransformations"))
    size = convert.integer(f"{where} Size", body.get("Size"))
    operator = str(body.get("ComparisonOperator", "")).upper()
    if operator == "GT":
        return size_limit(part, size)
    if operator == "GE" and size >= 1:
        return size_limit(part, size - 1)
    raise Unsupported(
        f"ComparisonOperator {operator or 'missing'} is not evaluated locally (the local size "
        "rule matches parts longer than a size)",
        "use GT (or GE) to match requests whose part is too large",
    )


def _transforms(where: str, raw: Any) -> list[str]:
    return [
        str(convert.mapping(f"{where} TextTransformations[{i}]", t).get("Type", "")).upper()
        for i, t in enumerate(convert.listing(f"{where} TextTransformations", raw))
    ]


def _plain(where: str, raw: Any) -> None:
    if set(_transforms(where, raw)) - {"NONE"}:
        raise Unsupported(
            "text transformations other than NONE are not applied to sizes and keys locally",
            "use TextTransformations [{Priority: 0, Type: NONE}]",
        )


def _managed(build: Build, where: str, body: dict[str, Any]) -> Statement:
    vendor = str(body.get("VendorName", ""))
    name = convert.text(f"{where} Name", body.get("Name"))
    if vendor != "AWS" or name not in MANAGED_RULE_GROUPS:
        why = (
            "the Amazon IP reputation list is Amazon's threat intelligence"
            if name == "AWSManagedRulesAmazonIpReputationList"
            else f"{vendor}'s group {name} has no local equivalent"
        )
        raise Unsupported(
            f"managed rule group {name} cannot be evaluated locally: {why}",
            "use one of "
            + ", ".join(MANAGED_RULE_GROUPS)
            + ", or set OverrideAction to Count (a counting group is skipped locally)",
        )
    for key in ("ScopeDownStatement", "ManagedRuleGroupConfigs"):
        if body.get(key) is not None:
            raise Unsupported(
                f"a managed group's {key} is not evaluated locally", f"drop {key} locally"
            )
    if body.get("Version") is not None:
        build.note(f"{where}: Version is not emulated (the local group is sluiceway's own)")
    excluded = [
        convert.text(f"{where} ExcludedRules[{i}] Name", convert.mapping(where, r).get("Name"))
        for i, r in enumerate(convert.listing(f"{where} ExcludedRules", body.get("ExcludedRules")))
    ]
    overrides = convert.listing(f"{where} RuleActionOverrides", body.get("RuleActionOverrides"))
    for i, raw in enumerate(overrides):
        here = f"{where} RuleActionOverrides[{i}]"
        override = convert.mapping(here, raw)
        action = list(convert.mapping(f"{here} ActionToUse", override.get("ActionToUse")))
        rule = convert.text(f"{here} Name", override.get("Name"))
        if action == ["Count"]:
            excluded.append(rule)
        elif action != ["Block"]:
            raise Unsupported(
                f"overriding {rule} with {action} is not evaluated locally",
                "override managed rules with Count only (their own action is Block)",
            )
    return managed(name, excluded)
