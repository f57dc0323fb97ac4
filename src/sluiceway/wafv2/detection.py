"""How a managed rule detects an attack in a request's part: a cheap necessary condition, then
the precise pattern; and the sub-rule that names it, as AWS names it."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from sluiceway.wafv2.request import Matcher, Part, Text, View


@dataclass(frozen=True, slots=True)
class Detector:
    """`confirm` decides, but only a text that shares a token with `tokens` or contains one
    of `strings` can match: that gate is tested inline, so clean text costs no call."""

    tokens: frozenset[str]
    strings: tuple[str, ...]
    confirm: Callable[[Text], bool]

    def __call__(self, text: Text) -> bool:
        if self.tokens.isdisjoint(text.tokens) and not any(s in text.text for s in self.strings):
            return False
        return self.confirm(text)


# A clue is a necessary condition for a pattern: one of its tokens (see `Text`) is in the
# text, or one of its strings (for what tokens cannot express, like a prefix of a word).
# Clues are data, not functions, so testing one costs a set test and no call.
Clue: TypeAlias = tuple[frozenset[str], tuple[str, ...]]
Check: TypeAlias = tuple[tuple[Clue, ...], re.Pattern[str]]


def clue(tokens: str, strings: Sequence[str] = ()) -> Clue:
    """`tokens` space-separated."""
    return frozenset(tokens.split()), tuple(strings)


def check(pattern: re.Pattern[str], *clues: Clue) -> Check:
    """`pattern`, tried only when every clue is present (put the rarest first)."""
    return clues, pattern


def _present(clue: Clue, text: Text) -> bool:
    tokens, strings = clue
    if not tokens.isdisjoint(text.tokens):
        return True
    value = text.text
    return any(string in value for string in strings)


def detector(*checks: Check) -> Detector:
    """Match when a check's clues are present and its pattern then matches. The first
    clues of all checks, together, are the detector's gate: clean text fails it at once."""

    def confirm(text: Text) -> bool:
        for clues, pattern in checks:
            if all(_present(clue, text) for clue in clues) and pattern.search(text.text):
                return True
        return False

    return Detector(
        frozenset().union(*(clues[0][0] for clues, _ in checks)),
        tuple(string for clues, _ in checks for string in clues[0][1]),
        confirm,
    )


def inspecting(part: Part, detector: Detector) -> Matcher:
    # Plain loops with the gate inline, not any(<generator>) or a call per text: this runs
    # ~30 times per request, mostly over text the gate clears.
    tokens, strings, confirm = detector.tokens, detector.strings, detector.confirm

    def matches(view: View) -> bool:
        for text in part(view):  # noqa: SIM110
            if not tokens.isdisjoint(text.tokens) and confirm(text):
                return True
        return False

    def matches_with_strings(view: View) -> bool:
        for text in part(view):  # noqa: SIM110
            if detector(text):
                return True
        return False

    return matches_with_strings if strings else matches


@dataclass(frozen=True)
class SubRule:
    """A rule of a managed group: AWS's name and label for it, and what it matches."""

    name: str
    label: str
    inspects_body: bool
    matches: Matcher


# The parts the managed rules inspect, as WAF names them: URI path, all query arguments, query
# string, cookies, headers, body.
PATH, ARGS, QUERY = View.uri_path, View.query_arguments, View.query_string
COOKIES, HEADERS, BODY = View.cookies, View.header_text, View.body_text


def sub_rule(name: str, label: str, matches: Matcher, *, body: bool = False) -> SubRule:
    return SubRule(name, label, body, matches)
