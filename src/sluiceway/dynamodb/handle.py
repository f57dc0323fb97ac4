"""The DynamoDB table handle: what `app.table(...)` returns and a handler calls."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sluiceway.core.handle import Declarer, Handle
from sluiceway.core.permissions import permission
from sluiceway.core.specs import Permission
from sluiceway.dynamodb import handle_requests
from sluiceway.dynamodb.batch_writer import BatchWriter
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

    def table_request(self, operation: str, request: Mapping[str, Any]) -> dict[str, Any]:
        """A DynamoDB data-plane request (``PutItem``, ``Query``, ``TransactWriteItems``...)
        in DynamoDB's JSON form, tables by their declared names; the answer in that form."""
        ...


class Table(Handle):
    """A DynamoDB table, called with boto3's names (``Table`` of boto3's resource API), or
    with the shorter positional forms.

    >>> orders = app.table("orders", partition_key="orderID", stream="NEW_IMAGE")  # doctest: +SKIP
    >>> orders.put_item({"orderID": "o-1", "item": "gloves"}, if_not_exists=True)  # doctest: +SKIP
    >>> orders.get_item({"orderID": "o-1"})                                        # doctest: +SKIP
    {'orderID': 'o-1', 'item': 'gloves'}
    >>> orders.update_item(Key={"orderID": "o-1"}, UpdateExpression="SET n = :n",  # doctest: +SKIP
    ...     ExpressionAttributeValues={":n": 2}, ReturnValues="ALL_NEW")
    {'Attributes': {'orderID': 'o-1', 'item': 'gloves', 'n': Decimal('2')}}
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

    def _call(self, operation: str, request: Mapping[str, Any]) -> dict[str, Any]:
        return handle_requests.answer(self._backend().table_request(operation, request))

    def _one(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        return self._call(operation, handle_requests.request(self.name, params))

    # -- items -----------------------------------------------------------------------------

    def put_item(
        self, item: Mapping[str, Any] | None = None, *, if_not_exists: bool = False, **params: Any
    ) -> dict[str, Any] | None:
        """Write an item. ``put_item(item, if_not_exists=True)`` carries the condition
        ``attribute_not_exists(<partition key>)`` and raises `ConditionalCheckFailed` when an
        item with that key exists: the idempotent write a redelivered message needs.
        ``put_item(Item=..., ConditionExpression=..., ReturnValues=...)`` is boto3's call
        and returns its answer (``Attributes`` with ``ReturnValues="ALL_OLD"``)."""
        if item is not None:
            self._backend().put_item(self.spec, item, if_not_exists=if_not_exists)
            return None
        return self._one("PutItem", params)

    def get_item(
        self, key: Mapping[str, Any] | None = None, **params: Any
    ) -> dict[str, Any] | None:
        """``get_item(key)``: the item or None. ``get_item(Key=..., ProjectionExpression=...)``:
        boto3's answer, ``{"Item": ...}`` or ``{}``."""
        if key is not None:
            return self._backend().get_item(self.spec, key)
        return self._one("GetItem", params)

    def delete_item(
        self, key: Mapping[str, Any] | None = None, **params: Any
    ) -> dict[str, Any] | None:
        """``delete_item(key)``: the deleted item or None. ``delete_item(Key=...,
        ConditionExpression=..., ReturnValues=...)``: boto3's answer."""
        if key is not None:
            return self._backend().delete_item(self.spec, key)
        return self._one("DeleteItem", params)

    def update_item(self, **params: Any) -> dict[str, Any]:
        """boto3's UpdateItem: ``update_item(Key=..., UpdateExpression="SET n = n + :one",
        ConditionExpression=..., ExpressionAttributeNames=..., ExpressionAttributeValues=...,
        ReturnValues="UPDATED_NEW")``; returns ``{"Attributes": ...}`` when asked."""
        return self._one("UpdateItem", params)

    # -- reads -----------------------------------------------------------------------------

    def query(
        self,
        partition_value: Any = None,
        *,
        sort_key: SortKeyCondition | None = None,
        limit: int | None = None,
        scan_forward: bool = True,
        **params: Any,
    ) -> Any:
        """``query(value, sort_key=SortKey.begins_with(...))``: the items with this partition
        key, in sort-key order. ``query(KeyConditionExpression="pk = :p", IndexName=...,
        FilterExpression=..., Limit=..., ExclusiveStartKey=...)``: boto3's answer, one page
        (``Items``, ``Count``, ``ScannedCount``, ``LastEvaluatedKey``)."""
        if params:
            return self._one("Query", params)
        return self._backend().query(
            self.spec, partition_value, sort_key=sort_key, limit=limit, scan_forward=scan_forward
        )

    def scan(self, *, limit: int | None = None, **params: Any) -> Any:
        """``scan(limit=...)``: every item (up to `limit`). ``scan(FilterExpression=...,
        Segment=..., TotalSegments=..., Limit=...)``: boto3's answer, one page."""
        if params:
            return self._one("Scan", params)
        return self._backend().scan(self.spec, limit=limit)

    # -- batches and transactions --------------------------------------------------------

    def batch_get_item(self, *, RequestItems: Mapping[str, Any]) -> dict[str, Any]:
        """boto3's BatchGetItem, tables by declared name: ``{"Responses": {table: [...]}}``."""
        return self._call("BatchGetItem", handle_requests.batch_get({"RequestItems": RequestItems}))

    def batch_write_item(self, *, RequestItems: Mapping[str, Any]) -> dict[str, Any]:
        """boto3's BatchWriteItem: up to 25 ``PutRequest``/``DeleteRequest``, one commit."""
        return self._call(
            "BatchWriteItem", handle_requests.batch_write({"RequestItems": RequestItems})
        )

    def batch_writer(self, overwrite_by_pkeys: Sequence[str] | None = None) -> BatchWriter:
        """boto3's ``batch_writer()``: puts and deletes sent 25 at a time."""
        return BatchWriter(
            self.name,
            lambda request: self.batch_write_item(RequestItems=request["RequestItems"]),
            overwrite_by_pkeys,
        )

    def transact_write_items(self, **params: Any) -> dict[str, Any]:
        """boto3's TransactWriteItems (``TransactItems=[{"Put": {...}}, {"Update": {...}}]``;
        an action without ``TableName`` is on this table): all or nothing, or
        `TransactionCanceled` with its ``reasons``."""
        return self._call("TransactWriteItems", handle_requests.transact(self.name, params))

    def transact_get_items(self, **params: Any) -> dict[str, Any]:
        """boto3's TransactGetItems: ``{"Responses": [{"Item": ...}, {}]}``, one snapshot."""
        return self._call("TransactGetItems", handle_requests.transact(self.name, params))

    def __repr__(self) -> str:
        return f"Table({self.name!r})"
