"""DynamoDB's control plane on the store: tables created, described, listed, deleted; time
to live, streams and tags changed. A table made here is a row of ``tables`` as a declared
one is (the engine's registry is refreshed after), so the data plane cannot tell them apart.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sluiceway.core import naming
from sluiceway.core.errors import ValidationError
from sluiceway.core.naming import Region
from sluiceway.core.store import Tx
from sluiceway.dynamodb import changes, indexes
from sluiceway.dynamodb.errors import ResourceInUse
from sluiceway.dynamodb.info import TableInfo
from sluiceway.dynamodb.spec import TableSpec


def stream_label(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def config_of(spec: TableSpec) -> str:
    return json.dumps(dataclasses.asdict(spec))


def create(tx: Tx, spec: TableSpec) -> None:
    if tx.execute("SELECT 1 FROM tables WHERE name = ?", (spec.name,)).fetchone():
        raise ResourceInUse(f"Table already exists: {spec.name}")
    tx.execute(
        "INSERT INTO tables (name, config, stream_label, created_at) VALUES (?, ?, ?, ?)",
        (spec.name, config_of(spec), stream_label(tx.now) if spec.stream else None, tx.now_ms),
    )


def delete(tx: Tx, table: TableInfo) -> None:
    """Drop the table, its items, index rows, stream records and tags."""
    for sql in (
        "DELETE FROM items WHERE table_id = ?",
        "DELETE FROM index_items WHERE table_id = ?",
        "DELETE FROM stream_records WHERE table_id = ?",
        "DELETE FROM tables WHERE id = ?",
    ):
        tx.execute(sql, (table.id,))
    tx.execute("DELETE FROM table_tags WHERE table_name = ?", (table.name,))


def replace_spec(tx: Tx, table: TableInfo, spec: TableSpec) -> None:
    """Store a changed spec (TTL, stream, indexes); items' expiry and index rows follow."""
    row = tx.execute("SELECT stream_label FROM tables WHERE id = ?", (table.id,)).fetchone()
    label = row[0] if row is not None else None
    if spec.stream is None:
        label = None
    elif table.spec.stream is None or label is None:
        label = stream_label(tx.now)
    tx.execute(
        "UPDATE tables SET config = ?, stream_label = ? WHERE id = ?",
        (config_of(spec), label, table.id),
    )
    if spec.ttl_attribute != table.spec.ttl_attribute:
        rows = tx.execute("SELECT pk, sk, item FROM items WHERE table_id = ?", (table.id,))
        for pk, sk, text in rows.fetchall():
            tx.execute(
                "UPDATE items SET expires_at = ? WHERE table_id = ? AND pk = ? AND sk = ?",
                (changes.expiry(spec.ttl_attribute, json.loads(text)), table.id, pk, sk),
            )
    if spec.indexes != table.spec.indexes:
        indexes.rebuild(tx, table.id, spec)


def describe(cx: sqlite3.Connection, region: Region, table: TableInfo) -> dict[str, Any]:
    """The TableDescription DynamoDB answers DescribeTable (and CreateTable) with."""
    spec = table.spec
    created, label = cx.execute(
        "SELECT created_at, stream_label FROM tables WHERE id = ?", (table.id,)
    ).fetchone()
    count, size = cx.execute(
        "SELECT COUNT(*), COALESCE(SUM(LENGTH(item)), 0) FROM items WHERE table_id = ?",
        (table.id,),
    ).fetchone()
    created_at = datetime.fromtimestamp(created / 1000, UTC)
    out: dict[str, Any] = {
        "TableName": spec.name,
        "TableId": f"{table.id:08d}-0000-4000-8000-{created % 10**12:012d}",
        "TableArn": table.arn,
        "TableStatus": "ACTIVE",
        "CreationDateTime": created_at,
        "KeySchema": indexes.key_schema(spec.partition_key, spec.sort_key),
        "AttributeDefinitions": indexes.attribute_definitions(spec),
        "ItemCount": count,
        "TableSizeBytes": size,
        "BillingModeSummary": {
            "BillingMode": "PAY_PER_REQUEST",
            "LastUpdateToPayPerRequestDateTime": created_at,
        },
        "ProvisionedThroughput": {
            "NumberOfDecreasesToday": 0,
            "ReadCapacityUnits": 0,
            "WriteCapacityUnits": 0,
        },
        "DeletionProtectionEnabled": False,
    }
    if spec.stream is not None and label is not None:
        out["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": spec.stream}
        out["LatestStreamLabel"] = label
        out["LatestStreamArn"] = naming.stream_arn(region, spec.name, label)
    counts = dict(
        cx.execute(
            "SELECT index_name, COUNT(*) FROM index_items WHERE table_id = ? GROUP BY index_name",
            (table.id,),
        ).fetchall()
    )
    if spec.global_indexes:
        out["GlobalSecondaryIndexes"] = [
            {
                **_index(table, index, counts),
                "IndexStatus": "ACTIVE",
                "ProvisionedThroughput": {
                    "NumberOfDecreasesToday": 0,
                    "ReadCapacityUnits": 0,
                    "WriteCapacityUnits": 0,
                },
            }
            for index in spec.global_indexes
        ]
    if spec.local_indexes:
        out["LocalSecondaryIndexes"] = [
            _index(table, index, counts) for index in spec.local_indexes
        ]
    return out


def _index(table: TableInfo, index: Any, counts: Mapping[str, int]) -> dict[str, Any]:
    return {
        "IndexName": index.name,
        "KeySchema": indexes.key_schema(index.partition_key, index.sort_key),
        "Projection": indexes.projection(index),
        "IndexSizeBytes": 0,
        "ItemCount": counts.get(index.name, 0),
        "IndexArn": f"{table.arn}/index/{index.name}",
    }


def tags(cx: sqlite3.Connection, table: TableInfo) -> list[dict[str, str]]:
    rows = cx.execute(
        "SELECT key, value FROM table_tags WHERE table_name = ? ORDER BY key", (table.name,)
    ).fetchall()
    return [{"Key": key, "Value": value} for key, value in rows]


def tag(tx: Tx, table: TableInfo, new: list[Mapping[str, str]]) -> None:
    for pair in new:
        tx.execute(
            "INSERT OR REPLACE INTO table_tags (table_name, key, value) VALUES (?, ?, ?)",
            (table.name, pair["Key"], pair["Value"]),
        )
    (count,) = tx.execute(
        "SELECT COUNT(*) FROM table_tags WHERE table_name = ?", (table.name,)
    ).fetchone()
    if count > 50:
        raise ValidationError("The number of tags exceeds the limit of 50")


def untag(tx: Tx, table: TableInfo, keys: list[str]) -> None:
    for key in keys:
        tx.execute("DELETE FROM table_tags WHERE table_name = ? AND key = ?", (table.name, key))
