"""The app's firewall as an AWS WAF (v2) web ACL in front of the API's stage.

`sluiceway.wafv2` declares its rules in WAF's own model, so each maps to one WAF rule of
the same name and priority (visible in WAF's metrics and sampled requests under that name):

* ``rate_limit`` -> ``RateBasedStatement`` with its ``Limit``, ``EvaluationWindowSec`` and
  ``AggregateKeyType`` ``IP``, ``FORWARDED_IP`` (with its ``ForwardedIPConfig``) or
  ``CUSTOM_KEYS`` (one ``Header`` key, untransformed); a path prefix is a
  ``ScopeDownStatement`` (``UriPath`` ``STARTS_WITH``);
* ``ip_set`` -> an ``AWS::WAFv2::IPSet`` per IP version (a set holds one) and an
  ``IPSetReferenceStatement`` (``OrStatement`` of two when the rule lists both versions);
* ``size_limit`` -> ``SizeConstraintStatement`` ``GT`` on ``Body`` (oversize: ``MATCH``),
  ``UriPath``, ``QueryString``, every header's name and value (``Headers``, all of them,
  oversize ``MATCH``) or ``SingleHeader``;
* ``managed`` -> ``ManagedRuleGroupStatement`` (vendor AWS); ``action="count"`` is the
  ``OverrideAction`` ``Count`` (``None`` otherwise), each excluded rule a
  ``RuleActionOverrides`` entry set to ``Count``.

A rule's block, and a blocking default action, answer 403 with the local gateway's JSON body
naming the rule (a WAF custom response). A managed group blocks with its own rules' action,
which WAF cannot give a custom response without overriding each of them, so API Gateway's
``WAF_FILTERED`` response answers it in the same shape without the rule's name (WAF's
metrics, sampled requests and logs name it).

Decided here, where API Gateway changes what WAF sees: WAF inspects the URI path as the
client sent it to the stage's URL, which starts with ``/<stage>``. A path prefix is therefore
``/<stage><prefix>``, and a URI size limit is raised by the length of ``/<stage>``, so each
verdict is the one the local gateway gives for the same route.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any, assert_never

from sluiceway.core.cfn import get_att, sub
from sluiceway.core.errors import RenderError
from sluiceway.core.render import names
from sluiceway.core.render.checks import RenderedFields, check_rendered
from sluiceway.core.render.fragment import Context, Fragment
from sluiceway.wafv2.checks import SIZE_MAX
from sluiceway.wafv2.request import DEFAULT_ACTION_RULE, Verdict
from sluiceway.wafv2.rules import Rule, WebACL
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
)

RENDERED_FIELDS: RenderedFields = {
    WebACL: frozenset({"rules", "default_action"}),
    Rule: frozenset({"name", "priority", "action", "statement"}),
    RateBasedStatement: frozenset(
        {"limit", "evaluation_window_sec", "key", "forwarded_ip_config", "scope_down_path_prefix"}
    ),
    IPSetReferenceStatement: frozenset({"addresses", "forwarded_ip_config"}),
    SizeConstraintStatement: frozenset({"part", "max_bytes"}),
    ByteMatchStatement: frozenset({"part", "search", "position", "transforms"}),
    AndStatement: frozenset({"statements"}),
    OrStatement: frozenset({"statements"}),
    NotStatement: frozenset({"statement"}),
    ManagedRuleGroupStatement: frozenset({"name", "excluded_rules", "vendor_name"}),
    ForwardedIPConfig: frozenset({"header_name", "fallback_behavior", "position"}),
}
DESCRIBED = "firewall (app.firewall)"  # how an error names the app's firewall

SCOPE = "REGIONAL"  # what protects an API Gateway stage
BLOCKED_STATUS = 403
NO_TRANSFORMATION = [{"Priority": 0, "Type": "NONE"}]
MAX_RESPONSE_BODIES = 50  # WAF's quota of custom response bodies per web ACL


def render_web_acl(acl: WebACL, app_name: str, stage: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The web ACL, its IP sets and its association with the API's stage; and the outputs."""
    logical = names.web_acl_id(app_name)
    resources: dict[str, Any] = {}
    bodies: dict[str, Any] = {}
    rules = []
    for rule in acl.rules:
        statement, ip_sets = render_statement(rule, app_name, stage)
        resources.update(ip_sets)
        rendered: dict[str, Any] = {"Name": rule.name, "Priority": rule.priority}
        rendered["Statement"] = statement
        if isinstance(rule.statement, ManagedRuleGroupStatement):
            rendered["OverrideAction"] = {"Count": {}} if rule.action == "count" else {"None": {}}
        else:
            rendered["Action"] = rule_action(rule.action, rule.name, bodies)
        rendered["VisibilityConfig"] = visibility(rule.name)
        rules.append(rendered)
    properties: dict[str, Any] = {
        "Name": app_name,
        "Scope": SCOPE,
        "Description": f"Firewall of app {app_name}, rendered from its declared rules",
        "DefaultAction": rule_action(acl.default_action, DEFAULT_ACTION_RULE, bodies),
        "Rules": rules,
        "VisibilityConfig": visibility(f"{app_name}-firewall"),
    }
    if len(bodies) > MAX_RESPONSE_BODIES:
        raise RenderError(
            f"firewall of app '{app_name}': {len(bodies)} blocking rules and default action, "
            f"each answering with its own body; WAF holds at most {MAX_RESPONSE_BODIES} "
            "custom response bodies per web ACL, so merge rules (an ip_set takes many CIDRs)"
        )
    if bodies:
        properties["CustomResponseBodies"] = bodies
    resources[logical] = {"Type": "AWS::WAFv2::WebACL", "Properties": properties}
    api = names.api_id(app_name)
    resources[names.web_acl_association_id(app_name)] = {
        "Type": "AWS::WAFv2::WebACLAssociation",
        "Properties": {
            # `${Api.Stage}` is SAM's reference to the stage it makes, so the association
            # waits for the stage to exist.
            "ResourceArn": sub(
                f"arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}::/restapis/${{{api}}}"
                f"/stages/${{{api}.Stage}}"
            ),
            "WebACLArn": get_att(logical, "Arn"),
        },
    }
    outputs = {
        names.output_id(logical, "arn"): {
            "Description": f"ARN of the web ACL in front of the {app_name} API",
            "Value": get_att(logical, "Arn"),
        }
    }
    return resources, outputs


def rule_action(action: str, rule: str, bodies: dict[str, Any]) -> dict[str, Any]:
    """A rule's Action (or the default action): a block answers 403 with the body the local
    gateway gives, registered in `bodies` under the rule's name."""
    if action == "allow":
        return {"Allow": {}}
    if action == "count":
        return {"Count": {}}
    bodies[rule] = {
        "ContentType": "APPLICATION_JSON",
        "Content": json.dumps(Verdict("block", rule).body(), separators=(",", ":")),
    }
    return {
        "Block": {"CustomResponse": {"ResponseCode": BLOCKED_STATUS, "CustomResponseBodyKey": rule}}
    }


def visibility(metric: str) -> dict[str, Any]:
    return {
        "SampledRequestsEnabled": True,
        "CloudWatchMetricsEnabled": True,
        "MetricName": metric,
    }


def render_statement(
    rule: Rule, app_name: str, stage: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One rule's statement, and the IP sets it refers to."""
    return _statement(rule.statement, rule.name, app_name, stage)


def _statement(
    statement: Statement, owner: str, app_name: str, stage: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A statement and its IP sets; `owner` names them (the rule's name, then the position
    of each statement nested in And or Or, and ``not`` for Not's: ``rule-s1-not``)."""
    match statement:
        case RateBasedStatement():
            return {"RateBasedStatement": rate_based(statement, stage)}, {}
        case IPSetReferenceStatement():
            return ip_set_reference(statement, owner, app_name)
        case SizeConstraintStatement():
            return {"SizeConstraintStatement": size_constraint(statement, stage)}, {}
        case ByteMatchStatement():
            return {"ByteMatchStatement": byte_match(statement, stage)}, {}
        case AndStatement() | OrStatement():
            ip_sets: dict[str, Any] = {}
            inner = []
            for i, nested in enumerate(statement.statements):
                rendered, sets = _statement(nested, f"{owner}-s{i}", app_name, stage)
                inner.append(rendered)
                ip_sets.update(sets)
            kind = "AndStatement" if isinstance(statement, AndStatement) else "OrStatement"
            return {kind: {"Statements": inner}}, ip_sets
        case NotStatement():
            rendered, sets = _statement(statement.statement, f"{owner}-not", app_name, stage)
            return {"NotStatement": {"Statement": rendered}}, sets
        case ManagedRuleGroupStatement():
            return {"ManagedRuleGroupStatement": managed_group(statement)}, {}
        case _:
            assert_never(statement)


_FIELDS = {"uri": "UriPath", "query": "QueryString", "method": "Method"}


def field_to_match(part: str) -> dict[str, Any]:
    """WAF's ``FieldToMatch`` for a part named as the declarations name it (not a body or
    all headers, whose oversize handling differs by statement)."""
    if part in _FIELDS:
        return {_FIELDS[part]: {}}
    return {"SingleHeader": {"Name": part.removeprefix("header:").lower()}}


def byte_match(statement: ByteMatchStatement, stage: str) -> dict[str, Any]:
    """A byte match; a path anchored at its start also names the stage, which API Gateway's
    paths begin with on AWS (locally they do not)."""
    search, part = statement.search, statement.part
    if part == "uri" and statement.position in ("STARTS_WITH", "EXACTLY"):
        prefix = f"/{stage}"
        search = prefix.lower() + search if "LOWERCASE" in statement.transforms else prefix + search
    # (a body: its first 8 KB, as locally)
    field = {"Body": {"OversizeHandling": "CONTINUE"}} if part == "body" else field_to_match(part)
    transforms = [
        {"Priority": i, "Type": name} for i, name in enumerate(statement.transforms)
    ] or NO_TRANSFORMATION
    return {
        "SearchString": search,
        "FieldToMatch": field,
        "PositionalConstraint": statement.position,
        "TextTransformations": transforms,
    }


def _nested(statement: Statement) -> list[Statement]:
    """A statement and every statement inside it."""
    if isinstance(statement, AndStatement | OrStatement):
        return [statement, *(n for inner in statement.statements for n in _nested(inner))]
    if isinstance(statement, NotStatement):
        return [statement, *_nested(statement.statement)]
    return [statement]


def rate_based(statement: RateBasedStatement, stage: str) -> dict[str, Any]:
    rendered: dict[str, Any] = {
        "Limit": statement.limit,
        "EvaluationWindowSec": statement.evaluation_window_sec,
    }
    key = statement.key
    if key == "ip":
        rendered["AggregateKeyType"] = "IP"
    elif key == "forwarded_ip":
        config = statement.forwarded_ip_config
        assert config is not None  # rate_limit() sets the default one
        rendered["AggregateKeyType"] = "FORWARDED_IP"
        rendered["ForwardedIPConfig"] = {
            "HeaderName": config.header_name,
            "FallbackBehavior": config.fallback_behavior,
        }
    else:
        _, header = key
        rendered["AggregateKeyType"] = "CUSTOM_KEYS"
        rendered["CustomKeys"] = [
            {"Header": {"Name": header.lower(), "TextTransformations": NO_TRANSFORMATION}}
        ]
    if statement.scope_down_path_prefix is not None:
        rendered["ScopeDownStatement"] = {
            "ByteMatchStatement": {
                "SearchString": f"/{stage}{statement.scope_down_path_prefix}",
                "FieldToMatch": {"UriPath": {}},
                "PositionalConstraint": "STARTS_WITH",
                "TextTransformations": NO_TRANSFORMATION,
            }
        }
    return rendered


def ip_set_reference(
    statement: IPSetReferenceStatement, rule: str, app_name: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    by_version: dict[int, list[str]] = {}
    for cidr in statement.addresses:
        by_version.setdefault(ipaddress.ip_network(cidr).version, []).append(cidr)
    ip_sets: dict[str, Any] = {}
    references = []
    for version, addresses in sorted(by_version.items()):
        logical = names.ip_set_id(app_name, rule, version)
        ip_sets[logical] = {
            "Type": "AWS::WAFv2::IPSet",
            "Properties": {
                "Scope": SCOPE,
                "IPAddressVersion": f"IPV{version}",
                "Addresses": addresses,
            },
        }
        reference: dict[str, Any] = {"Arn": get_att(logical, "Arn")}
        config = statement.forwarded_ip_config
        if config is not None:
            reference["IPSetForwardedIPConfig"] = {
                "HeaderName": config.header_name,
                "FallbackBehavior": config.fallback_behavior,
                "Position": config.position,
            }
        references.append({"IPSetReferenceStatement": reference})
    if len(references) == 1:
        return references[0], ip_sets
    return {"OrStatement": {"Statements": references}}, ip_sets


def size_constraint(statement: SizeConstraintStatement, stage: str) -> dict[str, Any]:
    part, size = statement.part, statement.max_bytes
    field: dict[str, Any]
    if part == "body":
        field = {"Body": {"OversizeHandling": "MATCH"}}
    elif part == "headers":
        field = {
            "Headers": {
                "MatchPattern": {"All": {}},
                "MatchScope": "ALL",
                "OversizeHandling": "MATCH",
            }
        }
    else:
        field = field_to_match(part)
    if part == "uri":
        size = min(size + len(f"/{stage}"), SIZE_MAX)
    return {
        "FieldToMatch": field,
        "ComparisonOperator": "GT",
        "Size": size,
        "TextTransformations": NO_TRANSFORMATION,
    }


def managed_group(statement: ManagedRuleGroupStatement) -> dict[str, Any]:
    rendered: dict[str, Any] = {"VendorName": statement.vendor_name, "Name": statement.name}
    if statement.excluded_rules:
        rendered["RuleActionOverrides"] = [
            {"Name": name, "ActionToUse": {"Count": {}}} for name in statement.excluded_rules
        ]
    return rendered


def render_firewall(spec: WebACL, context: Context, *, rest_api: bool, http_api: bool) -> Fragment:
    """The web ACL in front of the REST API's stage (`render_web_acl`); `rest_api` and
    `http_api` say which APIs the app has (WAF protects only the first)."""
    check_rendered(spec, DESCRIBED, RENDERED_FIELDS)
    for rule in spec.rules:
        where = f"firewall rule '{rule.name}'"
        check_rendered(rule, where, RENDERED_FIELDS)
        for statement in _nested(rule.statement):
            check_rendered(statement, where, RENDERED_FIELDS)
            config = getattr(statement, "forwarded_ip_config", None)
            if config is not None:
                check_rendered(config, where, RENDERED_FIELDS)
    if not rest_api:
        raise RenderError(
            f"app '{context.app}' declares a firewall but no HTTP route for it to "
            "protect (on AWS a web ACL is associated with the API's stage); declare a route "
            "or drop the firewall"
        )
    if http_api:
        raise RenderError(
            f"app '{context.app}' declares a firewall and payload_format_version='2.0' "
            "routes: AWS WAF cannot be associated with an HTTP API, so on AWS those routes "
            "would be unprotected; serve them with payload_format_version='1.0' (the REST API)"
        )
    resources, outputs = render_web_acl(spec, context.app, context.stage)
    return Fragment(resources=resources, outputs=outputs)
