"""Lambda's Invoke for the app's functions on the runtime's port (see
`sluiceway.local.aws_api`).

- ``RequestResponse`` runs the handler as an HTTP route's function runs (its deferred
  effects commit before the answer) and answers its JSON result, or Lambda's error payload
  with ``X-Amz-Function-Error: Unhandled``.
- ``Event`` answers 202 once the event is durable in the delivery outbox; the functions'
  delivery worker runs it, retrying a failure twice as Lambda does.
- ``DryRun`` checks the function and the caller's right, and answers 204.

``LogType=Tail`` answers Lambda's START/END/REPORT lines for the invocation; what the
handler itself logged goes to the runtime's log (``sluiceway run`` tags it with the request
id), not into ``X-Amz-Log-Result``.
"""

from __future__ import annotations

import base64
import json
import re
import traceback
from collections.abc import Sequence
from typing import Any, Protocol

from sluiceway.awslambda.invoke import Outcome, TaskTimedOut, Throttled
from sluiceway.awslambda.spec import FunctionSpec
from sluiceway.core import ids, naming
from sluiceway.core.naming import Region
from sluiceway.core.store import Store
from sluiceway.core.wire import Call, Operations, WireError
from sluiceway.sns import topics

SYNC_LIMIT = 6 * 1024 * 1024  # bytes: Lambda's synchronous payload quota
ASYNC_LIMIT = 1024 * 1024  # and its asynchronous one
_NAME = re.compile(
    r"(?:arn:aws:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:"
    r"|(?P<short_account>\d{12}):function:)?(?P<name>[A-Za-z0-9_-]{1,64})(?::(?P<qualifier>[^:]+))?"
)


class Graph(Protocol):
    @property
    def functions(self) -> Sequence[FunctionSpec]: ...


class FunctionEngine(Protocol):
    """What Lambda's operations need of the engine."""

    store: Store
    region: Region

    @property
    def graph(self) -> Graph: ...

    def invoke_http(
        self, function: FunctionSpec, event: dict[str, Any], trace_id: str | None = None
    ) -> Outcome: ...


operations: Operations[FunctionEngine] = Operations(
    "lambda", denied_code="AccessDeniedException", denied_status=403
)


def function_of(engine: FunctionEngine, call: Call, name: str, qualifier: Any) -> FunctionSpec:
    """The function a name, ARN or partial ARN names (``$LATEST`` the only version)."""
    found = _NAME.fullmatch(name)
    if found is None:
        raise WireError(
            "ValidationException",
            f"1 validation error detected: Value '{name}' at 'functionName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?"
            ":lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?"
            "([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?",
            status=400,
        )
    arn = naming.function_arn(call.region, found["name"])
    account = found["account"] or found["short_account"]
    version = found["qualifier"] or qualifier
    elsewhere = (found["region"] not in (None, call.region.region)) or (
        account not in (None, call.region.account_id)
    )
    function = next((f for f in engine.graph.functions if f.name == found["name"]), None)
    if function is None or elsewhere or version not in (None, "$LATEST"):
        shown = arn if version is None else f"{arn}:{version}"
        raise WireError("ResourceNotFoundException", f"Function not found: {shown}", status=404)
    return function


def _event(payload: bytes, limit: int) -> tuple[Any, str]:
    if len(payload) > limit:
        raise WireError(
            "RequestTooLargeException",
            f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
            status=413,
        )
    text = payload.decode("utf-8", "replace") if payload.strip() else "{}"
    try:
        return json.loads(text), text
    except ValueError as error:
        raise WireError(
            "InvalidRequestContentException",
            f"Could not parse request body into json: Could not parse payload into json: {error}",
            status=400,
        ) from None


def error_payload(error: BaseException) -> dict[str, Any]:
    """Lambda's answer for a handler that raised: its message, type and stack."""
    if isinstance(error, TaskTimedOut):
        return {"errorType": "Sandbox.Timedout", "errorMessage": str(error)}
    error_type = getattr(error, "error_type", None) or type(error).__name__
    stack = getattr(error, "stack", None)
    if stack is None:
        stack = traceback.format_list(traceback.extract_tb(error.__traceback__))
    return {"errorMessage": str(error), "errorType": error_type, "stackTrace": list(stack)}


def _tail(outcome: Outcome) -> str:
    """Lambda's own lines of the invocation's log, base64 (at most the last 4 KB)."""
    request = outcome.request_id
    millis = outcome.duration * 1000
    lines = (
        f"START RequestId: {request} Version: $LATEST\n"
        f"END RequestId: {request}\n"
        f"REPORT RequestId: {request}\tDuration: {millis:.2f} ms\t"
        f"Billed Duration: {max(1, round(millis))} ms\t\n"
    )
    return base64.b64encode(lines.encode()[-4096:]).decode()


@operations("Invoke")
def invoke(engine: FunctionEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    function = function_of(engine, call, params["FunctionName"], params.get("Qualifier"))
    arn = naming.function_arn(call.region, function.name)
    # No grant kind lets a function invoke another yet: the admin may.
    call.require_admin("lambda:InvokeFunction", arn)
    kind = params.get("InvocationType") or "RequestResponse"
    payload: bytes = params.get("Payload") or b""
    if kind == "DryRun":
        _event(payload, SYNC_LIMIT)
        return {"StatusCode": 204}
    if kind == "Event":
        _, text = _event(payload, ASYNC_LIMIT)
        request_id = ids.uuid4()
        engine.store.write(
            lambda tx: topics.enqueue_invocation(tx, function.name, text, request_id)
        )
        return {"StatusCode": 202, "Payload": b""}
    if kind != "RequestResponse":
        raise WireError(
            "InvalidParameterValueException",
            f"Invalid InvocationType {kind!r}: use RequestResponse, Event or DryRun",
            status=400,
        )
    event, _ = _event(payload, SYNC_LIMIT)
    outcome = engine.invoke_http(function, event)
    if isinstance(outcome.error, Throttled):
        raise WireError(
            "TooManyRequestsException",
            "Rate Exceeded.",
            status=429,
            fields={"Type": "User", "Reason": Throttled.reason},
        )
    answer: dict[str, Any] = {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
    if outcome.error is not None:
        answer["FunctionError"] = "Unhandled"
        answer["Payload"] = json.dumps(error_payload(outcome.error)).encode()
    else:
        answer["Payload"] = json.dumps(outcome.result).encode()
    if params.get("LogType") == "Tail":
        answer["LogResult"] = _tail(outcome)
    return answer
