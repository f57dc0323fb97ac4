"""Declaring a web ACL (AWS WAF v2) for an app's API: the public names.

    from sluiceway.firewall import Rule, managed, rate_limit

    app.firewall([
        Rule("per-ip", priority=0, action="block", statement=rate_limit(100, window=60)),
        Rule("common", priority=10, action="block",
             statement=managed("AWSManagedRulesCommonRuleSet")),
    ])

The service itself (the evaluator the gateway runs, the render to AWS) is `sluiceway.wafv2`.
"""

from sluiceway.wafv2.firewall import (
    DEFAULT_ACTION_RULE,
    MANAGED_RULE_GROUPS,
    RATE_LIMIT_MAX_KEYS,
    Firewall,
    ForwardedIPConfig,
    IPSetReferenceStatement,
    ManagedRuleGroupStatement,
    RateBasedStatement,
    Rule,
    SizeConstraintStatement,
    Statement,
    Verdict,
    WebACL,
    WebRequest,
    ip_set,
    managed,
    rate_limit,
    size_limit,
    web_acl,
)

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
