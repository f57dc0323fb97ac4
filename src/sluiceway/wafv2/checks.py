"""A rule's declaration checked as WAFv2 checks it: names, priorities, actions, and each
statement's limits (rate limits and windows, CIDRs, size parts, byte matches, the logical
statements' nesting, managed groups and their rules)."""

from __future__ import annotations

import ipaddress
import re

from sluiceway.core.errors import DeclarationError
from sluiceway.wafv2.managed import MANAGED_RULE_GROUPS
from sluiceway.wafv2.request import BODY_INSPECTION_LIMIT, DEFAULT_ACTION_RULE
from sluiceway.wafv2.statements import (
    ACTIONS,
    BYTE_POSITIONS,
    TEXT_TRANSFORMATIONS,
    Action,
    AndStatement,
    ByteMatchStatement,
    ForwardedIPConfig,
    IPSetReferenceStatement,
    ManagedRuleGroupStatement,
    NotStatement,
    OrStatement,
    RateBasedStatement,
    SizeConstraintStatement,
    Statement,
)

EVALUATION_WINDOWS = (60, 120, 300, 600)
RATE_LIMIT_MIN, RATE_LIMIT_MAX = 10, 2_000_000_000
SIZE_MAX = 21_474_836_480  # SizeConstraintStatement.Size's upper bound
IP_SET_MAX_ADDRESSES = 10_000
RULE_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")
SIZE_PARTS = ("body", "uri", "query", "headers")  # and "header:<name>"
BYTE_PARTS = ("uri", "query", "body", "method")  # and "header:<name>"
SEARCH_STRING_MAX = 200  # a ByteMatchStatement's SearchString, in bytes
TRANSFORMATIONS_MAX = 10  # per statement
NESTING_MAX = 20  # how deep the local checks follow And/Or/Not (WAF's own limit is its WCUs)
# An HTTP header name (RFC 9110 token). Not imported from `apigateway.validation`: the gateway
# sits above the firewall in the layers (pyproject's import-linter contracts), so importing it
# here would break them.
HEADER = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}")


def check_rule(name: str, priority: int, action: Action, statement: Statement) -> None:
    """Refuse a rule WAFv2 would refuse (`Rule` calls this with its fields when built)."""
    if not isinstance(name, str) or not RULE_NAME.fullmatch(name):
        raise DeclarationError(
            f"firewall rule {name!r}",
            "a rule name is 1-128 letters, digits, '-' or '_'",
            "rename it, e.g. 'per-ip-limit'",
        )
    where = f"firewall rule '{name}'"
    if name == DEFAULT_ACTION_RULE:
        raise DeclarationError(where, "the name is WAF's for the default action", "rename it")
    if isinstance(priority, bool) or not isinstance(priority, int) or priority < 0:
        raise DeclarationError(
            where, f"priority={priority!r} is not a whole number >= 0", "e.g. priority=10"
        )
    if action not in ACTIONS:
        raise DeclarationError(
            where, f"action={action!r} is not a WAF action", "use 'block', 'allow' or 'count'"
        )
    match statement:
        case RateBasedStatement():
            _check_rate(where, statement)
        case ManagedRuleGroupStatement():
            _check_managed(where, action, statement)
        case _:
            _check_inspecting(where, statement, 0)


def _check_inspecting(where: str, statement: object, depth: int) -> None:
    """A statement that inspects the request (what And, Or and Not may hold)."""
    match statement:
        case IPSetReferenceStatement():
            _check_ip_set(where, statement)
        case SizeConstraintStatement():
            _check_size(where, statement)
        case ByteMatchStatement():
            _check_byte_match(where, statement)
        case AndStatement() | OrStatement():
            kind = "all_of" if isinstance(statement, AndStatement) else "any_of"
            if not isinstance(statement.statements, tuple) or len(statement.statements) < 2:
                raise DeclarationError(
                    where, f"{kind}() needs at least two statements", f"e.g. {kind}(a, b)"
                )
            for inner in statement.statements:
                _check_nested(where, inner, depth + 1)
        case NotStatement():
            _check_nested(where, statement.statement, depth + 1)
        case _:
            raise DeclarationError(
                where,
                f"{statement!r} is not a firewall statement",
                "use rate_limit(), ip_set(), size_limit(), byte_match(), all_of(), any_of(), "
                "negate() or managed()",
            )


def _check_nested(where: str, statement: object, depth: int) -> None:
    if isinstance(statement, RateBasedStatement | ManagedRuleGroupStatement):
        kind = "a rate limit" if isinstance(statement, RateBasedStatement) else "a managed group"
        raise DeclarationError(
            where,
            f"{kind} cannot be inside all_of(), any_of() or negate() (WAF nests neither)",
            "make it a rule of its own",
        )
    if depth > NESTING_MAX:
        raise DeclarationError(
            where, f"statements nested more than {NESTING_MAX} deep", "flatten the conditions"
        )
    _check_inspecting(where, statement, depth)


def _check_byte_match(where: str, statement: ByteMatchStatement) -> None:
    _check_part(where, statement.part, BYTE_PARTS)
    search = statement.search
    if not isinstance(search, str) or not 1 <= len(search.encode()) <= SEARCH_STRING_MAX:
        raise DeclarationError(
            where,
            f"search={search!r} is not 1..{SEARCH_STRING_MAX} bytes of text",
            "give the text to look for, e.g. '/admin'",
        )
    if statement.position not in BYTE_POSITIONS:
        raise DeclarationError(
            where,
            f"position={statement.position!r} is not a WAF positional constraint",
            "use " + ", ".join(BYTE_POSITIONS),
        )
    transforms = statement.transforms
    unknown = [t for t in transforms if t not in TEXT_TRANSFORMATIONS]
    if unknown or len(transforms) > TRANSFORMATIONS_MAX:
        raise DeclarationError(
            where,
            f"transforms={list(transforms)!r}: "
            + (f"{unknown[0]!r} is not applied locally" if unknown else "more than 10"),
            "use at most 10 of " + ", ".join(TEXT_TRANSFORMATIONS),
        )


def _check_part(where: str, part: object, known: tuple[str, ...]) -> None:
    header = (
        part[len("header:") :] if isinstance(part, str) and part.startswith("header:") else None
    )
    if part not in known and (header is None or not HEADER.fullmatch(header)):
        raise DeclarationError(
            where,
            f"part={part!r} is not a request part",
            "use " + ", ".join(repr(k) for k in known) + " or 'header:<name>'",
        )


def _check_rate(where: str, statement: RateBasedStatement) -> None:
    limit = statement.limit
    if isinstance(limit, bool) or not isinstance(limit, int):
        limit = -1
    if not RATE_LIMIT_MIN <= limit <= RATE_LIMIT_MAX:
        raise DeclarationError(
            where,
            f"limit={statement.limit!r} is outside {RATE_LIMIT_MIN}..{RATE_LIMIT_MAX:,} requests",
            f"choose a limit of at least {RATE_LIMIT_MIN} (WAF's minimum) per window",
        )
    if statement.evaluation_window_sec not in EVALUATION_WINDOWS:
        raise DeclarationError(
            where,
            f"window={statement.evaluation_window_sec!r} is not a WAF evaluation window",
            "use 60, 120, 300 or 600 seconds",
        )
    _check_rate_key(where, statement.key, statement.forwarded_ip_config)
    prefix = statement.scope_down_path_prefix
    if prefix is not None and (
        not isinstance(prefix, str) or not prefix.startswith("/") or re.search(r"[\s?#]", prefix)
    ):
        raise DeclarationError(
            where, f"path_prefix={prefix!r} is not a path", "start it with '/', e.g. '/orders'"
        )


def _check_rate_key(where: str, key: object, config: ForwardedIPConfig | None) -> None:
    if key == "forwarded_ip":
        _check_forwarded(where, config)
        if config is not None and (config.fallback_behavior, config.position) != (
            "NO_MATCH",
            "FIRST",
        ):
            raise DeclarationError(
                where,
                "a rate limit by forwarded IP uses the header's first address and skips "
                "requests without one",
                "use ForwardedIPConfig(header_name=..., fallback_behavior='NO_MATCH')",
            )
        return
    if config is not None:
        raise DeclarationError(
            where, "forwarded_ip_config needs key='forwarded_ip'", "set key='forwarded_ip'"
        )
    if key == "ip":
        return
    if (
        isinstance(key, tuple)
        and len(key) == 2
        and key[0] == "header"
        and isinstance(key[1], str)
        and HEADER.fullmatch(key[1])
    ):
        return
    raise DeclarationError(
        where,
        f"key={key!r} is not a rate-limit key",
        "use 'ip', 'forwarded_ip' or ('header', 'X-Api-Key')",
    )


def _check_forwarded(where: str, config: ForwardedIPConfig | None) -> None:
    if config is None:
        return
    if not isinstance(config, ForwardedIPConfig):
        raise DeclarationError(
            where, f"{config!r} is not a ForwardedIPConfig", "pass ForwardedIPConfig(...)"
        )
    if not isinstance(config.header_name, str) or not HEADER.fullmatch(config.header_name):
        raise DeclarationError(
            where,
            f"header_name={config.header_name!r} is not a header name",
            "e.g. 'X-Forwarded-For'",
        )
    if config.fallback_behavior not in ("MATCH", "NO_MATCH"):
        raise DeclarationError(
            where,
            f"fallback_behavior={config.fallback_behavior!r} is unknown",
            "use 'MATCH' or 'NO_MATCH'",
        )
    if config.position not in ("FIRST", "LAST", "ANY"):
        raise DeclarationError(
            where, f"position={config.position!r} is unknown", "use 'FIRST', 'LAST' or 'ANY'"
        )


def _check_ip_set(where: str, statement: IPSetReferenceStatement) -> None:
    if not 1 <= len(statement.addresses) <= IP_SET_MAX_ADDRESSES:
        raise DeclarationError(
            where,
            f"an IP set holds 1..{IP_SET_MAX_ADDRESSES:,} addresses, "
            f"not {len(statement.addresses)}",
            "list the CIDRs to match, e.g. ['203.0.113.0/24']",
        )
    for cidr in statement.addresses:
        _check_cidr(where, cidr)
    _check_forwarded(where, statement.forwarded_ip_config)


def _check_cidr(where: str, cidr: object) -> None:
    if not isinstance(cidr, str) or "/" not in cidr:
        raise DeclarationError(
            where,
            f"{cidr!r} is not in CIDR notation",
            "add the prefix length, e.g. '203.0.113.7/32' or '2001:db8::1/128'",
        )
    try:
        network = ipaddress.ip_network(cidr)
    except ValueError as error:
        base = cidr.split("/", 1)[0]
        hint = ""
        try:
            hint = f"; did you mean '{ipaddress.ip_network(cidr, strict=False)}'?"
        except ValueError:
            hint = f" ('{base}' is not an IPv4 or IPv6 address)"
        raise DeclarationError(where, f"{cidr!r} is not a valid CIDR{hint}", str(error)) from None
    if network.prefixlen == 0:
        raise DeclarationError(
            where, f"{cidr!r} matches every address (WAF refuses /0)", "use the default action"
        )


def _check_size(where: str, statement: SizeConstraintStatement) -> None:
    part = statement.part
    _check_part(where, part, SIZE_PARTS)
    high = BODY_INSPECTION_LIMIT if part == "body" else SIZE_MAX
    size = statement.max_bytes
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= high:
        fix = f"choose max_bytes between 0 and {high:,}"
        if part == "body":
            fix += (
                " (WAF inspects only a body's first 8 KB; larger bodies are refused by the "
                "route's own size limit)"
            )
        raise DeclarationError(where, f"max_bytes={size!r} is outside 0..{high:,}", fix)


def _check_managed(where: str, action: Action, statement: ManagedRuleGroupStatement) -> None:
    if statement.vendor_name != "AWS" or statement.name not in MANAGED_RULE_GROUPS:
        if statement.name == "AWSManagedRulesAmazonIpReputationList":
            raise DeclarationError(
                where,
                "the Amazon IP reputation list is Amazon's threat intelligence and cannot be "
                "evaluated locally",
                "block known-bad ranges with ip_set([...]) instead",
            )
        raise DeclarationError(
            where,
            f"managed rule group {statement.name!r} is not one sluiceway evaluates",
            "use one of " + ", ".join(MANAGED_RULE_GROUPS),
        )
    known = MANAGED_RULE_GROUPS[statement.name]
    for name in statement.excluded_rules:
        if name not in known:
            raise DeclarationError(
                where,
                f"{statement.name} has no rule {name!r}",
                "exclude one of " + ", ".join(known),
            )
    if action == "allow":
        raise DeclarationError(
            where,
            "a managed rule group has no Allow action (its rules block)",
            "use action='block' to apply them or 'count' to only observe",
        )
