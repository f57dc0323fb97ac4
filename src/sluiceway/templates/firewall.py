"""AWS WAF from a template: a web ACL (``AWS::WAFv2::WebACL``) associated
(``AWS::WAFv2::WebACLAssociation``) with a stage of one of the template's REST APIs becomes the
app's firewall, ``app.firewall(rules, default)``; IP sets (``AWS::WAFv2::IPSet``) are read by
the rules that reference them.

Decisions, where the local firewall differs from WAF:

* One web ACL per app: the local firewall screens all the app's HTTP routes, so two web ACLs
  associated with the template's APIs are refused; an API the ACL is not associated with is
  screened too (noted).
* Nothing is silently allowed: a statement the local firewall cannot evaluate stops the start,
  naming the web ACL, the rule and the fix, unless the rule only counts (Action Count, or
  OverrideAction Count on a managed group), which never changes a verdict: it is skipped, noted.
* CAPTCHA and Challenge are refused: a local client never holds WAF's token, and the 405/202
  answers they give on AWS are pages for browsers.
* A CLOUDFRONT web ACL protects a CloudFront distribution, which is not emulated: noted, never
  applied (AWS refuses to associate one with an API stage, and so does the import).
* Custom responses and request headers, labels and VisibilityConfig (metrics) are not emulated:
  a blocked request gets the local firewall's 403 with a JSON body naming the rule.
"""

from __future__ import annotations

import re
from typing import Any

from sluiceway.core.errors import DeclarationError
from sluiceway.firewall import Rule
from sluiceway.templates import convert
from sluiceway.templates.build import Build
from sluiceway.templates.errors import TemplateError
from sluiceway.templates.waf_statements import NeverMatches, Unsupported, kind_of, statement_of

WEB_ACL = "AWS::WAFv2::WebACL"
ASSOCIATION = "AWS::WAFv2::WebACLAssociation"
REST_API = "AWS::ApiGateway::RestApi"
_STAGE_ARN = re.compile(r"arn:aws[a-z-]*:apigateway:[a-z0-9-]*::/restapis/([^/]+)/stages/([^/]+)")
_ACTIONS = {"Allow": "allow", "Block": "block", "Count": "count"}
_OVERRIDES = {"None": "block", "Count": "count"}


def association(build: Build, logical: str) -> None:
    """Record which web ACL protects which API (`web_acl` declares it)."""
    props = build.props(logical)
    acl = build.origin(props.get("WebACLArn"), build.where(logical, "WebACLArn"), WEB_ACL)
    resource = props.get("ResourceArn")
    where = build.where(logical, "ResourceArn")
    found = _STAGE_ARN.fullmatch(resource) if isinstance(resource, str) else None
    if found is None:
        build.note(
            f"{build.where(logical)}: {resource!r} is not a REST API stage; the association "
            "is not emulated (the local firewall screens the app's HTTP routes)"
        )
        return
    try:
        api = build.origin(found.group(1), where, REST_API)
    except TemplateError:
        build.note(
            f"{build.where(logical)}: REST API {found.group(1)!r} is not in this template; "
            "the association is not emulated"
        )
        return
    stages = _stages(build, api)
    if found.group(2) not in stages:
        raise TemplateError(
            where,
            f"API '{api}' has no stage {found.group(2)!r} (its stages: {sorted(stages)})",
            "associate the web ACL with a stage the template deploys",
        )
    if str(build.props(acl).get("Scope", "REGIONAL")).upper() == "CLOUDFRONT":
        raise TemplateError(
            build.where(logical, "WebACLArn"),
            f"web ACL '{acl}' has Scope CLOUDFRONT, which protects CloudFront distributions, "
            "not API stages (AWS refuses this association)",
            "give the web ACL Scope: REGIONAL",
        )
    build.handles[logical] = (acl, api)


def _stages(build: Build, api: str) -> set[str]:
    names = set()
    for kind in ("AWS::ApiGateway::Stage", "AWS::ApiGateway::Deployment"):
        for stage in build.of_type(kind):
            props = build.props(stage)
            rest_api = props.get("RestApiId")
            if (
                props.get("StageName")
                and build.origin(rest_api, build.where(stage), REST_API) == api
            ):
                names.add(str(props["StageName"]))
    return names


def web_acl(build: Build, logical: str) -> None:
    where = build.where(logical)
    props = build.props(logical)
    apis = sorted(
        {
            link[1]
            for assoc in build.of_type(ASSOCIATION)
            if isinstance(link := build.handles.get(assoc), tuple) and link[0] == logical
        }
    )
    if not apis:
        scope = str(props.get("Scope", "REGIONAL")).upper()
        why = (
            "it has Scope CLOUDFRONT (CloudFront distributions are not emulated)"
            if scope == "CLOUDFRONT"
            else "no WebACLAssociation associates it with an API stage of this template"
        )
        build.note(f"{where} is not emulated: {why}")
        return
    applied = [acl for acl in build.of_type(WEB_ACL) if acl in build.handles and acl != logical]
    if applied:
        other = applied[0]
        raise TemplateError(
            where,
            f"web ACL '{other}' already screens the app; the local firewall is one web ACL "
            f"for all the app's HTTP routes, so '{logical}' (on {', '.join(apis)}) cannot "
            "apply to its API alone",
            "associate one web ACL with the template's APIs for the local run",
        )
    others = [api for api in build.of_type(REST_API, "AWS::ApiGatewayV2::Api") if api not in apis]
    if others:
        build.note(
            f"{where} screens all the app's HTTP routes locally, also those of "
            f"{', '.join(others)}, which it is not associated with on AWS"
        )
    default = _default_action(build, logical, props.get("DefaultAction"))
    rules = [
        rule
        for i, raw in enumerate(convert.listing(f"{where} Rules", props.get("Rules")))
        if (rule := _rule(build, logical, i, raw)) is not None
    ]
    if props.get("AssociationConfig") is not None:
        build.note(
            f"{build.where(logical, 'AssociationConfig')} is not emulated: the local firewall "
            "inspects the first 8 KB of a body"
        )
    for key in ("CustomResponseBodies", "CaptchaConfig", "ChallengeConfig", "TokenDomains"):
        if props.get(key) is not None:
            build.note(f"{build.where(logical, key)} is not emulated")
    try:
        build.handles[logical] = build.app.firewall(rules, default)
    except DeclarationError as error:
        raise TemplateError(where, error.problem, error.fix) from None


def _default_action(build: Build, acl: str, raw: Any) -> str:
    where = build.where(acl, "DefaultAction")
    action = convert.mapping(where, raw)
    if list(action) not in (["Allow"], ["Block"]):
        raise TemplateError(where, f"is {action!r}", "give Allow: {} or Block: {}")
    kind = next(iter(action))
    _custom(build, where, kind, action[kind])
    return _ACTIONS[kind]


def _custom(build: Build, where: str, kind: str, settings: Any) -> None:
    if isinstance(settings, dict) and settings:
        what = "a custom response" if kind == "Block" else "custom request handling"
        build.note(
            f"{where}: {what} is not emulated (a blocked request gets 403 with a JSON body "
            "naming the rule; no headers are inserted)"
        )


def _rule(build: Build, acl: str, index: int, raw: Any) -> Rule | None:
    entry = convert.mapping(f"{build.where(acl, 'Rules')}[{index}]", raw)
    name = convert.text(f"{build.where(acl, 'Rules')}[{index}] Name", entry.get("Name"))
    where = f"{build.where(acl)} rule '{name}'"
    priority = convert.integer(f"{where} Priority", entry.get("Priority"))
    statement = convert.mapping(f"{where} Statement", entry.get("Statement"))
    kind = kind_of(f"{where} Statement", statement)
    group = kind in ("ManagedRuleGroupStatement", "RuleGroupReferenceStatement")
    action = _override(where, entry) if group else _action(build, where, entry)
    if entry.get("RuleLabels"):
        build.note(f"{where}: RuleLabels are not emulated (no local LabelMatchStatement)")
    try:
        local = statement_of(build, where, statement)
    except Unsupported as error:
        if action == "count":
            build.note(f"{where} only counts and is skipped locally: {error.problem}")
            return None
        raise TemplateError(where, error.problem, error.fix) from None
    except NeverMatches as error:
        build.note(f"{where} never matches ({error}) and is skipped locally")
        return None
    try:
        return Rule(name, priority, action, local)  # type: ignore[arg-type]
    except DeclarationError as error:
        raise TemplateError(where, error.problem, error.fix) from None


def _action(build: Build, where: str, entry: dict[str, Any]) -> str:
    if entry.get("OverrideAction") is not None:
        raise TemplateError(
            f"{where} OverrideAction",
            "is for rule groups; this rule's statement takes an Action",
            "use Action: {Block: {}}, {Allow: {}} or {Count: {}}",
        )
    action = convert.mapping(f"{where} Action", entry.get("Action"))
    kind = next(iter(action), "") if len(action) == 1 else ""
    if kind in ("Captcha", "Challenge"):
        raise TemplateError(
            f"{where} Action",
            f"{kind} is not emulated: a local client never holds WAF's token, and the page "
            "AWS answers with is for browsers",
            "use Block (a client without a token is refused on AWS too) or Count locally",
        )
    if kind not in _ACTIONS:
        raise TemplateError(
            f"{where} Action", f"is {action!r}", "give one of Allow, Block or Count: {}"
        )
    _custom(build, f"{where} Action", kind, action[kind])
    return _ACTIONS[kind]


def _override(where: str, entry: dict[str, Any]) -> str:
    if entry.get("Action") is not None:
        raise TemplateError(
            f"{where} Action",
            "a rule group statement takes an OverrideAction, not an Action",
            "use OverrideAction: {None: {}} (the group's own actions) or {Count: {}}",
        )
    action = convert.mapping(f"{where} OverrideAction", entry.get("OverrideAction"))
    kind = next(iter(action), "") if len(action) == 1 else ""
    if kind not in _OVERRIDES:
        raise TemplateError(
            f"{where} OverrideAction", f"is {action!r}", "give None: {} or Count: {}"
        )
    return _OVERRIDES[kind]
