"""The DynamoDB table handle: what `app.table(...)` returns and a handler calls."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from sluiceway.core.handle import Declarer, Handle
from sluiceway.core.permissions import permission
from sluiceway.core.specs import Permission
from sluiceway.dynamodb.iam import TABLE_READ_ACTIONS, TABLE_WRITE_ACTIONS
from sluiceway.dynamodb.keys import SortKeyCondition
from sluiceway.dynamodb.spec import TableSpec


class TableBackend(Protocol):
    """The calls this service's handles make: the local engine implements them on SQLite,
    the Lambda shim on boto3."""

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


class Table(Handle):
    """A DynamoDB table.

    >>> orders = app.table("orders", partition_key="orderID", stream="NEW_IMAGE")  # doctest: +SKIP
    >>> orders.put_item({"orderID": "o-1", "item": "gloves"}, if_not_exists=True)  # doctest: +SKIP
    >>> orders.get_item({"orderID": "o-1"})                                        # doctest: +SKIP
    {'orderID': 'o-1', 'item': 'gloves'}
    """

    def __init__(self, app: Declarer, spec: TableSpec) -> None:
        super().__init__(app)
        self.spec = spec

    def _backend(self) -> TableBackend:
        backend: TableBackend = self._app.backend
        return backend

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def reads(self) -> Permission:
        """Permission to get, query and scan (`uses=[table.reads]`)."""
        return permission("table", self.name, "reads", TABLE_READ_ACTIONS)

    @property
    def writes(self) -> Permission:
        """Permission to put, update and delete items (`uses=[table.writes]`)."""
        return permission("table", self.name, "writes", TABLE_WRITE_ACTIONS)

    def put_item(self, item: Mapping[str, Any], *, if_not_exists: bool = False) -> None:
        """Write an item. With ``if_not_exists=True`` the write carries the condition
        ``attribute_not_exists(<partition key>)`` and raises `ConditionalCheckFailed` when an
        item with that key exists: the idempotent write a redelivered message needs."""
        self._backend().put_item(self.spec, item, if_not_exists=if_not_exists)

    def get_item(self, key: Mapping[str, Any]) -> dict[str, Any] | None:
        return self._backend().get_item(self.spec, key)

    def delete_item(self, key: Mapping[str, Any]) -> dict[str, Any] | None:
        """Delete an item; returns the deleted item (``ReturnValues=ALL_OLD``) or None."""
        return self._backend().delete_item(self.spec, key)

    def query(
        self,
        partition_value: Any,
        *,
        sort_key: SortKeyCondition | None = None,
        limit: int | None = None,
        scan_forward: bool = True,
    ) -> list[dict[str, Any]]:
        """Items with this partition key, in sort-key order (`SortKey.begins_with(...)`...)."""
        return self._backend().query(
            self.spec, partition_value, sort_key=sort_key, limit=limit, scan_forward=scan_forward
        )

    def scan(self, *, limit: int | None = None) -> list[dict[str, Any]]:
        return self._backend().scan(self.spec, limit=limit)

    def __repr__(self) -> str:
        return f"Table({self.name!r})"
