"""SNS's Publish and PublishBatch, through the same durable outbox as ``topic.publish``: the
notification and its deliveries commit before the answer goes out, and the delivery workers
send them (email, SMS, functions) as they send a handle's.

Topics here are standard topics: MessageGroupId and MessageDeduplicationId, FIFO topics'
parameters, are refused as SNS refuses them on a standard topic.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from sluiceway.core.errors import ValidationError
from sluiceway.core.store import Tx
from sluiceway.core.wire import Call, WireError
from sluiceway.sns import phones, topics
from sluiceway.sns.info import TopicInfo
from sluiceway.sns.sqs_fanout import Fanout
from sluiceway.sns.topics import Publication
from sluiceway.sns.wire_common import SnsEngine, invalid, operation, topic_of

MAX_BATCH = 10
_BATCH_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")


def _standard_only(entry: Mapping[str, Any]) -> None:
    for name in ("MessageGroupId", "MessageDeduplicationId"):
        if entry.get(name) is not None:
            raise invalid(
                f"{name} Reason: The request includes {name} parameter that is not valid for "
                "this topic type (sluiceway's topics are standard topics)"
            )


def _attributes(raw: Any) -> dict[str, dict[str, str]] | None:
    """Message attributes as the engine takes them; Binary ones are refused, the engine
    keeping only String, Number and String.Array."""
    if not raw:
        return None
    clean: dict[str, dict[str, str]] = {}
    for name, value in raw.items():
        if value.get("DataType", "").startswith("Binary"):
            raise invalid(
                f"MessageAttributes Reason: attribute {name!r}: sluiceway does not support "
                "Binary message attributes"
            )
        clean[name] = {k: v for k, v in value.items() if k in ("DataType", "StringValue")}
    return clean


def _prepare(entry: Mapping[str, Any]) -> Publication:
    _standard_only(entry)
    structure = entry.get("MessageStructure")
    message = entry.get("Message")
    if message is None or message == "":
        raise invalid("Empty message")
    if structure == "json":
        try:
            parsed = json.loads(message)
        except ValueError:
            raise invalid("Message Structure - JSON message body failed to parse") from None
        if not isinstance(parsed, dict) or "default" not in parsed:
            raise invalid("Message Structure - No default entry in JSON message body")
    return topics.prepare(
        message,
        subject=entry.get("Subject"),
        attributes=_attributes(entry.get("MessageAttributes")),
        structure=structure,
    )


@operation("Publish")
def publish(engine: SnsEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    targets = [params.get(k) for k in ("TopicArn", "TargetArn", "PhoneNumber")]
    given = [t for t in targets if t is not None]
    if not given:
        raise invalid("TopicArn or TargetArn Reason: no value for required parameter")
    if len(given) > 1:
        raise invalid(
            "TopicArn Reason: Only one of TopicArn, TargetArn or PhoneNumber may be given"
        )
    phone = params.get("PhoneNumber")
    if phone is not None:
        return _publish_sms(engine, call, phone, params)
    arn = params.get("TopicArn") or params["TargetArn"]
    topic = topic_of(engine, call, arn, "TopicArn" if params.get("TopicArn") else "TargetArn")
    call.authorize("topic", topic.name, "sns:Publish", topic.arn)
    publication = _prepare(params)
    engine.store.write(lambda tx: topics.publish(tx, topic, publication, engine))
    return {"MessageId": publication.message_id}


def _publish_sms(
    engine: SnsEngine, call: Call, phone: str, params: Mapping[str, Any]
) -> dict[str, Any]:
    call.authorize("sms", "*", "sns:Publish", "*")
    _standard_only(params)
    number = phones.check_phone(phone)
    raw = params.get("MessageAttributes") or {}

    def reserved(name: str) -> str | None:
        value = raw.get(name)
        return None if value is None else value.get("StringValue")

    publication = topics.prepare(
        phones.check_text(params.get("Message")),
        subject=None,
        attributes=phones.sms_attributes(reserved(phones.SENDER_ID), reserved(phones.SMS_TYPE)),
        structure=None,
    )
    engine.store.write(lambda tx: topics.publish_sms(tx, number, publication))
    return {"MessageId": publication.message_id}


@operation("PublishBatch")
def publish_batch(engine: SnsEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    topic = topic_of(engine, call, params["TopicArn"])
    call.authorize("topic", topic.name, "sns:Publish", topic.arn)
    entries = params.get("PublishBatchRequestEntries") or []
    _check_batch(entries)
    successful: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    publications: list[Publication] = []
    for entry in entries:
        try:
            publication = _prepare(entry)
        except (WireError, ValidationError) as error:
            failed.append(
                {
                    "Id": entry["Id"],
                    "Code": getattr(error, "code", "InvalidParameter"),
                    "Message": str(getattr(error, "message", error)),
                    "SenderFault": True,
                }
            )
            continue
        publications.append(publication)
        successful.append({"Id": entry["Id"], "MessageId": publication.message_id})
    if publications:
        engine.store.write(lambda tx: _publish_all(tx, topic, publications, engine))
    return {"Successful": successful, "Failed": failed}


def _publish_all(tx: Tx, topic: TopicInfo, publications: list[Publication], fanout: Fanout) -> None:
    for publication in publications:
        topics.publish(tx, topic, publication, fanout)


def _check_batch(entries: list[Mapping[str, Any]]) -> None:
    if not entries:
        raise WireError("EmptyBatchRequest", "The batch request doesn't contain any entries.")
    if len(entries) > MAX_BATCH:
        raise WireError(
            "TooManyEntriesInBatchRequest",
            f"The batch request contains more entries than permissible ({MAX_BATCH}).",
        )
    ids = [entry.get("Id") for entry in entries]
    for entry_id in ids:
        if not isinstance(entry_id, str) or not _BATCH_ID.fullmatch(entry_id):
            raise WireError(
                "InvalidBatchEntryId",
                "A batch entry id can only contain alphanumeric characters, hyphens and "
                "underscores. It can be at most 80 letters long.",
            )
    if len(set(ids)) != len(ids):
        raise WireError(
            "BatchEntryIdsNotDistinct", "Two or more batch entries in the request have the same Id."
        )
    size = sum(len(str(entry.get("Message") or "").encode()) for entry in entries)
    for entry in entries:
        for name, value in (entry.get("MessageAttributes") or {}).items():
            size += len(name.encode()) + len(str(value.get("StringValue", "")).encode())
    if size > topics.MAX_MESSAGE_BYTES:
        raise WireError(
            "BatchRequestTooLong",
            f"The length of all the messages put together is more than the limit "
            f"({topics.MAX_MESSAGE_BYTES} bytes).",
        )
