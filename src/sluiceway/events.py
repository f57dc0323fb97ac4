"""AWS event shapes, exactly as Lambda delivers them (pure functions, no I/O).

Field names, spellings and value types follow the reference samples (the Lambda console's
"SQS" and "DynamoDB Update" templates): SQS records are camelCase with string attributes;
stream records carry AttributeValue JSON and a decimal-string ``SequenceNumber``.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Callable, Mapping
from typing import Any

# -- SQS ----------------------------------------------------------------------------------


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def md5_of_message_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> str:
    """SQS's ``MD5OfMessageAttributes``: per attribute, sorted by name, the length-prefixed
    name, the length-prefixed data type, a transport byte (1 string, 2 binary) and the
    length-prefixed value; MD5 over the concatenation."""
    digest = hashlib.md5(usedforsecurity=False)
    for name in sorted(attributes):
        attribute = attributes[name]
        data_type = str(attribute["DataType"])
        _length_prefixed(digest, name.encode())
        _length_prefixed(digest, data_type.encode())
        if "BinaryValue" in attribute and attribute["BinaryValue"] is not None:
            digest.update(b"\x02")
            _length_prefixed(digest, _binary(attribute["BinaryValue"]))
        else:
            digest.update(b"\x01")
            _length_prefixed(digest, str(attribute["StringValue"]).encode())
    return digest.hexdigest()


def _length_prefixed(digest: Any, data: bytes) -> None:
    digest.update(struct.pack(">I", len(data)))
    digest.update(data)


def _binary(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return base64.b64decode(str(value))


def sqs_record(
    *,
    message_id: str,
    receipt_handle: str,
    body: str,
    attributes: Mapping[str, str],
    message_attributes: Mapping[str, Mapping[str, Any]] | None,
    queue_arn: str,
    region: str,
) -> dict[str, Any]:
    """One record of the SQS event Lambda passes to a handler."""
    record: dict[str, Any] = {
        "messageId": message_id,
        "receiptHandle": receipt_handle,
        "body": body,
        "attributes": dict(attributes),
        "messageAttributes": lambda_message_attributes(message_attributes or {}),
        "md5OfBody": md5_hex(body),
    }
    if message_attributes:
        record["md5OfMessageAttributes"] = md5_of_message_attributes(message_attributes)
    record["eventSource"] = "aws:sqs"
    record["eventSourceARN"] = queue_arn
    record["awsRegion"] = region
    return record


def lambda_message_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """SQS API attributes (``StringValue``/``DataType``) in Lambda's lower-camel spelling."""
    out: dict[str, Any] = {}
    for name, attribute in attributes.items():
        entry: dict[str, Any] = {}
        if attribute.get("BinaryValue") is not None:
            entry["binaryValue"] = base64.b64encode(_binary(attribute["BinaryValue"])).decode()
        else:
            entry["stringValue"] = str(attribute["StringValue"])
        entry["stringListValues"] = []
        entry["binaryListValues"] = []
        entry["dataType"] = str(attribute["DataType"])
        out[name] = entry
    return out


# -- DynamoDB Streams ---------------------------------------------------------------------

TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


def dynamodb_record(
    *,
    event_id: str,
    event_name: str,
    region: str,
    stream_arn: str,
    created_at: int,
    keys: Mapping[str, Any],
    new_image: Mapping[str, Any] | None,
    old_image: Mapping[str, Any] | None,
    sequence_number: str,
    size_bytes: int,
    view_type: str,
    user_identity: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One DynamoDB Streams record as Lambda delivers it. Images are included as the view
    type dictates: INSERT has no OldImage, REMOVE no NewImage, KEYS_ONLY neither."""
    dynamodb: dict[str, Any] = {"ApproximateCreationDateTime": created_at, "Keys": dict(keys)}
    if new_image is not None and view_type in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
        dynamodb["NewImage"] = dict(new_image)
    if old_image is not None and view_type in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
        dynamodb["OldImage"] = dict(old_image)
    dynamodb["SequenceNumber"] = sequence_number
    dynamodb["SizeBytes"] = size_bytes
    dynamodb["StreamViewType"] = view_type
    record: dict[str, Any] = {
        "eventID": event_id,
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }
    if user_identity is not None:
        record["userIdentity"] = dict(user_identity)
    return record


# -- Lambda context -----------------------------------------------------------------------


class LambdaContext:
    """The ``context`` argument, with the attributes the Python runtime provides.

    ``memory_limit_in_mb`` is a string, as in the real runtime (it comes from an environment
    variable there).
    """

    def __init__(
        self,
        *,
        function_name: str,
        function_arn: str,
        request_id: str,
        memory_size: int,
        deadline: float,
        now: Callable[[], float],
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function_arn
        self.memory_limit_in_mb = str(memory_size)
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"local/[$LATEST]{request_id.replace('-', '')}"
        self.identity = None
        self.client_context = None
        self._deadline = deadline
        self._now = now

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._now()) * 1000))

    def __repr__(self) -> str:
        return (
            f"LambdaContext(function_name={self.function_name!r}, "
            f"aws_request_id={self.aws_request_id!r})"
        )
