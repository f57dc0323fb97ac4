"""AWS WAF (v2) for the local gateway: the declarations and a pure, in-memory evaluator.

    from sluiceway.firewall import Rule, managed, rate_limit

    rules = [
        Rule("per-ip", priority=0, action="block", statement=rate_limit(100, window=60)),
        Rule("common", priority=10, action="block",
             statement=managed("AWSManagedRulesCommonRuleSet")),
    ]

The declarations mirror a WAFv2 web ACL (rule names, priorities, Block/Allow/Count, statement
kinds, managed groups and their sub-rules by AWS's names), so the AWS renderer maps them one to
one. `Firewall` evaluates them the way WAF does: rules by ascending priority, the first
terminating action wins, Count records and continues, the default action applies otherwise.

Where WAF leaves room, or cannot be copied, this module decides so, and says why here:

* Body inspection. WAF (regional web ACLs, which protect API Gateway) inspects only the first
  8 KB of a body. Content rules (SQLi, XSS, ...) here inspect the same first 8 KB, so a local
  verdict is the verdict AWS would give. Size rules use the full length (the read body): a
  `size_limit("body", n)` therefore accepts n <= 8,192 only, the range in which a full-length
  comparison and WAF's (body size constraint, oversize handling MATCH) agree exactly.
* Rate windows. WAF counts over the trailing window and re-evaluates about every 10 seconds.
  Here each request is counted at once in 60 buckets per key (1 s buckets for a 60 s window,
  10 s for 600 s), so the trailing window is exact to one bucket and memory per key is fixed.
  At most `max_keys_per_rule` keys are tracked (WAF's documented 10,000 instances); idle keys
  are dropped first, then the least recently seen.
* Two phases. The gateway reads a body only when a rule inspects one (`needs_body`). Rules
  before the first body-inspecting rule run on the head (`evaluate_head`); that rule and all
  after it run once the body is read (`evaluate_body`), so priority order and counters stay
  exact without state kept between the two calls.
* Managed groups. The rules are heuristics in the spirit of AWS's (whose SQLi and XSS checks
  are libinjection-like), applied after WAF's text transformations (URL-decode, repeated;
  HTML-entity and JS-escape decode; lowercase; comments replaced; whitespace compressed).
  `excluded_rules` keeps WAF's meaning: an excluded rule still matches and is counted, it just
  never blocks. `AWSManagedRulesAmazonIpReputationList` is refused: it is Amazon's threat
  intelligence, which has no honest local equivalent.
* Host_localhost_HEADER. The local gateway *is* localhost; on AWS a client never reaches API
  Gateway with `Host: localhost`. Hosts passed as `gateway_hosts` (the gateway's own names,
  like API Gateway's domain on AWS) do not match the rule.
"""

from __future__ import annotations

import html
import ipaddress
import re
from abc import ABC, abstractmethod
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias, assert_never

from sluiceway.core.clock import Clock, SystemClock
from sluiceway.core.errors import DeclarationError

__all__ = [
    # declaring
    "ForwardedIPConfig",
    "IPSetReferenceStatement",
    "MANAGED_RULE_GROUPS",
    "ManagedRuleGroupStatement",
    "RateBasedStatement",
    "Rule",
    "SizeConstraintStatement",
    "Statement",
    "WebACL",
    "ip_set",
    "managed",
    "rate_limit",
    "size_limit",
    "web_acl",
    # evaluating
    "DEFAULT_ACTION_RULE",
    "Firewall",
    "RATE_LIMIT_MAX_KEYS",
    "Verdict",
    "WebRequest",
]

Action = Literal["block", "allow", "count"]
DefaultAction = Literal["allow", "block"]
RateKey: TypeAlias = Literal["ip", "forwarded_ip"] | tuple[Literal["header"], str]
FallbackBehavior = Literal["MATCH", "NO_MATCH"]
Position = Literal["FIRST", "LAST", "ANY"]

ACTIONS: tuple[Action, ...] = ("block", "allow", "count")
DEFAULT_ACTIONS: tuple[DefaultAction, ...] = ("allow", "block")
EVALUATION_WINDOWS = (60, 120, 300, 600)
RATE_LIMIT_MIN, RATE_LIMIT_MAX = 10, 2_000_000_000
RATE_LIMIT_MAX_KEYS = 10_000  # WAF rate-limits at most 10,000 aggregation instances per rule
BODY_INSPECTION_LIMIT = 8_192  # what a regional web ACL inspects of a body
SIZE_MAX = 21_474_836_480  # SizeConstraintStatement.Size's upper bound
IP_SET_MAX_ADDRESSES = 10_000
DEFAULT_ACTION_RULE = "Default_Action"  # WAF's terminatingRuleId when no rule terminated
RULE_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")
SIZE_PARTS = ("body", "uri", "query", "headers")  # and "header:<name>"
# An HTTP header name (RFC 9110 token). Not imported from `validation`: that module imports
# `specs`, which imports this one, so importing it here would be a cycle.
HEADER = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}")


# --- declarations -----------------------------------------------------------------------


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
class ManagedRuleGroupStatement:
    """An AWS managed rule group by its AWS name; build it with `managed`."""

    name: str
    excluded_rules: tuple[str, ...]
    vendor_name: str = "AWS"


Statement: TypeAlias = (
    RateBasedStatement
    | IPSetReferenceStatement
    | SizeConstraintStatement
    | ManagedRuleGroupStatement
)


@dataclass(frozen=True)
class Rule:
    """One web ACL rule: checked when declared, so a bad rule fails at import.

        Rule("per-ip", priority=0, action="block", statement=rate_limit(100, window=60))

    For a managed group, "block" applies the group's own actions (all Block) and "count"
    overrides them to Count (WAF's OverrideAction); "allow" does not exist there.
    """

    name: str
    priority: int
    action: Action
    statement: Statement

    def __post_init__(self) -> None:
        _check_rule(self)


@dataclass(frozen=True)
class WebACL:
    """Rules in evaluation order and the action when none terminates."""

    rules: tuple[Rule, ...]
    default_action: DefaultAction


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


def web_acl(rules: Iterable[Rule], default: str = "allow") -> WebACL:
    """Check a rule list as WAF checks a web ACL and sort it by priority."""
    rules = tuple(rules)
    for rule in rules:
        if not isinstance(rule, Rule):
            raise DeclarationError(
                "firewall", f"{rule!r} is not a Rule", "pass Rule(name, priority, action, ...)"
            )
    _check_unique(rules)
    if default not in DEFAULT_ACTIONS:
        raise DeclarationError(
            "firewall",
            f"default={default!r} is not a web ACL default action",
            "use 'allow' or 'block'",
        )
    ordered = tuple(sorted(rules, key=lambda r: r.priority))
    return WebACL(ordered, default)


def _check_unique(rules: Sequence[Rule]) -> None:
    names: set[str] = set()
    priorities: dict[int, str] = {}
    for rule in rules:
        if rule.name in names:
            raise DeclarationError(
                f"firewall rule '{rule.name}'",
                "two rules have this name",
                "give every rule its own name; WAF's metrics and logs tell rules apart by it",
            )
        names.add(rule.name)
        other = priorities.setdefault(rule.priority, rule.name)
        if other != rule.name:
            raise DeclarationError(
                f"firewall rule '{rule.name}'",
                f"rule '{other}' has priority={rule.priority} too",
                "give every rule its own priority; WAF evaluates rules by ascending priority",
            )


# --- declaration checks -----------------------------------------------------------------


def _check_rule(rule: Rule) -> None:
    if not isinstance(rule.name, str) or not RULE_NAME.fullmatch(rule.name):
        raise DeclarationError(
            f"firewall rule {rule.name!r}",
            "a rule name is 1-128 letters, digits, '-' or '_'",
            "rename it, e.g. 'per-ip-limit'",
        )
    where = f"firewall rule '{rule.name}'"
    if rule.name == DEFAULT_ACTION_RULE:
        raise DeclarationError(where, "the name is WAF's for the default action", "rename it")
    if isinstance(rule.priority, bool) or not isinstance(rule.priority, int) or rule.priority < 0:
        raise DeclarationError(
            where, f"priority={rule.priority!r} is not a whole number >= 0", "e.g. priority=10"
        )
    if rule.action not in ACTIONS:
        raise DeclarationError(
            where, f"action={rule.action!r} is not a WAF action", "use 'block', 'allow' or 'count'"
        )
    match rule.statement:
        case RateBasedStatement():
            _check_rate(where, rule.statement)
        case IPSetReferenceStatement():
            _check_ip_set(where, rule.statement)
        case SizeConstraintStatement():
            _check_size(where, rule.statement)
        case ManagedRuleGroupStatement():
            _check_managed(where, rule.action, rule.statement)
        case _:
            raise DeclarationError(
                where,
                f"{rule.statement!r} is not a firewall statement",
                "use rate_limit(), ip_set(), size_limit() or managed()",
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
    header = (
        part[len("header:") :] if isinstance(part, str) and part.startswith("header:") else None
    )
    if part not in SIZE_PARTS and (header is None or not HEADER.fullmatch(header)):
        raise DeclarationError(
            where,
            f"part={part!r} is not a request part",
            "use 'body', 'uri', 'query', 'headers' or 'header:<name>'",
        )
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


# --- requests and verdicts --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebRequest:
    """What the gateway knows of a request before routing it.

    `path` and `query` as sent (percent-encoded; ASGI's `raw_path` and `query_string`),
    `headers` with lower-case names, `body` None until read.
    """

    method: str
    path: str
    query: str = ""
    headers: Sequence[tuple[str, str]] = ()
    client_ip: str = ""
    body: bytes | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The firewall's decision: `rule` is the terminating rule (`group-rule:SubRule` for a
    managed rule, `Default_Action` when none terminated), `label` AWS's label for it."""

    action: DefaultAction
    rule: str
    label: str | None = None

    @property
    def blocked(self) -> bool:
        return self.action == "block"

    def body(self) -> dict[str, str]:
        """The JSON body of the 403 the gateway answers a blocked request with."""
        if not self.blocked:
            raise ValueError("an allowed request has no block response")
        return {
            "message": f"Forbidden: blocked by firewall rule {self.rule}",
            "code": "FirewallBlocked",
            "rule": self.rule,
        }


# --- text transformations ---------------------------------------------------------------

_DECODE_ROUNDS = 3  # %2527 -> %27 -> ' ; a third round catches one more layer, then stop
_IIS_UNICODE = re.compile(r"%u([0-9a-fA-F]{4})")
_OVERLONG_UTF8 = re.compile(r"%[cC]([01])%([89abAB][0-9a-fA-F])")  # %c0%af is '/'
# \uHHHH, \xHH and the escaped '/', quotes and backslash: JSON wraps an attack's quotes in
# backslashes ({"id": "1\" or \"\"=\""}), and SQL or HTML sees the bare quote.
_JS_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|([/\\\"']))")
_VERSIONED_COMMENT = re.compile(r"/\*!\d*(.*?)\*/", re.S)  # MySQL runs what is inside
_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_PERCENT = re.compile(r"%([0-9a-fA-F]{2})")


def _transform(text: str, *, form: bool) -> str:
    """Apply WAF's text transformations so encoded attacks look like plain ones: URL decode
    (repeated; `form` also turns '+' into a space), HTML-entity and JS-escape decode, remove
    NULs, lowercase, replace SQL comments with a space, compress whitespace."""
    for _ in range(_DECODE_ROUNDS):
        decoded = _decode_once(text, form)
        if decoded == text:
            break
        text = decoded
    if "\x00" in text:
        text = text.replace("\x00", "")
    text = text.lower()
    if "/*" in text:
        text = _COMMENT.sub(" ", _VERSIONED_COMMENT.sub(r" \1 ", text))
    if "  " in text or "\n" in text or "\t" in text or "\r" in text or "\x0b" in text:
        text = " ".join(text.split())
    return text


def _decode_once(text: str, form: bool) -> str:
    if "%" in text:
        text = _url_decode(text, form)
    elif form and "+" in text:
        text = text.replace("+", " ")
    if "&" in text:
        text = html.unescape(text)
    if "\\" in text:
        text = _JS_ESCAPE.sub(_js_char, text)
    return text


def _url_decode(text: str, form: bool) -> str:
    if "%u" in text or "%U" in text:
        text = _IIS_UNICODE.sub(lambda m: chr(int(m.group(1), 16)), text)
    if "%c" in text or "%C" in text:
        text = _OVERLONG_UTF8.sub(
            lambda m: chr(int(m.group(1)) << 6 | (int(m.group(2), 16) & 0x3F)), text
        )
    if form:
        text = text.replace("+", " ")
    # Decode byte by byte (latin-1) then as UTF-8 where that is valid: unlike unquote(), a
    # stray invalid sequence does not turn its neighbours into U+FFFD.
    raw = _PERCENT.sub(lambda m: chr(int(m.group(1), 16)), text)
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return raw


def _js_char(match: re.Match[str]) -> str:
    code = match.group(1) or match.group(2)
    return chr(int(code, 16)) if code else match.group(3)


# --- the parts of a request, transformed once per request -------------------------------

_WORD = re.compile(r"[a-z_][a-z0-9_]*")
# Words, numbers and the punctuation attacks are made of: a text's tokens, as a set, answer
# "could this pattern match here?" for most patterns in one C-level set test.
_TOKEN = re.compile(r"[a-z_][a-z0-9_]*|\d+|\.\.|://|--|/\*|\|\||&&|@@|\$\{|[<'\"`;#=]")


class _Text:
    """One transformed text and the set of its tokens.

    Most patterns need a word or a punctuation token to be present before they can match;
    testing that first is far cheaper than running the pattern over clean text, so the
    tokens are computed once per text and shared by every rule that inspects it.
    """

    __slots__ = ("text", "tokens")

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = frozenset(_TOKEN.findall(text))


_Address: TypeAlias = tuple[int, int]  # (IP version, address as an integer)


class _View:
    """A request as the rules inspect it; each part is computed on first use and kept."""

    __slots__ = (
        "_body_text",
        "_client",
        "_client_parsed",
        "_cookies",
        "_decoded_path",
        "_header_text",
        "_headers",
        "_path",
        "_query",
        "_query_args",
        "body",
        "gateway_hosts",
        "request",
    )

    def __init__(
        self, request: WebRequest, body: bytes | None, gateway_hosts: frozenset[str]
    ) -> None:
        self.request = request
        self.body = body
        self.gateway_hosts = gateway_hosts
        self._headers: dict[str, str] | None = None
        self._client: _Address | None = None
        self._client_parsed = False
        self._decoded_path: str | None = None
        self._path: tuple[_Text, ...] | None = None
        self._query: tuple[_Text, ...] | None = None
        self._query_args: tuple[_Text, ...] | None = None
        self._cookies: tuple[_Text, ...] | None = None
        self._header_text: tuple[_Text, ...] | None = None
        self._body_text: tuple[_Text, ...] | None = None

    def headers(self) -> dict[str, str]:
        """Headers by (lower-case) name; repeats joined as HTTP joins them."""
        if self._headers is None:
            merged: dict[str, str] = {}
            for name, value in self.request.headers:
                if name in merged:
                    merged[name] += ("; " if name == "cookie" else ", ") + value
                else:
                    merged[name] = value
            self._headers = merged
        return self._headers

    def client(self) -> _Address | None:
        if not self._client_parsed:
            self._client = _parse_address(self.request.client_ip)
            self._client_parsed = True
        return self._client

    def decoded_path(self) -> str:
        if self._decoded_path is None:
            path = self.request.path
            self._decoded_path = _url_decode(path, False) if "%" in path else path
        return self._decoded_path

    def uri_path(self) -> tuple[_Text, ...]:
        if self._path is None:
            self._path = (_Text(_transform(self.request.path, form=False)),)
        return self._path

    def query_string(self) -> tuple[_Text, ...]:
        if self._query is None:
            query = self.request.query
            self._query = (_Text(_transform(query, form=True)),) if query else ()
        return self._query

    def query_arguments(self) -> tuple[_Text, ...]:
        """The values of all query arguments, each on its own (WAF's AllQueryArguments)."""
        if self._query_args is None:
            query = self.request.query
            values = (pair.partition("=")[2] for pair in query.split("&")) if query else ()
            self._query_args = tuple(_Text(_transform(v, form=True)) for v in values if v)
        return self._query_args

    def cookies(self) -> tuple[_Text, ...]:
        if self._cookies is None:
            header = self.headers().get("cookie", "")
            values = (c.partition("=")[2].strip() for c in header.split(";")) if header else ()
            self._cookies = tuple(_Text(_transform(v, form=False)) for v in values if v)
        return self._cookies

    def header_text(self) -> tuple[_Text, ...]:
        """All header names and values as one text: Log4Shell and Java RCE rules inspect
        both, and one transformation is cheaper than one per header."""
        if self._header_text is None:
            lines = "\n".join(f"{name}: {value}" for name, value in self.request.headers)
            self._header_text = (_Text(_transform(lines, form=False)),)
        return self._header_text

    def body_text(self) -> tuple[_Text, ...]:
        if self._body_text is None:
            body = self.body or b""
            text = body[:BODY_INSPECTION_LIMIT].decode("utf-8", "replace")
            self._body_text = (_Text(_transform(text, form=True)),) if text else ()
        return self._body_text


def _parse_address(text: str) -> _Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # a dual-stack socket's view of an IPv4 client
    return address.version, int(address)


# --- detection: a cheap necessary condition, then the precise pattern --------------------

Part: TypeAlias = Callable[[_View], tuple[_Text, ...]]
Matcher: TypeAlias = Callable[[_View], bool]


@dataclass(frozen=True, slots=True)
class _Detector:
    """`confirm` decides, but only a text that shares a token with `tokens` or contains one
    of `strings` can match: that gate is tested inline, so clean text costs no call."""

    tokens: frozenset[str]
    strings: tuple[str, ...]
    confirm: Callable[[_Text], bool]

    def __call__(self, text: _Text) -> bool:
        if self.tokens.isdisjoint(text.tokens) and not any(s in text.text for s in self.strings):
            return False
        return self.confirm(text)


# A clue is a necessary condition for a pattern: one of its tokens (see _TOKEN) is in the
# text, or one of its strings (for what tokens cannot express, like a prefix of a word).
# Clues are data, not functions, so testing one costs a set test and no call.
_Clue: TypeAlias = tuple[frozenset[str], tuple[str, ...]]
_Check: TypeAlias = tuple[tuple[_Clue, ...], re.Pattern[str]]


def _clue(tokens: str, strings: Sequence[str] = ()) -> _Clue:
    """`tokens` space-separated."""
    return frozenset(tokens.split()), tuple(strings)


def _check(pattern: re.Pattern[str], *clues: _Clue) -> _Check:
    """`pattern`, tried only when every clue is present (put the rarest first)."""
    return clues, pattern


def _present(clue: _Clue, text: _Text) -> bool:
    tokens, strings = clue
    if not tokens.isdisjoint(text.tokens):
        return True
    value = text.text
    return any(string in value for string in strings)


def _checks(*checks: _Check) -> _Detector:
    """Match when a check's clues are present and its pattern then matches. The first
    clues of all checks, together, are the detector's gate: clean text fails it at once."""

    def confirm(text: _Text) -> bool:
        for clues, pattern in checks:
            if all(_present(clue, text) for clue in clues) and pattern.search(text.text):
                return True
        return False

    return _Detector(
        frozenset().union(*(clues[0][0] for clues, _ in checks)),
        tuple(string for clues, _ in checks for string in clues[0][1]),
        confirm,
    )


def _inspecting(part: Part, detector: _Detector) -> Matcher:
    # Plain loops with the gate inline, not any(<generator>) or a call per text: this runs
    # ~30 times per request, mostly over text the gate clears.
    tokens, strings, confirm = detector.tokens, detector.strings, detector.confirm

    def matches(view: _View) -> bool:
        for text in part(view):  # noqa: SIM110
            if not tokens.isdisjoint(text.tokens) and confirm(text):
                return True
        return False

    def matches_with_strings(view: _View) -> bool:
        for text in part(view):  # noqa: SIM110
            if detector(text):
                return True
        return False

    return matches_with_strings if strings else matches


# SQL injection, the libinjection-like core (SQLi_*). Each check needs SQL *structure*, not
# SQL words, so "O'Reilly - select size M" passes: a quote that breaks out of a string and is
# followed by boolean logic, a comment, a new statement or ORDER BY; UNION SELECT; stacked
# queries; time-based probes; tautologies like `or 1=1`.
#
# Prose is full of SQL's words, so each needs the shape SQL gives it: `in (`, `is null`,
# `like '`, a statement after ';' that names a table (`; select a colour` is English,
# `; select * from users` is not). A double quote right after ':', ',', '[' or '{' opens a
# JSON string rather than closing one, so `{"note": "Or is it?"}` is not a break-out; one
# before a comment counts only when nothing separates them (`admin"--`, not `"no" -- then`).
_SQL_NAME = r"""[\w.`"\[\]$]+"""
_SQL_STATEMENT = rf"""
    (?: select\s+(?: \*|@@|null\b|[\w.$]+\(
                   | \d+\s*(?:,\s*\d+\s*)*(?:$|--|\#|;|\)|from\b|union\b)
                   | {_SQL_NAME}(?:\s*,\s*{_SQL_NAME})*\s+from\s+{_SQL_NAME}
                     \s*(?:$|--|\#|;|\)|where\b|limit\b|order\b|group\b|union\b) )
      | update\s+{_SQL_NAME}\s+set\s+{_SQL_NAME}\s*=
      | delete\s+from\s+{_SQL_NAME}\s*(?:where\b|--|\#|;|$)
      | insert\s+into\s+{_SQL_NAME}\s*(?:\(|values\b|select\b)
      | shutdown\s*(?:--|\#|;|$)
      | waitfor\s+(?:delay|time)\s+['"] )
"""
_SQLI_QUOTED = re.compile(
    rf"""
    (?:['`]|(?<![:,\[{{])(?<![:,\[{{]\s)")
    (?: \s*\)*\s*(?:(?:or|and|xor|div)\b|\|\||&&)\s*
        (?: \(*\s*['"`]?[\w@.$-]*['"`]?\s*\)*\s*
            (?: =|<=>|<>|!=|<=|>=|<|>
              | (?:r?like|regexp|sounds\s+like)\s*[('"\d]
              | is\s+(?:not\s+)?(?:null|true|false|unknown)\b
              | (?:not\s+)?in\s*\(
              | between\s+\S+\s+and\b )
          | (?:true|false|null|\d+)\s*(?:--|\#|;|$)
          | \(*\s*(?:pg_)?(?:sleep|benchmark)\s*\( )
      | (?<=')\s*\)*\s*;?\s*(?:(?:--|\#)(?:[\s"}}\],;\\]|$)|/\*)
      | (?<=")\)*;?(?:--|\#)(?:[\s}}\],;\\]|$)
      | \s*\)*\s*;\s*{_SQL_STATEMENT}
      | \s*\)*\s*(?:order|group)\s+by\s+[\w,\s]{{1,40}}?(?:--|\#) )
    """,
    re.VERBOSE,
)
_SQLI_KEYWORDS = re.compile(
    r"""
    \bunion\b\s*(?:all\b|distinct\b)?\s*\(*\s*select\b
  | \bwaitfor\s+delay\s+['"]\d
  | \bhaving\s+\d+\s*=\s*\d+
    """,
    re.VERBOSE,
)
_SQLI_STACKED = re.compile(
    rf"""
    ;\s*(?:drop\s+(?:table|database|schema|view|index|user|procedure|function)\b
          | truncate\s+table\b | alter\s+(?:table|database|user)\b
          | create\s+(?:table|database|user|procedure|function|trigger)\b
          | insert\s+into\s+{_SQL_NAME}\s*(?:\(|values\b|select\b)
          | delete\s+from\s+{_SQL_NAME}\s*(?:where\b|--|\#|;|$)
          | exec(?:ute)?\s+(?:xp_|sp_|master\.) | declare\s+@)
  | [\d)]\s*;\s*{_SQL_STATEMENT}
    """,
    re.VERBOSE,
)
_SQLI_TIME = re.compile(
    r"(?:(?:and|or|xor)\b|\|\||&&|;|\bselect\b)\s*\(*\s*(?:pg_)?(?:sleep|benchmark)\s*\("
)
_SQLI_TAUTOLOGY = re.compile(
    r"""
    \b(?:or|and|xor)\s+(?:(?P<n>\d+)\s*(?:=|<=>|>=|<=|like\b)\s*(?P=n)\b
                         | (?P<q>['"])(?P<w>\w*)(?P=q)\s*(?:=|like\b)\s*(?P=q)(?P=w)(?!\w))
    """,
    re.VERBOSE,
)
_SQLI_ORDER_BY = re.compile(r"\d\s*\)*\s*(?:order|group)\s+by\s+[\w,\s]{1,40}?(?:--|\#)")
_sqli = _checks(
    _check(_SQLI_QUOTED, _clue("or and xor div order group || && -- # /* ;"), _clue("' \" `")),
    _check(_SQLI_KEYWORDS, _clue("union waitfor having")),
    _check(_SQLI_STACKED, _clue(";")),
    _check(_SQLI_TIME, _clue("sleep pg_sleep benchmark")),
    _check(_SQLI_TAUTOLOGY, _clue("or and xor"), _clue("like =")),
    _check(_SQLI_ORDER_BY, _clue("order group"), _clue("-- #")),
)

# SQLiExtendedPatterns_*: SQL functions and catalogue names with no business in user input.
_SQL_FUNCTION_WORDS = (
    "sleep pg_sleep benchmark information_schema sqlite_master pg_catalog mysql xp_cmdshell "
    "sp_executesql sysobjects syscolumns sysdatabases syslogins load_file extractvalue "
    "updatexml utl_inaddr utl_http dbms_pipe dbms_lock pg_read_file lo_import outfile "
    "dumpfile char"
)
_SQLI_EXTENDED = re.compile(
    r"""
    \b(?:sleep|pg_sleep)\s*\(\s*\d+(?:\.\d+)?\s*\)
  | \bbenchmark\s*\(\s*\d+\s*,
  | \b(?:information_schema|sqlite_master|pg_catalog|mysql\.user|xp_cmdshell|sp_executesql)\b
  | \bsys(?:objects|columns|databases|logins)\b
  | \b(?:load_file|extractvalue|updatexml|utl_inaddr\.get_host_address|utl_http\.request
       |dbms_pipe\.receive_message|dbms_lock\.sleep|pg_read_file|lo_import)\s*\(
  | \binto\s+(?:out|dump)file\b
  | @@(?:version|datadir|hostname|basedir)\b
  | \bchar\s*\(\s*\d+\s*(?:,\s*\d+\s*){2,}\)
    """,
    re.VERBOSE,
)
_sqli_extended = _checks(_check(_SQLI_EXTENDED, _clue(_SQL_FUNCTION_WORDS + " @@")))

# Cross-site scripting: script-capable tags and event handlers inside a tag; a handler that
# breaks out of an attribute, first or after others (`' autofocus onfocus=`); script URLs
# (browsers drop tabs and newlines inside the scheme, so a space is allowed between its
# letters) followed by code, not by prose ("JavaScript: The Good Parts"); HTML data URLs;
# srcdoc. A tag name follows '<' at once in HTML, so "total < base price" is text; a tag is
# searched for a handler only up to the next '<', which keeps the work per tag bounded.
_EVENT_HANDLERS = (
    "onerror onload onclick ondblclick onauxclick oncontextmenu onmouseover onmouseout "
    "onmousedown onmouseup onmousemove onmouseenter onmouseleave onmousewheel onwheel onfocus "
    "onfocusin onfocusout onblur onchange onsubmit onreset oninput oninvalid onselect "
    "onkeydown onkeyup onkeypress onabort ontoggle onpointerdown onpointerup onpointermove "
    "onpointerover onpointerout onpointerenter onpointerleave onanimationstart "
    "onanimationend onanimationiteration ontransitionend ontransitionstart ondrag "
    "ondragstart ondragend ondragenter ondragleave ondragover ondrop onresize onscroll "
    "onunload onbeforeunload onhashchange onmessage onpageshow onpopstate onplay onpause "
    "oncopy oncut onpaste onsearch onshow onbegin onend onreadystatechange"
)
_XSS_TAG = re.compile(
    r"""
    </?(?:script|iframe|frame|frameset|object|embed|applet|base|meta|isindex|xss
         |vmlframe|import)\b
  | <[a-z][^<>]{0,500}?[\s/"'`]on[a-z]{3,}\s*=
    """,
    re.VERBOSE,
)
_XSS_ATTRIBUTE = re.compile(
    r"""['"`](?:[^'"`<>]{0,200}?[\s/])?(?:""" + "|".join(_EVENT_HANDLERS.split()) + r""")\s*="""
)
_XSS_SCRIPT_URL = re.compile(
    r"""(?:^|["'`=(<>])\s*(?:j\s?a\s?v\s?a|v\s?b|l\s?i\s?v\s?e)\s?s\s?c\s?r\s?i\s?p\s?t\s?:"""
    r"""(?:$|\S|\s+[\w$.\[\]'"]+\s*[(\[`=])"""
)
_XSS_OTHER = re.compile(r"data\s*:\s*text/html|\bsrcdoc\s*=")


# Whatever spaces an obfuscation puts into a script scheme, its last word ends the name.
_SCRIPT_SCHEME_ENDS = " ".join(
    name[i:] for name in ("javascript", "vbscript", "livescript") for i in range(len(name))
)
_xss = _checks(
    _check(_XSS_TAG, _clue("<")),
    _check(_XSS_ATTRIBUTE, _clue(_EVENT_HANDLERS), _clue("=")),
    _check(_XSS_SCRIPT_URL, _clue(_SCRIPT_SCHEME_ENDS)),
    _check(_XSS_OTHER, _clue("html srcdoc")),
)

# Local file inclusion: two or more traversals (one is a normal relative link in a body), or
# well-known system files and PHP stream wrappers. In a URI path even one traversal segment
# is an attack: clients resolve '..' before they send. A run of dots is taken whole, from its
# start (lookbehind, possessive): tried from every dot, 8 KB of dots took half a second.
_LFI_TARGETS = r"""
    (?<!\.)(?:\.{2,}+;?[/\\]+){2}
  | \.\.;?[/\\]+(?:etc|proc|windows|winnt|boot|root|usr|var)(?:[/\\]|$)
  | /etc/(?:passwd|shadow|group|hosts|issue|crontab|sudoers|master\.passwd)\b
  | /proc/(?:self|\d+)/
  | \b[a-z]:[/\\]+(?:windows|winnt)[/\\]
  | \b(?:boot|win|system)\.ini\b
  | \bphp://(?:filter|input|fd)\b
"""
_LFI_CLUE = _clue(".. etc proc windows winnt ini php")
_lfi = _checks(_check(re.compile(_LFI_TARGETS, re.VERBOSE), _LFI_CLUE))
_lfi_path = _checks(
    _check(re.compile(r"(?:^|[/\\])\.\.;?(?:[/\\]|$)|" + _LFI_TARGETS, re.VERBOSE), _LFI_CLUE)
)

# Remote file inclusion: a URL whose host is an IPv4 address (dotted, hex or decimal).
_rfi = _checks(
    _check(
        re.compile(
            r"\b(?:https?|ftps?|file)://(?:[^/@\s]{0,64}@)?"
            r"(?:\d{1,3}(?:\.\d{1,3}){3}|0x[0-9a-f]{1,8}|\d{8,10})(?![\w.])"
        ),
        _clue("://"),
    )
)

# Instance-metadata SSRF: the metadata addresses in their usual spellings (dotted, octal,
# hex, decimal, IPv4-mapped, EC2's IPv6 endpoint), the metadata host names and IMDS paths.
_ssrf = _checks(
    _check(
        re.compile(
            r"""
            169\.254\.169\.254 | 169\.254\.170\.2(?!\d) | 169\.254\.43518\b
          | \bfd00:0*ec2:[0:]*254\b | ::ffff:a9fe:a9fe
          | \b0xa9fea9fe\b | \b0xa9\.0xfe\.0xa9\.0xfe\b | \b0251\.0376\.0251\.0376\b
          | (?://|@)2852039166\b
          | metadata\.google\.internal | instance-data\.ec2\.internal
          | /latest/(?:meta-data|user-data|dynamic|api/token)(?:/|$|\?)
            """,
            re.VERBOSE,
        ),
        _clue("169 0251 2852039166 fd00 a9fe xa9fea9fe xa9 metadata instance latest"),
    )
)

# Files a client has no reason to fetch: logs, configuration, backups, keys, databases.
_RESTRICTED_EXTENSIONS = (
    "log|ini|bak|backup|old|orig|swp|tmp|cfg|conf|config|sql|db|mdb|sqlite|dbf|dat|dll|bat|"
    "cmd|vbs|pem|key|pfx|p12|jks|htr|htw|ida|idq|idc|printer|asa|asax|ascx|axd|cdx|csproj|"
    "vbproj|licx|resx|resources|pdb|pol|pwd|pass|sys|webinfo"
)
_RESTRICTED_CLUE = _clue(_RESTRICTED_EXTENSIONS.replace("|", " "))
_restricted_path = _checks(
    _check(re.compile(rf"\.(?:{_RESTRICTED_EXTENSIONS})(?:$|[/;])"), _RESTRICTED_CLUE)
)
_restricted_argument = _checks(
    _check(re.compile(rf"\.(?:{_RESTRICTED_EXTENSIONS})$"), _RESTRICTED_CLUE)
)

_exploitable_path = _checks(
    _check(
        re.compile(
            r"[/\\](?:web-inf|meta-inf|\.git|\.svn|\.hg|\.bzr|\.aws|\.ssh|\.env(?:\.[\w-]+)?"
            r"|\.htaccess|\.htpasswd|\.ds_store|\.npmrc|\.dockercfg|\.docker)(?:[/\\;]|$)"
        ),
        _clue("inf git svn hg bzr aws ssh env htaccess htpasswd ds_store npmrc dockercfg docker"),
    )
)

# Java deserialization and expression-language RCE: the classes and gadgets exploits name,
# and a serialized Java object (base64 `rO0ABX...`, hex `aced0005`).
_java_rce = _checks(
    _check(
        re.compile(
            r"""
            java\.lang\.(?:runtime|processbuilder|process\b|reflect\.)
          | getruntime\s*\(\s*\)\s*\.\s*exec\b
          | class\.module\.classloader | javax\.script\.scriptenginemanager
          | java\.net\.urlclassloader | \#_memberaccess | ognl\.ognlcontext
          | org\.apache\.commons\.collections\d*\.functors | com\.sun\.org\.apache\.xalan
          | ro0abx | aced0005
            """,
            re.VERBOSE,
        ),
        _clue(
            "java javax getruntime classloader _memberaccess ognl functors xalan",
            ("ro0abx", "aced0005"),
        ),
    )
)
_JAVA_SERIAL_MAGIC = b"\xac\xed\x00\x05"


def _java_rce_in_body(view: _View) -> bool:
    """Serialized objects are binary: look for their magic in the raw bytes too."""
    body = view.body
    if body and _JAVA_SERIAL_MAGIC in body[:BODY_INSPECTION_LIMIT]:
        return True
    return any(_java_rce(text) for text in view.body_text())


# Log4Shell: lookups nest (`${${lower:j}ndi:`, `${${::-j}ndi:`, `${${env:X:-j}ndi:`), so the
# harmless ones are resolved, innermost first, until `${jndi:` shows or nothing changes.
_LOOKUP_DEFAULT = re.compile(r"\$\{[^${}]*?:-([^${}]*)\}")
_LOOKUP_CASE = re.compile(r"\$\{(?:lower|upper):([^${}]*)\}")
_LOOKUP_DATE = re.compile(r"\$\{date:'([^'${}]*)'\}")
_JNDI = re.compile(r"\$\{\s*jndi\s*:")
_LOOKUP_ROUNDS = 10


def _resolves_to_jndi(text: _Text) -> bool:
    value = text.text
    for _ in range(_LOOKUP_ROUNDS):
        if _JNDI.search(value):
            return True
        resolved = _LOOKUP_DATE.sub(
            r"\1", _LOOKUP_CASE.sub(r"\1", _LOOKUP_DEFAULT.sub(r"\1", value))
        )
        if resolved == value:
            return False
        value = resolved
    return _JNDI.search(value) is not None


_log4shell = _Detector(frozenset({"${"}), (), _resolves_to_jndi)


# Scanners and attack tools that announce themselves in User-Agent.
_BAD_BOT_NAMES = (
    "nessus nmap sqlmap nikto masscan zgrab zmeu nuclei acunetix w3af dirbuster gobuster "
    "wpscan netsparker openvas arachni havij fimap commix wfuzz jaeles morfeus paros "
    "webinspect appscan skipfish whatweb httprint pangolin grendel dirb feroxbuster"
)
_BAD_BOTS = frozenset(_BAD_BOT_NAMES.split())
_LOCAL_HOSTS = frozenset({"localhost", "localhost.localdomain", "0.0.0.0", "::1", "[::1]"})


def _no_user_agent(view: _View) -> bool:
    return not view.headers().get("user-agent", "").strip()


def _bad_bot(view: _View) -> bool:
    agent = view.headers().get("user-agent")
    return agent is not None and not _BAD_BOTS.isdisjoint(_WORD.findall(agent.lower()))


def _localhost(view: _View) -> bool:
    host = view.headers().get("host")
    if host is None:
        return False
    name = _host_name(host.strip().lower())
    if name in view.gateway_hosts:
        return False
    return name in _LOCAL_HOSTS or name.endswith(".localhost") or _is_loopback(name)


def _host_name(host: str) -> str:
    """The Host header without its port ('[::1]:80' -> '[::1]', 'localhost:80' -> 'localhost')."""
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    name, _, port = host.rpartition(":")
    return name if name and port.isdigit() else host


def _is_loopback(name: str) -> bool:
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def _propfind(view: _View) -> bool:
    return view.request.method.upper() == "PROPFIND"


def _longer_than(limit: int, size: Callable[[_View], int]) -> Matcher:
    return lambda view: size(view) > limit


def _path_bytes(view: _View) -> int:
    return len(view.request.path.encode())


def _query_bytes(view: _View) -> int:
    return len(view.request.query.encode())


def _cookie_bytes(view: _View) -> int:
    return len(view.headers().get("cookie", "").encode())


def _body_bytes(view: _View) -> int:
    return len(view.body or b"")


@dataclass(frozen=True)
class _SubRule:
    name: str
    label: str
    inspects_body: bool
    matches: Matcher


_CRS = "awswaf:managed:aws:core-rule-set:"
_KBI = "awswaf:managed:aws:known-bad-inputs:"
_SQL = "awswaf:managed:aws:sql-database:"
_PATH, _ARGS, _QUERY = _View.uri_path, _View.query_arguments, _View.query_string
_COOKIES, _HEADERS, _BODY = _View.cookies, _View.header_text, _View.body_text


def _rule(name: str, label: str, matches: Matcher, *, body: bool = False) -> _SubRule:
    return _SubRule(name, label, body, matches)


# The groups in AWS's documented rule order; the label is AWS's, verbatim.
_GROUPS: dict[str, tuple[_SubRule, ...]] = {
    "AWSManagedRulesCommonRuleSet": (
        _rule("NoUserAgent_HEADER", _CRS + "NoUserAgent_Header", _no_user_agent),
        _rule("UserAgent_BadBots_HEADER", _CRS + "BadBots_Header", _bad_bot),
        _rule(
            "SizeRestrictions_QUERYSTRING",
            _CRS + "SizeRestrictions_QueryString",
            _longer_than(2_048, _query_bytes),
        ),
        _rule(
            "SizeRestrictions_Cookie_HEADER",
            _CRS + "SizeRestrictions_Cookie_Header",
            _longer_than(10_240, _cookie_bytes),
        ),
        _rule(
            "SizeRestrictions_BODY",
            _CRS + "SizeRestrictions_Body",
            _longer_than(8_192, _body_bytes),
            body=True,
        ),
        _rule(
            "SizeRestrictions_URIPATH",
            _CRS + "SizeRestrictions_URIPath",
            _longer_than(1_024, _path_bytes),
        ),
        _rule(
            "EC2MetaDataSSRF_BODY",
            _CRS + "EC2MetaDataSSRF_Body",
            _inspecting(_BODY, _ssrf),
            body=True,
        ),
        _rule(
            "EC2MetaDataSSRF_COOKIE", _CRS + "EC2MetaDataSSRF_Cookie", _inspecting(_COOKIES, _ssrf)
        ),
        _rule(
            "EC2MetaDataSSRF_URIPATH", _CRS + "EC2MetaDataSSRF_URIPath", _inspecting(_PATH, _ssrf)
        ),
        _rule(
            "EC2MetaDataSSRF_QUERYARGUMENTS",
            _CRS + "EC2MetaDataSSRF_QueryArguments",
            _inspecting(_ARGS, _ssrf),
        ),
        _rule(
            "GenericLFI_QUERYARGUMENTS",
            _CRS + "GenericLFI_QueryArguments",
            _inspecting(_ARGS, _lfi),
        ),
        _rule("GenericLFI_URIPATH", _CRS + "GenericLFI_URIPath", _inspecting(_PATH, _lfi_path)),
        _rule("GenericLFI_BODY", _CRS + "GenericLFI_Body", _inspecting(_BODY, _lfi), body=True),
        _rule(
            "RestrictedExtensions_URIPATH",
            _CRS + "RestrictedExtensions_URIPath",
            _inspecting(_PATH, _restricted_path),
        ),
        _rule(
            "RestrictedExtensions_QUERYARGUMENTS",
            _CRS + "RestrictedExtensions_QueryArguments",
            _inspecting(_ARGS, _restricted_argument),
        ),
        _rule(
            "GenericRFI_QUERYARGUMENTS",
            _CRS + "GenericRFI_QueryArguments",
            _inspecting(_ARGS, _rfi),
        ),
        _rule("GenericRFI_BODY", _CRS + "GenericRFI_Body", _inspecting(_BODY, _rfi), body=True),
        _rule("GenericRFI_URIPATH", _CRS + "GenericRFI_URIPath", _inspecting(_PATH, _rfi)),
        _rule(
            "CrossSiteScripting_COOKIE",
            _CRS + "CrossSiteScripting_Cookie",
            _inspecting(_COOKIES, _xss),
        ),
        _rule(
            "CrossSiteScripting_QUERYARGUMENTS",
            _CRS + "CrossSiteScripting_QueryArguments",
            _inspecting(_ARGS, _xss),
        ),
        _rule(
            "CrossSiteScripting_BODY",
            _CRS + "CrossSiteScripting_Body",
            _inspecting(_BODY, _xss),
            body=True,
        ),
        _rule(
            "CrossSiteScripting_URIPATH",
            _CRS + "CrossSiteScripting_URIPath",
            _inspecting(_PATH, _xss),
        ),
    ),
    "AWSManagedRulesKnownBadInputsRuleSet": (
        _rule(
            "JavaDeserializationRCE_HEADER",
            _KBI + "JavaDeserializationRCE_Header",
            _inspecting(_HEADERS, _java_rce),
        ),
        _rule(
            "JavaDeserializationRCE_BODY",
            _KBI + "JavaDeserializationRCE_Body",
            _java_rce_in_body,
            body=True,
        ),
        _rule(
            "JavaDeserializationRCE_URIPATH",
            _KBI + "JavaDeserializationRCE_URIPath",
            _inspecting(_PATH, _java_rce),
        ),
        _rule(
            "JavaDeserializationRCE_QUERYSTRING",
            _KBI + "JavaDeserializationRCE_QueryString",
            _inspecting(_QUERY, _java_rce),
        ),
        _rule("Host_localhost_HEADER", _KBI + "Host_Localhost_Header", _localhost),
        _rule("PROPFIND_METHOD", _KBI + "Propfind_Method", _propfind),
        _rule(
            "ExploitablePaths_URIPATH",
            _KBI + "ExploitablePaths_URIPath",
            _inspecting(_PATH, _exploitable_path),
        ),
        _rule("Log4JRCE_HEADER", _KBI + "Log4JRCE_Header", _inspecting(_HEADERS, _log4shell)),
        _rule(
            "Log4JRCE_QUERYSTRING", _KBI + "Log4JRCE_QueryString", _inspecting(_QUERY, _log4shell)
        ),
        _rule("Log4JRCE_BODY", _KBI + "Log4JRCE_Body", _inspecting(_BODY, _log4shell), body=True),
        _rule("Log4JRCE_URIPATH", _KBI + "Log4JRCE_URIPath", _inspecting(_PATH, _log4shell)),
    ),
    "AWSManagedRulesSQLiRuleSet": (
        _rule("SQLi_QUERYARGUMENTS", _SQL + "SQLi_QueryArguments", _inspecting(_ARGS, _sqli)),
        _rule(
            "SQLiExtendedPatterns_QUERYARGUMENTS",
            _SQL + "SQLiExtendedPatterns_QueryArguments",
            _inspecting(_ARGS, _sqli_extended),
        ),
        _rule("SQLi_BODY", _SQL + "SQLi_Body", _inspecting(_BODY, _sqli), body=True),
        _rule(
            "SQLiExtendedPatterns_BODY",
            _SQL + "SQLiExtendedPatterns_Body",
            _inspecting(_BODY, _sqli_extended),
            body=True,
        ),
        _rule("SQLi_COOKIE", _SQL + "SQLi_Cookie", _inspecting(_COOKIES, _sqli)),
        _rule("SQLi_URIPATH", _SQL + "SQLi_URIPath", _inspecting(_PATH, _sqli)),
    ),
}

MANAGED_RULE_GROUPS: Mapping[str, tuple[str, ...]] = {
    group: tuple(sub.name for sub in rules) for group, rules in _GROUPS.items()
}
"""The managed groups sluiceway evaluates and their rules, by AWS's names, in AWS's order."""


# --- compiled rules ---------------------------------------------------------------------


class _Tally:
    """One rule's counters, as WAF's AllowedRequests/BlockedRequests/CountedRequests."""

    __slots__ = ("allowed", "blocked", "counted")

    def __init__(self) -> None:
        self.allowed = self.blocked = self.counted = 0

    def as_dict(self) -> dict[str, int]:
        return {"allowed": self.allowed, "blocked": self.blocked, "counted": self.counted}


class _Outcome:
    """What a match does: count and continue, or end evaluation with a prepared verdict."""

    __slots__ = ("tally", "verdict")

    def __init__(self, rule: str, action: Action, label: str | None = None) -> None:
        self.tally = _Tally()
        self.verdict: Verdict | None = None
        if action != "count":
            self.verdict = Verdict("block" if action == "block" else "allow", rule, label)

    def apply(self) -> Verdict | None:
        verdict = self.verdict
        if verdict is None:
            self.tally.counted += 1
        elif verdict.action == "block":
            self.tally.blocked += 1
        else:
            self.tally.allowed += 1
        return verdict


class _Compiled(ABC):
    """A rule ready to evaluate: `inspects_body` decides which phase runs it."""

    name: str
    inspects_body: bool = False

    @abstractmethod
    def evaluate(self, view: _View) -> Verdict | None:
        """A terminating verdict, or None to go on with the next rule."""

    @abstractmethod
    def tallies(self) -> Iterable[tuple[str, _Tally]]:
        """This rule's counters by name (a group's also per managed rule)."""


class _Matching(_Compiled):
    """An IP-set or size rule: one test, one outcome."""

    def __init__(self, rule: Rule, matches: Matcher, inspects_body: bool) -> None:
        self.name = rule.name
        self.inspects_body = inspects_body
        self._matches = matches
        self._outcome = _Outcome(rule.name, rule.action)

    def evaluate(self, view: _View) -> Verdict | None:
        return self._outcome.apply() if self._matches(view) else None

    def tallies(self) -> Iterable[tuple[str, _Tally]]:
        yield self.name, self._outcome.tally


_SLOTS = 60  # buckets per rate window
_ZEROS = bytes(8 * _SLOTS)


class _Window:
    """One key's requests in the trailing window: a ring of per-bucket counts and their sum,
    so memory per key is fixed whatever the request rate."""

    __slots__ = ("counts", "last", "total")

    def __init__(self, slot: int) -> None:
        self.counts = array("Q", _ZEROS)
        self.last = slot
        self.total = 0

    def add(self, slot: int) -> int:
        """Count one request in `slot`; return the requests in the window ending there."""
        gap = slot - self.last
        if gap >= _SLOTS:
            self.counts = array("Q", _ZEROS)
            self.total = 0
        else:
            counts = self.counts
            for expired in range(self.last + 1, slot + 1):
                index = expired % _SLOTS
                self.total -= counts[index]
                counts[index] = 0
        self.last = max(self.last, slot)  # a clock that steps back counts in the latest bucket
        self.counts[self.last % _SLOTS] += 1
        self.total += 1
        return self.total


class _RateBased(_Compiled):
    """WAF's rate-based rule: count every request that reaches it (and its scope), apply
    the action while the key's count in the trailing window is over the limit."""

    def __init__(self, rule: Rule, statement: RateBasedStatement, clock: Clock, max_keys: int):
        self.name = rule.name
        self._outcome = _Outcome(rule.name, rule.action)
        self._limit = statement.limit
        self._bucket_seconds = statement.evaluation_window_sec // _SLOTS
        self._prefix = statement.scope_down_path_prefix
        self._key = _rate_key(statement)
        self._clock = clock
        self._max_keys = max_keys
        # Least recently seen first: idle keys and, at the cap, the stalest go first.
        self.windows: OrderedDict[str, _Window] = OrderedDict()

    def evaluate(self, view: _View) -> Verdict | None:
        if self._prefix is not None and not view.decoded_path().startswith(self._prefix):
            return None
        key = self._key(view)
        if key is None:
            return None
        if self._count(key, int(self._clock.now() // self._bucket_seconds)) <= self._limit:
            return None
        return self._outcome.apply()

    def _count(self, key: str, slot: int) -> int:
        windows = self.windows
        while windows:
            oldest = next(iter(windows.values()))
            if slot - oldest.last < _SLOTS:
                break
            windows.popitem(last=False)
        window = windows.get(key)
        if window is None:
            if len(windows) >= self._max_keys:
                windows.popitem(last=False)
            window = windows[key] = _Window(slot)
        else:
            windows.move_to_end(key)
        return window.add(slot)

    def tallies(self) -> Iterable[tuple[str, _Tally]]:
        yield self.name, self._outcome.tally


def _rate_key(statement: RateBasedStatement) -> Callable[[_View], str | None]:
    key = statement.key
    if key == "ip":
        return lambda view: view.request.client_ip or None
    if key == "forwarded_ip":
        assert statement.forwarded_ip_config is not None
        header = statement.forwarded_ip_config.header_name.lower()

        def forwarded(view: _View) -> str | None:
            first = view.headers().get(header, "").split(",", 1)[0].strip()
            return first if _parse_address(first) is not None else None

        return forwarded
    header = key[1].lower()
    return lambda view: view.headers().get(header)


class _Group(_Compiled):
    """A managed rule group: its rules in order; the first that matches (and is not
    excluded) ends the group, blocking or, under a Count override, counting."""

    def __init__(self, rule: Rule, statement: ManagedRuleGroupStatement) -> None:
        self.name = rule.name
        self._tally = _Tally()
        self._count_only = rule.action == "count"
        self._rules: list[tuple[Matcher, _Outcome, bool, str]] = []
        for sub in _GROUPS[statement.name]:
            excluded = sub.name in statement.excluded_rules
            action: Action = "count" if excluded or self._count_only else "block"
            outcome = _Outcome(f"{rule.name}:{sub.name}", action, sub.label)
            self._rules.append((sub.matches, outcome, excluded, sub.name))
        self.inspects_body = any(sub.inspects_body for sub in _GROUPS[statement.name])

    def evaluate(self, view: _View) -> Verdict | None:
        for matches, outcome, excluded, _ in self._rules:
            if not matches(view):
                continue
            verdict = outcome.apply()
            if excluded:
                continue
            if verdict is None:
                self._tally.counted += 1
            else:
                self._tally.blocked += 1
            return verdict
        return None

    def tallies(self) -> Iterable[tuple[str, _Tally]]:
        yield self.name, self._tally
        for _, outcome, _, sub in self._rules:
            yield f"{self.name}:{sub}", outcome.tally


def _size_matcher(statement: SizeConstraintStatement) -> Matcher:
    limit, part = statement.max_bytes, statement.part
    if part == "body":
        return _longer_than(limit, _body_bytes)
    if part == "uri":
        return _longer_than(limit, _path_bytes)
    if part == "query":
        return _longer_than(limit, _query_bytes)
    if part == "headers":
        return lambda view: any(
            len(name.encode()) > limit or len(value.encode()) > limit
            for name, value in view.request.headers
        )
    header = part[len("header:") :].lower()

    def single(view: _View) -> bool:
        value = view.headers().get(header)
        return value is not None and len(value.encode()) > limit

    return single


class _Networks:
    """CIDRs by prefix length: a lookup costs one set probe per distinct prefix length,
    however many addresses the set holds."""

    def __init__(self, cidrs: Iterable[str]) -> None:
        tables: dict[int, dict[int, set[int]]] = {4: {}, 6: {}}
        for cidr in cidrs:
            network = ipaddress.ip_network(cidr)
            host_bits = network.max_prefixlen - network.prefixlen
            table = tables[network.version].setdefault(host_bits, set())
            table.add(int(network.network_address) >> host_bits)
        self._tables = {
            version: tuple((bits, frozenset(nets)) for bits, nets in sorted(table.items()))
            for version, table in tables.items()
        }

    def __contains__(self, address: _Address) -> bool:
        version, value = address
        return any(value >> bits in nets for bits, nets in self._tables[version])


_FORWARDED_ANY_MAX = 10  # WAF inspects the last 10 addresses of a longer header


def _ip_set_matcher(statement: IPSetReferenceStatement) -> Matcher:
    networks = _Networks(statement.addresses)
    config = statement.forwarded_ip_config
    if config is None:

        def by_client(view: _View) -> bool:
            address = view.client()
            return address is not None and address in networks

        return by_client
    header = config.header_name.lower()
    fallback = config.fallback_behavior == "MATCH"

    def by_header(view: _View) -> bool:
        value = view.headers().get(header)
        if not value:
            return fallback
        entries = [entry.strip() for entry in value.split(",")]
        if config.position == "ANY":
            addresses = [_parse_address(entry) for entry in entries[-_FORWARDED_ANY_MAX:]]
        else:
            addresses = [_parse_address(entries[0 if config.position == "FIRST" else -1])]
        valid = [address for address in addresses if address is not None]
        if not valid:
            return fallback
        return any(address in networks for address in valid)

    return by_header


def _compile(rule: Rule, clock: Clock, max_keys: int) -> _Compiled:
    match rule.statement:
        case RateBasedStatement():
            return _RateBased(rule, rule.statement, clock, max_keys)
        case IPSetReferenceStatement():
            return _Matching(rule, _ip_set_matcher(rule.statement), inspects_body=False)
        case SizeConstraintStatement():
            body = rule.statement.part == "body"
            return _Matching(rule, _size_matcher(rule.statement), inspects_body=body)
        case ManagedRuleGroupStatement():
            return _Group(rule, rule.statement)
        case _:
            assert_never(rule.statement)


# --- the firewall -----------------------------------------------------------------------


class Firewall:
    """A web ACL, evaluated locally.

    >>> firewall = Firewall([Rule("office", 0, "allow", ip_set(["203.0.113.0/24"]))], "block")
    >>> firewall.evaluate(WebRequest("GET", "/", client_ip="203.0.113.9", body=b"")).action
    'allow'

    A gateway that reads bodies lazily calls `evaluate_head` first and, when it returns None,
    reads the body and calls `evaluate_body`. Not thread-safe: use it from one event loop.
    """

    def __init__(
        self,
        rules: Iterable[Rule],
        default: str = "allow",
        *,
        clock: Clock | None = None,
        gateway_hosts: Iterable[str] = (),
        max_keys_per_rule: int = RATE_LIMIT_MAX_KEYS,
    ) -> None:
        self.acl = web_acl(rules, default)
        clock = clock or SystemClock()
        self._rules = [_compile(rule, clock, max_keys_per_rule) for rule in self.acl.rules]
        first_body = next(
            (i for i, rule in enumerate(self._rules) if rule.inspects_body), len(self._rules)
        )
        self._head_rules = tuple(self._rules[:first_body])
        self._body_rules = tuple(self._rules[first_body:])
        self._gateway_hosts = frozenset(_host_name(h.lower()) for h in gateway_hosts)
        self._default = _Outcome(DEFAULT_ACTION_RULE, self.acl.default_action)

    @property
    def needs_body(self) -> bool:
        """Whether any rule inspects the body (else `evaluate_head` always decides)."""
        return bool(self._body_rules)

    def evaluate(self, request: WebRequest) -> Verdict:
        """Both phases at once; `request.body` must be set when `needs_body`."""
        verdict = self.evaluate_head(request)
        if verdict is not None:
            return verdict
        if request.body is None:
            raise ValueError("a rule inspects the body: read it into the request first")
        return self.evaluate_body(request, request.body)

    def evaluate_head(self, request: WebRequest) -> Verdict | None:
        """Evaluate the rules before the first body-inspecting one; None means the body is
        needed: read it and call `evaluate_body`."""
        view = _View(request, None, self._gateway_hosts)
        for rule in self._head_rules:
            verdict = rule.evaluate(view)
            if verdict is not None:
                return verdict
        if self.needs_body:
            return None
        return self._apply_default()

    def evaluate_body(self, request: WebRequest, body: bytes) -> Verdict:
        """Evaluate the rest, after `evaluate_head` returned None for this request."""
        view = _View(request, body, self._gateway_hosts)
        for rule in self._body_rules:
            verdict = rule.evaluate(view)
            if verdict is not None:
                return verdict
        return self._apply_default()

    def _apply_default(self) -> Verdict:
        verdict = self._default.apply()
        assert verdict is not None  # a default action is never Count
        return verdict

    def counters(self) -> dict[str, dict[str, int]]:
        """Requests allowed, blocked and counted by each rule, each managed rule
        (`group-rule:SubRule`) and `Default_Action`, in evaluation order."""
        result = {name: tally.as_dict() for rule in self._rules for name, tally in rule.tallies()}
        result[DEFAULT_ACTION_RULE] = self._default.tally.as_dict()
        return result

    def tracked_keys(self) -> dict[str, int]:
        """How many keys (IPs, header values) each rate-based rule tracks right now."""
        return {r.name: len(r.windows) for r in self._rules if isinstance(r, _RateBased)}
