"""What every event source mapping shares: Lambda's rules for partial batch responses, and
committing an invocation's deferred effects with its acknowledgement.

The mappings themselves: `queue_mapping.py` (SQS) and `stream_mapping.py` (DynamoDB
Streams).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sluiceway.local.invoke import Outcome
from sluiceway.local.store import Op, Tx

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
