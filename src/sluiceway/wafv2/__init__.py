"""AWS WAF (v2) for the local gateway: the declarations, a pure in-memory evaluator, the render.

    from sluiceway.firewall import Rule, managed, rate_limit

    rules = [
        Rule("per-ip", priority=0, action="block", statement=rate_limit(100, window=60)),
        Rule("common", priority=10, action="block",
             statement=managed("AWSManagedRulesCommonRuleSet")),
    ]

The declarations mirror a WAFv2 web ACL (rule names, priorities, Block/Allow/Count, statement
kinds, managed groups and their sub-rules by AWS's names), so the AWS renderer maps them one to
one. `Firewall` evaluates them the way WAF does: rules by ascending priority, the first
terminating action wins, Count records and continues, the default action applies otherwise.

Where WAF leaves room, or cannot be copied, this package decides so, and says why here:

* Body inspection. WAF (regional web ACLs, which protect API Gateway) inspects only the first
  8 KB of a body. Content rules (SQLi, XSS, ...) here inspect the same first 8 KB, so a local
  verdict is the verdict AWS would give. Size rules use the full length (the read body): a
  `size_limit("body", n)` therefore accepts n <= 8,192 only, the range in which a full-length
  comparison and WAF's (body size constraint, oversize handling MATCH) agree exactly.
* Rate windows. WAF counts over the trailing window and re-evaluates about every 10 seconds.
  Here each request is counted at once in 60 buckets per key (1 s buckets for a 60 s window,
  10 s for 600 s), so the trailing window is exact to one bucket and memory per key is fixed.
  At most `max_keys_per_rule` keys are tracked (WAF's documented 10,000 instances); idle keys
  are dropped first, then the least recently seen.
* Two phases. The gateway reads a body only when a rule inspects one (`needs_body`). Rules
  before the first body-inspecting rule run on the head (`evaluate_head`); that rule and all
  after it run once the body is read (`evaluate_body`), so priority order and counters stay
  exact without state kept between the two calls.
* Managed groups. The rules are heuristics in the spirit of AWS's (whose SQLi and XSS checks
  are libinjection-like), applied after WAF's text transformations (URL-decode, repeated;
  HTML-entity and JS-escape decode; lowercase; comments replaced; whitespace compressed).
  `excluded_rules` keeps WAF's meaning: an excluded rule still matches and is counted, it just
  never blocks. `AWSManagedRulesAmazonIpReputationList` is refused: it is Amazon's threat
  intelligence, which has no honest local equivalent.
* Host_localhost_HEADER. The local gateway *is* localhost; on AWS a client never reaches API
  Gateway with `Host: localhost`. Hosts passed as `gateway_hosts` (the gateway's own names,
  like API Gateway's domain on AWS) do not match the rule.

Users declare rules through `sluiceway.firewall`, the public module. Here: `statements`,
`rules` and `checks` (declaring), `request` and `transforms` (what the rules inspect),
`detection` and one module per managed group (`common_rule_set`, `known_bad_inputs`,
`sqli_rule_set`, listed in `managed`), `compiled`, `matchers`, `rate` and `evaluator`
(the `Firewall`), and `render` (to CloudFormation).
"""
