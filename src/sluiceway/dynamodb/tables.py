"""DynamoDB semantics on SQLite, with the change stream written in the same transaction.

An item write and its stream record are one op, so they commit together: every change
appears in the stream exactly once, in commit order (hence in order per item). Items are
stored as AttributeValue JSON under order-preserving key bytes, so a query on the sort key is
an index range scan.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sluiceway.core import attrvalue, events
from sluiceway.core.attrvalue import Item
from sluiceway.core.errors import ConditionalCheckFailed, ValidationError
from sluiceway.core.store import Tx
from sluiceway.dynamodb import changes
from sluiceway.dynamodb.info import TableInfo
from sluiceway.dynamodb.keys import SortKeyCondition
from sluiceway.dynamodb.spec import KeySpec

STREAM_RETENTION_MS = 24 * 3600 * 1000
# Sequence numbers are decimal strings in AWS; ours are 21 digits and grow with each record.
_SEQUENCE_BASE = 10**20


def sequence_number(seq: int) -> str:
    return str(_SEQUENCE_BASE + seq)


# -- keys ---------------------------------------------------------------------------------


def _key_part(table: TableInfo, key: KeySpec, item: Mapping[str, Any]) -> bytes:
    value = item.get(key.name)
    if value is None:
        raise ValidationError(
            f"table '{table.name}': the item has no key attribute '{key.name}' "
            f"(its key schema needs {table.spec.key_schema})"
        )
    if not isinstance(value, dict) or key.type not in value:
        kind = next(iter(value), "?") if isinstance(value, dict) else type(value).__name__
        raise ValidationError(
            f"table '{table.name}': key attribute '{key.name}' must be of type {key.type}, "
            f"got {kind}"
        )
    if key.type in ("S", "B") and value[key.type] == "":
        raise ValidationError(f"table '{table.name}': key attribute '{key.name}' must not be empty")
    if key.type == "S" and len(value["S"].encode()) > (
        2048 if key is table.spec.partition_key else 1024
    ):
        raise ValidationError(f"table '{table.name}': key attribute '{key.name}' is too long")
    return attrvalue.key_bytes(value, key.type)


def encode_key(table: TableInfo, item: Mapping[str, Any]) -> tuple[bytes, bytes]:
    pk = _key_part(table, table.spec.partition_key, item)
    sk = b"" if table.spec.sort_key is None else _key_part(table, table.spec.sort_key, item)
    return pk, sk


def key_item(table: TableInfo, key: Mapping[str, Any]) -> Item:
    """A Python key ({"orderID": "o-1"}) as AttributeValues, checked against the schema."""
    names = table.spec.key_names
    extra = set(key) - set(names)
    if extra or len(key) != len(names):
        raise ValidationError(
            f"table '{table.name}': a key has exactly the attributes {', '.join(names)}"
            + (f" (got {', '.join(sorted(key))})" if key else "")
        )
    return attrvalue.serialize_item(key, where="key")


keys_of = changes.keys_of


def check_item(table: TableInfo, item: Item) -> None:
    size = attrvalue.item_size(item)
    if size > attrvalue.MAX_ITEM_BYTES:
        raise ValidationError(
            f"table '{table.name}': item size {size} bytes exceeds DynamoDB's 400 KB limit"
        )
    encode_key(table, item)


# -- ops ----------------------------------------------------------------------------------


def put(
    tx: Tx, table: TableInfo, item: Item, *, if_not_exists: bool, trace_id: str | None = None
) -> None:
    """PutItem (optionally with ``attribute_not_exists(<partition key>)``); the stream
    record joins `trace_id`."""
    key = encode_key(table, item)
    old = changes.load(tx, table, key)
    if old is not None and if_not_exists:
        raise ConditionalCheckFailed(
            f"table '{table.name}': an item with this key already exists "
            f"(condition attribute_not_exists({table.spec.partition_key.name}))"
        )
    changes.write(tx, table, key, old, item, trace_id=trace_id)


def expire(tx: Tx, table: TableInfo, limit: int = 1000) -> int:
    """Delete items whose TTL has passed, each with a REMOVE stream record that names the
    DynamoDB service as its `userIdentity`, as TTL deletes do."""
    rows = tx.execute(
        "SELECT pk, sk, item FROM items WHERE table_id = ? AND expires_at IS NOT NULL "
        "AND expires_at <= ? LIMIT ?",
        (table.id, tx.now_ms, limit),
    ).fetchall()
    for pk, sk, text in rows:
        old: Item = json.loads(text)
        changes.write(tx, table, (pk, sk), old, None, user_identity=events.TTL_IDENTITY)
    return len(rows)


def delete(
    tx: Tx,
    table: TableInfo,
    key: Item,
    *,
    user_identity: Mapping[str, str] | None = None,
    trace_id: str | None = None,
) -> Item | None:
    at = encode_key(table, key)
    old = changes.load(tx, table, at)
    if old is not None:
        changes.write(tx, table, at, old, None, user_identity=user_identity, trace_id=trace_id)
    return old


def trim_stream(tx: Tx, table: TableInfo) -> int:
    """Drop stream records older than 24 hours, as DynamoDB Streams does."""
    return tx.execute(
        "DELETE FROM stream_records WHERE table_id = ? AND created_at < ?",
        (table.id, tx.now_ms - STREAM_RETENTION_MS),
    ).rowcount


# -- reads --------------------------------------------------------------------------------


def get(cx: sqlite3.Connection, table: TableInfo, key: Item) -> Item | None:
    pk, sk = encode_key(table, key)
    row = cx.execute(
        "SELECT item FROM items WHERE table_id = ? AND pk = ? AND sk = ?", (table.id, pk, sk)
    ).fetchone()
    return None if row is None else dict(json.loads(row[0]))


def query(
    cx: sqlite3.Connection,
    table: TableInfo,
    partition_value: Any,
    *,
    sort_key: SortKeyCondition | None,
    limit: int | None,
    scan_forward: bool,
) -> list[Item]:
    pk_spec = table.spec.partition_key
    pk = _key_part(table, pk_spec, {pk_spec.name: attrvalue.serialize(partition_value)})
    sql = "SELECT item FROM items WHERE table_id = ? AND pk = ?"
    params: list[Any] = [table.id, pk]
    if sort_key is not None:
        if table.spec.sort_key is None:
            raise ValidationError(f"table '{table.name}' has no sort key to put a condition on")
        clause, values = _sort_clause(table, sort_key)
        sql += clause
        params += values
    sql += " ORDER BY sk " + ("ASC" if scan_forward else "DESC")
    if limit is not None:
        if limit < 1:
            raise ValidationError("Limit must be at least 1")
        sql += " LIMIT ?"
        params.append(limit)
    return [json.loads(row[0]) for row in cx.execute(sql, params)]


def _sort_clause(table: TableInfo, condition: SortKeyCondition) -> tuple[str, list[bytes]]:
    spec = table.spec.sort_key
    assert spec is not None
    encoded = [
        _key_part(table, spec, {spec.name: attrvalue.serialize(v)}) for v in condition.values
    ]
    if condition.op in ("=", "<", "<=", ">", ">="):
        return f" AND sk {condition.op} ?", encoded
    if condition.op == "between":
        if encoded[0] > encoded[1]:
            raise ValidationError("BETWEEN needs the lower bound first")
        return " AND sk BETWEEN ? AND ?", encoded
    if spec.type == "N":
        raise ValidationError("begins_with applies to string and binary sort keys only")
    prefix = encoded[0]
    upper = _prefix_upper(prefix)
    if upper is None:
        return " AND sk >= ?", [prefix]
    return " AND sk >= ? AND sk < ?", [prefix, upper]


def _prefix_upper(prefix: bytes) -> bytes | None:
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


def scan(cx: sqlite3.Connection, table: TableInfo, *, limit: int | None = None) -> Iterator[Item]:
    sql = "SELECT item FROM items WHERE table_id = ? ORDER BY pk, sk"
    params: tuple[Any, ...] = (table.id,)
    if limit is not None:
        sql += " LIMIT ?"
        params += (limit,)
    for (text,) in cx.execute(sql, params):
        yield json.loads(text)


# -- stream reads -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamRecord:
    seq: int
    record: dict[str, Any]
    created_ms: int
    trace_id: str | None = None

    @property
    def sequence_number(self) -> str:
        return str(self.record["dynamodb"]["SequenceNumber"])


def read_stream(
    cx: sqlite3.Connection,
    table: TableInfo,
    after: int,
    limit: int,
    region: str,
    *,
    lanes: int = 1,
    lane: int = 0,
) -> list[StreamRecord]:
    """Records after position `after`, oldest first; with `lanes`, only the records of the
    items hashed to `lane` (each item's records stay together, hence in order)."""
    sql = (
        "SELECT seq, event_id, event_name, created_at, keys, new_image, old_image, size_bytes, "
        "user_identity, trace_id FROM stream_records WHERE table_id = ? AND seq > ?"
    )
    params: tuple[Any, ...] = (table.id, after)
    if lanes > 1:
        sql += " AND key_hash % ? = ?"
        params += (lanes, lane)
    rows = cx.execute(sql + " ORDER BY seq LIMIT ?", (*params, limit)).fetchall()
    return [_stream_record(table, row, region) for row in rows]


def _stream_record(table: TableInfo, row: tuple[Any, ...], region: str) -> StreamRecord:
    seq, event_id, event_name, created_at, keys, new_image, old_image, size, identity = row[:9]
    assert table.stream_arn is not None
    assert table.spec.stream is not None
    record = events.dynamodb_record(
        event_id=event_id,
        event_name=event_name,
        region=region,
        stream_arn=table.stream_arn,
        created_at=created_at // 1000,
        keys=json.loads(keys),
        new_image=None if new_image is None else json.loads(new_image),
        old_image=None if old_image is None else json.loads(old_image),
        sequence_number=sequence_number(seq),
        size_bytes=size,
        view_type=table.spec.stream,
        user_identity=None if identity is None else json.loads(identity),
    )
    return StreamRecord(seq, record, created_at, row[9])


def latest_seq(cx: sqlite3.Connection, table: TableInfo) -> int:
    row = cx.execute(
        "SELECT MAX(seq) FROM stream_records WHERE table_id = ?", (table.id,)
    ).fetchone()
    return int(row[0] or 0)


def oldest_seq(cx: sqlite3.Connection, table: TableInfo) -> int:
    """The position just before the oldest retained record (TRIM_HORIZON)."""
    row = cx.execute(
        "SELECT MIN(seq) FROM stream_records WHERE table_id = ?", (table.id,)
    ).fetchone()
    return 0 if row[0] is None else int(row[0]) - 1


def plain(item: Item) -> dict[str, Any]:
    """An item as plain JSON-ready Python (for `sluiceway scan`)."""
    value = attrvalue.to_plain_json(attrvalue.deserialize_item(item))
    assert isinstance(value, dict)
    return value


# -- console reads ------------------------------------------------------------------------


def count(cx: sqlite3.Connection, table: TableInfo) -> int:
    row = cx.execute("SELECT COUNT(*) FROM items WHERE table_id = ?", (table.id,)).fetchone()
    return int(row[0])


def browse(
    cx: sqlite3.Connection,
    table: TableInfo,
    *,
    contains: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Item]:
    """Items in key order; with `contains`, those whose stored JSON holds that text."""
    sql = "SELECT item FROM items WHERE table_id = ?"
    params: list[Any] = [table.id]
    if contains:
        sql += " AND instr(item, ?) > 0"
        params.append(contains)
    sql += " ORDER BY pk, sk LIMIT ? OFFSET ?"
    params += [limit, offset]
    return [json.loads(text) for (text,) in cx.execute(sql, params)]


@dataclass(frozen=True, slots=True)
class Change:
    """One stream record of an item: what the table's stream kept of a write."""

    seq: int
    event_name: str
    created_at: int
    new_image: Item | None
    old_image: Item | None
    trace_id: str | None


def history(cx: sqlite3.Connection, table: TableInfo, key: Item) -> list[Change]:
    """An item's changes still in its table's stream (24 hours), oldest first."""
    keys = keys_of(table, key)
    key_hash = zlib.crc32(json.dumps(keys, separators=(",", ":"), sort_keys=True).encode())
    rows = cx.execute(
        "SELECT seq, event_name, created_at, keys, new_image, old_image, trace_id "
        "FROM stream_records WHERE table_id = ? AND key_hash = ? ORDER BY seq",
        (table.id, key_hash),
    ).fetchall()
    return [
        Change(
            seq,
            name,
            at,
            None if new is None else json.loads(new),
            None if old is None else json.loads(old),
            trace_id,
        )
        for seq, name, at, found, new, old, trace_id in rows
        if json.loads(found) == keys
    ]
