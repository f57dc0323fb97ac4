"""BatchGetItem and BatchWriteItem: up to 100 keys to read (16 MB an answer), up to 25 puts
and deletes, each table's keys distinct. Every write of a batch commits in one
transaction, so `UnprocessedItems` is always empty; a read past 16 MB leaves the rest in
`UnprocessedKeys`, as DynamoDB does."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from sluiceway.core import attrvalue
from sluiceway.core.errors import ValidationError
from sluiceway.core.store import Tx
from sluiceway.dynamodb import items
from sluiceway.dynamodb.expressions import Usage
from sluiceway.dynamodb.requests import Answer, Prepared, Tables, finish, table_of

MAX_GET_KEYS = 100
MAX_WRITES = 25
MAX_GET_BYTES = 16 * 1024 * 1024
DUPLICATES = "Provided list of item keys contains duplicates"


def _request_items(request: Mapping[str, Any]) -> Mapping[str, Any]:
    found = request.get("RequestItems")
    if not isinstance(found, Mapping) or not found:
        raise ValidationError(
            "1 validation error detected: Value null at 'requestItems' failed to satisfy "
            "constraint: Member must not be null"
        )
    return found


def _key_text(key: Mapping[str, Any]) -> str:
    return json.dumps(key, sort_keys=True, separators=(",", ":"))


def batch_get_item(
    tables: Tables, request: Mapping[str, Any], trace_id: str | None = None
) -> Prepared:
    wanted = _request_items(request)
    total = sum(len(entry.get("Keys") or ()) for entry in wanted.values())
    if total > MAX_GET_KEYS:
        raise ValidationError("Too many items requested for the BatchGetItem call")
    plans: list[tuple[str, Mapping[str, Any], list[items.ItemRead]]] = []
    for name, entry in wanted.items():
        table = table_of(tables, name)
        keys = entry.get("Keys") or []
        if len({_key_text(k) for k in keys}) != len(keys):
            raise ValidationError(DUPLICATES)
        usage = Usage()
        reads = [
            items.plan_get(
                tables,
                {
                    "TableName": table.name,
                    "Key": key,
                    "ProjectionExpression": entry.get("ProjectionExpression"),
                    "ExpressionAttributeNames": entry.get("ExpressionAttributeNames"),
                },
                usage=usage,
            )
            for key in keys
        ]
        if reads:
            finish(usage, entry, None)
        plans.append((name, entry, reads))

    def read(cx: sqlite3.Connection) -> Answer:
        responses: dict[str, list[Any]] = {}
        unprocessed: dict[str, Any] = {}
        size = 0
        for name, entry, reads in plans:
            found = responses.setdefault(name, [])
            for position, plan in enumerate(reads):
                if size >= MAX_GET_BYTES:
                    rest = entry["Keys"][position:]
                    unprocessed[name] = {**entry, "Keys": rest}
                    break
                item = plan.read(cx)
                if item is not None:
                    found.append(item)
                    size += attrvalue.item_size(item)
        return {"Responses": responses, "UnprocessedKeys": unprocessed}

    access = tuple((table_of(tables, name), "dynamodb:BatchGetItem") for name, _, _ in plans)
    return Prepared(access, read=read)


def batch_write_item(
    tables: Tables, request: Mapping[str, Any], trace_id: str | None = None
) -> Prepared:
    wanted = _request_items(request)
    total = sum(len(entries or ()) for entries in wanted.values())
    if total > MAX_WRITES:
        raise ValidationError(
            "1 validation error detected: Value '{...}' at 'requestItems' failed to satisfy "
            "constraint: Map value must satisfy constraint: [Member must have length less "
            "than or equal to 25, Member must have length greater than or equal to 1]"
        )
    plans: list[items.ItemWrite] = []
    for name, entries in wanted.items():
        table_of(tables, name)
        seen: set[bytes | tuple[bytes, bytes]] = set()
        for entry in entries or ():
            put, delete = entry.get("PutRequest"), entry.get("DeleteRequest")
            if (put is None) == (delete is None):
                raise ValidationError(
                    "Supplied AttributeValue has more than one datatypes set, must contain "
                    "exactly one of the supported datatypes"
                    if put is not None
                    else "1 validation error detected: a WriteRequest must hold exactly one "
                    "of PutRequest and DeleteRequest"
                )
            if put is not None:
                plan = items.plan_put(tables, {"TableName": name, "Item": put.get("Item")})
            else:
                plan = items.plan_delete(tables, {"TableName": name, "Key": delete.get("Key")})
            if plan.key in seen:
                raise ValidationError(DUPLICATES)
            seen.add(plan.key)
            plans.append(plan)

    def write(tx: Tx) -> Answer:
        for plan in plans:
            plan.apply(tx, trace_id=trace_id)
        return {"UnprocessedItems": {}}

    access = tuple((table_of(tables, name), "dynamodb:BatchWriteItem") for name in wanted)
    return Prepared(access, write=write)
