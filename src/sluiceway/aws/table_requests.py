"""The table handle's boto3-style requests on AWS: which tables and actions a request names
(checked against the function's grants before AWS is called), and the declared table names
mapped to the deployed ones and back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sluiceway.core.permissions import ACTION_OF_METHOD

OPERATION_METHODS = {
    "PutItem": "put_item",
    "GetItem": "get_item",
    "UpdateItem": "update_item",
    "DeleteItem": "delete_item",
    "Query": "query",
    "Scan": "scan",
    "BatchGetItem": "batch_get_item",
    "BatchWriteItem": "batch_write_item",
    "TransactWriteItems": "transact_write_items",
    "TransactGetItems": "transact_get_items",
}
_TRANSACT_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}


def table_actions(operation: str, request: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (table, action) pairs a request needs, as IAM (and the local engine) checks
    them: a transaction's each action's own."""
    if "TransactItems" in request:
        return [
            (body["TableName"], _TRANSACT_ACTIONS[kind])
            for action in request["TransactItems"]
            for kind, body in action.items()
        ]
    return [(name, f"dynamodb:{operation}") for name in table_names(request)]


METHOD_OF_ACTION = {action: method for method, (_, action, _) in ACTION_OF_METHOD.items()}


def table_names(request: Mapping[str, Any]) -> list[str]:
    names = [request["TableName"]] if "TableName" in request else []
    names += list(request.get("RequestItems", {}))
    for action in request.get("TransactItems", ()):
        names += [body["TableName"] for body in action.values()]
    return list(dict.fromkeys(names))


def rename_tables(message: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """A request or answer with its table names mapped through `names`."""
    out = dict(message)
    if "TableName" in out:
        out["TableName"] = names.get(out["TableName"], out["TableName"])
    for option in ("RequestItems", "UnprocessedItems", "UnprocessedKeys"):
        if isinstance(out.get(option), Mapping):
            out[option] = {names.get(k, k): v for k, v in out[option].items()}
    if isinstance(out.get("Responses"), Mapping):
        out["Responses"] = {names.get(k, k): v for k, v in out["Responses"].items()}
    if "TransactItems" in out:
        out["TransactItems"] = [
            {kind: rename_tables(body, names) for kind, body in action.items()}
            for action in out["TransactItems"]
        ]
    return out
