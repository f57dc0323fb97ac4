"""Topics as SNS's API makes, changes and lists them (CreateTopic, SetTopicAttributes,
DeleteTopic, tags), on the same ``topics`` rows the declared topics live in.

A declared topic and one made by CreateTopic are the same thing to the engine: publishing,
the outbox and the console do not tell them apart. The attributes SNS lets a caller set are
kept as given (JSON); those SNS computes (``TopicArn``, ``SubscriptionsConfirmed``...) are
computed when read.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass

from sluiceway.core.errors import NotFound, ValidationError
from sluiceway.core.store import Tx

# The attributes a caller may set (CreateTopic, SetTopicAttributes). FifoTopic and
# ContentBasedDeduplication are FIFO topics', which the engine does not have.
SETTABLE = frozenset(
    {
        "DisplayName",
        "Policy",
        "DeliveryPolicy",
        "KmsMasterKeyId",
        "SignatureVersion",
        "TracingConfig",
        "ArchivePolicy",
        "DataProtectionPolicy",
        *(
            f"{protocol}{what}"
            for protocol in ("Application", "Firehose", "HTTP", "Lambda", "SQS")
            for what in (
                "SuccessFeedbackRoleArn",
                "SuccessFeedbackSampleRate",
                "FailureFeedbackRoleArn",
            )
        ),
    }
)
FIFO_ATTRIBUTES = frozenset({"FifoTopic", "ContentBasedDeduplication", "FifoThroughputScope"})
_JSON_ATTRIBUTES = frozenset({"Policy", "DeliveryPolicy", "ArchivePolicy", "DataProtectionPolicy"})
_NAME = re.compile(r"[A-Za-z0-9_-]{1,256}")
MAX_TAGS = 50


def invalid(message: str) -> ValidationError:
    return ValidationError(f"Invalid parameter: {message}", code="InvalidParameter")


def check_name(name: str) -> None:
    if name.endswith(".fifo") or not _NAME.fullmatch(name):
        if name.endswith(".fifo") and _NAME.fullmatch(name.removesuffix(".fifo")):
            raise invalid(
                "Name Reason: sluiceway does not support FIFO topics (a name ending .fifo)"
            )
        raise invalid(
            "Topic Name (Topic names must be made up of only uppercase and lowercase ASCII "
            "letters, numbers, underscores, and hyphens, and must be between 1 and 256 "
            "characters long.)"
        )


def check_attribute(name: str, value: str) -> None:
    """One settable attribute and its value, checked as SNS checks them."""
    if name in FIFO_ATTRIBUTES:
        if name == "FifoTopic" and value.lower() == "false":
            return
        raise invalid(
            f"Attributes Reason: {name}: sluiceway does not support FIFO topics "
            "(only standard topics)"
        )
    if name not in SETTABLE:
        raise invalid(f"AttributeName Reason: Unknown attribute {name}")
    if name == "DisplayName" and len(value) > 100:
        raise invalid("DisplayName Reason: must be at most 100 characters")
    if name == "SignatureVersion" and value not in ("1", "2"):
        raise invalid("SignatureVersion Reason: must be 1 or 2")
    if name == "TracingConfig" and value not in ("Active", "PassThrough"):
        raise invalid("TracingConfig Reason: must be Active or PassThrough")
    if name in _JSON_ATTRIBUTES and value:
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise invalid(f"{name} Reason: not a JSON object")


def check_tags(tags: Mapping[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        raise ValidationError(
            f"Could not complete request: tag quota of per resource exceeded ({MAX_TAGS})",
            code="TagLimitExceeded",
        )
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or len(value) > 256 or key.lower().startswith("aws:"):
            raise invalid(
                f"Tags Reason: tag key {key!r} must be 1-128 characters, not starting with "
                "aws:, and its value at most 256"
            )


@dataclass(frozen=True)
class StoredTopic:
    id: int
    name: str
    attributes: dict[str, str]
    tags: dict[str, str]


def stored(cx: sqlite3.Connection, name: str) -> StoredTopic | None:
    row = cx.execute(
        "SELECT id, name, attributes, tags FROM topics WHERE name = ?", (name,)
    ).fetchone()
    if row is None:
        return None
    return StoredTopic(row[0], row[1], json.loads(row[2] or "{}"), json.loads(row[3] or "{}"))


def create(tx: Tx, name: str, attributes: Mapping[str, str], tags: Mapping[str, str]) -> bool:
    """CreateTopic: the topic, or nothing if it exists with these attributes and tags
    (SNS's CreateTopic is idempotent); True if it is new. An existing topic asked for with
    other attributes or tags is SNS's InvalidParameter."""
    check_name(name)
    for key, value in attributes.items():
        check_attribute(key, value)
    check_tags(tags)
    kept = {k: v for k, v in attributes.items() if k not in FIFO_ATTRIBUTES}
    existing = stored(tx.cx, name)
    if existing is not None:
        if any(existing.attributes.get(k, "") != v for k, v in kept.items()):
            raise invalid("Attributes Reason: Topic already exists with different attributes")
        if any(existing.tags.get(k) != v for k, v in tags.items()):
            raise invalid("Tags Reason: Topic already exists with different tags")
        return False
    tx.execute(
        "INSERT INTO topics (name, created_at, attributes, tags) VALUES (?, ?, ?, ?)",
        (
            name,
            tx.now_ms,
            json.dumps(kept) if kept else None,
            json.dumps(dict(tags)) if tags else None,
        ),
    )
    return True


def delete(tx: Tx, name: str) -> None:
    """DeleteTopic: the topic and its subscriptions go; deliveries not yet made are
    cancelled. Deleting a topic that does not exist succeeds, as on SNS."""
    existing = stored(tx.cx, name)
    if existing is None:
        return
    subscriptions = [
        sid
        for (sid,) in tx.execute(
            "SELECT id FROM subscriptions WHERE topic_id = ?", (existing.id,)
        ).fetchall()
    ]
    for sid in subscriptions:
        tx.execute(
            "UPDATE deliveries SET status = 'cancelled', last_error = 'topic deleted' "
            "WHERE subscription_id = ? AND status = 'pending'",
            (sid,),
        )
    tx.execute("DELETE FROM subscriptions WHERE topic_id = ?", (existing.id,))
    tx.execute("DELETE FROM topics WHERE id = ?", (existing.id,))


def set_attribute(tx: Tx, name: str, attribute: str, value: str) -> None:
    check_attribute(attribute, value)
    if attribute in FIFO_ATTRIBUTES:  # FifoTopic=false: what every topic here is
        return
    existing = _existing(tx.cx, name)
    attributes = {**existing.attributes, attribute: value}
    if value == "" and attribute != "DisplayName":
        attributes.pop(attribute)
    tx.execute(
        "UPDATE topics SET attributes = ? WHERE id = ?", (json.dumps(attributes), existing.id)
    )


def tag(tx: Tx, name: str, tags: Mapping[str, str]) -> None:
    existing = _existing(tx.cx, name)
    merged = {**existing.tags, **tags}
    check_tags(merged)
    tx.execute("UPDATE topics SET tags = ? WHERE id = ?", (json.dumps(merged), existing.id))


def untag(tx: Tx, name: str, keys: list[str]) -> None:
    existing = _existing(tx.cx, name)
    left = {k: v for k, v in existing.tags.items() if k not in keys}
    tx.execute("UPDATE topics SET tags = ? WHERE id = ?", (json.dumps(left), existing.id))


def _existing(cx: sqlite3.Connection, name: str) -> StoredTopic:
    existing = stored(cx, name)
    if existing is None:
        raise NotFound("Topic does not exist")
    return existing


def counts(cx: sqlite3.Connection, topic_id: int) -> dict[str, int]:
    """A topic's subscriptions by state, as GetTopicAttributes counts them."""
    found = dict(
        cx.execute(
            "SELECT status, COUNT(*) FROM subscriptions WHERE topic_id = ? GROUP BY status",
            (topic_id,),
        ).fetchall()
    )
    return {
        "SubscriptionsConfirmed": found.get("confirmed", 0),
        "SubscriptionsPending": found.get("pending", 0),
        "SubscriptionsDeleted": found.get("unsubscribed", 0) + found.get("deleted", 0),
    }


def names(cx: sqlite3.Connection) -> list[str]:
    return [name for (name,) in cx.execute("SELECT name FROM topics ORDER BY name")]
