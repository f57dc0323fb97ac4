"""A table's stream as DynamoDB Streams' API shows it: one shard per stream, shard
iterators, and records in the shape Lambda's stream events use (without Lambda's own
``eventSourceARN``).

A stream here has a single shard that never closes: the table's records are one ordered
log (`tables.read_stream`), so there is nothing to split. Iterators are opaque to the
client, but carry their stream, position and expiry, signed so that a forged one is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import sqlite3
from datetime import UTC, datetime
from typing import Any

from sluiceway.dynamodb import tables
from sluiceway.dynamodb.info import TableInfo

ITERATOR_MS = 15 * 60 * 1000  # a shard iterator expires 15 minutes after it was made
_SECRET = secrets.token_bytes(32)  # iterators are good for this process (and 15 minutes)


def label_of(table: TableInfo) -> str:
    assert table.stream_arn is not None
    return table.stream_arn.rsplit("/", 1)[-1]


def created_at(table: TableInfo) -> datetime:
    """When the stream was enabled: its label is that time."""
    return datetime.strptime(label_of(table), "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)


def shard_id(table: TableInfo) -> str:
    """The stream's one shard, named as DynamoDB names shards (a new stream, a new id)."""
    assert table.stream_arn is not None
    millis = int(created_at(table).timestamp() * 1000)
    digest = hashlib.sha256(table.stream_arn.encode()).hexdigest()[:8]
    return f"shardId-{millis:020d}-{digest}"


def sequence_of(text: str) -> int | None:
    """The store position a sequence number names, or None if it is not one of ours."""
    if not text.isdigit():
        return None
    seq = int(text) - int(tables.sequence_number(0))
    return seq if seq > 0 else None


def first_seq(cx: sqlite3.Connection, table: TableInfo) -> int | None:
    """The oldest record still kept (24 hours), if any."""
    oldest = tables.oldest_seq(cx, table)
    latest = tables.latest_seq(cx, table)
    return None if latest == 0 else oldest + 1


def iterator(table: TableInfo, after: int, now_ms: int) -> str:
    """An iterator reading the records after position `after`."""
    assert table.stream_arn is not None
    body = json.dumps([table.stream_arn, after, now_ms], separators=(",", ":")).encode()
    mac = hmac.new(_SECRET, body, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac + body).decode()


def read_iterator(text: str) -> tuple[str, int, int] | None:
    """An iterator's stream ARN, position and creation time, or None if it is not one."""
    try:
        raw = base64.urlsafe_b64decode(text.encode())
    except ValueError:
        return None
    mac, body = raw[:16], raw[16:]
    if not hmac.compare_digest(mac, hmac.new(_SECRET, body, hashlib.sha256).digest()[:16]):
        return None
    arn, after, made = json.loads(body)
    return str(arn), int(after), int(made)


def records(
    cx: sqlite3.Connection, table: TableInfo, after: int, limit: int, region: str
) -> tuple[list[dict[str, Any]], int]:
    """Up to `limit` records after `after`, as GetRecords answers them, and the position
    after the last of them."""
    read = tables.read_stream(cx, table, after, limit, region)
    return [_wire_record(r.record) for r in read], (read[-1].seq if read else after)


def _wire_record(record: dict[str, Any]) -> dict[str, Any]:
    shown = {k: v for k, v in record.items() if k != "eventSourceARN"}
    dynamodb = dict(shown["dynamodb"])
    dynamodb["ApproximateCreationDateTime"] = datetime.fromtimestamp(
        dynamodb["ApproximateCreationDateTime"], UTC
    )
    for image in ("Keys", "NewImage", "OldImage"):
        if image in dynamodb:
            dynamodb[image] = {k: _wire_value(v) for k, v in dynamodb[image].items()}
    shown["dynamodb"] = dynamodb
    return shown


def _wire_value(value: dict[str, Any]) -> dict[str, Any]:
    """An attribute value as the protocol layer takes it: binary as bytes (it encodes them)."""
    if "B" in value:
        return {"B": base64.b64decode(value["B"])}
    if "BS" in value:
        return {"BS": [base64.b64decode(v) for v in value["BS"]]}
    if "M" in value:
        return {"M": {k: _wire_value(v) for k, v in value["M"].items()}}
    if "L" in value:
        return {"L": [_wire_value(v) for v in value["L"]]}
    return value
