"""Sort-key conditions for a table query, named as DynamoDB's KeyConditionExpression has them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

SortOp = Literal["=", "<", "<=", ">", ">=", "between", "begins_with"]


@dataclass(frozen=True)
class SortKeyCondition:
    """A condition on the sort key in a query: ``SortKey.between(1, 9)``."""

    op: SortOp
    values: tuple[Any, ...]


class SortKey:
    """Builders for sort-key conditions, named as DynamoDB's KeyConditionExpression has them."""

    @staticmethod
    def eq(value: Any) -> SortKeyCondition:
        return SortKeyCondition("=", (value,))

    @staticmethod
    def lt(value: Any) -> SortKeyCondition:
        return SortKeyCondition("<", (value,))

    @staticmethod
    def le(value: Any) -> SortKeyCondition:
        return SortKeyCondition("<=", (value,))

    @staticmethod
    def gt(value: Any) -> SortKeyCondition:
        return SortKeyCondition(">", (value,))

    @staticmethod
    def ge(value: Any) -> SortKeyCondition:
        return SortKeyCondition(">=", (value,))

    @staticmethod
    def between(low: Any, high: Any) -> SortKeyCondition:
        return SortKeyCondition("between", (low, high))

    @staticmethod
    def begins_with(prefix: Any) -> SortKeyCondition:
        return SortKeyCondition("begins_with", (prefix,))
