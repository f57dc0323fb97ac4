"""The AWS managed rule groups sluiceway evaluates, by AWS's names, in AWS's order."""

from __future__ import annotations

from collections.abc import Mapping

from sluiceway.wafv2 import common_rule_set, known_bad_inputs, sqli_rule_set
from sluiceway.wafv2.detection import SubRule

# Each group's rules in AWS's documented order (see the group's module).
GROUPS: dict[str, tuple[SubRule, ...]] = {
    "AWSManagedRulesCommonRuleSet": common_rule_set.RULES,
    "AWSManagedRulesKnownBadInputsRuleSet": known_bad_inputs.RULES,
    "AWSManagedRulesSQLiRuleSet": sqli_rule_set.RULES,
}

MANAGED_RULE_GROUPS: Mapping[str, tuple[str, ...]] = {
    group: tuple(sub.name for sub in rules) for group, rules in GROUPS.items()
}
"""The managed groups sluiceway evaluates and their rules, by AWS's names, in AWS's order."""
