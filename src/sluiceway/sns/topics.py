"""SNS on SQLite: publish fans a notification out into a durable delivery outbox.

Publishing inserts the notification and one delivery row per subscription in the same
transaction, so a publish that returned is never lost. Delivery workers claim due rows,
attempt them, and record the outcome; a transient failure (server unreachable) reschedules
with backoff and never drops the delivery. A subscription still waiting for confirmation
gets a visible ``unconfirmed`` row instead of a delivery, as SNS does not deliver to it.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sluiceway.core import ids, traces
from sluiceway.core.errors import NotFound, ValidationError
from sluiceway.core.store import Tx
from sluiceway.core.work import backoff_ms
from sluiceway.patterns import Context, Pattern, compile_pattern, sns_attributes_view
from sluiceway.sns.info import TopicInfo

MAX_MESSAGE_BYTES = 262_144
_SUBJECT = re.compile(r"[\x20-\x7e]{1,99}")


@dataclass(frozen=True, slots=True)
class Publication:
    message_id: str
    message: str
    subject: str | None
    structure: str | None
    attributes: str | None
    trace_id: str | None = None


def prepare(
    message: str,
    *,
    subject: str | None,
    attributes: Mapping[str, Mapping[str, Any]] | None,
    structure: str | None,
) -> Publication:
    """Check a publish as SNS does."""
    if not isinstance(message, str) or not message:
        raise ValidationError("Message must be a non-empty string", code="InvalidParameter")
    try:
        message.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(
            "Message is not valid UTF-8 (an unpaired surrogate)", code="InvalidParameter"
        ) from None
    encoded = None
    if attributes:
        encoded = json.dumps(_check_attributes(attributes), separators=(",", ":"), sort_keys=True)
    size = len(message.encode()) + (len(encoded.encode()) if encoded else 0)
    if size > MAX_MESSAGE_BYTES:
        raise ValidationError(
            f"message of {size} bytes exceeds SNS's limit of {MAX_MESSAGE_BYTES} bytes",
            code="InvalidParameter",
        )
    if subject is not None and (not isinstance(subject, str) or not _SUBJECT.fullmatch(subject)):
        raise ValidationError(
            "Subject must be 1-99 printable ASCII characters without line breaks",
            code="InvalidParameter",
        )
    if structure is not None:
        if structure != "json":
            raise ValidationError("MessageStructure must be 'json'", code="InvalidParameter")
        try:
            parsed = json.loads(message)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict) or not isinstance(parsed.get("default"), str):
            raise ValidationError(
                "with MessageStructure='json' the message must be a JSON object with a string "
                "'default' key",
                code="InvalidParameter",
            )
    return Publication(ids.uuid4(), message, subject, structure, encoded)


def _check_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    if len(attributes) > 10:
        raise ValidationError("at most 10 message attributes", code="InvalidParameter")
    clean: dict[str, dict[str, str]] = {}
    for name, attribute in attributes.items():
        data_type = attribute.get("DataType")
        value = attribute.get("StringValue")
        if data_type not in ("String", "Number", "String.Array") or not isinstance(value, str):
            raise ValidationError(
                f"message attribute {name!r} needs DataType String, Number or String.Array and "
                "a StringValue",
                code="InvalidParameter",
            )
        if data_type == "Number" and not _is_number(value):
            raise ValidationError(
                f"message attribute {name!r} is a Number but {value!r} is not a number",
                code="InvalidParameter",
            )
        if data_type == "String.Array" and not _is_array(value):
            raise ValidationError(
                f"message attribute {name!r} is a String.Array but {value!r} is not a JSON array",
                code="InvalidParameter",
            )
        clean[name] = {"DataType": data_type, "StringValue": value}
    return clean


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _is_array(text: str) -> bool:
    try:
        return isinstance(json.loads(text), list)
    except ValueError:
        return False


def text_for(protocol: str, message: str, structure: str | None) -> str:
    """The text a protocol receives: with MessageStructure=json, its own key or 'default'."""
    if structure != "json":
        return message
    data = json.loads(message)
    chosen = data.get(protocol)
    return chosen if isinstance(chosen, str) else str(data["default"])


# -- ops ----------------------------------------------------------------------------------


def publish(tx: Tx, topic: TopicInfo, publication: Publication) -> None:
    """Publish: the notification and, per subscription, a delivery: ``pending`` (to be
    sent), ``unconfirmed`` (SNS does not deliver to it), ``filtered`` (its filter policy did
    not match; the reason is kept) or ``opted-out`` (an SMS number that replied STOP)."""
    notification_id = _notification(tx, topic.id, publication)
    subscriptions = tx.execute(
        "SELECT s.id, s.protocol, s.endpoint, s.status, s.filter_policy, s.filter_scope, "
        "o.phone IS NOT NULL FROM subscriptions s "
        "LEFT JOIN sms_opt_outs o ON s.protocol = 'sms' AND o.phone = s.endpoint "
        "WHERE s.topic_id = ? AND s.status IN ('confirmed', 'pending')",
        (topic.id,),
    ).fetchall()
    for sid, protocol, endpoint, status, policy, scope, opted_out in subscriptions:
        note = None
        if status != "confirmed":
            state, note = "unconfirmed", "subscription is pending confirmation"
        elif policy is not None and (miss := _filtered_out(publication, protocol, policy, scope)):
            state, note = "filtered", f"filter policy ({scope}): {miss}"
        elif opted_out:
            state, note = "opted-out", OPTED_OUT
        else:
            state = "pending"
        _delivery(tx, notification_id, sid, protocol, endpoint, state, note)
    tx.touch("deliveries")
    traces.hop(
        tx,
        publication.trace_id,
        "publish",
        topic.name,
        {"message_id": publication.message_id, "subscriptions": len(subscriptions)},
    )


OPTED_OUT = "the number opted out of SMS (`sluiceway sms opt-in NUMBER` to undo)"


def publish_sms(tx: Tx, phone: str, publication: Publication) -> None:
    """Publish straight to a phone number: a notification with no topic, one SMS delivery."""
    notification_id = _notification(tx, None, publication)
    opted_out = tx.execute("SELECT 1 FROM sms_opt_outs WHERE phone = ?", (phone,)).fetchone()
    state, note = ("opted-out", OPTED_OUT) if opted_out else ("pending", None)
    _delivery(tx, notification_id, None, "sms", phone, state, note)
    tx.touch("deliveries")
    traces.hop(tx, publication.trace_id, "publish", f"sms {phone}", {"status": state})


def publish_mqtt(
    tx: Tx, topic: str, payload: bytes, qos: int, message_id: str, trace_id: str | None = None
) -> None:
    """Publish to an MQTT topic (IoT Core's Publish): a notification holding the payload's
    bytes and its QoS, and one ``mqtt`` delivery, sent in publish order (`claim`)."""
    cursor = tx.execute(
        "INSERT INTO notifications (message_id, topic_id, subject, message, structure, "
        "attributes, published_at, trace_id) VALUES (?, NULL, NULL, ?, NULL, ?, ?, ?)",
        (message_id, payload, json.dumps({"qos": qos}), tx.now_ms, trace_id),
    )
    assert cursor.lastrowid is not None
    _delivery(tx, cursor.lastrowid, None, "mqtt", topic, "pending", None)
    tx.touch("deliveries")
    traces.hop(tx, trace_id, "publish", f"mqtt {topic}", {"message_id": message_id, "qos": qos})


# Protocols delivered strictly in publish order: one worker, and the oldest waiting delivery
# goes first even when a newer one is due (it waits behind the head of the line).
ORDERED_PROTOCOLS = frozenset({"mqtt"})


def opt_out(tx: Tx, phone: str) -> int:
    """Opt a number out of SMS (what a STOP reply does); its waiting SMS are not sent.
    Returns how many were waiting."""
    tx.execute(
        "INSERT INTO sms_opt_outs (phone, opted_out_at) VALUES (?, ?) "
        "ON CONFLICT (phone) DO NOTHING",
        (phone, tx.now_ms),
    )
    return int(
        tx.execute(
            "UPDATE deliveries SET status = 'opted-out', last_error = ? "
            "WHERE protocol = 'sms' AND endpoint = ? AND status = 'pending'",
            (OPTED_OUT, phone),
        ).rowcount
    )


def opt_in(tx: Tx, phone: str) -> bool:
    """OptInPhoneNumber: texts reach the number again (not those skipped meanwhile)."""
    return bool(tx.execute("DELETE FROM sms_opt_outs WHERE phone = ?", (phone,)).rowcount)


def opted_out(cx: sqlite3.Connection) -> list[tuple[str, int]]:
    """ListPhoneNumbersOptedOut: (number, when) pairs."""
    return [
        (str(phone), int(at))
        for phone, at in cx.execute("SELECT phone, opted_out_at FROM sms_opt_outs ORDER BY phone")
    ]


def _notification(tx: Tx, topic_id: int | None, publication: Publication) -> int:
    cursor = tx.execute(
        "INSERT INTO notifications (message_id, topic_id, subject, message, structure, "
        "attributes, published_at, trace_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            publication.message_id,
            topic_id,
            publication.subject,
            publication.message,
            publication.structure,
            publication.attributes,
            tx.now_ms,
            publication.trace_id,
        ),
    )
    return int(cursor.lastrowid or 0)


def _delivery(
    tx: Tx,
    notification_id: int,
    subscription_id: int | None,
    protocol: str,
    endpoint: str,
    status: str,
    note: str | None,
) -> None:
    tx.execute(
        "INSERT INTO deliveries (notification_id, subscription_id, kind, protocol, endpoint, "
        "status, next_attempt_at, created_at, last_error) "
        "VALUES (?, ?, 'notification', ?, ?, ?, ?, ?, ?)",
        (notification_id, subscription_id, protocol, endpoint, status, tx.now_ms, tx.now_ms, note),
    )


_POLICIES: dict[tuple[str, str], Pattern] = {}


def _filtered_out(publication: Publication, protocol: str, policy: str, scope: str) -> str | None:
    """Why `policy` lets `publication` not through to a `protocol` subscriber, or None if it
    matches. Attribute scope looks at the message attributes (String, String.Array, Number;
    never Binary); body scope at the message (the protocol's text) parsed as JSON."""
    compiled = _POLICIES.get((policy, scope))
    if compiled is None:
        context: Context = "sns-body" if scope == "MessageBody" else "sns-attributes"
        compiled = _POLICIES[(policy, scope)] = compile_pattern(policy, context=context)
    event: Any
    if scope == "MessageBody":
        try:
            event = json.loads(text_for(protocol, publication.message, publication.structure))
        except ValueError:
            return "the message body is not JSON"
        if not isinstance(event, dict):
            return "the message body is not a JSON object"
    else:
        attributes = json.loads(publication.attributes) if publication.attributes else {}
        event = sns_attributes_view(attributes)
    if compiled.matches(event):
        return None
    return compiled.explain(event).describe().removeprefix("no match: ")


def confirm(tx: Tx, token: str) -> str:
    """ConfirmSubscription by token; returns the subscription ARN."""
    row = tx.execute(
        "SELECT id, arn, status FROM subscriptions WHERE token = ?", (token,)
    ).fetchone()
    if row is None or row[2] == "deleted":
        raise NotFound("no subscription waits for this confirmation token")
    if row[2] == "pending":
        tx.execute(
            "UPDATE subscriptions SET status = 'confirmed', confirmed_at = ? WHERE id = ?",
            (tx.now_ms, row[0]),
        )
    return str(row[1])


def unsubscribe(tx: Tx, arn: str, token: str) -> None:
    row = tx.execute(
        "SELECT id FROM subscriptions WHERE arn = ? AND token = ? AND status != 'deleted'",
        (arn, token),
    ).fetchone()
    if row is None:
        raise NotFound("no such subscription")
    tx.execute("UPDATE subscriptions SET status = 'unsubscribed' WHERE id = ?", (row[0],))
    tx.execute(
        "UPDATE deliveries SET status = 'cancelled', last_error = 'unsubscribed' "
        "WHERE subscription_id = ? AND status = 'pending'",
        (row[0],),
    )


@dataclass(frozen=True, slots=True)
class Job:
    """One delivery attempt's worth of data."""

    id: int
    kind: str
    protocol: str
    endpoint: str
    attempts: int
    subscription_arn: str  # these three are "" for an SMS published straight to a number
    token: str
    topic: str
    message_id: str | None
    subject: str | None
    message: str | bytes | None  # bytes: an MQTT payload
    structure: str | None
    attributes: str | None
    published_at: int | None

    def text(self) -> str:
        assert isinstance(self.message, str)
        return text_for(self.protocol, self.message, self.structure)


def claim(tx: Tx, protocols: Sequence[str], limit: int) -> list[Job]:
    """Mark up to `limit` due deliveries as being sent and return them. For
    `ORDERED_PROTOCOLS` only the due run at the head of the line: the oldest waiting ones,
    up to the first that is not due yet."""
    marks = ",".join("?" * len(protocols))
    if ORDERED_PROTOCOLS.issuperset(protocols):
        rows = tx.execute(
            f"{_CLAIMED} WHERE d.status = 'pending' AND d.protocol IN ({marks}) "
            "ORDER BY d.id LIMIT ?",
            (*protocols, limit),
        ).fetchall()
        due = []
        for row in rows:
            if row[-1] > tx.now_ms:
                break
            due.append(row[:-1])
        return _mark_sending(tx, [Job(*row) for row in due])
    rows = tx.execute(
        f"{_CLAIMED} WHERE d.status = 'pending' AND d.protocol IN ({marks}) "
        "AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at, d.id LIMIT ?",
        (*protocols, tx.now_ms, limit),
    ).fetchall()
    return _mark_sending(tx, [Job(*row[:-1]) for row in rows])


_CLAIMED = (
    "SELECT d.id, d.kind, d.protocol, d.endpoint, d.attempts, COALESCE(s.arn, ''), "
    "COALESCE(s.token, ''), COALESCE(t.name, ''), "
    "n.message_id, n.subject, n.message, n.structure, n.attributes, n.published_at, "
    "d.next_attempt_at "
    "FROM deliveries d LEFT JOIN subscriptions s ON s.id = d.subscription_id "
    "LEFT JOIN topics t ON t.id = s.topic_id "
    "LEFT JOIN notifications n ON n.id = d.notification_id"
)


def _mark_sending(tx: Tx, jobs: list[Job]) -> list[Job]:
    if jobs:
        tx.execute(
            f"UPDATE deliveries SET status = 'sending' WHERE id IN ({','.join('?' * len(jobs))})",
            [job.id for job in jobs],
        )
    return jobs


def delivered(tx: Tx, job_id: int) -> None:
    changed = tx.execute(
        "UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, delivered_at = ?, "
        "last_error = NULL WHERE id = ? AND status = 'sending'",
        (tx.now_ms, job_id),
    ).rowcount
    if changed:
        _delivery_hop(tx, job_id)


def _delivery_hop(tx: Tx, job_id: int) -> None:
    """The delivery's outcome as a hop of its notification's trace; its duration runs from
    the publish."""
    found = tx.execute(
        "SELECT n.trace_id, d.protocol || ' ' || d.endpoint, d.status, d.attempts, "
        "d.last_error, n.published_at FROM deliveries d "
        "JOIN notifications n ON n.id = d.notification_id "
        "WHERE d.id = ? AND n.trace_id IS NOT NULL",
        (job_id,),
    ).fetchone()
    if found is None:
        return
    trace_id, name, status, attempts, error, published_at = found
    detail = {"status": status, "attempts": attempts, "error": error, "delivery_id": job_id}
    traces.hop(tx, trace_id, "delivery", name, detail, tx.now_ms - published_at)


def failed(
    tx: Tx, job_id: int, error: str, *, permanent: bool, retry_in_ms: int | None = None
) -> None:
    """Record a failed attempt: permanent errors stop; transient ones retry with backoff
    (1 s doubling, at most 60 s apart), for as long as it takes. Only a delivery being sent
    can fail: recording the same outcome twice changes nothing."""
    row = tx.execute(
        "SELECT attempts FROM deliveries WHERE id = ? AND status = 'sending'", (job_id,)
    ).fetchone()
    if row is None:
        return
    attempts = int(row[0]) + 1
    tx.execute(
        "UPDATE deliveries SET status = ?, attempts = ?, last_error = ?, next_attempt_at = ? "
        "WHERE id = ?",
        (
            "failed" if permanent else "pending",
            attempts,
            error[:1000],
            tx.now_ms + (backoff_ms(attempts) if retry_in_ms is None else retry_in_ms),
            job_id,
        ),
    )
    _delivery_hop(tx, job_id)
    if not permanent:
        tx.touch("deliveries")


def release_in_flight(tx: Tx) -> int:
    """After a crash, deliveries that were being sent go back to pending."""
    return tx.execute("UPDATE deliveries SET status = 'pending' WHERE status = 'sending'").rowcount


def retry_now(tx: Tx, delivery_ids: Sequence[int] | None = None) -> int:
    """Make failed or waiting deliveries due now (`sluiceway deliveries --retry`)."""
    if delivery_ids:
        marks = ",".join("?" * len(delivery_ids))
        sql = (
            "UPDATE deliveries SET status = 'pending', next_attempt_at = ? "
            f"WHERE id IN ({marks}) AND status IN ('pending', 'failed')"
        )
        count = tx.execute(sql, (tx.now_ms, *delivery_ids)).rowcount
    else:
        count = tx.execute(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = ? "
            "WHERE status IN ('pending', 'failed')",
            (tx.now_ms,),
        ).rowcount
    tx.touch("deliveries")
    return count


def next_due(cx: sqlite3.Connection, protocols: Sequence[str], now_ms: int) -> int | None:
    """When the next delivery of `protocols` is due (after `now_ms`), if any waits."""
    marks = ",".join("?" * len(protocols))
    if ORDERED_PROTOCOLS.issuperset(protocols):  # the head of the line decides
        head = cx.execute(
            f"SELECT next_attempt_at FROM deliveries WHERE status = 'pending' "
            f"AND protocol IN ({marks}) ORDER BY id LIMIT 1",
            tuple(protocols),
        ).fetchone()
        return None if head is None or head[0] <= now_ms else int(head[0])
    row = cx.execute(
        f"SELECT MIN(next_attempt_at) FROM deliveries WHERE status = 'pending' "
        f"AND protocol IN ({marks}) AND next_attempt_at > ?",
        (*protocols, now_ms),
    ).fetchone()
    return None if row[0] is None else int(row[0])


@dataclass(frozen=True)
class DeliveryView:
    """A delivery as `sluiceway deliveries` shows it. `destination` is the address (email,
    phone number, function); `text` what that protocol receives (None for a confirmation
    request); `topic` is None for an SMS published straight to a number."""

    id: int
    kind: str
    protocol: str
    destination: str
    topic: str | None
    status: str
    attempts: int
    last_error: str | None
    subject: str | None
    message_id: str | None
    created_at: int
    delivered_at: int | None
    text: str | None


def _shown(protocol: str, message: str | bytes | None, structure: str | None) -> str | None:
    if message is None:
        return None
    if isinstance(message, bytes):  # an MQTT payload
        return message.decode("utf-8", "replace")
    return text_for(protocol, message, structure)


def list_deliveries(
    cx: sqlite3.Connection, *, status: str | None = None, limit: int | None = None
) -> list[DeliveryView]:
    """Deliveries, oldest first; with `limit`, the most recent `limit` of them."""
    sql = (
        "SELECT d.id, d.kind, d.protocol, d.endpoint, t.name, d.status, d.attempts, d.last_error, "
        "n.subject, n.message_id, d.created_at, d.delivered_at, n.message, n.structure "
        "FROM deliveries d LEFT JOIN subscriptions s ON s.id = d.subscription_id "
        "LEFT JOIN topics t ON t.id = s.topic_id "
        "LEFT JOIN notifications n ON n.id = d.notification_id"
    )
    params: list[Any] = []
    if status is not None:
        sql += " WHERE d.status = ?"
        params.append(status)
    sql += " ORDER BY d.id DESC LIMIT ?"
    params.append(-1 if limit is None else limit)
    views = []
    for row in cx.execute(sql, params):
        message, structure = row[12], row[13]
        views.append(
            DeliveryView(
                id=row[0],
                kind=row[1],
                protocol=row[2],
                destination=row[3],
                topic=row[4],
                status=row[5],
                attempts=row[6],
                last_error=row[7],
                subject=row[8],
                message_id=row[9],
                created_at=row[10],
                delivered_at=row[11],
                text=_shown(row[2], message, structure),
            )
        )
    return views[::-1]


def job(cx: sqlite3.Connection, delivery_id: int) -> Job | None:
    """A delivery as its worker would see it (the console renders an email from it)."""
    row = cx.execute(f"{_CLAIMED} WHERE d.id = ?", (delivery_id,)).fetchone()
    return None if row is None else Job(*row[:-1])
