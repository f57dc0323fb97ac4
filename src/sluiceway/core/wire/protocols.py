"""Which service and operation a request names, and its input: X-Amz-Target for the json
protocol (SQS, DynamoDB, DynamoDB Streams), the ``Action`` parameter for the query protocol
(SNS, and SQS as older SDKs speak it), the method and path for rest-json (Lambda, IoT data)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from botocore.model import OperationModel, StructureShape

from sluiceway.core.wire import model, parse
from sluiceway.core.wire.errors import WireError
from sluiceway.core.wire.sigv4 import signing_service

SERVICES = ("sqs", "dynamodb", "dynamodbstreams", "sns", "iot-data", "lambda")
# A credential scope's service -> the service (a json target's prefix: `targets`).
SIGNING = {"sqs": "sqs", "sns": "sns", "lambda": "lambda", "iotdata": "iot-data"}


@functools.cache
def targets() -> dict[str, str]:
    """A json target's prefix -> the service (read from the models at the first AWS request,
    not when a runtime starts)."""
    return {
        model.service_model(name).metadata["targetPrefix"]: name
        for name in SERVICES
        if "targetPrefix" in model.service_model(name).metadata
    }


def is_aws(headers: Mapping[str, str]) -> bool:
    """Whether a request is for an AWS API rather than one of the app's routes: it names a
    json target or is signed with Signature Version 4."""
    return "x-amz-target" in headers or headers.get("authorization", "").startswith(
        "AWS4-HMAC-SHA256"
    )


def service_of(headers: Mapping[str, str]) -> str:
    target = headers.get("x-amz-target")
    if target is not None:
        service = targets().get(target.partition(".")[0])
        if service is None:
            raise WireError("UnknownOperationException", f"unknown target {target!r}")
        return service
    scope = signing_service(headers)
    service = SIGNING.get(scope or "")
    if service is None:
        raise WireError(
            "UnknownServiceException",
            f"this runtime does not serve the '{scope}' API (it serves SQS, DynamoDB, "
            "DynamoDB Streams, SNS, IoT data and Lambda)",
            status=404,
        )
    return service


def protocol_of(service: str, headers: Mapping[str, str]) -> str:
    """The protocol a request to `service` speaks (and its errors must come back in)."""
    if "x-amz-target" in headers:
        return "json"
    if service in ("sqs", "sns"):
        return "query"
    return "rest-json"


@dataclass(frozen=True)
class Request:
    service: str
    operation: OperationModel
    params: dict[str, Any]
    protocol: str  # the protocol the request came in (SQS answers query requests in XML)


def parse_request(
    service: str,
    method: str,
    raw_path: str,
    query_string: str,
    headers: Mapping[str, str],
    body: bytes,
    query_names: Mapping[str, str],
) -> Request:
    if "x-amz-target" in headers:
        name = headers["x-amz-target"].partition(".")[2]
        op = _operation(service, name)
        params = parse.from_json(op.input_shape, parse.json_body(body)) or {}
        return Request(service, op, params, "json")
    if service in ("sqs", "sns"):
        form = _form(query_string, headers, body)
        action = form.get("Action")
        if not action:
            raise WireError("MissingAction", "The request must contain the parameter Action.")
        op = _operation(service, action, code="InvalidAction")
        # SQS's query API also takes the queue as the URL's path (POST /<account>/<name>),
        # as API Gateway's ``sqs:path/<account>/<name>`` integrations send it.
        if (
            service == "sqs"
            and "QueueUrl" not in form
            and raw_path.count("/") == 2
            and "QueueUrl" in op.input_shape.members
        ):
            form["QueueUrl"] = raw_path
        return Request(service, op, parse.from_query(op, form, query_names), "query")
    return _rest(service, method, raw_path, query_string, headers, body)


def _operation(service: str, name: str, code: str = "UnknownOperationException") -> OperationModel:
    op = model.operation(service, name) if name else None
    if op is None:
        if code == "InvalidAction":
            raise WireError(code, f"The action {name} is not valid for this web service.")
        raise WireError(code, f"unknown operation {name!r}")
    return op


def _form(query_string: str, headers: Mapping[str, str], body: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for text in (query_string, body.decode("utf-8", "replace") if body else ""):
        for key, values in parse_qs(text, keep_blank_values=True).items():
            fields[key] = values[-1]
    return fields


def _rest(
    service: str,
    method: str,
    raw_path: str,
    query_string: str,
    headers: Mapping[str, str],
    body: bytes,
) -> Request:
    query = parse_qs(query_string, keep_blank_values=True)
    found = model.match_rest(service, method, raw_path, query)
    if found is None:
        raise WireError(
            "UnknownOperationException",
            f"no {service} operation for {method} {raw_path}",
            status=404,
        )
    name, labels = found
    op = model.operation(service, name)
    assert op is not None
    shape = op.input_shape
    params: dict[str, Any] = {}
    if isinstance(shape, StructureShape):
        payload = shape.serialization.get("payload")
        rest_body: dict[str, Any] = {}
        if payload is None and body.strip():
            rest_body = parse.json_body(body)
        for member_name, member in shape.members.items():
            where = member.serialization.get("location")
            key = member.serialization.get("name", member_name)
            if where == "uri":
                if key in labels:
                    params[member_name] = labels[key]
            elif where == "querystring":
                if key in query:
                    params[member_name] = parse.query_scalar(member, query[key][-1], key)
            elif where == "header":
                if key.lower() in headers:
                    params[member_name] = parse.query_scalar(member, headers[key.lower()], key)
            elif member_name == payload:
                if member.type_name == "blob":
                    params[member_name] = body
                elif body.strip():
                    params[member_name] = parse.from_json(member, parse.json_body(body))
            elif key in rest_body:
                params[member_name] = parse.from_json(member, rest_body[key], member_name)
    return Request(service, op, params, "rest-json")
