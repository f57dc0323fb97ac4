"""Rules compiled for evaluation: their counters, what a match does, and the rules that test
one matcher (IP set, size) or a managed group's sub-rules."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable

from sluiceway.wafv2.managed import GROUPS
from sluiceway.wafv2.request import Matcher, Verdict, View
from sluiceway.wafv2.rules import Rule
from sluiceway.wafv2.statements import Action, ManagedRuleGroupStatement


class Tally:
    """One rule's counters, as WAF's AllowedRequests/BlockedRequests/CountedRequests."""

    __slots__ = ("allowed", "blocked", "counted")

    def __init__(self) -> None:
        self.allowed = self.blocked = self.counted = 0

    def as_dict(self) -> dict[str, int]:
        return {"allowed": self.allowed, "blocked": self.blocked, "counted": self.counted}


class Outcome:
    """What a match does: count and continue, or end evaluation with a prepared verdict."""

    __slots__ = ("tally", "verdict")

    def __init__(self, rule: str, action: Action, label: str | None = None) -> None:
        self.tally = Tally()
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


class Compiled(ABC):
    """A rule ready to evaluate: `inspects_body` decides which phase runs it."""

    name: str
    inspects_body: bool = False

    @abstractmethod
    def evaluate(self, view: View) -> Verdict | None:
        """A terminating verdict, or None to go on with the next rule."""

    @abstractmethod
    def tallies(self) -> Iterable[tuple[str, Tally]]:
        """This rule's counters by name (a group's also per managed rule)."""


class Matching(Compiled):
    """An IP-set or size rule: one test, one outcome."""

    def __init__(self, rule: Rule, matches: Matcher, inspects_body: bool) -> None:
        self.name = rule.name
        self.inspects_body = inspects_body
        self._matches = matches
        self._outcome = Outcome(rule.name, rule.action)

    def evaluate(self, view: View) -> Verdict | None:
        return self._outcome.apply() if self._matches(view) else None

    def tallies(self) -> Iterable[tuple[str, Tally]]:
        yield self.name, self._outcome.tally


class ManagedGroup(Compiled):
    """A managed rule group: its rules in order; the first that matches (and is not
    excluded) ends the group, blocking or, under a Count override, counting."""

    def __init__(self, rule: Rule, statement: ManagedRuleGroupStatement) -> None:
        self.name = rule.name
        self._tally = Tally()
        self._count_only = rule.action == "count"
        self._rules: list[tuple[Matcher, Outcome, bool, str]] = []
        for sub in GROUPS[statement.name]:
            excluded = sub.name in statement.excluded_rules
            action: Action = "count" if excluded or self._count_only else "block"
            outcome = Outcome(f"{rule.name}:{sub.name}", action, sub.label)
            self._rules.append((sub.matches, outcome, excluded, sub.name))
        self.inspects_body = any(sub.inspects_body for sub in GROUPS[statement.name])

    def evaluate(self, view: View) -> Verdict | None:
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

    def tallies(self) -> Iterable[tuple[str, Tally]]:
        yield self.name, self._tally
        for _, outcome, _, sub in self._rules:
            yield f"{self.name}:{sub}", outcome.tally
