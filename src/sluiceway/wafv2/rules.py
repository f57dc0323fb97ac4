"""A web ACL's rules: `Rule` (checked when declared) and `web_acl`, which checks a rule list
as WAF checks a web ACL and orders it by priority."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sluiceway.core.errors import DeclarationError
from sluiceway.wafv2.checks import check_rule
from sluiceway.wafv2.statements import DEFAULT_ACTIONS, Action, DefaultAction, Statement


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
        check_rule(self.name, self.priority, self.action, self.statement)


@dataclass(frozen=True)
class WebACL:
    """Rules in evaluation order and the action when none terminates."""

    rules: tuple[Rule, ...]
    default_action: DefaultAction


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
