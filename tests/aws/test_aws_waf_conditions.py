"""Byte matches and the And, Or and Not of statements rendered as WAF's own: the stage in
paths anchored at their start, one IP set per version and nested position, cfn-lint clean."""

from __future__ import annotations

from aws_support import findings

from sluiceway import App
from sluiceway.aws import Code, _yaml, template_for
from sluiceway.firewall import Rule, all_of, byte_match, ip_set, negate

OFFICE = "203.0.113.0/24"


def test_they_render_as_waf_s_statements_with_the_stage_in_anchored_paths() -> None:
    app = App("guarded")
    jobs = app.queue("jobs")
    app.route("POST", "/jobs", to=jobs)
    app.firewall(
        [
            Rule(
                "admin-outside",
                0,
                "block",
                all_of(
                    byte_match("uri", "/admin", "STARTS_WITH", "LOWERCASE"),
                    negate(ip_set([OFFICE, "2001:db8::/32"])),
                ),
            ),
            Rule("no-delete", 1, "block", byte_match("header:x-op", "delete", "CONTAINS_WORD")),
        ]
    )
    template = template_for(app.graph, Code("m:app"), stage="Prod")
    resources = template["Resources"]
    (acl,) = [r for r in resources.values() if r["Type"] == "AWS::WAFv2::WebACL"]
    first, second = (r["Statement"] for r in acl["Properties"]["Rules"])
    admin, outside = first["AndStatement"]["Statements"]
    assert admin == {
        "ByteMatchStatement": {
            "SearchString": "/prod/admin",  # lowercased, as the path it is compared with
            "FieldToMatch": {"UriPath": {}},
            "PositionalConstraint": "STARTS_WITH",
            "TextTransformations": [{"Priority": 0, "Type": "LOWERCASE"}],
        }
    }
    sets = outside["NotStatement"]["Statement"]["OrStatement"]["Statements"]
    assert [s["IPSetReferenceStatement"]["Arn"]["Fn::GetAtt"][0] for s in sets] == [
        "GuardedFirewallAdminOutsideS1NotIpv4",
        "GuardedFirewallAdminOutsideS1NotIpv6",
    ]
    assert {"GuardedFirewallAdminOutsideS1NotIpv4", "GuardedFirewallAdminOutsideS1NotIpv6"} <= set(
        resources
    )
    assert second == {
        "ByteMatchStatement": {
            "SearchString": "delete",
            "FieldToMatch": {"SingleHeader": {"Name": "x-op"}},
            "PositionalConstraint": "CONTAINS_WORD",
            "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
        }
    }
    assert findings(_yaml.dump(template)) == []
