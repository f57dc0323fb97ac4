"""What every event source mapping shares: who consumes the batches (a function, or a pipe),
Lambda's rules for partial batch responses, and committing an invocation's deferred effects
with its acknowledgement.

The mappings themselves: `queue_mapping.py` (SQS) and `stream_mapping.py` (DynamoDB
Streams); the pipes that ride on them: `pipes.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sluiceway.awslambda.invoke import Invoker, Outcome
from sluiceway.awslambda.spec import FunctionSpec
from sluiceway.core import naming
from sluiceway.core.store import Op, Tx


class Consumer(Protocol):
    """What a mapping hands its batches to.

    `name` keys the mapping's checkpoints and logs; `arn` is named in failure records.
    A function (`pipe` False) gets Lambda's event, ``{"Records": [...]}``, and reports
    failed stream records by sequence number; a pipe (`pipe` True) gets the bare list of
    records and reports them by ``eventID``, as EventBridge Pipes do. `traces` are the
    records' traces, in order (see `traces.py`)."""

    name: str
    arn: str
    pipe: bool

    def invoke(self, event: Any, traces: Sequence[str | None] = ()) -> Outcome: ...


class FunctionConsumer:
    """A Lambda function behind an event source mapping."""

    pipe = False

    def __init__(self, function: FunctionSpec, invoker: Invoker, region: naming.Region) -> None:
        self.function = function
        self.invoker = invoker
        self.name = function.name
        self.arn = naming.function_arn(region, function.name)

    def invoke(self, event: Any, traces: Sequence[str | None] = ()) -> Outcome:
        return self.invoker.invoke(self.function, event, traces)


MAX_PAYLOAD_BYTES = 6 * 1024 * 1024


class BadResponse(Exception):
    """A partial-batch response Lambda would reject (the whole batch then fails)."""


def failed_identifiers(outcome: Outcome, valid: Sequence[str], *, enabled: bool) -> set[str]:
    """The identifiers a handler reported as failed (``batchItemFailures``).

    Success: None, a response without failures, or any answer when reporting is off.
    Raises `BadResponse` for what Lambda treats as a failure of the whole batch: a
    non-list ``batchItemFailures``, an entry without a non-empty ``itemIdentifier``, or an
    identifier that is not in the batch.
    """
    result = outcome.result
    if not enabled or not isinstance(result, dict):
        return set()
    failures = result.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        raise BadResponse("batchItemFailures is not a list")
    known = set(valid)
    failed: set[str] = set()
    for entry in failures:
        identifier = entry.get("itemIdentifier") if isinstance(entry, dict) else None
        if not isinstance(identifier, str) or not identifier:
            raise BadResponse(f"batchItemFailures entry {entry!r} has no itemIdentifier")
        if identifier not in known:
            raise BadResponse(f"itemIdentifier {identifier!r} is not in the batch")
        failed.add(identifier)
    return failed


def commit_deferred(tx: Tx, deferred: Sequence[Op[Any]]) -> None:
    for op in deferred:
        op(tx)
