"""SNS on SQLite: publish fans a notification out into a durable delivery outbox.

Publishing inserts the notification and one delivery row per subscription in the same
transaction, so a publish that returned is never lost. Delivery workers claim due rows,
attempt them, and record the outcome; a transient failure (server unreachable) reschedules
with backoff and never drops the delivery. A subscription still waiting for confirmation
gets a visible ``unconfirmed`` row instead of a delivery, as SNS does not deliver to it.
A subscribed SQS queue is in the same database: its message is written in the publish's
transaction (`sqs_fanout.py`), and its row records the outcome. The outbox's other side,
claiming and recording attempts, is `outbox.py`.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sluiceway.core import ids, traces
from sluiceway.core.errors import ValidationError
from sluiceway.core.store import Tx
from sluiceway.patterns import Context, Pattern, compile_pattern, sns_attributes_view
from sluiceway.sns import sqs_fanout
from sluiceway.sns.info import TopicInfo
from sluiceway.sns.opt_outs import OPTED_OUT
from sluiceway.sns.sqs_fanout import Fanout
from sluiceway.sns.texts import text_for

log = logging.getLogger("sluiceway.deliveries")

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


# -- ops ----------------------------------------------------------------------------------


def publish(tx: Tx, topic: TopicInfo, publication: Publication, fanout: Fanout) -> None:
    """Publish: the notification and, per subscription, a delivery: ``pending`` (to be
    sent), ``unconfirmed`` (SNS does not deliver to it), ``filtered`` (its filter policy did
    not match; the reason is kept) or ``opted-out`` (an SMS number that replied STOP). An
    ``sqs`` subscription's queue gets its message here, in this transaction (`sqs_fanout`):
    its delivery is ``delivered`` or ``failed`` at once."""
    notification_id = _notification(tx, topic.id, publication)
    subscriptions = tx.execute(
        "SELECT s.id, s.protocol, s.endpoint, s.status, s.filter_policy, s.filter_scope, "
        "o.phone IS NOT NULL, s.arn, s.token, s.attributes FROM subscriptions s "
        "LEFT JOIN sms_opt_outs o ON s.protocol = 'sms' AND o.phone = s.endpoint "
        "WHERE s.topic_id = ? AND s.status IN ('confirmed', 'pending')",
        (topic.id,),
    ).fetchall()
    for sid, protocol, endpoint, status, policy, scope, opted_out, *sqs in subscriptions:
        note = None
        if status != "confirmed":
            state, note = "unconfirmed", "subscription is pending confirmation"
        elif policy is not None and (miss := _filtered_out(publication, protocol, policy, scope)):
            state, note = "filtered", f"filter policy ({scope}): {miss}"
        elif opted_out:
            state, note = "opted-out", OPTED_OUT
        elif protocol == "sqs":
            arn, token, attributes = sqs
            raw = json.loads(attributes or "{}").get("RawMessageDelivery") == "true"
            subscriber = sqs_fanout.Subscriber(arn, token, endpoint, raw)
            note = sqs_fanout.deliver(tx, fanout, topic, publication, subscriber)
            state = "delivered" if note is None else "failed"
            if note is not None:
                log.warning("sqs delivery to %s failed: %s", endpoint, note)
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
    bytes and its QoS, and one ``mqtt`` delivery, sent in publish order (`outbox.claim`)."""
    cursor = tx.execute(
        "INSERT INTO notifications (message_id, topic_id, subject, message, structure, "
        "attributes, published_at, trace_id) VALUES (?, NULL, NULL, ?, NULL, ?, ?, ?)",
        (message_id, payload, json.dumps({"qos": qos}), tx.now_ms, trace_id),
    )
    assert cursor.lastrowid is not None
    _delivery(tx, cursor.lastrowid, None, "mqtt", topic, "pending", None)
    tx.touch("deliveries")
    traces.hop(tx, trace_id, "publish", f"mqtt {topic}", {"message_id": message_id, "qos": qos})


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
    attempted = status in ("delivered", "failed")  # an sqs delivery, made in the publish
    tx.execute(
        "INSERT INTO deliveries (notification_id, subscription_id, kind, protocol, endpoint, "
        "status, attempts, next_attempt_at, created_at, delivered_at, last_error) "
        "VALUES (?, ?, 'notification', ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            notification_id,
            subscription_id,
            protocol,
            endpoint,
            status,
            1 if attempted else 0,
            tx.now_ms,
            tx.now_ms,
            tx.now_ms if status == "delivered" else None,
            note,
        ),
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


def enqueue_invocation(
    tx: Tx, function: str, payload: str, request_id: str, trace_id: str | None = None
) -> None:
    """Lambda's asynchronous Invoke (``InvocationType=Event``): the event, durable in the
    outbox as a notification with no topic, and one ``lambda`` delivery of kind ``invoke``
    that the functions' delivery worker runs (with Lambda's two retries, see
    `sluiceway.awslambda.sns_lambda`)."""
    publication = Publication(request_id, payload, None, None, None, trace_id)
    notification_id = _notification(tx, None, publication)
    tx.execute(
        "INSERT INTO deliveries (notification_id, subscription_id, kind, protocol, endpoint, "
        "status, next_attempt_at, created_at) VALUES (?, NULL, 'invoke', 'lambda', ?, "
        "'pending', ?, ?)",
        (notification_id, function, tx.now_ms, tx.now_ms),
    )
    tx.touch("deliveries")
