"""What a subscription declaration must satisfy: its endpoint and filter policy."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any, Literal

from sluiceway.core.errors import DeclarationError
from sluiceway.core.validation import E164
from sluiceway.sns.spec import FILTER_POLICY_SCOPES, FilterPolicy

EMAIL = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*")


def filter_policy(
    where: str, policy: Mapping[str, Any] | str | None, scope: str
) -> FilterPolicy | None:
    """An SNS filter policy, checked as SNS checks it for its scope."""
    from sluiceway.patterns import PatternError, compile_pattern

    if scope not in FILTER_POLICY_SCOPES:
        raise DeclarationError(
            where,
            f"filter_policy_scope={scope!r} is not a scope SNS knows",
            "use 'MessageAttributes' (the default) or 'MessageBody'",
        )
    if policy is None:
        return None
    context: Literal["sns-attributes", "sns-body"] = (
        "sns-attributes" if scope == "MessageAttributes" else "sns-body"
    )
    try:
        compiled = compile_pattern(policy, context=context)
    except PatternError as error:
        raise DeclarationError(
            where, f"invalid filter policy: {error}", "fix the policy (see `sluiceway match`)"
        ) from None
    return FilterPolicy(compiled.source, scope)


def check_endpoint(
    where: str, protocol: str, endpoint: str, queues: Collection[str] | None = None
) -> None:
    """Check a subscription endpoint as SNS would for its protocol."""
    if not isinstance(endpoint, str) or not endpoint:
        raise DeclarationError(where, "the endpoint is empty", "give an address")
    if protocol in ("email", "email-json") and not EMAIL.fullmatch(endpoint):
        raise DeclarationError(
            where, f"{endpoint!r} is not an email address", "use e.g. 'ops@example.com'"
        )
    if protocol == "sms" and not E164.fullmatch(endpoint):
        raise DeclarationError(
            where,
            f"{endpoint!r} is not a phone number in E.164 form",
            "use + and the country code, digits only, e.g. '+919876543210'",
        )
    if protocol in ("http", "https") and not re.fullmatch(
        rf"{protocol}://[^\s/]+(/\S*)?", endpoint
    ):
        raise DeclarationError(
            where,
            f"{endpoint!r} is not an {protocol}:// URL",
            f"use e.g. '{protocol}://example.com/hook'",
        )
    if protocol == "sqs":
        name = endpoint.rsplit(":", 1)[-1]
        if queues is not None and name not in queues:
            raise DeclarationError(
                where,
                f"queue '{name}' is not declared in this app",
                "subscribe a queue of this app by its name",
            )
