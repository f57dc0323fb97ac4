"""IAM roles from a template: a role's inline policies, attached AWS::IAM::Policy and
ManagedPolicy resources, and the AWS managed policies sluiceway knows, as one `RolePolicy`: a
function's grants (as `uses=` is for a Python app), checked on every AWS API call it makes."""

from __future__ import annotations

from typing import Any

from sluiceway.core.policies import RolePolicy, role_policy
from sluiceway.templates import convert
from sluiceway.templates.build import Build
from sluiceway.templates.errors import TemplateError
from sluiceway.templates.managed_policies import managed

ROLE = "AWS::IAM::Role"
_POLICIES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


def role_of(build: Build, where: str, arn: Any) -> RolePolicy:
    """The role `arn` names (a function's Role, an integration's Credentials), its
    statements collected once; a statement on every resource is reported at start."""
    if arn is None:
        raise TemplateError(where, "is missing", "give it the ARN of a role of the template")
    logical = build.origin(arn, where, ROLE)
    found = build.handles.get(logical)
    if isinstance(found, RolePolicy):
        return found
    policy = _role_policy(build, logical)
    broad = [a for statement in policy.broad_statements() for a in statement.actions]
    if broad:
        build.note(
            f'{build.where(logical)}: allows {", ".join(broad)} on "*" (every resource); '
            "least privilege names the resources"
        )
    if any(s.conditional for s in policy.statements):
        build.note(f"{build.where(logical)}: Conditions in its policies are not evaluated locally")
    build.handles[logical] = policy
    return policy


def _role_policy(build: Build, logical: str) -> RolePolicy:
    props = build.props(logical)
    where = build.where(logical)
    documents: list[tuple[str, Any]] = []
    for i, item in enumerate(convert.listing(f"{where} property Policies", props.get("Policies"))):
        entry = convert.mapping(f"{where} property Policies[{i}]", item)
        label = f"{where} policy {entry.get('PolicyName', i)}"
        documents.append((label, entry.get("PolicyDocument")))
    for arn in convert.listing(
        f"{where} property ManagedPolicyArns", props.get("ManagedPolicyArns")
    ):
        documents.extend(_managed(build, where, arn))
    role_arn = f"arn:aws:iam::{build.region.account_id}:role/{build.name(logical)}"
    for other in build.of_type(*_POLICIES):
        attached = build.props(other)
        roles = convert.listing(build.where(other, "Roles"), attached.get("Roles"))
        if build.name(logical) in roles or role_arn in roles:
            documents.append((build.where(other), attached.get("PolicyDocument")))
    try:
        return role_policy(build.name(logical), documents)
    except Exception as error:
        raise TemplateError(where, str(error), "fix the policy document") from None


def _managed(build: Build, where: str, arn: Any) -> list[tuple[str, Any]]:
    if isinstance(arn, str) and ":iam::aws:policy/" in arn:
        document = managed(arn)
        if document is None:
            build.note(
                f"{where}: managed policy {arn} is not known locally and grants nothing "
                "(put the statements it needs inline)"
            )
            return []
        return [(f"{where} managed policy {arn}", document)]
    logical = build.origin(arn, f"{where} property ManagedPolicyArns", "AWS::IAM::ManagedPolicy")
    return [(build.where(logical), build.props(logical).get("PolicyDocument"))]
