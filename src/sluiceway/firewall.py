"""Declaring a web ACL (AWS WAF v2) for an app's API: the public names.

    from sluiceway.firewall import Rule, managed, rate_limit

    app.firewall([
        Rule("per-ip", priority=0, action="block", statement=rate_limit(100, window=60)),
        Rule("common", priority=10, action="block",
             statement=managed("AWSManagedRulesCommonRuleSet")),
    ])

The service itself (the evaluator the gateway runs, the render to AWS) is `sluiceway.wafv2`.
"""

from sluiceway.wafv2.evaluator import Firewall
from sluiceway.wafv2.managed import MANAGED_RULE_GROUPS
from sluiceway.wafv2.rate import RATE_LIMIT_MAX_KEYS
from sluiceway.wafv2.request import DEFAULT_ACTION_RULE, Verdict, WebRequest
from sluiceway.wafv2.rules import Rule, WebACL, web_acl
from sluiceway.wafv2.statements import (
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
    all_of,
    any_of,
    byte_match,
    ip_set,
    managed,
    negate,
    rate_limit,
    size_limit,
)

__all__ = [
    # declaring
    "AndStatement",
    "ByteMatchStatement",
    "ForwardedIPConfig",
    "IPSetReferenceStatement",
    "MANAGED_RULE_GROUPS",
    "ManagedRuleGroupStatement",
    "NotStatement",
    "OrStatement",
    "RateBasedStatement",
    "Rule",
    "SizeConstraintStatement",
    "Statement",
    "WebACL",
    "all_of",
    "any_of",
    "byte_match",
    "ip_set",
    "managed",
    "negate",
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
