"""The one write path of an item: its row, its index rows and its stream record, in the
caller's transaction.

Every operation that changes items (PutItem, UpdateItem, DeleteItem, the batches and
transactions, TTL expiry, the API gateway's table routes) ends here, so each change is
stored with exactly one stream record, committed together.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sluiceway.core import attrvalue, ids, traces
from sluiceway.core.attrvalue import Item
from sluiceway.core.store import Tx
from sluiceway.dynamodb import indexes
from sluiceway.dynamodb.info import TableInfo

Key = tuple[bytes, bytes]


def dumps(item: Mapping[str, Any]) -> str:
    return json.dumps(item, separators=(",", ":"), ensure_ascii=False)


def keys_of(table: TableInfo, item: Item) -> Item:
    return {name: item[name] for name in table.spec.key_names}


def load(cx: Any, table: TableInfo, key: Key) -> Item | None:
    """The stored item under `key` (None: no item); `cx` a connection or the writer's."""
    row = cx.execute(
        "SELECT item FROM items WHERE table_id = ? AND pk = ? AND sk = ?", (table.id, *key)
    ).fetchone()
    return None if row is None else dict(json.loads(row[0]))


def write(
    tx: Tx,
    table: TableInfo,
    key: Key,
    old: Item | None,
    new: Item | None,
    *,
    user_identity: Mapping[str, str] | None = None,
    trace_id: str | None = None,
) -> bool:
    """Store `new` under `key` (None: delete) where `old` was; return whether anything
    changed. A write that changes nothing leaves no stream record, as DynamoDB's."""
    if old == new:
        return False
    if new is None:
        tx.execute("DELETE FROM items WHERE table_id = ? AND pk = ? AND sk = ?", (table.id, *key))
    else:
        tx.execute(
            "INSERT OR REPLACE INTO items (table_id, pk, sk, item, expires_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (table.id, *key, dumps(new), expiry(table.spec.ttl_attribute, new)),
        )
    if table.spec.indexes:
        indexes.update(tx, table, key, new)
    event = "REMOVE" if new is None else "INSERT" if old is None else "MODIFY"
    image = new if new is not None else old
    assert image is not None
    record(tx, table, event, keys_of(table, image), new, old, user_identity, trace_id)
    return True


def expiry(ttl_attribute: str | None, item: Item) -> int | None:
    """The item's TTL in epoch ms: its TTL attribute, if a number (DynamoDB ignores other
    types there, and so do we)."""
    value = item.get(ttl_attribute) if ttl_attribute else None
    if not isinstance(value, dict) or "N" not in value:
        return None
    try:
        return int(Decimal(value["N"]) * 1000)
    except (ArithmeticError, ValueError):
        return None


def record(
    tx: Tx,
    table: TableInfo,
    event_name: str,
    keys: Item,
    new: Item | None,
    old: Item | None,
    user_identity: Mapping[str, str] | None = None,
    trace_id: str | None = None,
) -> None:
    """The change's trace hop and, when the table has a stream, its stream record."""
    traces.hop(tx, trace_id, "item", table.name, {"eventName": event_name, "keys": keys})
    view = table.spec.stream
    if view is None:
        return
    new_image = new if view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") else None
    old_image = old if view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") else None
    size = attrvalue.item_size(keys)
    size += attrvalue.item_size(new_image) if new_image else 0
    size += attrvalue.item_size(old_image) if old_image else 0
    key_text = json.dumps(keys, separators=(",", ":"), sort_keys=True)
    tx.execute(
        "INSERT INTO stream_records (table_id, event_id, event_name, created_at, keys, "
        "new_image, old_image, size_bytes, user_identity, key_hash, trace_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            table.id,
            ids.uuid4_hex(),
            event_name,
            tx.now_ms,
            dumps(keys),
            None if new_image is None else dumps(new_image),
            None if old_image is None else dumps(old_image),
            size,
            None if user_identity is None else dumps(user_identity),
            zlib.crc32(key_text.encode()),
            trace_id,
        ),
    )
    tx.touch(table.channel)
