"""Turning an HTTP request into a queue message: API Gateway's SQS integration, checked.

The gateway and `sluiceway send` share this, so a body that one refuses the other refuses
too. The message body is the request body exactly as sent (what ``$input.body`` gives API
Gateway's mapping template); it must be a UTF-8 JSON object. Declared headers become message
attributes of the same name.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NoReturn

from sluiceway.apigateway.info import RouteInfo
from sluiceway.apigateway.models import Model, compile_model
from sluiceway.core import attrvalue, naming
from sluiceway.core.errors import ValidationError
from sluiceway.dynamodb import tables
from sluiceway.dynamodb.info import TableInfo
from sluiceway.sqs import messages
from sluiceway.sqs.info import QueueInfo

SENDER_ID = naming.principal_id("apigateway")
_HEADER_VALUE = re.compile(r"[\x20-\x7e]{1,1024}")


@dataclass(frozen=True)
class Rejection(Exception):
    """A request refused with a 4xx: nothing was stored. `errors` lists every problem a
    request model found."""

    status: int
    code: str
    message: str
    errors: tuple[str, ...] = ()

    def body(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            answer["errors"] = list(self.errors)
        return answer


def reject(status: int, code: str, message: str, errors: tuple[str, ...] = ()) -> NoReturn:
    raise Rejection(status, code, message, errors)


def check_content_type(value: str | None) -> None:
    """Only ``application/json`` (with an optional UTF-8 charset), as a mapping template
    declared for application/json with passthrough NEVER accepts."""
    if value == "application/json":
        return
    if value is None:
        reject(415, "UnsupportedMediaType", "Content-Type must be application/json")
    media, _, params = value.partition(";")
    if media.strip().lower() != "application/json":
        reject(
            415,
            "UnsupportedMediaType",
            f"Content-Type {media.strip()!r} is not supported; send application/json",
        )
    for param in params.split(";"):
        name, _, val = param.partition("=")
        if name.strip().lower() == "charset" and val.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            reject(415, "UnsupportedMediaType", "only the UTF-8 charset is supported")


def _no_constants(name: str) -> Any:
    reject(400, "InvalidJson", f"the body is not valid JSON: {name} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        reject(400, "InvalidJson", f"the body holds a number too large for a double: {text[:40]}")
    return value


_DECODER = json.JSONDecoder(parse_constant=_no_constants, parse_float=_finite)


def parse_object(raw: bytes) -> str:
    """The body as text, if it is a UTF-8 JSON object; a 400 otherwise."""
    if not raw:
        reject(400, "EmptyBody", "the body is empty; send a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        reject(400, "InvalidEncoding", f"the body is not valid UTF-8 (byte {error.start})")
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        reject(400, "InvalidJson", "the body is nested too deeply")
    except ValueError as error:
        reject(400, "InvalidJson", f"the body is not valid JSON: {error}")
    if not isinstance(value, dict):
        reject(400, "NotAnObject", f"the body must be a JSON object, not {_json_type(value)}")
    if "\\u" in text:
        # An escape may spell a lone surrogate ("\ud800"): valid JSON text, but not a string
        # any consumer can store or send (DynamoDB and SNS refuse it). Only then is it worth
        # the extra pass.
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            reject(
                400, "InvalidJson", "the body holds an unpaired UTF-16 surrogate (\\uD800-\\uDFFF)"
            )
    return text


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def forwarded_attributes(
    route: RouteInfo, headers: Mapping[str, str]
) -> dict[str, dict[str, str]] | None:
    attributes: dict[str, dict[str, str]] = {}
    for name in route.forward_headers:
        value = headers.get(name.lower())
        if value is None:
            continue
        if not _HEADER_VALUE.fullmatch(value):
            reject(400, "InvalidHeader", f"header {name} must be 1-1024 printable ASCII characters")
        attributes[name] = {"DataType": "String", "StringValue": value}
    return attributes or None


def prepare(
    queue: QueueInfo,
    route: RouteInfo,
    *,
    content_type: str | None,
    body: bytes,
    headers: Mapping[str, str],
    trace_id: str | None = None,
) -> messages.Outgoing:
    """Check a request for `route` and return the message to store (or raise `Rejection`).
    `headers` are keyed by lower-case name."""
    check_content_type(content_type)
    if len(body) > queue.spec.maximum_message_size:
        reject(
            413,
            "PayloadTooLarge",
            f"the body is larger than {queue.spec.maximum_message_size} bytes",
        )
    text = parse_object(body)
    attributes = forwarded_attributes(route, headers)
    try:
        return messages.prepare(
            queue, text, sender_id=SENDER_ID, attributes=attributes, trace_id=trace_id
        )
    except messages.MessageTooLarge as error:
        reject(413, "PayloadTooLarge", str(error))
    except ValidationError as error:
        reject(400, error.code, str(error))


# -- a route to a table -------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedItem:
    """A request body ready to be put: the item as AttributeValues, and its key as plain
    JSON (what the answer carries)."""

    item: dict[str, Any]
    key: dict[str, Any]


_MODELS: dict[str, Model] = {}


def prepare_item(
    table: TableInfo, route: RouteInfo, *, content_type: str | None, body: bytes
) -> PreparedItem:
    """Check a request for a table route (or raise `Rejection`): a UTF-8 JSON object that
    satisfies the route's model and carries the table's key attributes with their types."""
    check_content_type(content_type)
    text = parse_object(body)
    value = json.loads(text, parse_float=Decimal)
    if route.model is not None:
        model = _MODELS.get(route.model)
        if model is None:
            model = _MODELS[route.model] = compile_model(route.model, f"route {route.path}")
        problems = model.validate(value)
        if problems:
            reject(400, "BadRequestBody", "Invalid request body", tuple(problems))
    try:
        item = attrvalue.serialize_item(value, where="body")
        tables.check_item(table, item)
    except ValidationError as error:
        reject(400, "InvalidItem", str(error))
    key = {name: value[name] for name in table.spec.key_names}
    return PreparedItem(item, attrvalue.to_plain_json(key))
