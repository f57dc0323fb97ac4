"""DynamoDB's data and control plane on the runtime's port (see `sluiceway.local.aws_api`).

The data-plane operations are the engine's own prepared requests (`requests.Prepared`):
the wire converts binary values at its edge (boto3 sends ``B`` as bytes; items are stored
with base64 text, as DynamoDB's JSON has them), checks the caller's grants for each table
the request touches, and runs the write in the store's writer or the read on a reader.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sluiceway.core.wire import Call, Operations, WireError
from sluiceway.dynamodb import dataplane, wire_tables
from sluiceway.dynamodb.binary import to_bytes, to_stored
from sluiceway.dynamodb.errors import ConditionFailed, TransactionCanceled
from sluiceway.dynamodb.requests import Prepared
from sluiceway.dynamodb.wire_tables import TableEngine

operations: Operations[TableEngine] = Operations(
    "dynamodb", denied_code="AccessDeniedException", denied_status=400
)


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
        fields = {} if error.item is None else {"Item": to_bytes(error.item)}
        raise WireError("ConditionalCheckFailedException", str(error), fields=fields) from None
    except TransactionCanceled as error:
        raise WireError(
            "TransactionCanceledException",
            str(error),
            fields={"CancellationReasons": to_bytes(error.reasons)},
        ) from None
    result: dict[str, Any] = to_bytes(answer)
    return result


def _data_plane(name: str) -> Callable[[TableEngine, Call, dict[str, Any]], dict[str, Any]]:
    def handle(engine: TableEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
        return run(engine, call, dataplane.prepare(name, engine.registry.tables, to_stored(params)))

    return handle


for _name in dataplane.OPERATIONS:
    operations(_name)(_data_plane(_name))
for _name, _handler in wire_tables.HANDLERS.items():
    operations(_name)(_handler)
