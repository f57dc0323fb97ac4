"""The firewall on AWS: one WAFv2 rule per declared rule, IP sets per IP version, custom 403
bodies naming the rule as the local gateway does, the association with the API's stage; all
of it created through moto's WAFv2 API (botocore checks each rule against WAF's API model)
and associated with a stage moto's API Gateway holds. moto evaluates no rule, so what a rule
matches is the local firewall's tests' to show."""

from __future__ import annotations

import json
from typing import Any

import aws_edge_app as edge
import boto3
import pytest
from aws_support import Stack, fake_aws, findings, sam_transform

from sluiceway import App
from sluiceway.aws import Code, RenderError, _yaml, template_for
from sluiceway.blueprints import iot_router
from sluiceway.firewall import DEFAULT_ACTION_RULE, Rule, Verdict, rate_limit, size_limit

NO_TRANSFORMATION = [{"Priority": 0, "Type": "NONE"}]


@pytest.fixture(scope="module")
def edge_template() -> dict[str, Any]:
    return template_for(edge.app.graph, Code("m:app"))


@pytest.fixture(scope="module")
def rules(edge_template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    acl = edge_template["Resources"]["EdgeFirewall"]["Properties"]
    return {rule["Name"]: rule for rule in acl["Rules"]}


def blocks_with_body(rule: str) -> dict[str, Any]:
    return {"Block": {"CustomResponse": {"ResponseCode": 403, "CustomResponseBodyKey": rule}}}


def visible_as(metric: str) -> dict[str, Any]:
    return {
        "SampledRequestsEnabled": True,
        "CloudWatchMetricsEnabled": True,
        "MetricName": metric,
    }


# -- the web ACL ----------------------------------------------------------------------------


def test_the_router_s_web_acl_is_its_rate_limit_and_three_managed_groups() -> None:
    template = template_for(iot_router.app.graph, Code("m:app"))
    acl = template["Resources"]["IotRouterFirewall"]
    assert acl == {
        "Type": "AWS::WAFv2::WebACL",
        "Properties": {
            "Name": "iot-router",
            "Scope": "REGIONAL",
            "Description": "Firewall of app iot-router, rendered from its declared rules",
            "DefaultAction": {"Allow": {}},
            "Rules": [
                {
                    "Name": "per-ip-rate",
                    "Priority": 0,
                    "Statement": {
                        "RateBasedStatement": {
                            "Limit": 100,
                            "EvaluationWindowSec": 60,
                            "AggregateKeyType": "IP",
                        }
                    },
                    "Action": blocks_with_body("per-ip-rate"),
                    "VisibilityConfig": visible_as("per-ip-rate"),
                },
                *(
                    {
                        "Name": name,
                        "Priority": priority,
                        "Statement": {
                            "ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": group}
                        },
                        "OverrideAction": {"None": {}},
                        "VisibilityConfig": visible_as(name),
                    }
                    for name, priority, group in [
                        ("common", 10, "AWSManagedRulesCommonRuleSet"),
                        ("known-bad-inputs", 20, "AWSManagedRulesKnownBadInputsRuleSet"),
                        ("sql-injection", 30, "AWSManagedRulesSQLiRuleSet"),
                    ]
                ),
            ],
            "VisibilityConfig": visible_as("iot-router-firewall"),
            "CustomResponseBodies": {
                "per-ip-rate": {
                    "ContentType": "APPLICATION_JSON",
                    "Content": json.dumps(
                        Verdict("block", "per-ip-rate").body(), separators=(",", ":")
                    ),
                }
            },
        },
    }


def test_a_blocked_request_gets_the_local_gateway_s_body_naming_the_rule(
    edge_template: dict[str, Any],
) -> None:
    bodies = edge_template["Resources"]["EdgeFirewall"]["Properties"]["CustomResponseBodies"]
    blocking = ["per-ip", "per-key", "banned", "big-body", "long-uri", "long-query", "big-headers"]
    assert list(bodies) == [*blocking, DEFAULT_ACTION_RULE]
    assert json.loads(bodies["per-key"]["Content"]) == {
        "message": "Forbidden: blocked by firewall rule per-key",
        "code": "FirewallBlocked",
        "rule": "per-key",
    }
    acl = edge_template["Resources"]["EdgeFirewall"]["Properties"]
    assert acl["DefaultAction"] == blocks_with_body(DEFAULT_ACTION_RULE)


def test_a_managed_group_s_block_is_answered_by_the_api_in_the_same_shape(
    edge_template: dict[str, Any],
) -> None:
    body = edge_template["Resources"]["EdgeApi"]["Properties"]["DefinitionBody"]
    assert body["x-amazon-apigateway-gateway-responses"]["WAF_FILTERED"] == {
        "statusCode": "403",
        "responseTemplates": {
            "application/json": (
                '{"message": "Forbidden: blocked by the firewall", "code": "FirewallBlocked"}'
            )
        },
    }


def test_rate_limits_key_by_ip_header_or_forwarded_address_scoped_to_the_stage_s_path(
    rules: dict[str, dict[str, Any]],
) -> None:
    assert rules["per-key"]["Statement"] == {
        "RateBasedStatement": {
            "Limit": 50,
            "EvaluationWindowSec": 300,
            "AggregateKeyType": "CUSTOM_KEYS",
            "CustomKeys": [
                {"Header": {"Name": "x-api-key", "TextTransformations": NO_TRANSFORMATION}}
            ],
            "ScopeDownStatement": {
                "ByteMatchStatement": {
                    "SearchString": "/prod/inbox",
                    "FieldToMatch": {"UriPath": {}},
                    "PositionalConstraint": "STARTS_WITH",
                    "TextTransformations": NO_TRANSFORMATION,
                }
            },
        }
    }
    assert rules["per-proxy"]["Statement"]["RateBasedStatement"] == {
        "Limit": 1000,
        "EvaluationWindowSec": 600,
        "AggregateKeyType": "FORWARDED_IP",
        "ForwardedIPConfig": {"HeaderName": "X-Forwarded-For", "FallbackBehavior": "NO_MATCH"},
    }
    assert rules["per-proxy"]["Action"] == {"Count": {}}


def test_an_ip_set_rule_refers_to_one_set_per_ip_version(
    edge_template: dict[str, Any], rules: dict[str, dict[str, Any]]
) -> None:
    resources = edge_template["Resources"]
    assert resources["EdgeFirewallOfficeIpv4"] == {
        "Type": "AWS::WAFv2::IPSet",
        "Properties": {
            "Scope": "REGIONAL",
            "IPAddressVersion": "IPV4",
            "Addresses": ["203.0.113.0/24"],
        },
    }
    assert resources["EdgeFirewallOfficeIpv6"]["Properties"]["Addresses"] == ["2001:db8::/32"]
    assert rules["office"]["Statement"] == {
        "OrStatement": {
            "Statements": [
                {
                    "IPSetReferenceStatement": {
                        "Arn": {"Fn::GetAtt": [f"EdgeFirewallOfficeIpv{v}", "Arn"]}
                    }
                }
                for v in (4, 6)
            ]
        }
    }
    assert rules["office"]["Action"] == {"Allow": {}}
    assert rules["banned"]["Statement"] == {
        "IPSetReferenceStatement": {
            "Arn": {"Fn::GetAtt": ["EdgeFirewallBannedIpv4", "Arn"]},
            "IPSetForwardedIPConfig": {
                "HeaderName": "X-Forwarded-For",
                "FallbackBehavior": "MATCH",
                "Position": "LAST",
            },
        }
    }


@pytest.mark.parametrize(
    ("rule", "field", "size"),
    [
        ("big-body", {"Body": {"OversizeHandling": "MATCH"}}, 8192),
        ("long-uri", {"UriPath": {}}, 1024 + len("/prod")),
        ("long-query", {"QueryString": {}}, 2048),
        (
            "big-headers",
            {
                "Headers": {
                    "MatchPattern": {"All": {}},
                    "MatchScope": "ALL",
                    "OversizeHandling": "MATCH",
                }
            },
            4096,
        ),
        ("long-agent", {"SingleHeader": {"Name": "user-agent"}}, 512),
    ],
)
def test_a_size_limit_compares_its_part_greater_than_the_limit(
    rules: dict[str, dict[str, Any]], rule: str, field: dict[str, Any], size: int
) -> None:
    assert rules[rule]["Statement"] == {
        "SizeConstraintStatement": {
            "FieldToMatch": field,
            "ComparisonOperator": "GT",
            "Size": size,
            "TextTransformations": NO_TRANSFORMATION,
        }
    }


def test_a_managed_group_counts_its_excluded_rules_or_everything_under_count(
    rules: dict[str, dict[str, Any]],
) -> None:
    assert rules["common"]["Statement"] == {
        "ManagedRuleGroupStatement": {
            "VendorName": "AWS",
            "Name": "AWSManagedRulesCommonRuleSet",
            "RuleActionOverrides": [
                {"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}},
                {"Name": "NoUserAgent_HEADER", "ActionToUse": {"Count": {}}},
            ],
        }
    }
    assert (rules["common"]["OverrideAction"], rules["sqli"]["OverrideAction"]) == (
        {"None": {}},
        {"Count": {}},
    )
    assert "Action" not in rules["common"]


def test_every_rule_keeps_its_name_and_priority_and_is_visible_under_its_name(
    rules: dict[str, dict[str, Any]],
) -> None:
    declared = edge.app.graph.firewall
    assert declared is not None
    assert [(r["Name"], r["Priority"]) for r in rules.values()] == [
        (r.name, r.priority) for r in declared.rules
    ]
    assert all(r["VisibilityConfig"] == visible_as(r["Name"]) for r in rules.values())


def test_paths_in_rules_start_with_the_stage_they_are_reached_under() -> None:
    app = App("staged")
    app.route("POST", "/in", to=app.queue("in"))
    app.firewall(
        [
            Rule("scoped", 0, "block", rate_limit(10, window=60, path_prefix="/in")),
            Rule("uri", 1, "block", size_limit("uri", 100)),
        ]
    )
    acl = template_for(app.graph, Code("m:app"), stage="v1")["Resources"]["StagedFirewall"]
    scoped, uri = acl["Properties"]["Rules"]
    down = scoped["Statement"]["RateBasedStatement"]["ScopeDownStatement"]
    assert down["ByteMatchStatement"]["SearchString"] == "/v1/in"
    assert uri["Statement"]["SizeConstraintStatement"]["Size"] == 100 + len("/v1")


# -- the association ------------------------------------------------------------------------


def test_the_web_acl_is_associated_with_the_stage_sam_makes(edge_template: dict[str, Any]) -> None:
    association = edge_template["Resources"]["EdgeFirewallAssociation"]
    assert association == {
        "Type": "AWS::WAFv2::WebACLAssociation",
        "Properties": {
            "ResourceArn": {
                "Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/"
                "${EdgeApi}/stages/${EdgeApi.Stage}"
            },
            "WebACLArn": {"Fn::GetAtt": ["EdgeFirewall", "Arn"]},
        },
    }
    transformed = sam_transform(edge_template)["Resources"]
    resolved = transformed["EdgeFirewallAssociation"]["Properties"]["ResourceArn"]["Fn::Sub"]
    assert resolved.endswith("/stages/${EdgeApiprodStage}")  # the stage: it waits for it
    assert transformed["EdgeApiprodStage"]["Type"] == "AWS::ApiGateway::Stage"


def test_a_firewall_with_no_route_to_protect_is_refused() -> None:
    app = App("nothing-to-guard")
    app.queue("q")
    app.firewall([Rule("r", 0, "block", rate_limit(10, window=60))])
    with pytest.raises(RenderError, match="declares a firewall but no HTTP route"):
        template_for(app.graph, Code("m:app"))


def test_more_blocking_rules_than_waf_has_response_bodies_for_are_refused() -> None:
    app = App("crowded")
    app.route("POST", "/in", to=app.queue("in"))
    app.firewall([Rule(f"r{n}", n, "block", size_limit("query", n)) for n in range(50)], "block")
    with pytest.raises(RenderError, match="at most 50 custom response bodies"):
        template_for(app.graph, Code("m:app"))


@pytest.mark.parametrize("app", [iot_router.app, edge.app], ids=["iot-router", "edge"])
def test_the_firewall_passes_cfn_lint_and_the_sam_translator(app: App) -> None:
    template = template_for(app.graph, Code("m:app"))
    assert findings(_yaml.dump(template)) == []
    kinds = [r["Type"] for r in sam_transform(template)["Resources"].values()]
    assert kinds.count("AWS::WAFv2::WebACL") == kinds.count("AWS::WAFv2::WebACLAssociation") == 1


@pytest.mark.parametrize("app", [iot_router.app, edge.app], ids=["iot-router", "edge"])
def test_wafv2_accepts_the_web_acl_and_it_protects_the_api_s_stage(app: App) -> None:
    with fake_aws():
        stack = Stack.deploy(sam_transform(template_for(app.graph, Code("m:app"))))
        stack.create_edge()
        (api,) = [stack.physical[k] for k in stack.of_type("AWS::ApiGateway::RestApi")]
        stage = boto3.client("apigateway").get_stage(restApiId=api, stageName="prod")
        wafv2 = boto3.client("wafv2")
        stage_arn = f"arn:aws:apigateway:us-east-1::/restapis/{api}/stages/prod"
        protecting = wafv2.get_web_acl_for_resource(ResourceArn=stage_arn)["WebACL"]
        ip_sets = {s["Name"]: s for s in wafv2.list_ip_sets(Scope="REGIONAL")["IPSets"]}
    assert stage["webAclArn"] == protecting["ARN"]
    assert protecting["Name"] == app.name
    declared = app.graph.firewall
    assert declared is not None
    assert [r["Name"] for r in protecting["Rules"]] == [r.name for r in declared.rules]
    expected_sets = {
        k for k, r in stack.template["Resources"].items() if r["Type"] == "AWS::WAFv2::IPSet"
    }
    assert set(ip_sets) == expected_sets
