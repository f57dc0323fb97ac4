"""AWS event shapes, exactly as Lambda delivers them (pure functions, no I/O).

Field names, spellings and value types follow the reference samples (the Lambda console's
"SQS" and "DynamoDB Update" templates): SQS records are camelCase with string attributes;
stream records carry AttributeValue JSON and a decimal-string ``SequenceNumber``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

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


# -- SNS ----------------------------------------------------------------------------------


def iso_millis(ms: int) -> str:
    """SNS's timestamps: ISO-8601 UTC with milliseconds."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def sns_attributes(attributes: Mapping[str, Mapping[str, Any]] | None) -> dict[str, Any]:
    """Publish-time attributes (``DataType``/``StringValue``) as envelopes spell them."""
    return {
        name: {"Type": str(a["DataType"]), "Value": str(a.get("StringValue", a.get("BinaryValue")))}
        for name, a in (attributes or {}).items()
    }


def sns_envelope(
    *,
    message_type: str,
    message_id: str,
    topic_arn: str,
    message: str,
    timestamp: str,
    signing_cert_url: str,
    subject: str | None = None,
    token: str | None = None,
    subscribe_url: str | None = None,
    unsubscribe_url: str | None = None,
    attributes: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The JSON envelope SNS delivers to HTTP/S endpoints, SQS queues and email-json, still
    unsigned (``Signature`` is empty; sign it over the canonical form, then set it)."""
    envelope: dict[str, Any] = {"Type": message_type, "MessageId": message_id}
    if token is not None:
        envelope["Token"] = token
    envelope["TopicArn"] = topic_arn
    if subject is not None:
        envelope["Subject"] = subject
    envelope["Message"] = message
    if subscribe_url is not None:
        envelope["SubscribeURL"] = subscribe_url
    envelope["Timestamp"] = timestamp
    envelope["SignatureVersion"] = "1"
    envelope["Signature"] = ""
    envelope["SigningCertURL"] = signing_cert_url
    if unsubscribe_url is not None:
        envelope["UnsubscribeURL"] = unsubscribe_url
    if attributes:
        envelope["MessageAttributes"] = sns_attributes(attributes)
    return envelope


def sns_lambda_record(
    *, subscription_arn: str, envelope: Mapping[str, Any], attributes: Mapping[str, Any] | None
) -> dict[str, Any]:
    """One record of the SNS event Lambda receives: the signed envelope's fields with
    Lambda's own spellings (``SigningCertUrl``, ``UnsubscribeUrl``), ``Subject`` null when
    unset, and ``MessageAttributes`` always present."""
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription_arn,
        "Sns": {
            "Type": envelope["Type"],
            "MessageId": envelope["MessageId"],
            "TopicArn": envelope["TopicArn"],
            "Subject": envelope.get("Subject"),
            "Message": envelope["Message"],
            "Timestamp": envelope["Timestamp"],
            "SignatureVersion": envelope["SignatureVersion"],
            "Signature": envelope["Signature"],
            "SigningCertUrl": envelope["SigningCertURL"],
            "UnsubscribeUrl": envelope.get("UnsubscribeURL"),
            "MessageAttributes": sns_attributes(attributes),
        },
    }


# -- API Gateway ----------------------------------------------------------------------------


def proxy_body(body: bytes) -> tuple[str | None, bool]:
    """A request body as a proxy event carries it, with its ``isBase64Encoded``: None when
    empty, the text when it is UTF-8, otherwise base64."""
    if not body:
        return None, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode(), True


def apigw_proxy_event(
    *,
    method: str,
    path: str,
    resource: str,
    path_parameters: Mapping[str, str],
    query: Sequence[tuple[str, str]],
    headers: Sequence[tuple[str, str]],
    body: bytes,
    source_ip: str,
    request_id: str,
    request_time_ms: int,
    account_id: str,
    api_id: str,
    domain_name: str,
    extended_request_id: str,
    stage: str = "local",
    claims: Mapping[str, Any] | None = None,
    authorizer: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The REST API Lambda proxy event (the console's "API Gateway AWS Proxy" template),
    field for field; `claims` are a Cognito authorizer's (``requestContext.authorizer.claims``,
    each a string, as API Gateway passes them)."""
    single_query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for name, value in query:
        single_query[name] = value
        multi_query.setdefault(name, []).append(value)
    single_headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        single_headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    text, encoded = proxy_body(body)
    user_agent = next((v for n, v in headers if n.lower() == "user-agent"), None)
    moment = datetime.fromtimestamp(request_time_ms / 1000, UTC)
    context: dict[str, Any] = {
        "accountId": account_id,
        "resourceId": hashlib.sha256(resource.encode()).hexdigest()[:6],
    }
    if claims is not None:
        context["authorizer"] = {"claims": {k: _claim_text(v) for k, v in claims.items()}}
    elif authorizer is not None:  # a Lambda authorizer's principalId and context
        context["authorizer"] = dict(authorizer)
    return {
        "body": text,
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "isBase64Encoded": encoded,
        "queryStringParameters": single_query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(path_parameters) or None,
        "stageVariables": None,
        "headers": single_headers,
        "multiValueHeaders": multi_headers,
        "requestContext": {
            **context,
            "stage": stage,
            "requestId": request_id,
            "requestTime": moment.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": request_time_ms,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "accessKey": None,
                "sourceIp": source_ip,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": user_agent,
                "user": None,
                "principalOrgId": None,
                "apiKey": None,
                "apiKeyId": None,
                "clientCert": None,
            },
            "path": f"/{stage}{path}",
            "resourcePath": resource,
            "httpMethod": method,
            "apiId": api_id,
            "protocol": "HTTP/1.1",
            "domainName": domain_name,
            "domainPrefix": domain_name.split(".", 1)[0],
            "extendedRequestId": extended_request_id,
        },
    }


def _claim_text(value: Any) -> str:
    """A token claim as API Gateway hands it to the function: text (a list space-separated,
    a number or a boolean as JSON writes it)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return " ".join(map(_claim_text, value))
    return json.dumps(value)


def apigw_http_event(
    *,
    method: str,
    path: str,
    route_key: str,
    path_parameters: Mapping[str, str],
    raw_query_string: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    source_ip: str,
    request_id: str,
    request_time_ms: int,
    account_id: str,
    domain_name: str,
    api_id: str,
    stage: str = "$default",
    protocol: str = "HTTP/1.1",
    claims: Mapping[str, Any] | None = None,
    scopes: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The HTTP API (API Gateway v2) Lambda event, payload format 2.0, in the key order of
    AWS's example ("Create AWS Lambda proxy integrations for HTTP APIs"): header names in
    lower case, a repeated header or query parameter's values joined with ","; the Cookie
    headers' cookies (split at ";") in ``cookies`` instead of ``headers``. ``route_key`` is
    ``"POST /orders/{id}"`` or ``"$default"``. As AWS does, it omits ``cookies``,
    ``queryStringParameters``, ``pathParameters`` and ``body`` when there are none (and
    ``stageVariables``, which a local API never has). A JWT authorizer's `claims` and
    `scopes` are in ``requestContext.authorizer.jwt``."""
    cookies: list[str] = []
    single_headers: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
        elif key in single_headers:
            single_headers[key] += "," + value
        else:
            single_headers[key] = value
    query: dict[str, str] = {}
    for name, value in parse_qsl(raw_query_string, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    text, encoded = proxy_body(body)
    moment = datetime.fromtimestamp(request_time_ms / 1000, UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query_string,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = single_headers
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": account_id,
        "apiId": api_id,
        **(
            {}
            if claims is None
            else {
                "authorizer": {
                    "jwt": {
                        "claims": {k: _claim_text(v) for k, v in claims.items()},
                        "scopes": list(scopes) if scopes else None,
                    }
                }
            }
        ),
        "domainName": domain_name,
        "domainPrefix": domain_name.split(".", 1)[0],
        "http": {
            "method": method,
            "path": path,
            "protocol": protocol,
            "sourceIp": source_ip,
            "userAgent": single_headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": stage,
        "time": moment.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": request_time_ms,
    }
    if text is not None:
        event["body"] = text
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    event["isBase64Encoded"] = encoded
    return event


# -- EventBridge --------------------------------------------------------------------------


def scheduled_event(
    *, event_id: str, rule_arn: str, when: float, region: str, account: str
) -> dict[str, Any]:
    """What a schedule rule hands its function: EventBridge's "Scheduled Event", `time`
    the slot it fired for (to the second, UTC)."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }
