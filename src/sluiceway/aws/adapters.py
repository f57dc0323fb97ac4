"""`Boto3Backend`: the handles' calls made to the real services with boto3.

Answers and errors have the local engine's shapes, so a handler sees no difference: items
come back as plain Python (numbers as ``Decimal``, through `sluiceway.core.attrvalue`, as the local
engine returns them); `send_message` returns SQS's ``MessageId``/``MD5OfMessageBody``
[/``MD5OfMessageAttributes``]; a text to a number is Transactional unless asked otherwise,
as locally; a failed ``attribute_not_exists`` write raises
`ConditionalCheckFailed`; AWS's validation errors raise `ValidationError`. Given the
function's grants, a call outside them raises `AccessDenied` before reaching AWS, exactly as
the local engine refuses it (IAM would refuse it too, less legibly).

boto3 is imported when the first client is made, so rendering needs no boto3; each client is
made once per backend (once per Lambda container).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sluiceway.app.graph import AppGraph
from sluiceway.aws.errors import ShimError
from sluiceway.aws.table_requests import (
    METHOD_OF_ACTION,
    OPERATION_METHODS,
    rename_tables,
    table_actions,
    table_names,
)
from sluiceway.core import attrvalue
from sluiceway.core.errors import ConditionalCheckFailed, NotFound, ValidationError
from sluiceway.core.permissions import ACTION_OF_METHOD, Grant, allows, denied
from sluiceway.core.render import names
from sluiceway.dynamodb import binary
from sluiceway.dynamodb.errors import ConditionFailed, TransactionCanceled
from sluiceway.dynamodb.keys import SortKeyCondition
from sluiceway.dynamodb.spec import TableSpec
from sluiceway.sns import phones
from sluiceway.sns.spec import TopicSpec
from sluiceway.sqs.spec import QueueSpec

ClientFactory = Callable[[str], Any]
DEFAULT_SMS_TYPE = "Transactional"

_VALIDATION_CODES = frozenset(
    {
        "ValidationException",
        "InvalidParameterValue",
        "InvalidParameter",
        "InvalidMessageContents",
        "InvalidAttributeName",
        "InvalidAttributeValue",
        "MissingParameter",
        "ItemCollectionSizeLimitExceededException",
        "ParameterValueInvalid",
        "ReceiptHandleIsInvalid",
        "AWS.SimpleQueueService.InvalidBatchEntryId",
    }
)
_NOT_FOUND_CODES = frozenset(
    {"ResourceNotFoundException", "AWS.SimpleQueueService.NonExistentQueue", "NotFound"}
)


@dataclass(frozen=True)
class ResourceNames:
    """Declared name -> physical identifier: queue URLs, table names, topic ARNs."""

    queue_urls: Mapping[str, str] = field(default_factory=dict)
    table_names: Mapping[str, str] = field(default_factory=dict)
    topic_arns: Mapping[str, str] = field(default_factory=dict)
    # The account's IoT data endpoint (a host name); None: botocore's default for the Region.
    iot_endpoint: str | None = None

    @classmethod
    def from_env(cls, graph: AppGraph, env: Mapping[str, str]) -> ResourceNames:
        """Read the variables the template sets (`names.env_var`) for every declared
        resource that has one."""

        def present(kind: names.HandleKind, declared: Iterable[str]) -> dict[str, str]:
            found = {name: env.get(names.env_var(kind, name)) for name in declared}
            return {name: value for name, value in found.items() if value}

        return cls(
            queue_urls=present("queue", (q.name for q in graph.queues)),
            table_names=present("table", (t.name for t in graph.tables)),
            topic_arns=present("topic", (t.name for t in graph.topics)),
            iot_endpoint=env.get(names.IOT_ENDPOINT_VARIABLE) or None,
        )


class Boto3Backend:
    """The `sluiceway.app.backend.Backend` on boto3.

    >>> backend = Boto3Backend(ResourceNames(table_names={"orders": "orders"}))  # doctest: +SKIP
    >>> app.bind(backend)                                                         # doctest: +SKIP
    """

    def __init__(
        self,
        names: ResourceNames,
        *,
        function: str | None = None,
        grants: tuple[Grant, ...] | None = None,
        client_factory: ClientFactory | None = None,
    ) -> None:
        self.names = names
        self.function = function
        self.grants = grants
        self._client_factory = client_factory
        self._clients: dict[str, Any] = {}

    # -- plumbing -----------------------------------------------------------------------

    def client(self, service: str) -> Any:
        """The boto3 client for `service`, made on first use and kept."""
        client = self._clients.get(service)
        if client is None:
            if self._client_factory is not None:
                client = self._client_factory(service)
            else:
                import boto3

                options = {}
                if service == "iot-data" and self.names.iot_endpoint:
                    options["endpoint_url"] = f"https://{self.names.iot_endpoint}"
                client = boto3.client(service, **options)
            self._clients[service] = client
        return client

    def _authorize(self, method: str, name: str) -> None:
        if self.grants is None:
            return
        kind, action, _ = ACTION_OF_METHOD[method]
        if not allows(self.grants, kind, name, action):
            raise denied(
                self.function or "this function",
                method,
                name,
                then=", then render and deploy again",
            )

    def _physical(self, table: Mapping[str, str], kind: names.HandleKind, name: str) -> str:
        value = table.get(name)
        if value is None:
            raise ShimError(
                f"{kind} '{name}' has no {names.env_var(kind, name)} in the environment; "
                "deploy the template `sluiceway render aws` writes"
            )
        return value

    def _call(self, service: str, operation: str, **kwargs: Any) -> Any:
        client = self.client(service)
        try:
            return getattr(client, operation)(**kwargs)
        except client.exceptions.ClientError as error:
            translated = _translate(error)
            if translated is None:
                raise
            raise translated from error

    # -- SQS ----------------------------------------------------------------------------

    def send_message(
        self,
        queue: QueueSpec,
        body: str,
        *,
        delay_seconds: int | None = None,
        message_attributes: Mapping[str, Mapping[str, Any]] | None = None,
        message_group_id: str | None = None,
        message_deduplication_id: str | None = None,
    ) -> dict[str, str]:
        self._authorize("send_message", queue.name)
        request: dict[str, Any] = {
            "QueueUrl": self._physical(self.names.queue_urls, "queue", queue.name),
            "MessageBody": body,
        }
        if delay_seconds is not None:
            request["DelaySeconds"] = delay_seconds
        if message_attributes:
            request["MessageAttributes"] = _sqs_attributes(message_attributes)
        if message_group_id is not None:
            request["MessageGroupId"] = message_group_id
        if message_deduplication_id is not None:
            request["MessageDeduplicationId"] = message_deduplication_id
        answer = self._call("sqs", "send_message", **request)
        keys = ("MessageId", "MD5OfMessageBody", "MD5OfMessageAttributes", "SequenceNumber")
        return {key: str(answer[key]) for key in keys if answer.get(key)}

    def change_message_visibility(
        self, queue: QueueSpec, receipt_handle: str, visibility_timeout: int
    ) -> None:
        self._authorize("change_message_visibility", queue.name)
        self._call(
            "sqs",
            "change_message_visibility",
            QueueUrl=self._physical(self.names.queue_urls, "queue", queue.name),
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=visibility_timeout,
        )

    # -- DynamoDB -----------------------------------------------------------------------

    def _table(self, table: TableSpec) -> str:
        return self._physical(self.names.table_names, "table", table.name)

    def put_item(self, table: TableSpec, item: Mapping[str, Any], *, if_not_exists: bool) -> None:
        self._authorize("put_item", table.name)
        request: dict[str, Any] = {
            "TableName": self._table(table),
            "Item": to_boto3(attrvalue.serialize_item(item)),
        }
        if if_not_exists:
            # A placeholder, so a key named like a reserved word ("name") still works.
            request["ConditionExpression"] = "attribute_not_exists(#pk)"
            request["ExpressionAttributeNames"] = {"#pk": table.partition_key.name}
        self._call("dynamodb", "put_item", **request)

    def get_item(self, table: TableSpec, key: Mapping[str, Any]) -> dict[str, Any] | None:
        self._authorize("get_item", table.name)
        answer = self._call(
            "dynamodb",
            "get_item",
            TableName=self._table(table),
            Key=to_boto3(attrvalue.serialize_item(key, where="key")),
            ConsistentRead=True,  # read-your-writes, as on the local engine
        )
        item = answer.get("Item")
        return None if item is None else attrvalue.deserialize_item(from_boto3(item))

    def delete_item(self, table: TableSpec, key: Mapping[str, Any]) -> dict[str, Any] | None:
        self._authorize("delete_item", table.name)
        answer = self._call(
            "dynamodb",
            "delete_item",
            TableName=self._table(table),
            Key=to_boto3(attrvalue.serialize_item(key, where="key")),
            ReturnValues="ALL_OLD",
        )
        old = answer.get("Attributes")
        return None if old is None else attrvalue.deserialize_item(from_boto3(old))

    def query(
        self,
        table: TableSpec,
        partition_value: Any,
        *,
        sort_key: SortKeyCondition | None = None,
        limit: int | None = None,
        scan_forward: bool = True,
    ) -> list[dict[str, Any]]:
        self._authorize("query", table.name)
        if limit is not None and limit < 1:
            raise ValidationError("Limit must be at least 1")
        condition, values, attribute_names = key_condition(table, partition_value, sort_key)
        request: dict[str, Any] = {
            "TableName": self._table(table),
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": attribute_names,
            "ExpressionAttributeValues": to_boto3(values),
            "ScanIndexForward": scan_forward,
            "ConsistentRead": True,
        }
        return self._pages("query", request, limit)

    def scan(self, table: TableSpec, *, limit: int | None = None) -> list[dict[str, Any]]:
        self._authorize("scan", table.name)
        if limit is not None and limit < 1:
            raise ValidationError("Limit must be at least 1")
        request = {"TableName": self._table(table), "ConsistentRead": True}
        return self._pages("scan", request, limit)

    def table_request(self, operation: str, request: Mapping[str, Any]) -> dict[str, Any]:
        """The handle's boto3-style call, made with boto3: declared table names become the
        deployed ones (and back in the answer), binary values bytes (and back)."""
        physical = {name: self._table_by_name(name) for name in table_names(request)}
        for name, action in table_actions(operation, request):
            self._authorize(METHOD_OF_ACTION[action], name)
        renamed = rename_tables(request, physical)
        method = OPERATION_METHODS[operation]
        answer = self._call("dynamodb", method, **binary.to_bytes(renamed))
        answer.pop("ResponseMetadata", None)
        if request.get("ReturnConsumedCapacity", "NONE") == "NONE":
            answer.pop("ConsumedCapacity", None)  # moto gives it unasked; AWS does not
        declared = {value: key for key, value in physical.items()}
        found: dict[str, Any] = binary.to_stored(rename_tables(answer, declared))
        return found

    def _table_by_name(self, name: str) -> str:
        return self._physical(self.names.table_names, "table", name)

    def _pages(
        self, operation: str, request: dict[str, Any], limit: int | None
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            page = dict(request)
            if limit is not None:
                page["Limit"] = limit - len(items)
            answer = self._call("dynamodb", operation, **page)
            items += [attrvalue.deserialize_item(from_boto3(i)) for i in answer.get("Items", [])]
            last = answer.get("LastEvaluatedKey")
            if not last or (limit is not None and len(items) >= limit):
                return items
            request = {**request, "ExclusiveStartKey": last}

    # -- SNS ----------------------------------------------------------------------------

    def publish(
        self,
        topic: TopicSpec,
        message: str,
        *,
        subject: str | None = None,
        message_attributes: Mapping[str, Mapping[str, Any]] | None = None,
        message_structure: str | None = None,
    ) -> dict[str, str]:
        self._authorize("publish", topic.name)
        request: dict[str, Any] = {
            "TopicArn": self._physical(self.names.topic_arns, "topic", topic.name),
            "Message": message,
        }
        if subject is not None:
            request["Subject"] = subject
        if message_attributes:
            request["MessageAttributes"] = {
                name: dict(attribute) for name, attribute in message_attributes.items()
            }
        if message_structure is not None:
            request["MessageStructure"] = message_structure
        answer = self._call("sns", "publish", **request)
        return {"MessageId": str(answer["MessageId"])}

    def publish_sms(
        self,
        phone_number: str,
        message: str,
        *,
        sender_id: str | None = None,
        sms_type: str | None = None,
    ) -> dict[str, str]:
        self._authorize("publish_sms", "*")
        answer = self._call(
            "sns",
            "publish",
            PhoneNumber=phones.check_phone(phone_number),
            Message=phones.check_text(message),
            # Said on every text: without it SNS uses the account's DefaultSMSType
            # (Promotional unless changed), not the Transactional that `Sms.publish`
            # documents and the local engine uses.
            MessageAttributes=phones.sms_attributes(sender_id, sms_type or DEFAULT_SMS_TYPE),
        )
        return {"MessageId": str(answer["MessageId"])}

    def publish_iot(self, topic: str, payload: bytes, qos: int) -> None:
        """IoT Core's data plane Publish, to the account's data endpoint when the template
        names one (`ResourceNames.iot_endpoint`), else to botocore's default for the Region
        (``data-ats.iot.<region>.amazonaws.com``); the handle has checked the topic against
        the allowlist, the QoS and the size already."""
        self._authorize("publish_iot", "*")
        self._call("iot-data", "publish", topic=topic, qos=qos, payload=payload)


# -- conversions ----------------------------------------------------------------------------


def key_condition(
    table: TableSpec, partition_value: Any, sort_key: SortKeyCondition | None
) -> tuple[str, dict[str, Any], dict[str, str]]:
    """A query's KeyConditionExpression, its values (AttributeValue JSON) and names."""
    attribute_names = {"#pk": table.partition_key.name}
    values = {":pk": attrvalue.serialize(partition_value, where="partition key")}
    condition = "#pk = :pk"
    if sort_key is None:
        return condition, values, attribute_names
    if table.sort_key is None:
        raise ValidationError(f"table '{table.name}' has no sort key to put a condition on")
    attribute_names["#sk"] = table.sort_key.name
    for i, value in enumerate(sort_key.values):
        values[f":sk{i}"] = attrvalue.serialize(value, where="sort key")
    match sort_key.op:
        case "=" | "<" | "<=" | ">" | ">=":
            condition += f" AND #sk {sort_key.op} :sk0"
        case "between":
            condition += " AND #sk BETWEEN :sk0 AND :sk1"
        case "begins_with":
            condition += " AND begins_with(#sk, :sk0)"
    return condition, values, attribute_names


def to_boto3(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item (attribute name -> AttributeValue JSON) in boto3's form (binary as bytes)."""
    return {name: _value_to_boto3(value) for name, value in item.items()}


def from_boto3(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item from boto3 (binary as bytes) as AttributeValue JSON (binary as base64)."""
    return {name: _value_from_boto3(value) for name, value in item.items()}


def _value_to_boto3(value: Mapping[str, Any]) -> dict[str, Any]:
    ((kind, data),) = value.items()
    if kind == "B":
        return {"B": base64.b64decode(data)}
    if kind == "BS":
        return {"BS": [base64.b64decode(v) for v in data]}
    if kind == "M":
        return {"M": to_boto3(data)}
    if kind == "L":
        return {"L": [_value_to_boto3(v) for v in data]}
    return dict(value)


def _value_from_boto3(value: Mapping[str, Any]) -> dict[str, Any]:
    ((kind, data),) = value.items()
    if kind == "B":
        return {"B": base64.b64encode(bytes(data)).decode("ascii")}
    if kind == "BS":
        return {"BS": [base64.b64encode(bytes(v)).decode("ascii") for v in data]}
    if kind == "M":
        return {"M": from_boto3(data)}
    if kind == "L":
        return {"L": [_value_from_boto3(v) for v in data]}
    return dict(value)


def _sqs_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, attribute in attributes.items():
        entry: dict[str, Any] = {"DataType": str(attribute["DataType"])}
        binary = attribute.get("BinaryValue")
        if binary is not None:
            entry["BinaryValue"] = (
                base64.b64decode(binary) if isinstance(binary, str) else bytes(binary)
            )
        else:
            entry["StringValue"] = str(attribute["StringValue"])
        out[name] = entry
    return out


def _translate(error: Any) -> Exception | None:
    """A botocore ClientError as the sluiceway error the local engine raises for it (None:
    no counterpart; the ClientError goes up as it is)."""
    details = error.response.get("Error", {})
    code = str(details.get("Code", ""))
    message = str(details.get("Message", "")) or str(error)
    if code == "ConditionalCheckFailedException":
        item = error.response.get("Item")
        if item is not None:
            return ConditionFailed(binary.to_stored(item))
        return ConditionalCheckFailed(message)
    if code == "TransactionCanceledException":
        return TransactionCanceled(binary.to_stored(error.response.get("CancellationReasons", [])))
    if code in _VALIDATION_CODES or code.endswith("ValidationException"):
        return ValidationError(message, code=code)
    if code in _NOT_FOUND_CODES or code.endswith("NotFound"):
        return NotFound(message)
    return None
