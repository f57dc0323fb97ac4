"""A web ACL rule's parts as WAF names them: the action it takes and its statement
(rate-based, IP set, size constraint, byte match, managed rule group, and the logical And, Or
and Not of the inspecting ones), with the statements' constructors."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, TypeAlias

Action = Literal["block", "allow", "count"]
DefaultAction = Literal["allow", "block"]
RateKey: TypeAlias = Literal["ip", "forwarded_ip"] | tuple[Literal["header"], str]
FallbackBehavior = Literal["MATCH", "NO_MATCH"]
Position = Literal["FIRST", "LAST", "ANY"]
BytePosition = Literal["EXACTLY", "STARTS_WITH", "ENDS_WITH", "CONTAINS", "CONTAINS_WORD"]


ACTIONS: tuple[Action, ...] = ("block", "allow", "count")
BYTE_POSITIONS: tuple[BytePosition, ...] = (
    "EXACTLY",
    "STARTS_WITH",
    "ENDS_WITH",
    "CONTAINS",
    "CONTAINS_WORD",
)
# WAF's text transformations a byte match applies locally (`wafv2.transforms.TRANSFORMS`).
TEXT_TRANSFORMATIONS = (
    "NONE",
    "LOWERCASE",
    "URL_DECODE",
    "HTML_ENTITY_DECODE",
    "COMPRESS_WHITE_SPACE",
    "BASE64_DECODE",
)
DEFAULT_ACTIONS: tuple[DefaultAction, ...] = ("allow", "block")


@dataclass(frozen=True)
class ForwardedIPConfig:
    """Read the client address from a proxy's header instead of the connection.

    Off unless configured: anyone can send `X-Forwarded-For`, so trusting it without a proxy
    in front lets a client choose its own address. `position` picks the entry of a list
    (FIRST is the original client); `fallback_behavior` decides a missing or invalid header.
    """

    header_name: str = "X-Forwarded-For"
    fallback_behavior: FallbackBehavior = "NO_MATCH"
    position: Position = "FIRST"


@dataclass(frozen=True)
class RateBasedStatement:
    """WAF's rate-based statement; build it with `rate_limit`."""

    limit: int
    evaluation_window_sec: int
    key: RateKey
    forwarded_ip_config: ForwardedIPConfig | None
    scope_down_path_prefix: str | None


@dataclass(frozen=True)
class IPSetReferenceStatement:
    """A reference to an IP set (CIDR strings, as WAF stores them); build it with `ip_set`."""

    addresses: tuple[str, ...]
    forwarded_ip_config: ForwardedIPConfig | None


@dataclass(frozen=True)
class SizeConstraintStatement:
    """Matches when `part` is larger than `max_bytes` (WAF: ComparisonOperator GT)."""

    part: str
    max_bytes: int


@dataclass(frozen=True)
class ByteMatchStatement:
    """Matches when `part`, after `transforms` (in order), holds `search` at `position`
    (the search string itself is not transformed, as in WAF); build it with `byte_match`."""

    part: str
    search: str
    position: BytePosition
    transforms: tuple[str, ...]


@dataclass(frozen=True)
class AndStatement:
    """Matches when every one of `statements` matches; build it with `all_of`."""

    statements: tuple[Statement, ...]


@dataclass(frozen=True)
class OrStatement:
    """Matches when any one of `statements` matches; build it with `any_of`."""

    statements: tuple[Statement, ...]


@dataclass(frozen=True)
class NotStatement:
    """Matches when `statement` does not; build it with `negate`."""

    statement: Statement


@dataclass(frozen=True)
class ManagedRuleGroupStatement:
    """An AWS managed rule group by its AWS name; build it with `managed`."""

    name: str
    excluded_rules: tuple[str, ...]
    vendor_name: str = "AWS"


Statement: TypeAlias = (
    RateBasedStatement
    | IPSetReferenceStatement
    | SizeConstraintStatement
    | ByteMatchStatement
    | AndStatement
    | OrStatement
    | NotStatement
    | ManagedRuleGroupStatement
)


def rate_limit(
    limit: int,
    window: int = 300,
    key: RateKey = "ip",
    *,
    path_prefix: str | None = None,
    forwarded_ip_config: ForwardedIPConfig | None = None,
) -> RateBasedStatement:
    """More than `limit` requests from one key in the trailing `window` seconds match.

    `key` is "ip" (the connection's address), "forwarded_ip" (a proxy header, see
    `ForwardedIPConfig`) or ("header", name); a request without the key is not counted, as on
    WAF. `path_prefix` scopes the rule down to paths that start with it.
    """
    if key == "forwarded_ip" and forwarded_ip_config is None:
        forwarded_ip_config = ForwardedIPConfig()
    return RateBasedStatement(limit, window, key, forwarded_ip_config, path_prefix)


def ip_set(
    cidrs: Iterable[str] | str, *, forwarded_ip_config: ForwardedIPConfig | None = None
) -> IPSetReferenceStatement:
    """Requests whose client address is in one of `cidrs` (IPv4 or IPv6 CIDR notation)."""
    addresses = (cidrs,) if isinstance(cidrs, str) else tuple(cidrs)
    return IPSetReferenceStatement(addresses, forwarded_ip_config)


def size_limit(part: str, max_bytes: int) -> SizeConstraintStatement:
    """Requests whose `part` is longer than `max_bytes`: "body", "uri", "query", "headers"
    (any one header name or value) or "header:<name>"."""
    return SizeConstraintStatement(part, max_bytes)


def managed(name: str, excluded_rules: Iterable[str] | str = ()) -> ManagedRuleGroupStatement:
    """An AWS managed rule group; `excluded_rules` are counted instead of blocking."""
    excluded = (excluded_rules,) if isinstance(excluded_rules, str) else tuple(excluded_rules)
    return ManagedRuleGroupStatement(name, excluded)


def byte_match(
    part: str,
    search: str,
    position: BytePosition = "CONTAINS",
    transforms: Iterable[str] | str = (),
) -> ByteMatchStatement:
    """Requests whose `part` ("uri", "query", "body", "method" or "header:<name>"), after
    WAF's `transforms` ("LOWERCASE", "URL_DECODE", ...), holds `search` at `position`:
    "EXACTLY", "STARTS_WITH", "ENDS_WITH", "CONTAINS" or "CONTAINS_WORD"."""
    steps = (transforms,) if isinstance(transforms, str) else tuple(transforms)
    return ByteMatchStatement(part, search, position, steps)


def all_of(*statements: Statement) -> AndStatement:
    """Requests every one of `statements` matches (WAF's AndStatement)."""
    return AndStatement(statements)


def any_of(*statements: Statement) -> OrStatement:
    """Requests any one of `statements` matches (WAF's OrStatement)."""
    return OrStatement(statements)


def negate(statement: Statement) -> NotStatement:
    """Requests `statement` does not match (WAF's NotStatement)."""
    return NotStatement(statement)
