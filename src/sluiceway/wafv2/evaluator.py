"""`Firewall`: a web ACL evaluated locally, in the gateway's two phases (head, then body)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import assert_never

from sluiceway.core.clock import Clock, SystemClock
from sluiceway.wafv2.compiled import Compiled, ManagedGroup, Matching, Outcome
from sluiceway.wafv2.conditions import statement_matcher
from sluiceway.wafv2.rate import RATE_LIMIT_MAX_KEYS, RateBased
from sluiceway.wafv2.request import DEFAULT_ACTION_RULE, Verdict, View, WebRequest, host_name
from sluiceway.wafv2.rules import Rule, web_acl
from sluiceway.wafv2.statements import (
    AndStatement,
    ByteMatchStatement,
    IPSetReferenceStatement,
    ManagedRuleGroupStatement,
    NotStatement,
    OrStatement,
    RateBasedStatement,
    SizeConstraintStatement,
)


def _compile(rule: Rule, clock: Clock, max_keys: int) -> Compiled:
    match rule.statement:
        case RateBasedStatement():
            return RateBased(rule, rule.statement, clock, max_keys)
        case (
            IPSetReferenceStatement()
            | SizeConstraintStatement()
            | ByteMatchStatement()
            | AndStatement()
            | OrStatement()
            | NotStatement()
        ):
            matches, body = statement_matcher(rule.statement)
            return Matching(rule, matches, inspects_body=body)
        case ManagedRuleGroupStatement():
            return ManagedGroup(rule, rule.statement)
        case _:
            assert_never(rule.statement)


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
        self._gateway_hosts = frozenset(host_name(h.lower()) for h in gateway_hosts)
        self._default = Outcome(DEFAULT_ACTION_RULE, self.acl.default_action)

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
        view = View(request, None, self._gateway_hosts)
        for rule in self._head_rules:
            verdict = rule.evaluate(view)
            if verdict is not None:
                return verdict
        if self.needs_body:
            return None
        return self._apply_default()

    def evaluate_body(self, request: WebRequest, body: bytes) -> Verdict:
        """Evaluate the rest, after `evaluate_head` returned None for this request."""
        view = View(request, body, self._gateway_hosts)
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
        return {r.name: len(r.windows) for r in self._rules if isinstance(r, RateBased)}
