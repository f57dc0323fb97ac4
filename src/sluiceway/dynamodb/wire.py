"""DynamoDB's data and control plane on the runtime's port (see `sluiceway.local.aws_api`).

The data-plane operations are the engine's own prepared requests (`requests.Prepared`):
the wire converts binary values at its edge (boto3 sends ``B`` as bytes; items are stored
with base64 text, as DynamoDB's JSON has them), checks the caller's grants for each table
the request touches, and runs the write in the store's writer or the read on a reader.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any

from sluiceway.core.wire import Call, Operations, WireError
from sluiceway.dynamodb import batch, items, reads, transactions, wire_tables
from sluiceway.dynamodb.errors import ConditionFailed, TransactionCanceled
from sluiceway.dynamodb.requests import Prepared, Tables
from sluiceway.dynamodb.wire_tables import TableEngine

operations: Operations[TableEngine] = Operations(
    "dynamodb", denied_code="AccessDeniedException", denied_status=400
)

Prepare = Callable[[Tables, Mapping[str, Any]], Prepared]
DATA_PLANE: dict[str, Prepare] = {
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


def to_stored(value: Any) -> Any:
    """A request as DynamoDB's JSON has it: every binary value as base64 text."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {key: to_stored(v) for key, v in value.items()}
    if isinstance(value, list):
        return [to_stored(v) for v in value]
    return value


def to_wire(value: Any) -> Any:
    """An answer with binary AttributeValues as bytes again, for the protocol layer."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((kind, data),) = value.items()
            if kind == "B" and isinstance(data, str):
                return {"B": base64.b64decode(data)}
            if kind == "BS" and isinstance(data, list) and all(isinstance(v, str) for v in data):
                return {"BS": [base64.b64decode(v) for v in data]}
        return {key: to_wire(v) for key, v in value.items()}
    if isinstance(value, list):
        return [to_wire(v) for v in value]
    return value


def run(engine: TableEngine, call: Call, prepared: Prepared) -> dict[str, Any]:
    """Check the caller may do what the request needs, then run it."""
    for table, action in prepared.access:
        call.authorize("table", table.name, action, table.arn)
    try:
        if prepared.write is not None:
            answer = engine.store.write(prepared.write)
        else:
            assert prepared.read is not None
            answer = prepared.read(engine.store.reader())
    except ConditionFailed as error:
        fields = {} if error.item is None else {"Item": to_wire(error.item)}
        raise WireError("ConditionalCheckFailedException", str(error), fields=fields) from None
    except TransactionCanceled as error:
        raise WireError(
            "TransactionCanceledException",
            str(error),
            fields={"CancellationReasons": to_wire(error.reasons)},
        ) from None
    result: dict[str, Any] = to_wire(answer)
    return result


def _data_plane(prepare: Prepare) -> Callable[[TableEngine, Call, dict[str, Any]], dict[str, Any]]:
    def handle(engine: TableEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
        return run(engine, call, prepare(engine.registry.tables, to_stored(params)))

    return handle


for _name, _prepare in DATA_PLANE.items():
    operations(_name)(_data_plane(_prepare))
for _name, _handler in wire_tables.HANDLERS.items():
    operations(_name)(_handler)
