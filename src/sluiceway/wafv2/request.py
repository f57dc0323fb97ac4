"""A request as the firewall sees it: what the gateway passes in (`WebRequest`), the decision
it gets back (`Verdict`), and the view the rules inspect, each part transformed once."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from sluiceway.wafv2.statements import DefaultAction
from sluiceway.wafv2.transforms import transform, url_decode

BODY_INSPECTION_LIMIT = 8_192  # what a regional web ACL inspects of a body
DEFAULT_ACTION_RULE = "Default_Action"  # WAF's terminatingRuleId when no rule terminated


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


# --- the parts of a request, transformed once per request -------------------------------

# Words, numbers and the punctuation attacks are made of: a text's tokens, as a set, answer
# "could this pattern match here?" for most patterns in one C-level set test.
_TOKEN = re.compile(r"[a-z_][a-z0-9_]*|\d+|\.\.|://|--|/\*|\|\||&&|@@|\$\{|[<'\"`;#=]")


class Text:
    """One transformed text and the set of its tokens.

    Most patterns need a word or a punctuation token to be present before they can match;
    testing that first is far cheaper than running the pattern over clean text, so the
    tokens are computed once per text and shared by every rule that inspects it.
    """

    __slots__ = ("text", "tokens")

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = frozenset(_TOKEN.findall(text))


Address: TypeAlias = tuple[int, int]  # (IP version, address as an integer)


class View:
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
        self._client: Address | None = None
        self._client_parsed = False
        self._decoded_path: str | None = None
        self._path: tuple[Text, ...] | None = None
        self._query: tuple[Text, ...] | None = None
        self._query_args: tuple[Text, ...] | None = None
        self._cookies: tuple[Text, ...] | None = None
        self._header_text: tuple[Text, ...] | None = None
        self._body_text: tuple[Text, ...] | None = None

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

    def client(self) -> Address | None:
        if not self._client_parsed:
            self._client = parse_address(self.request.client_ip)
            self._client_parsed = True
        return self._client

    def decoded_path(self) -> str:
        if self._decoded_path is None:
            path = self.request.path
            self._decoded_path = url_decode(path, False) if "%" in path else path
        return self._decoded_path

    def uri_path(self) -> tuple[Text, ...]:
        if self._path is None:
            self._path = (Text(transform(self.request.path, form=False)),)
        return self._path

    def query_string(self) -> tuple[Text, ...]:
        if self._query is None:
            query = self.request.query
            self._query = (Text(transform(query, form=True)),) if query else ()
        return self._query

    def query_arguments(self) -> tuple[Text, ...]:
        """The values of all query arguments, each on its own (WAF's AllQueryArguments)."""
        if self._query_args is None:
            query = self.request.query
            values = (pair.partition("=")[2] for pair in query.split("&")) if query else ()
            self._query_args = tuple(Text(transform(v, form=True)) for v in values if v)
        return self._query_args

    def cookies(self) -> tuple[Text, ...]:
        if self._cookies is None:
            header = self.headers().get("cookie", "")
            values = (c.partition("=")[2].strip() for c in header.split(";")) if header else ()
            self._cookies = tuple(Text(transform(v, form=False)) for v in values if v)
        return self._cookies

    def header_text(self) -> tuple[Text, ...]:
        """All header names and values as one text: Log4Shell and Java RCE rules inspect
        both, and one transformation is cheaper than one per header."""
        if self._header_text is None:
            lines = "\n".join(f"{name}: {value}" for name, value in self.request.headers)
            self._header_text = (Text(transform(lines, form=False)),)
        return self._header_text

    def body_text(self) -> tuple[Text, ...]:
        if self._body_text is None:
            body = self.body or b""
            text = body[:BODY_INSPECTION_LIMIT].decode("utf-8", "replace")
            self._body_text = (Text(transform(text, form=True)),) if text else ()
        return self._body_text


def parse_address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # a dual-stack socket's view of an IPv4 client
    return address.version, int(address)


def host_name(host: str) -> str:
    """The Host header without its port ('[::1]:80' -> '[::1]', 'localhost:80' -> 'localhost')."""
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    name, _, port = host.rpartition(":")
    return name if name and port.isdigit() else host


# What a managed rule inspects (a part's texts) and what any rule decides (a match).
Part: TypeAlias = Callable[[View], tuple[Text, ...]]
Matcher: TypeAlias = Callable[[View], bool]
