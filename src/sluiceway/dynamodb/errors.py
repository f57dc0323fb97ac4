"""DynamoDB's errors that carry more than a message: the item a failed condition found,
the reasons a transaction was cancelled."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sluiceway.core.attrvalue import Item
from sluiceway.core.errors import ConditionalCheckFailed, NotFound, SluicewayError

CONDITION_FAILED = "The conditional request failed"
NOT_FOUND = "Requested resource not found"


class ConditionFailed(ConditionalCheckFailed):
    """A ConditionExpression was false; `item` is the item as it was when the request asked
    for it (``ReturnValuesOnConditionCheckFailure=ALL_OLD``)."""

    def __init__(self, item: Item | None = None) -> None:
        super().__init__(CONDITION_FAILED)
        self.item = item


class TransactionCanceled(SluicewayError):
    """TransactWriteItems or TransactGetItems cancelled: one reason per action, in order."""

    code = "TransactionCanceledException"

    def __init__(self, reasons: Sequence[dict[str, Any]]) -> None:
        self.reasons = list(reasons)
        codes = ", ".join(r.get("Code", "None") for r in self.reasons)
        super().__init__(
            "Transaction cancelled, please refer cancellation reasons for specific reasons "
            f"[{codes}]"
        )


class ResourceInUse(SluicewayError):
    code = "ResourceInUseException"


class IdempotentParameterMismatch(SluicewayError):
    code = "IdempotentParameterMismatchException"


def table_not_found(name: str | None = None) -> NotFound:
    """DynamoDB's answer for a table that does not exist (DescribeTable names it)."""
    return NotFound(NOT_FOUND if name is None else f"{NOT_FOUND}: Table: {name} not found")
