"""WAFv2 in a template: a web ACL associated with one of the template's REST API stages becomes
the app's firewall, each rule mapped or refused naming the web ACL, the rule and the fix."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent, indent

import pytest

from sluiceway.firewall import (
    ForwardedIPConfig,
    Rule,
    WebACL,
    ip_set,
    managed,
    rate_limit,
    size_limit,
)
from sluiceway.templates.errors import TemplateError
from sluiceway.templates.stack import Stack, load_stack

HEAD = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Events:
        Get:
          Type: Api
          Properties:
            Path: /
            Method: get
            RestApiId: !Ref Api
  Blocked:
    Type: AWS::WAFv2::IPSet
    Properties:
      Scope: REGIONAL
      IPAddressVersion: IPV4
      Addresses: [203.0.113.0/24, 198.51.100.7/32]
  Acl:
    Type: AWS::WAFv2::WebACL
    Properties:
      Scope: {scope}
      DefaultAction: {default}
      VisibilityConfig: {{SampledRequestsEnabled: true, CloudWatchMetricsEnabled: true,
                          MetricName: acl}}
      Rules:
{rules}
"""
ASSOCIATION = """\
  Association:
    Type: AWS::WAFv2::WebACLAssociation
    Properties:
      WebACLArn: !GetAtt Acl.Arn
      ResourceArn: !Sub arn:aws:apigateway:${AWS::Region}::/restapis/${Api}/stages/${Api.Stage}
"""


def rule(name: str, priority: int, statement: str, action: str = "Action: {Block: {}}") -> str:
    return indent(
        f"- Name: {name}\n  Priority: {priority}\n  {action}\n"
        f"  VisibilityConfig: {{SampledRequestsEnabled: false, CloudWatchMetricsEnabled: false,"
        f" MetricName: {name}}}\n  Statement:\n" + indent(dedent(statement).strip(), "    "),
        "        ",
    )


def load(
    tmp_path: Path,
    *rules: str,
    default: str = "{Allow: {}}",
    scope: str = "REGIONAL",
    extra: str = ASSOCIATION,
) -> Stack:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return {}\n")
    body = HEAD.format(scope=scope, default=default, rules="\n".join(rules) or "        []")
    path = tmp_path / "template.yaml"
    path.write_text(body + extra)
    return load_stack(str(path))


def acl_of(stack: Stack) -> WebACL:
    acl = stack.app.graph.firewall
    assert acl is not None
    return acl


def refusal(tmp_path: Path, *rules: str, **options: str) -> TemplateError:
    with pytest.raises(TemplateError) as error:
        load(tmp_path, *rules, **options)
    return error.value


RATE = "RateBasedStatement: {Limit: 100, AggregateKeyType: IP}"
REPUTATION = (
    "ManagedRuleGroupStatement: {VendorName: AWS, Name: AWSManagedRulesAmazonIpReputationList}"
)


def test_an_associated_web_acl_becomes_the_app_firewall_with_its_default_action(
    tmp_path: Path,
) -> None:
    acl = acl_of(load(tmp_path, rule("per-ip", 0, RATE), default="{Block: {}}"))
    assert acl.default_action == "block"
    assert acl.rules == (Rule("per-ip", 0, "block", rate_limit(100, 300)),)


def test_rate_based_statements_keep_window_key_and_path_scope(tmp_path: Path) -> None:
    acl = acl_of(
        load(
            tmp_path,
            rule(
                "fwd",
                2,
                """
                RateBasedStatement:
                  Limit: 10
                  EvaluationWindowSec: 60
                  AggregateKeyType: FORWARDED_IP
                  ForwardedIPConfig: {HeaderName: X-Client-Ip, FallbackBehavior: NO_MATCH}
                """,
                "Action: {Count: {}}",
            ),
            rule(
                "orders",
                1,
                """
                RateBasedStatement:
                  Limit: 50
                  AggregateKeyType: IP
                  ScopeDownStatement:
                    ByteMatchStatement:
                      SearchString: /Prod/orders
                      FieldToMatch: {UriPath: {}}
                      PositionalConstraint: STARTS_WITH
                      TextTransformations: [{Priority: 0, Type: NONE}]
                """,
            ),
            rule(
                "by-key",
                3,
                """
                RateBasedStatement:
                  Limit: 20
                  AggregateKeyType: CUSTOM_KEYS
                  CustomKeys:
                    - Header: {Name: x-api-key, TextTransformations: [{Priority: 0, Type: NONE}]}
                """,
                "Action: {Allow: {}}",
            ),
        )
    )
    assert acl.rules == (
        Rule("orders", 1, "block", rate_limit(50, 300, path_prefix="/Prod/orders")),
        Rule(
            "fwd",
            2,
            "count",
            rate_limit(
                10, 60, "forwarded_ip", forwarded_ip_config=ForwardedIPConfig("X-Client-Ip")
            ),
        ),
        Rule("by-key", 3, "allow", rate_limit(20, 300, ("header", "x-api-key"))),
    )


def test_an_ip_set_reference_reads_the_ip_sets_addresses(tmp_path: Path) -> None:
    acl = acl_of(
        load(
            tmp_path,
            rule("deny", 0, "IPSetReferenceStatement: {Arn: !GetAtt Blocked.Arn}"),
            rule(
                "deny-forwarded",
                1,
                """
                IPSetReferenceStatement:
                  Arn: !GetAtt Blocked.Arn
                  IPSetForwardedIPConfig:
                    {HeaderName: X-Forwarded-For, FallbackBehavior: MATCH, Position: ANY}
                """,
            ),
        )
    )
    cidrs = ["203.0.113.0/24", "198.51.100.7/32"]
    assert acl.rules == (
        Rule("deny", 0, "block", ip_set(cidrs)),
        Rule(
            "deny-forwarded",
            1,
            "block",
            ip_set(cidrs, forwarded_ip_config=ForwardedIPConfig("X-Forwarded-For", "MATCH", "ANY")),
        ),
    )


def test_size_constraints_and_managed_groups_map_with_their_overrides(tmp_path: Path) -> None:
    acl = acl_of(
        load(
            tmp_path,
            rule(
                "big-body",
                0,
                """
                SizeConstraintStatement:
                  FieldToMatch: {Body: {OversizeHandling: MATCH}}
                  ComparisonOperator: GT
                  Size: 4096
                  TextTransformations: [{Priority: 0, Type: NONE}]
                """,
            ),
            rule(
                "long-header",
                1,
                """
                SizeConstraintStatement:
                  FieldToMatch: {SingleHeader: {Name: x-token}}
                  ComparisonOperator: GE
                  Size: 100
                  TextTransformations: [{Priority: 0, Type: NONE}]
                """,
            ),
            rule(
                "common",
                2,
                """
                ManagedRuleGroupStatement:
                  VendorName: AWS
                  Name: AWSManagedRulesCommonRuleSet
                  ExcludedRules: [{Name: SizeRestrictions_BODY}]
                  RuleActionOverrides:
                    - {Name: NoUserAgent_HEADER, ActionToUse: {Count: {}}}
                """,
                "OverrideAction: {None: {}}",
            ),
            rule(
                "sqli",
                3,
                "ManagedRuleGroupStatement: {VendorName: AWS, Name: AWSManagedRulesSQLiRuleSet}",
                "OverrideAction: {Count: {}}",
            ),
        )
    )
    assert acl.rules == (
        Rule("big-body", 0, "block", size_limit("body", 4096)),
        Rule("long-header", 1, "block", size_limit("header:x-token", 99)),
        Rule(
            "common",
            2,
            "block",
            managed(
                "AWSManagedRulesCommonRuleSet", ["SizeRestrictions_BODY", "NoUserAgent_HEADER"]
            ),
        ),
        Rule("sqli", 3, "count", managed("AWSManagedRulesSQLiRuleSet")),
    )


def test_rules_that_only_count_or_never_match_are_skipped_and_listed(tmp_path: Path) -> None:
    stack = load(
        tmp_path,
        rule("geo", 0, "GeoMatchStatement: {CountryCodes: [US]}", "Action: {Count: {}}"),
        rule(
            "reputation",
            1,
            REPUTATION,
            "OverrideAction: {Count: {}}",
        ),
        rule("nobody", 2, "IPSetReferenceStatement: {Arn: !GetAtt Empty.Arn}"),
        rule("per-ip", 3, RATE),
        extra=ASSOCIATION
        + """
  Empty:
    Type: AWS::WAFv2::IPSet
    Properties: {Scope: REGIONAL, IPAddressVersion: IPV6, Addresses: []}
""",
    )
    assert [r.name for r in acl_of(stack).rules] == ["per-ip"]
    notes = "\n".join(stack.notes)
    assert "rule 'geo' only counts and is skipped locally: GeoMatchStatement" in notes
    assert "rule 'reputation' only counts and is skipped locally" in notes
    assert "rule 'nobody' never matches (IP set 'Empty' has no addresses)" in notes


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        ("GeoMatchStatement: {CountryCodes: [US]}", "GeoMatchStatement cannot be evaluated"),
        (
            """
            ByteMatchStatement:
              SearchString: admin
              FieldToMatch: {Cookies: {MatchPattern: {All: {}}, MatchScope: ALL,
                                       OversizeHandling: MATCH}}
              PositionalConstraint: CONTAINS
              TextTransformations: [{Priority: 0, Type: NONE}]
            """,
            "a byte match on ['Cookies'] is not evaluated locally",
        ),
        (
            """
            ByteMatchStatement:
              SearchString: admin
              FieldToMatch: {UriPath: {}}
              PositionalConstraint: CONTAINS
              TextTransformations: [{Priority: 0, Type: CMD_LINE}]
            """,
            "text transformation CMD_LINE is not applied locally",
        ),
        (
            """
            SqliMatchStatement:
              FieldToMatch: {Body: {}}
              TextTransformations: [{Priority: 0, Type: URL_DECODE}]
            """,
            "SqliMatchStatement cannot be evaluated locally",
        ),
        (
            "NotStatement: {Statement: {GeoMatchStatement: {CountryCodes: [US]}}}",
            "GeoMatchStatement cannot be evaluated locally",
        ),
        ("LabelMatchStatement: {Scope: LABEL, Key: x}", "labels are not emulated"),
        (
            """
            RateBasedStatement:
              Limit: 100
              AggregateKeyType: IP
              ScopeDownStatement:
                GeoMatchStatement: {CountryCodes: [US]}
            """,
            "ScopeDownStatement is evaluated locally only as a ByteMatchStatement on UriPath",
        ),
        ("RateBasedStatement: {Limit: 100, AggregateKeyType: CONSTANT}", "CONSTANT"),
        (
            """
            SizeConstraintStatement:
              FieldToMatch: {Body: {}}
              ComparisonOperator: LT
              Size: 10
              TextTransformations: [{Priority: 0, Type: NONE}]
            """,
            "ComparisonOperator LT is not evaluated locally",
        ),
        (
            """
            SizeConstraintStatement:
              FieldToMatch: {QueryString: {}}
              ComparisonOperator: GT
              Size: 10
              TextTransformations: [{Priority: 0, Type: URL_DECODE}]
            """,
            "text transformations other than NONE",
        ),
    ],
)
def test_a_statement_the_local_firewall_cannot_evaluate_is_refused_naming_acl_and_rule(
    tmp_path: Path, statement: str, problem: str
) -> None:
    error = refusal(tmp_path, rule("guard", 0, statement))
    assert error.where == "resource 'Acl' (AWS::WAFv2::WebACL) rule 'guard'"
    assert problem in error.problem
    assert error.fix


def test_an_unemulated_managed_group_that_blocks_is_refused(tmp_path: Path) -> None:
    error = refusal(
        tmp_path,
        rule(
            "reputation",
            0,
            REPUTATION,
            "OverrideAction: {None: {}}",
        ),
    )
    assert "Amazon's threat intelligence" in error.problem
    assert "OverrideAction to Count" in error.fix


def test_an_excluded_rule_the_group_lacks_is_refused(tmp_path: Path) -> None:
    error = refusal(
        tmp_path,
        rule(
            "common",
            0,
            """
            ManagedRuleGroupStatement:
              VendorName: AWS
              Name: AWSManagedRulesCommonRuleSet
              ExcludedRules: [{Name: NoSuchRule}]
            """,
            "OverrideAction: {None: {}}",
        ),
    )
    assert "has no rule 'NoSuchRule'" in error.problem


@pytest.mark.parametrize("kind", ["Captcha", "Challenge"])
def test_captcha_and_challenge_are_refused(tmp_path: Path, kind: str) -> None:
    error = refusal(tmp_path, rule("human", 0, RATE, f"Action: {{{kind}: {{}}}}"))
    assert error.where.endswith("rule 'human' Action")
    assert f"{kind} is not emulated" in error.problem
    assert "use Block" in error.fix


def test_a_rate_limit_below_wafs_minimum_is_refused_with_wafs_words(tmp_path: Path) -> None:
    error = refusal(
        tmp_path, rule("tiny", 0, "RateBasedStatement: {Limit: 5, AggregateKeyType: IP}")
    )
    assert "limit=5 is outside 10.." in error.problem


def test_an_ip_set_address_of_the_other_version_is_refused(tmp_path: Path) -> None:
    error = refusal(
        tmp_path,
        rule("deny", 0, "IPSetReferenceStatement: {Arn: !GetAtt V6.Arn}"),
        extra=ASSOCIATION
        + """
  V6:
    Type: AWS::WAFv2::IPSet
    Properties: {Scope: REGIONAL, IPAddressVersion: IPV6, Addresses: [10.0.0.0/8]}
""",
    )
    assert error.where == "resource 'V6' (AWS::WAFv2::IPSet) property Addresses"
    assert "'10.0.0.0/8' is not an IPV6 address" in error.problem


def test_an_ip_set_outside_the_template_is_refused(tmp_path: Path) -> None:
    arn = "arn:aws:wafv2:us-east-1:123456789012:regional/ipset/other/1111"
    error = refusal(tmp_path, rule("deny", 0, f"IPSetReferenceStatement: {{Arn: '{arn}'}}"))
    assert "is not AWS::WAFv2::IPSet of this template" in error.problem


def test_a_web_acl_associated_with_no_api_of_the_template_is_listed(tmp_path: Path) -> None:
    stack = load(
        tmp_path,
        rule("per-ip", 0, RATE),
        extra=ASSOCIATION.replace("${Api}", "abc123"),
    )
    assert stack.app.graph.firewall is None
    notes = "\n".join(stack.notes)
    assert "REST API 'abc123' is not in this template; the association is not emulated" in notes
    assert "resource 'Acl' (AWS::WAFv2::WebACL) is not emulated: no WebACLAssociation" in notes


def test_a_web_acl_without_association_is_listed(tmp_path: Path) -> None:
    stack = load(tmp_path, rule("per-ip", 0, RATE), extra="")
    assert stack.app.graph.firewall is None
    assert any("'Acl' (AWS::WAFv2::WebACL) is not emulated" in n for n in stack.notes)


def test_a_cloudfront_web_acl_is_listed_and_never_associated_with_a_stage(tmp_path: Path) -> None:
    stack = load(tmp_path, rule("per-ip", 0, RATE), scope="CLOUDFRONT", extra="")
    assert stack.app.graph.firewall is None
    assert any("Scope CLOUDFRONT" in n for n in stack.notes)
    error = refusal(tmp_path, rule("per-ip", 0, RATE), scope="CLOUDFRONT")
    assert "Scope CLOUDFRONT, which protects CloudFront distributions" in error.problem


def test_an_association_with_a_stage_the_api_lacks_is_refused(tmp_path: Path) -> None:
    error = refusal(
        tmp_path, rule("per-ip", 0, RATE), extra=ASSOCIATION.replace("${Api.Stage}", "dev")
    )
    assert "API 'Api' has no stage 'dev'" in error.problem


def test_two_web_acls_on_the_apps_apis_are_refused(tmp_path: Path) -> None:
    second = """
  Other:
    Type: AWS::WAFv2::WebACL
    Properties:
      Scope: REGIONAL
      DefaultAction: {Allow: {}}
      VisibilityConfig: {SampledRequestsEnabled: true, CloudWatchMetricsEnabled: true,
                         MetricName: other}
      Rules: []
  OtherAssociation:
    Type: AWS::WAFv2::WebACLAssociation
    Properties:
      WebACLArn: !GetAtt Other.Arn
      ResourceArn: !Sub arn:aws:apigateway:${AWS::Region}::/restapis/${Api}/stages/Prod
"""
    error = refusal(tmp_path, rule("per-ip", 0, RATE), extra=ASSOCIATION + second)
    assert "already screens the app" in error.problem
    assert "one web ACL" in error.fix


def test_refs_and_attributes_of_web_acls_and_ip_sets_have_wafs_shapes(tmp_path: Path) -> None:
    outputs = """
Outputs:
  AclRef: {Value: !Ref Acl}
  AclArn: {Value: !GetAtt Acl.Arn}
  AclId: {Value: !GetAtt Acl.Id}
  SetRef: {Value: !Ref Blocked}
  SetArn: {Value: !GetAtt Blocked.Arn}
  Stage: {Value: !Ref Api.Stage}
"""
    stack = load(tmp_path, rule("per-ip", 0, RATE), extra=ASSOCIATION + outputs)
    out = {key: value for key, (value, _) in stack.outputs.items()}
    name, acl_id, scope = out["AclRef"].split("|")
    assert (name, scope) == (f"{stack.app.name}-Acl", "REGIONAL")
    assert out["AclId"] == acl_id
    assert len(acl_id) == 36
    assert out["AclArn"] == f"arn:aws:wafv2:us-east-1:000000000000:regional/webacl/{name}/{acl_id}"
    set_id = out["SetRef"].split("|")[1]
    assert out["SetArn"].endswith(f":regional/ipset/{stack.app.name}-Blocked/{set_id}")
    assert out["Stage"] == "Prod"


def test_an_association_with_a_resource_that_is_not_an_api_stage_is_listed(tmp_path: Path) -> None:
    balancer = """
  Balancer:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties: {Subnets: [subnet-1]}
  Association:
    Type: AWS::WAFv2::WebACLAssociation
    Properties:
      WebACLArn: !GetAtt Acl.Arn
      ResourceArn: !Ref Balancer
"""
    stack = load(tmp_path, rule("per-ip", 0, RATE), extra=balancer)
    assert stack.app.graph.firewall is None
    notes = "\n".join(stack.notes)
    assert "is not a REST API stage; the association is not emulated" in notes
    assert "'Acl' (AWS::WAFv2::WebACL) is not emulated" in notes


def test_a_web_acl_outside_the_template_on_its_api_is_refused(tmp_path: Path) -> None:
    arn = "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/shared/2222"
    error = refusal(
        tmp_path,
        rule("per-ip", 0, RATE),
        extra=ASSOCIATION.replace("!GetAtt Acl.Arn", f"'{arn}'"),
    )
    assert error.where == (
        "resource 'Association' (AWS::WAFv2::WebACLAssociation) property WebACLArn"
    )
    assert "is not AWS::WAFv2::WebACL of this template" in error.problem
