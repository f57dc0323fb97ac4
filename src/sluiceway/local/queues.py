"""SQS semantics on SQLite: ops run by the store's writer, plus read-side queries.

A message is visible when ``visible_at <= now``. Receiving ("claiming") hides it for the
visibility timeout, counts the receive and gives it a fresh receipt handle; a message whose
receive count already reached ``max_receive_count`` is moved to the dead-letter queue instead
of being delivered (moto and SQS behave the same). Expired messages (retention) are dropped
when met and by the sweeper.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import sqlite3
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sluiceway.errors import ValidationError
from sluiceway.events import md5_hex, md5_of_message_attributes
from sluiceway.local.registry import QueueInfo
from sluiceway.local.store import Tx

# Characters SQS accepts in a body: #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF
_INVALID_BODY = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,256}")
_DATA_TYPE = re.compile(r"(String|Number|Binary)(\.[A-Za-z0-9_.-]{1,200})?")


class MessageTooLarge(ValidationError):
    """The body and attributes exceed the queue's maximum_message_size."""


@dataclass(frozen=True, slots=True)
class Message:
    """A message as one receive sees it."""

    seq: int
    message_id: str
    receipt: str
    body: str
    attributes: dict[str, dict[str, Any]] | None
    sender_id: str
    sent_at: int
    first_received_at: int
    receive_count: int

    def system_attributes(self) -> dict[str, str]:
        return {
            "ApproximateReceiveCount": str(self.receive_count),
            "SentTimestamp": str(self.sent_at),
            "SenderId": self.sender_id,
            "ApproximateFirstReceiveTimestamp": str(self.first_received_at),
        }


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A validated message ready to be stored."""

    message_id: str
    body: str
    attributes: str | None
    sender_id: str
    delay_seconds: int

    def response(self) -> dict[str, str]:
        answer = {"MessageId": self.message_id, "MD5OfMessageBody": md5_hex(self.body)}
        if self.attributes is not None:
            answer["MD5OfMessageAttributes"] = md5_of_message_attributes(
                json.loads(self.attributes)
            )
        return answer


# -- validation (shared by every sender: handles, the gateway, the CLI) -------------------


def prepare(
    queue: QueueInfo,
    body: str,
    *,
    sender_id: str,
    delay_seconds: int | None = None,
    attributes: Mapping[str, Mapping[str, Any]] | None = None,
) -> Outgoing:
    """Check a message as SQS's SendMessage does and return it ready to store."""
    if not isinstance(body, str):
        raise ValidationError("MessageBody must be a string", code="InvalidParameterValue")
    if not body:
        raise ValidationError("MessageBody must not be empty", code="MissingParameter")
    bad = _INVALID_BODY.search(body)
    if bad is not None:
        raise ValidationError(
            f"MessageBody contains a character SQS does not allow (U+{ord(bad.group()):04X})",
            code="InvalidMessageContents",
        )
    encoded = _encode_attributes(attributes) if attributes else None
    size = len(body.encode()) + (_attributes_size(attributes) if attributes else 0)
    limit = queue.spec.maximum_message_size
    if size > limit:
        raise MessageTooLarge(
            f"message of {size} bytes is larger than queue '{queue.name}' allows ({limit} bytes)",
            code="InvalidParameterValue",
        )
    delay = queue.spec.delay_seconds if delay_seconds is None else delay_seconds
    if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= 900:
        raise ValidationError(
            "DelaySeconds must be an integer 0..900", code="InvalidParameterValue"
        )
    return Outgoing(str(uuid.uuid4()), body, encoded, sender_id, delay)


def _encode_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> str:
    if len(attributes) > 10:
        raise ValidationError(
            "a message has at most 10 message attributes", code="InvalidParameterValue"
        )
    clean: dict[str, dict[str, str]] = {}
    for name, attribute in attributes.items():
        if (
            not isinstance(name, str)
            or not _ATTRIBUTE_NAME.fullmatch(name)
            or name.startswith(".")
            or name.endswith(".")
            or ".." in name
            or name.lower().startswith(("aws.", "amazon."))
        ):
            raise ValidationError(
                f"invalid message attribute name {name!r}", code="InvalidParameterValue"
            )
        data_type = attribute.get("DataType") if isinstance(attribute, Mapping) else None
        if not isinstance(data_type, str) or not _DATA_TYPE.fullmatch(data_type):
            raise ValidationError(
                f"message attribute {name!r} needs DataType String, Number or Binary",
                code="InvalidParameterValue",
            )
        if data_type.startswith("Binary"):
            value = attribute.get("BinaryValue")
            if not isinstance(value, bytes | bytearray):
                raise ValidationError(f"message attribute {name!r} needs a BinaryValue (bytes)")
            clean[name] = {"DataType": data_type, "BinaryValue": base64.b64encode(value).decode()}
        else:
            text = attribute.get("StringValue")
            if not isinstance(text, str) or not text:
                raise ValidationError(f"message attribute {name!r} needs a non-empty StringValue")
            if data_type.startswith("Number"):
                try:
                    float(text)
                except ValueError:
                    raise ValidationError(f"message attribute {name!r} is not a number") from None
            if _INVALID_BODY.search(text):
                raise ValidationError(
                    f"message attribute {name!r} has characters SQS does not allow"
                )
            clean[name] = {"DataType": data_type, "StringValue": text}
    return json.dumps(clean, separators=(",", ":"), sort_keys=True)


def _attributes_size(attributes: Mapping[str, Mapping[str, Any]]) -> int:
    size = 0
    for name, attribute in attributes.items():
        value = attribute.get("StringValue") or attribute.get("BinaryValue") or ""
        size += len(name.encode()) + len(str(attribute.get("DataType", "")).encode())
        size += len(value) if isinstance(value, bytes) else len(str(value).encode())
    return size


def decode_attributes(text: str | None) -> dict[str, dict[str, Any]] | None:
    if text is None:
        return None
    data: dict[str, dict[str, Any]] = json.loads(text)
    for attribute in data.values():
        if "BinaryValue" in attribute:
            attribute["BinaryValue"] = base64.b64decode(attribute["BinaryValue"])
    return data


# -- ops ----------------------------------------------------------------------------------


def send(tx: Tx, queue: QueueInfo, message: Outgoing) -> None:
    tx.execute(
        "INSERT INTO messages (queue_id, message_id, body, attributes, sender_id, sent_at, "
        "visible_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            queue.id,
            message.message_id,
            message.body,
            message.attributes,
            message.sender_id,
            tx.now_ms,
            tx.now_ms + message.delay_seconds * 1000,
        ),
    )
    tx.touch(queue.channel)


_CLAIM = (
    "SELECT seq, message_id, body, attributes, sender_id, sent_at, receive_count, "
    "first_received_at FROM messages WHERE queue_id = ? AND visible_at <= ? "
    "ORDER BY visible_at LIMIT ?"
)


def claim(
    tx: Tx,
    queue: QueueInfo,
    limit: int,
    *,
    visibility_timeout: int | None = None,
    max_bytes: int | None = None,
    invoking: bool = False,
) -> list[Message]:
    """Receive up to `limit` visible messages (SQS ReceiveMessage); with `max_bytes`, stop
    before the bodies would exceed it (Lambda's 6 MB invocation payload), taking at least one."""
    timeout_ms = (
        queue.spec.visibility_timeout if visibility_timeout is None else visibility_timeout
    ) * 1000
    expires_before = tx.now_ms - queue.spec.message_retention_period * 1000
    received: list[Message] = []
    size = 0
    while len(received) < limit:
        rows = tx.execute(_CLAIM, (queue.id, tx.now_ms, limit - len(received))).fetchall()
        if not rows:
            break
        for seq, message_id, body, attributes, sender, sent_at, count, first in rows:
            if sent_at <= expires_before:
                tx.execute("DELETE FROM messages WHERE seq = ?", (seq,))
                continue
            if queue.dead_letter_id is not None and count >= (queue.spec.max_receive_count or 0):
                _move_to_dead_letter(tx, queue, seq)
                continue
            size += len(body) + (len(attributes) if attributes else 0)
            if max_bytes is not None and received and size > max_bytes:
                return received
            receipt = _receipt(seq)
            first = first if first is not None else tx.now_ms
            tx.execute(
                "UPDATE messages SET receive_count = receive_count + 1, visible_at = ?, "
                "receipt = ?, first_received_at = ?, invoking = ? WHERE seq = ?",
                (tx.now_ms + timeout_ms, receipt, first, int(invoking), seq),
            )
            received.append(
                Message(
                    seq,
                    message_id,
                    receipt,
                    body,
                    decode_attributes(attributes),
                    sender,
                    sent_at,
                    first,
                    count + 1,
                )
            )
    return received


def _move_to_dead_letter(tx: Tx, queue: QueueInfo, seq: int) -> None:
    # The message keeps its id, SentTimestamp and receive count; retention keeps counting
    # from the original send, so a DLQ should retain longer than its source.
    tx.execute(
        "UPDATE messages SET queue_id = ?, visible_at = ?, receipt = NULL, "
        "source_queue_id = COALESCE(source_queue_id, ?) WHERE seq = ?",
        (queue.dead_letter_id, tx.now_ms, queue.id, seq),
    )
    tx.touch(f"queue:{queue.dead_letter_id}")


def _receipt(seq: int) -> str:
    raw = f"{seq}:{secrets.token_hex(12)}".encode()
    return "AQEB" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _seq_of(receipt: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(receipt[4:] + "=" * (-len(receipt[4:]) % 4))
        return int(raw.split(b":", 1)[0])
    except (ValueError, IndexError):
        raise ValidationError(
            f"invalid receipt handle {receipt[:24]!r}", code="ReceiptHandleIsInvalid"
        ) from None


def invocation_ended(tx: Tx, queue: QueueInfo, receipt: str) -> None:
    """The invocation that held this message is over (it failed): from now on the message
    only waits out its visibility timeout."""
    tx.execute(
        "UPDATE messages SET invoking = 0 WHERE seq = ? AND queue_id = ? AND receipt = ?",
        (_seq_of(receipt), queue.id, receipt),
    )


def release_interrupted(tx: Tx) -> int:
    """At start-up: messages whose invocation was cut short by a crash become visible at
    once. The data directory is locked to one runtime, so no consumer can still hold them;
    waiting out their visibility timeout would only delay them."""
    cursor = tx.execute(
        "UPDATE messages SET visible_at = ?, invoking = 0 WHERE invoking = 1", (tx.now_ms,)
    )
    for (queue_id,) in tx.execute(
        "SELECT DISTINCT queue_id FROM messages WHERE visible_at = ?", (tx.now_ms,)
    ).fetchall():
        tx.touch(f"queue:{queue_id}")
    return cursor.rowcount


def delete(tx: Tx, queue: QueueInfo, receipt: str) -> bool:
    """Delete by receipt handle. Only the latest receive's handle deletes: a consumer whose
    visibility timeout ran out cannot delete a message another consumer now holds."""
    cursor = tx.execute(
        "DELETE FROM messages WHERE seq = ? AND queue_id = ? AND receipt = ?",
        (_seq_of(receipt), queue.id, receipt),
    )
    return cursor.rowcount > 0


def change_visibility(tx: Tx, queue: QueueInfo, receipt: str, timeout: int) -> None:
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 0 <= timeout <= 43_200:
        raise ValidationError(
            "VisibilityTimeout must be an integer 0..43200", code="InvalidParameterValue"
        )
    cursor = tx.execute(
        "UPDATE messages SET visible_at = ? WHERE seq = ? AND queue_id = ? AND receipt = ? "
        "AND visible_at > ?",
        (tx.now_ms + timeout * 1000, _seq_of(receipt), queue.id, receipt, tx.now_ms),
    )
    if cursor.rowcount == 0:
        raise ValidationError(
            "the message is not in flight with this receipt handle", code="MessageNotInflight"
        )
    tx.touch(queue.channel)


def redrive(
    tx: Tx,
    dlq: QueueInfo,
    queues_by_id: Mapping[int, QueueInfo],
    limit: int,
    *,
    target: QueueInfo | None = None,
) -> int:
    """Move up to `limit` messages out of a dead-letter queue, as StartMessageMoveTask does:
    each becomes a new message (new id, receive count 0) in `target`, or else in the queue
    it was dead-lettered from. Messages whose source is unknown stay put."""
    rows = tx.execute(
        "SELECT seq, body, attributes, sender_id, source_queue_id FROM messages "
        "WHERE queue_id = ? ORDER BY seq LIMIT ?",
        (dlq.id, limit),
    ).fetchall()
    moved = 0
    for seq, body, attributes, sender, source in rows:
        destination = target or queues_by_id.get(source)
        if destination is None:
            continue
        tx.execute("DELETE FROM messages WHERE seq = ?", (seq,))
        send(tx, destination, Outgoing(str(uuid.uuid4()), body, attributes, sender, 0))
        moved += 1
    return moved


def purge(tx: Tx, queue: QueueInfo) -> int:
    return tx.execute("DELETE FROM messages WHERE queue_id = ?", (queue.id,)).rowcount


def sweep_expired(tx: Tx, queue: QueueInfo) -> int:
    cutoff = tx.now_ms - queue.spec.message_retention_period * 1000
    return tx.execute(
        "DELETE FROM messages WHERE queue_id = ? AND sent_at <= ?", (queue.id, cutoff)
    ).rowcount


# -- reads --------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueStats:
    name: str
    visible: int
    in_flight: int
    delayed: int
    dead_letter: str | None
    max_receive_count: int | None

    @property
    def total(self) -> int:
        return self.visible + self.in_flight + self.delayed


def stats(cx: sqlite3.Connection, queue: QueueInfo, now_ms: int) -> QueueStats:
    visible, in_flight, delayed = cx.execute(
        "SELECT COALESCE(SUM(visible_at <= ?1), 0), "
        "COALESCE(SUM(visible_at > ?1 AND receipt IS NOT NULL), 0), "
        "COALESCE(SUM(visible_at > ?1 AND receipt IS NULL), 0) "
        "FROM messages WHERE queue_id = ?2",
        (now_ms, queue.id),
    ).fetchone()
    return QueueStats(
        queue.name,
        visible,
        in_flight,
        delayed,
        queue.spec.dead_letter,
        queue.spec.max_receive_count,
    )


def count_visible(cx: sqlite3.Connection, queue: QueueInfo, now_ms: int, up_to: int) -> int:
    row = cx.execute(
        "SELECT COUNT(*) FROM "
        "(SELECT 1 FROM messages WHERE queue_id = ? AND visible_at <= ? LIMIT ?)",
        (queue.id, now_ms, up_to),
    ).fetchone()
    return int(row[0])


def next_visible_at(cx: sqlite3.Connection, queue: QueueInfo, now_ms: int) -> int | None:
    row = cx.execute(
        "SELECT MIN(visible_at) FROM messages WHERE queue_id = ? AND visible_at > ?",
        (queue.id, now_ms),
    ).fetchone()
    return None if row[0] is None else int(row[0])


def oldest_visible_since(cx: sqlite3.Connection, queue: QueueInfo, now_ms: int) -> int | None:
    row = cx.execute(
        "SELECT MIN(visible_at) FROM messages WHERE queue_id = ? AND visible_at <= ?",
        (queue.id, now_ms),
    ).fetchone()
    return None if row[0] is None else int(row[0])
