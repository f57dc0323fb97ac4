"""An operation's output (or a `WireError`) as its protocol answers it: JSON (blobs base64,
times epoch seconds), query XML (``<OpResponse><OpResult>``), or rest-json (headers, status
and payload members where the model puts them)."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

from sluiceway.core.wire.errors import WireError
from sluiceway.core.wire.model import service_model

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]
JSON_TYPES = {"json": b"application/x-amz-json-1.0", "rest-json": b"application/json"}


def to_json(shape: Shape | None, value: Any) -> Any:
    if value is None or shape is None:
        return value
    if isinstance(shape, StructureShape):
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                out[member.serialization.get("name", name)] = to_json(member, value[name])
        return out
    if isinstance(shape, ListShape):
        return [to_json(shape.member, v) for v in value]
    if isinstance(shape, MapShape):
        return {k: to_json(shape.value, v) for k, v in value.items()}
    if shape.type_name == "blob":
        raw = value.encode() if isinstance(value, str) else value
        return base64.b64encode(raw).decode()
    if shape.type_name == "timestamp" and isinstance(value, datetime):
        return round(value.timestamp(), 3)
    return value


def _text(shape: Shape, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if shape.type_name == "blob":
        raw = value.encode() if isinstance(value, str) else value
        return base64.b64encode(raw).decode()
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return str(value)


def to_xml(shape: Shape, value: Any, tag: str, names: Mapping[str, str]) -> str:
    if isinstance(shape, StructureShape):
        inner = "".join(
            _xml_member(shape, n, m, value[n], names)
            for n, m in shape.members.items()
            if value.get(n) is not None
        )
        return f"<{tag}>{inner}</{tag}>"
    if isinstance(shape, ListShape):
        member = shape.member.serialization.get("name", "member")
        inner = "".join(to_xml(shape.member, v, member, names) for v in value)
        return f"<{tag}>{inner}</{tag}>"
    if isinstance(shape, MapShape):
        return f"<{tag}>{_xml_entries(shape, value, 'entry', names)}</{tag}>"
    return f"<{tag}>{escape(_text(shape, value), {chr(13): '&#xD;'})}</{tag}>"


def _xml_entries(shape: MapShape, value: Mapping[str, Any], tag: str, names: Any) -> str:
    key = names.get(f"{shape.name}.key") or shape.key.serialization.get("name", "key")
    item = names.get(f"{shape.name}.value") or shape.value.serialization.get("name", "value")
    return "".join(
        f"<{tag}>{to_xml(shape.key, k, key, names)}{to_xml(shape.value, v, item, names)}</{tag}>"
        for k, v in value.items()
    )


def _xml_member(
    parent: StructureShape, name: str, member: Shape, value: Any, names: Mapping[str, str]
) -> str:
    override = names.get(f"{parent.name}.{name}")
    tag = override or member.serialization.get("name", name)
    flattened = bool(member.serialization.get("flattened")) or override is not None
    if flattened and isinstance(member, ListShape):
        return "".join(to_xml(member.member, v, tag, names) for v in value)
    if flattened and isinstance(member, MapShape):
        return _xml_entries(member, value, tag, names)
    return to_xml(member, value, tag, names)


def answer(
    op: OperationModel,
    output: Mapping[str, Any],
    request_id: str,
    names: Mapping[str, str],
    protocol: str | None = None,
) -> Answer:
    """The output as `protocol` (the request's; by default the model's) carries it."""
    protocol = protocol or op.service_model.protocol
    headers = [(b"x-amzn-requestid", request_id.encode())]
    if protocol == "json":
        body = json.dumps(to_json(op.output_shape, output) or {}, separators=(",", ":"))
        headers.append((b"content-type", JSON_TYPES["json"]))
        return 200, headers, body.encode()
    if protocol == "query":
        return (
            200,
            [*headers, (b"content-type", b"text/xml")],
            _query_answer(op, output, request_id, names),
        )
    return _rest_answer(op, output, headers)


def _query_answer(
    op: OperationModel, output: Mapping[str, Any], request_id: str, names: Mapping[str, str]
) -> bytes:
    namespace = op.service_model.metadata.get("xmlNamespace") or (
        f"http://queue.amazonaws.com/doc/{op.service_model.api_version}/"
    )
    result = ""
    shape = op.output_shape
    if shape is not None:
        wrapper = shape.serialization.get("resultWrapper", f"{op.name}Result")
        result = to_xml(shape, output, wrapper, names)
    return (
        f'<?xml version="1.0"?><{op.name}Response xmlns="{namespace}">{result}'
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        f"</{op.name}Response>"
    ).encode()


def _rest_answer(
    op: OperationModel, output: Mapping[str, Any], headers: list[tuple[bytes, bytes]]
) -> Answer:
    status = int(op.http.get("responseCode", 200))
    shape = op.output_shape
    body: bytes = b""
    if shape is None:
        return status, headers, body
    payload = shape.serialization.get("payload")
    rest: dict[str, Any] = {}
    for name, member in shape.members.items():
        value = output.get(name)
        if value is None:
            continue
        where = member.serialization.get("location")
        if where == "statusCode":
            status = int(value)
        elif where == "header":
            headers.append(
                (member.serialization["name"].lower().encode(), _text(member, value).encode())
            )
        elif name == payload:
            if member.type_name == "blob":
                body = value.encode() if isinstance(value, str) else bytes(value)
            else:
                body = json.dumps(to_json(member, value)).encode()
                headers.append((b"content-type", JSON_TYPES["rest-json"]))
        else:
            rest[name] = value
    if payload is None:
        body = json.dumps(to_json(shape, rest), separators=(",", ":")).encode()
        headers.append((b"content-type", JSON_TYPES["rest-json"]))
    return status, headers, body


def error_answer(
    service: str,
    error: WireError,
    request_id: str,
    query_codes: Mapping[str, str],
    protocol: str | None = None,
) -> Answer:
    """The error as the service's protocol carries it; `query_codes` are the codes a query
    compatible json service (SQS) also sends in ``x-amzn-query-error``."""
    model = service_model(service)
    status = error.status or _status_of(service, error.code)
    headers = [(b"x-amzn-requestid", request_id.encode())]
    fault = "Sender" if error.sender else "Receiver"
    protocol = protocol or model.protocol
    if protocol == "query":
        code = query_codes.get(error.code, error.code)
        body = (
            f"<ErrorResponse><Error><Type>{fault}</Type><Code>{escape(code)}</Code>"
            f"<Message>{escape(error.message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return status, [*headers, (b"content-type", b"text/xml")], body.encode()
    data = {**_error_fields(service, error), "message": error.message}
    if protocol == "json":
        prefix = model.metadata.get("targetPrefix", service)
        data["__type"] = f"com.amazonaws.{prefix.lower()}#{error.code}"
        headers.append((b"content-type", JSON_TYPES["json"]))
        if error.code in query_codes or "awsQueryCompatible" in model.metadata:
            code = query_codes.get(error.code, error.code)
            headers.append((b"x-amzn-query-error", f"{code};{fault}".encode()))
    else:
        data["Type"] = "User" if error.sender else "Service"
        headers.append((b"x-amzn-errortype", error.code.encode()))
        headers.append((b"content-type", JSON_TYPES["rest-json"]))
    return status, headers, json.dumps(data, default=str).encode()


def _error_shape(service: str, code: str) -> StructureShape | None:
    model = service_model(service)
    if code not in model.shape_names:
        return None
    shape = model.shape_for(code)
    return shape if isinstance(shape, StructureShape) else None


def _status_of(service: str, code: str) -> int:
    shape = _error_shape(service, code)
    if shape is not None:
        status = shape.metadata.get("error", {}).get("httpStatusCode")
        if status:
            return int(status)
    return 400


def _error_fields(service: str, error: WireError) -> dict[str, Any]:
    shape = _error_shape(service, error.code)
    if shape is None:
        return dict(error.fields)
    return to_json(shape, error.fields) or {}
