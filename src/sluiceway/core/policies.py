"""IAM policy documents, evaluated locally: what a template's role lets its function do.

A function declared in Python gets its grants from ``uses=`` (`sluiceway.core.permissions`);
a function from a SAM or CloudFormation template gets them from its execution role, the
role's statements evaluated as IAM evaluates identity policies: an explicit Deny wins, then
any Allow, otherwise denied. Actions and resources match with IAM's wildcards (``*`` any run
of characters, ``?`` one), actions case-insensitively. Conditions are not evaluated locally: a
statement with a Condition is applied as if it held (reported once at start).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from sluiceway.core.errors import DeclarationError


@dataclass(frozen=True)
class Statement:
    effect: Literal["Allow", "Deny"]
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_action: bool = False  # NotAction: every action but these
    not_resource: bool = False  # NotResource: every resource but these
    conditional: bool = False  # had a Condition (not evaluated locally)

    def matches(self, action: str, arn: str) -> bool:
        acts = any(_pattern(a, True).fullmatch(action) for a in self.actions)
        ress = any(_pattern(r, False).fullmatch(arn) for r in self.resources)
        return acts != self.not_action and ress != self.not_resource

    @property
    def everywhere(self) -> bool:
        """Allows on every resource (``"Resource": "*"``), which least privilege avoids."""
        return self.effect == "Allow" and not self.not_resource and "*" in self.resources


@dataclass(frozen=True)
class RolePolicy:
    """A function's execution role: its name and every statement of its policies."""

    role: str
    statements: tuple[Statement, ...]

    def allows(self, action: str, arn: str) -> bool:
        matching = [s for s in self.statements if s.matches(action, arn)]
        return bool(matching) and all(s.effect == "Allow" for s in matching)

    def mentions(self, action: str) -> bool:
        """Whether some statement allows `action` on some resource."""
        return any(
            s.effect == "Allow"
            and any(_pattern(a, True).fullmatch(action) for a in s.actions) != s.not_action
            for s in self.statements
        )

    def broad_statements(self) -> tuple[Statement, ...]:
        return tuple(s for s in self.statements if s.everywhere)


@lru_cache(maxsize=4096)
def _pattern(text: str, fold: bool) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL if fold else re.DOTALL)


def statements(where: str, document: Any) -> tuple[Statement, ...]:
    """The statements of one policy document (a dict with ``Statement``), checked: a document
    IAM would refuse is a declaration error naming `where`."""
    if not isinstance(document, Mapping):
        raise DeclarationError(where, "a policy document is an object", "give it a Statement")
    raw = document.get("Statement", [])
    items: Sequence[Any] = [raw] if isinstance(raw, Mapping) else raw
    if not isinstance(items, list):
        raise DeclarationError(where, "Statement is an object or a list", "fix the document")
    return tuple(_statement(f"{where} statement {i}", item) for i, item in enumerate(items))


def _statement(where: str, item: Any) -> Statement:
    if not isinstance(item, Mapping):
        raise DeclarationError(where, "a statement is an object", "fix the policy document")
    effect = item.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise DeclarationError(where, f"Effect {effect!r}", "use Allow or Deny")
    action_key = "NotAction" if "NotAction" in item else "Action"
    resource_key = "NotResource" if "NotResource" in item else "Resource"
    return Statement(
        effect,
        _strings(where, action_key, item.get(action_key)),
        _strings(where, resource_key, item.get(resource_key, "*")),
        not_action=action_key == "NotAction",
        not_resource=resource_key == "NotResource",
        conditional="Condition" in item,
    )


def _strings(where: str, key: str, value: Any) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise DeclarationError(
            where, f"{key} is {value!r}, not a string or a list of strings", f"fix {key}"
        )
    return tuple(values)


def role_policy(role: str, documents: Iterable[tuple[str, Any]]) -> RolePolicy:
    """The role `role` from its (where, policy document) pairs."""
    collected: list[Statement] = []
    for where, document in documents:
        collected.extend(statements(where, document))
    return RolePolicy(role, tuple(collected))
