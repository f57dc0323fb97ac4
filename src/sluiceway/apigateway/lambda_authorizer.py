"""API Gateway's Lambda authorizers (a REST API's TOKEN and REQUEST authorizers, from a
template), as API Gateway runs them before the route's integration.

A TOKEN authorizer gets ``{"type": "TOKEN", "authorizationToken", "methodArn"}`` (the token
from its identity source header, checked against its validation expression first); a
REQUEST authorizer gets the request as a proxy event with ``type`` and ``methodArn``. It
answers ``{"principalId", "policyDocument", "context"}``: the method runs if a statement of
the policy allows ``execute-api:Invoke`` on its ARN and none denies it, and the route's
function finds ``principalId`` and the context in ``requestContext.authorizer``.

API Gateway's refusals, as it answers them: no identity (or one the expression refuses),
or the authorizer raising ``Unauthorized``: 401 ``{"message": "Unauthorized"}``; a policy
that denies: 403 ``{"Message": "User is not authorized to access this resource with an
explicit deny"}``; one that does not allow: 403 ``{"Message": "User is not authorized to
access this resource"}``; an authorizer that fails otherwise or answers no policy: 500
``{"message": null}``. Answers are not cached (API Gateway caches them for a TTL).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from sluiceway.apigateway.asgi import Send, answer_json
from sluiceway.awslambda.invoke import Outcome
from sluiceway.awslambda.spec import FunctionAuthorizer, FunctionSpec
from sluiceway.core import policies
from sluiceway.core.errors import DeclarationError

log = logging.getLogger("sluiceway.gateway")

INVOKE = "execute-api:Invoke"
UNAUTHORIZED = (401, {"message": "Unauthorized"})
DENIED = (403, {"Message": "User is not authorized to access this resource with an explicit deny"})
NOT_ALLOWED = (403, {"Message": "User is not authorized to access this resource"})
BROKEN = (500, {"message": None})


class Invokes(Protocol):
    def invoke_http(
        self, function: FunctionSpec, event: dict[str, Any], trace_id: str | None = None
    ) -> Outcome: ...


def method_arn(region: str, account: str, api_id: str, stage: str, method: str, path: str) -> str:
    return f"arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/{method}/{path.lstrip('/')}"


async def authorize(
    engine: Invokes,
    authorizer: FunctionAuthorizer,
    function: FunctionSpec | None,
    arn: str,
    headers: Mapping[str, str],
    request_event: Callable[[], dict[str, Any]],
    send: Send,
    extra: list[tuple[bytes, bytes]],
    trace_id: str,
) -> dict[str, Any] | None:
    """The ``requestContext.authorizer`` the route's function gets, or None once the
    refusal is answered. `headers` are the request's, by lower-case name."""
    identity = [headers.get(name.lower()) for name in authorizer.identity_sources]
    if any(value is None or value == "" for value in identity):
        await answer_json(send, *UNAUTHORIZED, extra)
        return None
    if authorizer.kind == "TOKEN":
        token = str(identity[0])
        if authorizer.validation is not None and not re.fullmatch(authorizer.validation, token):
            await answer_json(send, *UNAUTHORIZED, extra)
            return None
        event: dict[str, Any] = {"type": "TOKEN", "authorizationToken": token, "methodArn": arn}
    else:
        event = {"type": "REQUEST", "methodArn": arn, **request_event()}
    if function is None:
        log.error("the Lambda authorizer's function %s is not declared", authorizer.function)
        await answer_json(send, *BROKEN, extra)
        return None
    loop = asyncio.get_running_loop()
    outcome = await loop.run_in_executor(None, engine.invoke_http, function, event, trace_id)
    if not outcome.ok:
        if str(outcome.error) == "Unauthorized":  # what an authorizer raises to refuse
            await answer_json(send, *UNAUTHORIZED, extra)
        else:
            await answer_json(send, *BROKEN, extra)
        return None
    decided = _decision(outcome.result, arn)
    if isinstance(decided, tuple):
        await answer_json(send, *decided, extra)
        return None
    return decided


def _decision(result: Any, arn: str) -> dict[str, Any] | tuple[int, dict[str, Any]]:
    """The authorizer context when its policy allows `arn`, else the refusal to answer."""
    if not isinstance(result, dict) or not isinstance(result.get("policyDocument"), dict):
        log.error("a Lambda authorizer answered no policyDocument: %r", result)
        return BROKEN
    try:
        statements = policies.statements("the authorizer's policy", result["policyDocument"])
    except DeclarationError as error:
        log.error("a Lambda authorizer's policy is not one IAM takes: %s", error)
        return BROKEN
    matching = [s for s in statements if s.matches(INVOKE, arn)]
    if any(s.effect == "Deny" for s in matching):
        return DENIED
    if not matching:
        return NOT_ALLOWED
    context = result.get("context")
    found: dict[str, Any] = {"principalId": str(result.get("principalId", ""))}
    if isinstance(context, dict):
        # API Gateway passes only strings, numbers and booleans (not objects or arrays).
        found.update({k: v for k, v in context.items() if isinstance(v, str | int | float | bool)})
    found["integrationLatency"] = 0
    return found
