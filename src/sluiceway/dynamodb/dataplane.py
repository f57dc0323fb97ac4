"""The data-plane operations by name, as both ways in run them: each prepares a request
(`requests.Prepared`) from DynamoDB's JSON form of it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sluiceway.dynamodb import batch, items, reads, transactions
from sluiceway.dynamodb.requests import Prepared, Tables

Prepare = Callable[[Tables, Mapping[str, Any], str | None], Prepared]

OPERATIONS: dict[str, Prepare] = {
    "PutItem": items.put_item,
    "GetItem": items.get_item,
    "UpdateItem": items.update_item,
    "DeleteItem": items.delete_item,
    "Query": reads.query,
    "Scan": reads.scan,
    "BatchGetItem": batch.batch_get_item,
    "BatchWriteItem": batch.batch_write_item,
    "TransactWriteItems": transactions.transact_write_items,
    "TransactGetItems": transactions.transact_get_items,
}


def prepare(
    operation: str,
    tables: Tables,
    request: Mapping[str, Any],
    trace_id: str | None = None,
) -> Prepared:
    return OPERATIONS[operation](tables, request, trace_id)
