"""Matchers on a request's sizes and client address: the size-constraint and IP-set
statements, and the sizes the Core rule set restricts."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable

from sluiceway.wafv2.request import Address, Matcher, View, parse_address
from sluiceway.wafv2.statements import IPSetReferenceStatement, SizeConstraintStatement


def longer_than(limit: int, size: Callable[[View], int]) -> Matcher:
    return lambda view: size(view) > limit


def path_bytes(view: View) -> int:
    return len(view.request.path.encode())


def query_bytes(view: View) -> int:
    return len(view.request.query.encode())


def cookie_bytes(view: View) -> int:
    return len(view.headers().get("cookie", "").encode())


def body_bytes(view: View) -> int:
    return len(view.body or b"")


def size_matcher(statement: SizeConstraintStatement) -> Matcher:
    limit, part = statement.max_bytes, statement.part
    if part == "body":
        return longer_than(limit, body_bytes)
    if part == "uri":
        return longer_than(limit, path_bytes)
    if part == "query":
        return longer_than(limit, query_bytes)
    if part == "headers":
        return lambda view: any(
            len(name.encode()) > limit or len(value.encode()) > limit
            for name, value in view.request.headers
        )
    header = part[len("header:") :].lower()

    def single(view: View) -> bool:
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

    def __contains__(self, address: Address) -> bool:
        version, value = address
        return any(value >> bits in nets for bits, nets in self._tables[version])


_FORWARDED_ANY_MAX = 10  # WAF inspects the last 10 addresses of a longer header


def ip_set_matcher(statement: IPSetReferenceStatement) -> Matcher:
    networks = _Networks(statement.addresses)
    config = statement.forwarded_ip_config
    if config is None:

        def by_client(view: View) -> bool:
            address = view.client()
            return address is not None and address in networks

        return by_client
    header = config.header_name.lower()
    fallback = config.fallback_behavior == "MATCH"

    def by_header(view: View) -> bool:
        value = view.headers().get(header)
        if not value:
            return fallback
        entries = [entry.strip() for entry in value.split(",")]
        if config.position == "ANY":
            addresses = [parse_address(entry) for entry in entries[-_FORWARDED_ANY_MAX:]]
        else:
            addresses = [parse_address(entries[0 if config.position == "FIRST" else -1])]
        valid = [address for address in addresses if address is not None]
        if not valid:
            return fallback
        return any(address in networks for address in valid)

    return by_header
