"""The operators a pattern leaf may hold, as parsed values that can describe themselves.

Each operator knows the words for its condition (``prefix "+91"``) and for how a given value
failed it (``does not start with "+91"``); matching itself is compiled in ``_match``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import Any, Literal

from sluiceway.patterns._numbers import is_number, number_key, to_float


def quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class NumberLit:
    """A number written in a pattern: its text, its exact-match key and its value."""

    text: str
    key: str
    value: float


ExactValue = str | bool | None | NumberLit


def show_exact(value: ExactValue) -> str:
    if isinstance(value, NumberLit):
        return value.text
    if isinstance(value, str):
        return quote(value)
    return json.dumps(value)


@dataclass(frozen=True, slots=True)
class Exact:
    value: ExactValue
    by_value: bool = False  # SNS compares numbers by value, EventBridge by JSON text

    def describe(self) -> str:
        return show_exact(self.value)

    def reason(self, actual: Any) -> str:
        text = f"is not {self.describe()}"
        lit = self.value
        if (
            isinstance(lit, NumberLit)
            and is_number(actual)
            and not self.by_value
            and to_float(actual) == lit.value
            and number_key(actual) != lit.key
        ):
            text += " (exact numbers compare by their JSON text; use numeric for values)"
        return text


@dataclass(frozen=True, slots=True)
class Prefix:
    text: str
    ignore_case: bool = False

    def describe(self) -> str:
        return f"prefix {quote(self.text)}" + (" ignoring case" if self.ignore_case else "")

    def reason(self, actual: Any) -> str:
        if not isinstance(actual, str):
            return "is not a string"
        tail = " in any letter case" if self.ignore_case else ""
        return f"does not start with {quote(self.text)}{tail}"


@dataclass(frozen=True, slots=True)
class Suffix:
    text: str
    ignore_case: bool = False

    def describe(self) -> str:
        return f"suffix {quote(self.text)}" + (" ignoring case" if self.ignore_case else "")

    def reason(self, actual: Any) -> str:
        if not isinstance(actual, str):
            return "is not a string"
        tail = " in any letter case" if self.ignore_case else ""
        return f"does not end with {quote(self.text)}{tail}"


@dataclass(frozen=True, slots=True)
class EqualsIgnoreCase:
    text: str

    def describe(self) -> str:
        return f"equals-ignore-case {quote(self.text)}"

    def reason(self, actual: Any) -> str:
        if not isinstance(actual, str):
            return "is not a string"
        return f"is not {quote(self.text)} in any letter case"


@dataclass(frozen=True, slots=True)
class Wildcard:
    text: str

    def describe(self) -> str:
        return f"wildcard {quote(self.text)}"

    def reason(self, actual: Any) -> str:
        if not isinstance(actual, str):
            return "is not a string"
        return f"does not match {quote(self.text)}"


AnythingButForm = Literal["values", "prefix", "suffix", "equals-ignore-case", "wildcard"]


@dataclass(frozen=True, slots=True)
class AnythingBut:
    form: AnythingButForm
    strings: tuple[str, ...] = ()
    numbers: tuple[NumberLit, ...] = ()

    def describe(self) -> str:
        items = [quote(s) for s in self.strings] + [n.text for n in self.numbers]
        shown = items[0] if len(items) == 1 else "[" + ", ".join(items) + "]"
        form = "" if self.form == "values" else f"{self.form} "
        return f"anything-but {form}{shown}"

    def reason(self, actual: Any) -> str:
        return "is excluded"


@dataclass(frozen=True, slots=True)
class Numeric:
    """``[">", 0, "<=", 5]``: an optional lower and upper bound, or a single ``=``."""

    terms: tuple[tuple[str, NumberLit], ...]
    lower: float | None = None
    lower_inclusive: bool = False
    upper: float | None = None
    upper_inclusive: bool = False

    def describe(self) -> str:
        return "numeric " + " and ".join(f"{op} {n.text}" for op, n in self.terms)

    def reason(self, actual: Any) -> str:
        if not is_number(actual):
            return "is not a number"
        return "is not " + " and ".join(f"{op} {n.text}" for op, n in self.terms)


@dataclass(frozen=True, slots=True)
class Cidr:
    text: str
    version: int
    low: int
    high: int

    def describe(self) -> str:
        return f"cidr {quote(self.text)}"

    def reason(self, actual: Any) -> str:
        if not isinstance(actual, str) or parse_ip(actual) is None:
            return "is not an IP address"
        return f"is not in {self.text}"


@dataclass(frozen=True, slots=True)
class Exists:
    present: bool

    def describe(self) -> str:
        return "exists: true" if self.present else "exists: false"

    def reason(self, actual: Any) -> str:
        return "exists" if not self.present else "is null or empty"


Alt = Exact | Prefix | Suffix | EqualsIgnoreCase | Wildcard | AnythingBut | Numeric | Cidr | Exists


# -- wildcard ------------------------------------------------------------------------------


def wildcard_segments(text: str) -> tuple[str, ...]:
    """Split ``Simple*Service`` at its stars: ``("Simple", "Service")``.

    ``\\*`` is a literal star and ``\\\\`` a literal backslash; any other escape, a trailing
    backslash or two stars in a row raise ValueError with the reason.
    """
    segments: list[str] = []
    literal: list[str] = []
    star_before = False
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            if i + 1 == len(text):
                raise ValueError("a wildcard pattern must not end with a lone backslash")
            escaped = text[i + 1]
            if escaped not in "*\\":
                raise ValueError(
                    f"invalid escape \\{escaped} in wildcard pattern; only \\* and \\\\ are allowed"
                )
            literal.append(escaped)
            star_before = False
            i += 2
            continue
        if char == "*":
            if star_before:
                raise ValueError("consecutive wildcard characters (**) are not allowed")
            segments.append("".join(literal))
            literal.clear()
            star_before = True
        else:
            literal.append(char)
            star_before = False
        i += 1
    segments.append("".join(literal))
    return tuple(segments)


def wildcard_match(segments: tuple[str, ...], value: str) -> bool:
    """Glob matching in linear time: fixed ends, then each middle piece at its first fit."""
    if len(segments) == 1:
        return value == segments[0]
    first, *middle, last = segments
    end = len(value) - len(last)
    if end < len(first) or not value.startswith(first) or not value.endswith(last):
        return False
    position = len(first)
    for piece in middle:
        found = value.find(piece, position, end)
        if found < 0:
            return False
        position = found + len(piece)
    return True


# -- IP addresses --------------------------------------------------------------------------

# Same shape checks as event-ruler, so a hostname is never mistaken for an address.
_IPV4_SHAPE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_IPV6_SHAPE = re.compile(r"[0-9a-fA-F:]*:[0-9a-fA-F:]*")
_MASK = re.compile(r"[+-]?[0-9]+")


def parse_ip(text: str) -> tuple[int, int] | None:
    """``(version, integer)`` of an IPv4/IPv6 literal; IPv4-mapped IPv6 counts as IPv4."""
    try:
        if _IPV4_SHAPE.fullmatch(text):
            return 4, int(IPv4Address(text))
        if _IPV6_SHAPE.fullmatch(text):
            address = IPv6Address(text)
            mapped = address.ipv4_mapped
            if mapped is not None:
                return 4, int(mapped)
            return 6, int(address)
    except ValueError:
        return None
    return None


def parse_cidr(text: str) -> Cidr:
    """Parse ``10.0.0.0/24``; ValueError says what is wrong.

    As in event-ruler the range runs from the address as written to that address with every
    host bit set, and the mask must be below the address width (< 32 for IPv4, < 128 for IPv6).
    """
    pieces = text.split("/")
    if len(pieces) != 2:
        raise ValueError(f"malformed CIDR {quote(text)}: exactly one '/' is required")
    address, mask_text = pieces
    if not _MASK.fullmatch(mask_text):
        raise ValueError(f"malformed CIDR {quote(text)}: mask bits must be an integer")
    mask = int(mask_text)
    if mask < 0:
        raise ValueError(f"malformed CIDR {quote(text)}: mask bits must not be negative")
    parsed = parse_ip(address)
    if parsed is None:
        raise ValueError(f"malformed CIDR {quote(text)}: {quote(address)} is not an IP address")
    version, value = parsed
    width = 32 if version == 4 else 128
    if mask >= width:
        raise ValueError(f"malformed CIDR {quote(text)}: IPv{version} mask bits must be < {width}")
    host_bits = (1 << (width - mask)) - 1
    return Cidr(text=text, version=version, low=value, high=value | host_bits)
