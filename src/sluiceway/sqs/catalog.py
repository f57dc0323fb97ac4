"""Queues as SQS's API makes and changes them: CreateQueue, DeleteQueue, SetQueueAttributes
and tags, as ops run by the store's writer, and the reads GetQueueAttributes needs.

A queue row is what `Registry.load` reads (``config`` is the `QueueSpec`), so the engine
takes in a queue made here once the registry is refreshed, exactly as a declared one.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sluiceway.core import naming
from sluiceway.core.errors import ValidationError
from sluiceway.core.store import Tx
from sluiceway.sqs import attributes
from sluiceway.sqs.info import QueueInfo
from sluiceway.sqs.spec import QueueSpec

MAX_TAGS = 50


@dataclass(frozen=True)
class Stored:
    """A queue row: its spec, its extra attributes and its times (epoch ms)."""

    id: int
    spec: QueueSpec
    extras: dict[str, str]
    created_at: int
    modified_at: int


_SELECT = "SELECT id, config, attributes, created_at, modified_at FROM queues"


def _stored(row: tuple[int, str, str | None, int, int | None]) -> Stored:
    qid, config, extras, created, modified = row
    return Stored(
        qid,
        QueueSpec(**json.loads(config)),
        json.loads(extras) if extras else {},
        created,
        created if modified is None else modified,
    )


def stored(cx: sqlite3.Connection, queue_id: int) -> Stored | None:
    row = cx.execute(_SELECT + " WHERE id = ?", (queue_id,)).fetchone()
    return None if row is None else _stored(row)


def _arn_name(tx: Tx, region: naming.Region) -> Callable[[str], str | None]:
    prefix = naming.queue_arn(region, "")

    def name_of(arn: str) -> str | None:
        if not arn.startswith(prefix):
            return None
        name = arn[len(prefix) :]
        row = tx.execute("SELECT 1 FROM queues WHERE name = ?", (name,)).fetchone()
        return None if row is None else name

    return name_of


def create(
    tx: Tx,
    region: naming.Region,
    name: str,
    given: Mapping[str, str],
    tags: Mapping[str, str],
) -> bool:
    """CreateQueue: True if the queue is new. An existing queue is kept if every attribute
    given has the value it has; otherwise SQS's QueueNameExists."""
    attributes.check_name(name, given)
    check_tags(tags, 0)
    spec, extras = attributes.apply(
        QueueSpec(name), {}, given, arn_name=_arn_name(tx, region), creating=True
    )
    row = tx.execute(_SELECT + " WHERE name = ?", (name,)).fetchone()
    if row is not None:
        old = _stored(row)
        clash = attributes.differing(
            given,
            attributes.describe(old.spec, old.extras, region),
            attributes.describe(spec, extras, region),
        )
        if clash is not None:
            raise ValidationError(
                f"A queue already exists with the same name and a different value for "
                f"attribute {clash}",
                code="QueueNameExists",
            )
        return False
    cursor = tx.execute(
        "INSERT INTO queues (name, config, created_at, attributes) VALUES (?, ?, ?, ?)",
        (name, json.dumps(dataclasses.asdict(spec)), tx.now_ms, json.dumps(extras)),
    )
    for key, value in tags.items():
        tx.execute(
            "INSERT INTO queue_tags (queue_id, key, value) VALUES (?, ?, ?)",
            (cursor.lastrowid, key, value),
        )
    return True


def set_attributes(
    tx: Tx, region: naming.Region, queue: QueueInfo, given: Mapping[str, str]
) -> None:
    """SetQueueAttributes: all of them checked before any is changed."""
    old = stored(tx.cx, queue.id)
    if old is None:
        raise ValidationError("The specified queue does not exist.", code="QueueDoesNotExist")
    spec, extras = attributes.apply(
        old.spec, old.extras, given, arn_name=_arn_name(tx, region), creating=False
    )
    if spec.dead_letter == spec.name:
        raise ValidationError(
            "Value for parameter RedrivePolicy is invalid. Reason: a queue cannot be its own "
            "dead-letter queue.",
            code="InvalidParameterValue",
        )
    tx.execute(
        "UPDATE queues SET config = ?, attributes = ?, modified_at = ? WHERE id = ?",
        (json.dumps(dataclasses.asdict(spec)), json.dumps(extras), tx.now_ms, queue.id),
    )
    tx.touch(queue.channel)


def delete(tx: Tx, queue: QueueInfo) -> None:
    """DeleteQueue: the queue, its messages, tags and move tasks."""
    for sql in (
        "DELETE FROM messages WHERE queue_id = ?",
        "DELETE FROM dedup WHERE queue_id = ?",
        "DELETE FROM queue_tags WHERE queue_id = ?",
        "DELETE FROM move_tasks WHERE source_id = ?",
        "DELETE FROM queues WHERE id = ?",
    ):
        tx.execute(sql, (queue.id,))
    tx.touch(queue.channel)


def check_tags(tags: Mapping[str, str], existing: int) -> None:
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or len(value) > 256 or key.lower().startswith("aws:"):
            raise ValidationError(
                f"Tag key {key!r} or its value is invalid: keys are 1-128 characters and not "
                "'aws:...', values at most 256",
                code="InvalidParameterValue",
            )
    if existing + len(tags) > MAX_TAGS:
        raise ValidationError("Too many tags added for queue.", code="InvalidParameterValue")


def tags(cx: sqlite3.Connection, queue: QueueInfo) -> dict[str, str]:
    rows = cx.execute(
        "SELECT key, value FROM queue_tags WHERE queue_id = ? ORDER BY key", (queue.id,)
    )
    return dict(rows.fetchall())


def tag(tx: Tx, queue: QueueInfo, new: Mapping[str, str]) -> None:
    """TagQueue: add or overwrite; at most 50 tags in all."""
    have = tags(tx.cx, queue)
    check_tags(new, len(set(have) - set(new)))
    for key, value in new.items():
        tx.execute(
            "INSERT INTO queue_tags (queue_id, key, value) VALUES (?, ?, ?) "
            "ON CONFLICT (queue_id, key) DO UPDATE SET value = excluded.value",
            (queue.id, key, value),
        )


def untag(tx: Tx, queue: QueueInfo, keys: Sequence[str]) -> None:
    tx.cx.executemany(
        "DELETE FROM queue_tags WHERE queue_id = ? AND key = ?", [(queue.id, k) for k in keys]
    )
