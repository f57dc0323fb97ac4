"""Secondary indexes on the store: an index row per item that carries the index's keys,
holding the item's projection, written in the item's own transaction.

An index row is keyed by the index key's order-preserving bytes and then by the item's own
key (index keys need not be unique), so a query on an index is a range scan of
``index_items`` as a query on the table is of ``items``. An item without the index's key
attributes is not in the index (a sparse index), as on DynamoDB.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sluiceway.core import attrvalue
from sluiceway.core.attrvalue import Item
from sluiceway.core.errors import ValidationError
from sluiceway.core.store import Tx
from sluiceway.dynamodb.info import TableInfo
from sluiceway.dynamodb.spec import IndexSpec, KeySpec, TableSpec

Key = tuple[bytes, bytes]


def index_key(index: IndexSpec, item: Item) -> Key | None:
    """The item's key bytes in `index`, or None when it lacks (or mistypes) a key
    attribute: then it is not in the index."""
    parts: list[bytes] = []
    for spec in (index.partition_key, index.sort_key):
        if spec is None:
            parts.append(b"")
            continue
        value = item.get(spec.name)
        if not isinstance(value, dict) or spec.type not in value:
            return None
        parts.append(attrvalue.key_bytes(value, spec.type))
    return parts[0], parts[1]


def check(spec: TableSpec, item: Item) -> None:
    """DynamoDB refuses an item whose index key attribute has the wrong type or is empty."""
    for index in spec.indexes:
        for key in (index.partition_key, index.sort_key):
            if key is None or key.name in spec.key_names:
                continue
            value = item.get(key.name)
            if value is None:
                continue
            kind = next(iter(value))
            if kind != key.type:
                raise ValidationError(
                    "One or more parameter values were invalid: Type mismatch for Index Key "
                    f"{key.name} Expected: {key.type} Actual: {kind} IndexName: {index.name}"
                )
            if kind in ("S", "B") and value[kind] == "":
                raise ValidationError(
                    "One or more parameter values are not valid. A value specified for a "
                    "secondary index key is not supported. The AttributeValue for a key "
                    f"attribute cannot contain an empty string value. IndexName: {index.name}, "
                    f"IndexKey: {key.name}"
                )


def projected_names(spec: TableSpec, index: IndexSpec) -> frozenset[str] | None:
    """The attributes `index` holds (None: all of them)."""
    if index.projection == "ALL":
        return None
    names = {*spec.key_names, *index.key_names}
    if index.projection == "INCLUDE":
        names.update(index.non_key_attributes)
    return frozenset(names)


def project(spec: TableSpec, index: IndexSpec, item: Item) -> Item:
    names = projected_names(spec, index)
    if names is None:
        return item
    return {name: value for name, value in item.items() if name in names}


def update(tx: Tx, table: TableInfo, key: Key, new: Item | None) -> None:
    """Replace the index rows of the item under `key` by those of `new` (None: deleted)."""
    tx.execute(
        "DELETE FROM index_items WHERE table_id = ? AND item_pk = ? AND item_sk = ?",
        (table.id, *key),
    )
    if new is not None:
        _insert(tx, table.id, table.spec, key, new)


def _insert(tx: Tx, table_id: int, spec: TableSpec, key: Key, item: Item) -> None:
    for index in spec.indexes:
        at = index_key(index, item)
        if at is None:
            continue
        tx.execute(
            "INSERT INTO index_items (table_id, index_name, pk, sk, item_pk, item_sk, item) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                table_id,
                index.name,
                *at,
                *key,
                json.dumps(project(spec, index, item), separators=(",", ":"), ensure_ascii=False),
            ),
        )


def rebuild(tx: Tx, table_id: int, spec: TableSpec) -> None:
    """Write every index of the table afresh from its items (an index added or changed)."""
    tx.execute("DELETE FROM index_items WHERE table_id = ?", (table_id,))
    if not spec.indexes:
        return
    rows = tx.execute("SELECT pk, sk, item FROM items WHERE table_id = ?", (table_id,)).fetchall()
    for pk, sk, text in rows:
        _insert(tx, table_id, spec, (pk, sk), json.loads(text))


def key_specs(spec: TableSpec, index: IndexSpec | None) -> tuple[KeySpec, KeySpec | None]:
    """The partition and sort key of the table or of one of its indexes."""
    if index is None:
        return spec.partition_key, spec.sort_key
    return index.partition_key, index.sort_key


def attribute_definitions(spec: TableSpec) -> list[dict[str, Any]]:
    """Every key attribute of the table and its indexes, once, as AttributeDefinitions."""
    seen: dict[str, str] = {}
    keys: Iterable[KeySpec | None] = (
        spec.partition_key,
        spec.sort_key,
        *(k for i in spec.indexes for k in (i.partition_key, i.sort_key)),
    )
    for key in keys:
        if key is not None:
            seen.setdefault(key.name, key.type)
    return [{"AttributeName": name, "AttributeType": kind} for name, kind in seen.items()]


def key_schema(partition: KeySpec, sort: KeySpec | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": partition.name, "KeyType": "HASH"}]
    if sort is not None:
        schema.append({"AttributeName": sort.name, "KeyType": "RANGE"})
    return schema


def projection(index: IndexSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"ProjectionType": index.projection}
    if index.projection == "INCLUDE":
        out["NonKeyAttributes"] = list(index.non_key_attributes)
    return out
