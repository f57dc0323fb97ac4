"""SQS messages: what a send must satisfy, and what a receive sees.

`prepare` is the one check every sender goes through (handles, the HTTP gateway, the CLI),
so a body one of them refuses is refused by all.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sluiceway.core import ids, traces
from sluiceway.core.errors import ValidationError
from sluiceway.core.events import md5_hex, md5_of_message_attributes
from sluiceway.sqs.info import QueueInfo

# Characters SQS accepts in a body: #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF
INVALID_TEXT = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,256}")
_DATA_TYPE = re.compile(r"(String|Number|Binary)(\.[A-Za-z0-9_.-]{1,200})?")
# MessageGroupId / MessageDeduplicationId: 1-128 alphanumerics and punctuation.
_FIFO_ID = re.compile(r"[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}")


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
    group_id: str | None = None
    dedup_id: str | None = None
    sequence_number: str | None = None
    trace_id: str | None = None

    def system_attributes(self) -> dict[str, str]:
        """The record's ``attributes`` (all strings, as Lambda delivers them)."""
        attributes = {
            "ApproximateReceiveCount": str(self.receive_count),
            "SentTimestamp": str(self.sent_at),
            "SenderId": self.sender_id,
            "ApproximateFirstReceiveTimestamp": str(self.first_received_at),
        }
        if self.group_id is not None:
            attributes["SequenceNumber"] = str(self.sequence_number)
            attributes["MessageGroupId"] = self.group_id
            attributes["MessageDeduplicationId"] = str(self.dedup_id)
        if self.trace_id is not None:
            attributes["AWSTraceHeader"] = traces.xray_header(self.trace_id)
        return attributes


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A validated message ready to be stored."""

    message_id: str
    body: str
    attributes: str | None
    sender_id: str
    delay_seconds: int
    group_id: str | None = None
    dedup_id: str | None = None
    trace_id: str | None = None

    def response(
        self, message_id: str | None = None, sequence_number: str | None = None
    ) -> dict[str, str]:
        answer = {
            "MessageId": message_id or self.message_id,
            "MD5OfMessageBody": md5_hex(self.body),
        }
        if self.attributes is not None:
            answer["MD5OfMessageAttributes"] = md5_of_message_attributes(
                json.loads(self.attributes)
            )
        if sequence_number is not None:
            answer["SequenceNumber"] = sequence_number
        return answer


def prepare(
    queue: QueueInfo,
    body: str,
    *,
    sender_id: str,
    delay_seconds: int | None = None,
    attributes: Mapping[str, Mapping[str, Any]] | None = None,
    group_id: str | None = None,
    dedup_id: str | None = None,
    trace_id: str | None = None,
) -> Outgoing:
    """Check a message as SQS's SendMessage does and return it ready to store (in the trace
    `trace_id`, if any)."""
    if not isinstance(body, str):
        raise ValidationError("MessageBody must be a string", code="InvalidParameterValue")
    if not body:
        raise ValidationError("MessageBody must not be empty", code="MissingParameter")
    bad = INVALID_TEXT.search(body)
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
    if queue.spec.fifo:
        group_id, dedup_id = _fifo_ids(queue, body, delay_seconds, group_id, dedup_id)
        delay = queue.spec.delay_seconds
    else:
        if group_id is not None or dedup_id is not None:
            raise ValidationError(
                f"queue '{queue.name}' is not FIFO: MessageGroupId and MessageDeduplicationId "
                "apply to FIFO queues only",
                code="InvalidParameterValue",
            )
        delay = queue.spec.delay_seconds if delay_seconds is None else delay_seconds
    if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= 900:
        raise ValidationError(
            "DelaySeconds must be an integer 0..900", code="InvalidParameterValue"
        )
    return Outgoing(ids.uuid4(), body, encoded, sender_id, delay, group_id, dedup_id, trace_id)


def _fifo_ids(
    queue: QueueInfo, body: str, delay: int | None, group_id: str | None, dedup_id: str | None
) -> tuple[str, str]:
    if delay is not None:
        raise ValidationError(
            f"queue '{queue.name}' is FIFO: a per-message DelaySeconds is not allowed "
            "(set delay_seconds on the queue)",
            code="InvalidParameterValue",
        )
    if group_id is None:
        raise ValidationError(
            f"queue '{queue.name}' is FIFO: every message needs a MessageGroupId",
            code="MissingParameter",
        )
    if not isinstance(group_id, str) or not _FIFO_ID.fullmatch(group_id):
        raise ValidationError(
            "MessageGroupId must be 1-128 letters, digits or punctuation",
            code="InvalidParameterValue",
        )
    if dedup_id is None:
        if not queue.spec.content_based_deduplication:
            raise ValidationError(
                f"queue '{queue.name}' should either have content_based_deduplication enabled "
                "or MessageDeduplicationId provided explicitly",
                code="InvalidParameterValue",
            )
        dedup_id = hashlib.sha256(body.encode()).hexdigest()
    elif not isinstance(dedup_id, str) or not _FIFO_ID.fullmatch(dedup_id):
        raise ValidationError(
            "MessageDeduplicationId must be 1-128 letters, digits or punctuation",
            code="InvalidParameterValue",
        )
    return group_id, dedup_id


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
            continue
        text = attribute.get("StringValue")
        if not isinstance(text, str) or not text:
            raise ValidationError(f"message attribute {name!r} needs a non-empty StringValue")
        if data_type.startswith("Number"):
            try:
                float(text)
            except ValueError:
                raise ValidationError(f"message attribute {name!r} is not a number") from None
        if INVALID_TEXT.search(text):
            raise ValidationError(f"message attribute {name!r} has characters SQS does not allow")
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
