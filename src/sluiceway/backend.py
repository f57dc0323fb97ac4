"""The calls a resource handle makes, whichever target it is bound to.

The local engine implements this on SQLite; the AWS Lambda shim implements it on boto3. A
handler only ever talks to handles, so it runs unchanged on either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from sluiceway.specs import QueueSpec, TableSpec, TopicSpec

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


class Backend(Protocol):
    def send_message(
        self,
        queue: QueueSpec,
        body: str,
        *,
        delay_seconds: int | None,
        message_attributes: Mapping[str, Mapping[str, Any]] | None,
        message_group_id: str | None,
        message_deduplication_id: str | None,
    ) -> dict[str, str]: ...

    def change_message_visibility(
        self, queue: QueueSpec, receipt_handle: str, visibility_timeout: int
    ) -> None: ...

    def put_item(
        self, table: TableSpec, item: Mapping[str, Any], *, if_not_exists: bool
    ) -> None: ...

    def get_item(self, table: TableSpec, key: Mapping[str, Any]) -> dict[str, Any] | None: ...

    def delete_item(self, table: TableSpec, key: Mapping[str, Any]) -> dict[str, Any] | None: ...

    def query(
        self,
        table: TableSpec,
        partition_value: Any,
        *,
        sort_key: SortKeyCondition | None,
        limit: int | None,
        scan_forward: bool,
    ) -> list[dict[str, Any]]: ...

    def scan(self, table: TableSpec, *, limit: int | None) -> list[dict[str, Any]]: ...

    def publish(
        self,
        topic: TopicSpec,
        message: str,
        *,
        subject: str | None,
        message_attributes: Mapping[str, Mapping[str, Any]] | None,
        message_structure: str | None,
    ) -> dict[str, str]: ...

    def publish_sms(
        self, phone_number: str, message: str, *, sender_id: str | None, sms_type: str | None
    ) -> dict[str, str]: ...

    def publish_iot(self, topic: str, payload: bytes, qos: int) -> None: ...
