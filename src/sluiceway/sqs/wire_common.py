"""What SQS's wire operations share: the operations table, the engine they need, the query
protocol's names and error codes, and how a request names a queue.

The operations themselves are in `wire_queues` (queue CRUD, attributes, tags, purge,
dead-letter queues and move tasks) and `wire_messages` (send, receive, delete, visibility);
`wire` assembles them.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from sluiceway.core import naming
from sluiceway.core.clock import Clock
from sluiceway.core.naming import Region
from sluiceway.core.store import Store
from sluiceway.core.wire import Call, Operations, WireError
from sluiceway.core.wire import model as wire_model
from sluiceway.sqs.info import QueueInfo, Queues


class QueueEngine(Protocol):
    """What SQS's operations need of the engine."""

    store: Store
    clock: Clock
    region: Region

    @property
    def registry(self) -> Queues: ...

    def refresh_registry(self) -> None: ...


# Error codes as the query protocol (and x-amzn-query-error) names them.
QUERY_CODES = {
    "QueueDoesNotExist": "AWS.SimpleQueueService.NonExistentQueue",
    "QueueNameExists": "QueueAlreadyExists",
    "QueueDeletedRecently": "AWS.SimpleQueueService.QueueDeletedRecently",
    "PurgeQueueInProgress": "AWS.SimpleQueueService.PurgeQueueInProgress",
    "EmptyBatchRequest": "AWS.SimpleQueueService.EmptyBatchRequest",
    "TooManyEntriesInBatchRequest": "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
    "BatchEntryIdsNotDistinct": "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
    "InvalidBatchEntryId": "AWS.SimpleQueueService.InvalidBatchEntryId",
    "BatchRequestTooLong": "AWS.SimpleQueueService.BatchRequestTooLong",
    "MessageNotInflight": "AWS.SimpleQueueService.MessageNotInflight",
    "UnsupportedOperation": "AWS.SimpleQueueService.UnsupportedOperation",
    "InvalidIdFormat": "InvalidIdFormat",
    "ReceiptHandleIsInvalid": "ReceiptHandleIsInvalid",
    "InvalidAttributeName": "InvalidAttributeName",
    "InvalidAttributeValue": "InvalidAttributeValue",
    "InvalidMessageContents": "InvalidMessageContents",
    "InvalidParameterValue": "InvalidParameterValue",
    "MissingParameter": "MissingParameter",
    "OverLimit": "OverLimit",
    "ResourceNotFoundException": "ResourceNotFoundException",
}

# The query protocol's element and parameter names, which botocore's json model of SQS no
# longer carries ("Shape.Member" -> name; "MapShape.key"/".value" -> a map's entry names).
QUERY_NAMES = {
    "CreateQueueRequest.Attributes": "Attribute",
    "CreateQueueRequest.tags": "Tag",
    "SetQueueAttributesRequest.Attributes": "Attribute",
    "GetQueueAttributesRequest.AttributeNames": "AttributeName",
    "GetQueueAttributesResult.Attributes": "Attribute",
    "ListQueuesResult.QueueUrls": "QueueUrl",
    "ListDeadLetterSourceQueuesResult.queueUrls": "QueueUrl",
    "ReceiveMessageRequest.AttributeNames": "AttributeName",
    "ReceiveMessageRequest.MessageSystemAttributeNames": "MessageSystemAttributeName",
    "ReceiveMessageRequest.MessageAttributeNames": "MessageAttributeName",
    "ReceiveMessageResult.Messages": "Message",
    "Message.Attributes": "Attribute",
    "Message.MessageAttributes": "MessageAttribute",
    "MessageAttributeValue.StringListValues": "StringListValue",
    "MessageAttributeValue.BinaryListValues": "BinaryListValue",
    "MessageSystemAttributeValue.StringListValues": "StringListValue",
    "MessageSystemAttributeValue.BinaryListValues": "BinaryListValue",
    "SendMessageRequest.MessageAttributes": "MessageAttribute",
    "SendMessageRequest.MessageSystemAttributes": "MessageSystemAttribute",
    "SendMessageBatchRequest.Entries": "SendMessageBatchRequestEntry",
    "SendMessageBatchRequestEntry.MessageAttributes": "MessageAttribute",
    "SendMessageBatchRequestEntry.MessageSystemAttributes": "MessageSystemAttribute",
    "SendMessageBatchResult.Successful": "SendMessageBatchResultEntry",
    "SendMessageBatchResult.Failed": "BatchResultErrorEntry",
    "DeleteMessageBatchRequest.Entries": "DeleteMessageBatchRequestEntry",
    "DeleteMessageBatchResult.Successful": "DeleteMessageBatchResultEntry",
    "DeleteMessageBatchResult.Failed": "BatchResultErrorEntry",
    "ChangeMessageVisibilityBatchRequest.Entries": "ChangeMessageVisibilityBatchRequestEntry",
    "ChangeMessageVisibilityBatchResult.Successful": "ChangeMessageVisibilityBatchResultEntry",
    "ChangeMessageVisibilityBatchResult.Failed": "BatchResultErrorEntry",
    "TagQueueRequest.Tags": "Tag",
    "UntagQueueRequest.TagKeys": "TagKey",
    "ListQueueTagsResult.Tags": "Tag",
    "AddPermissionRequest.AWSAccountIds": "AWSAccountId",
    "AddPermissionRequest.Actions": "ActionName",
    "ListMessageMoveTasksResult.Results": "ListMessageMoveTasksResultEntry",
    "QueueAttributeMap.key": "Name",
    "QueueAttributeMap.value": "Value",
    "MessageSystemAttributeMap.key": "Name",
    "MessageSystemAttributeMap.value": "Value",
    "MessageBodyAttributeMap.key": "Name",
    "MessageBodyAttributeMap.value": "Value",
    "MessageBodySystemAttributeMap.key": "Name",
    "MessageBodySystemAttributeMap.value": "Value",
    "TagMap.key": "Key",
    "TagMap.value": "Value",
}

operations: Operations[QueueEngine] = Operations(
    "sqs",
    denied_code="AccessDenied",
    denied_status=403,
    query_names=QUERY_NAMES,
    query_codes=QUERY_CODES,
)

Params = dict[str, Any]
Output = dict[str, Any]
Op = Callable[[QueueEngine, Call, Params], Output]
F = TypeVar("F", bound=Op)


def operation(name: str) -> Callable[[F], F]:
    """Register an SQS operation; its model's required members are checked first (boto3
    checks them too, but a query request or a hand-made one may leave them out)."""
    op = wire_model.operation("sqs", name)
    shape = op.input_shape if op is not None else None
    # A batch without entries is SQS's EmptyBatchRequest, not a missing parameter.
    required = tuple(m for m in shape.required_members if m != "Entries") if shape else ()

    def register(handler: F) -> F:
        def checked(engine: QueueEngine, call: Call, params: Params) -> Output:
            for member in required:
                if params.get(member) is None:
                    raise missing(member)
            return handler(engine, call, params)

        operations(name)(checked)
        return handler

    return register


def missing(name: str) -> WireError:
    return WireError("MissingParameter", f"The request must contain the parameter {name}.")


def invalid_parameter(message: str) -> WireError:
    return WireError("InvalidParameterValue", message)


def no_queue() -> WireError:
    return WireError("QueueDoesNotExist", "The specified queue does not exist.", status=400)


def queue_url(call: Call, name: str) -> str:
    return naming.queue_url(call.endpoint, call.region, name)


def queue_of(engine: QueueEngine, call: Call, url: str) -> QueueInfo:
    """The queue a QueueUrl (or, as SQS also accepts, a bare name) names."""
    name = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1] if "/" in url else url
    queue = engine.registry.queues.get(name)
    if queue is None:
        raise no_queue()
    return queue


def queue_by_arn(engine: QueueEngine, call: Call, arn: str, member: str) -> QueueInfo:
    prefix = naming.queue_arn(call.region, "")
    queue = engine.registry.queues.get(arn[len(prefix) :]) if arn.startswith(prefix) else None
    if queue is None:
        raise WireError(
            "ResourceNotFoundException",
            f"The resource that you specified for the {member} parameter doesn't exist.",
            status=404,
        )
    return queue


def page(names: Sequence[str], params: Params, limit: int = 1000) -> tuple[list[str], str | None]:
    """MaxResults / NextToken over sorted names: this page, and the token of the next."""
    most = params.get("MaxResults")
    if most is not None and not 1 <= most <= 1000:
        raise invalid_parameter(
            f"Value {most} for parameter MaxResults is invalid. Reason: MaxResults must be "
            "an integer between 1 and 1000."
        )
    after = ""
    token = params.get("NextToken")
    if token:
        try:
            after = base64.urlsafe_b64decode(token.encode()).decode()
        except (ValueError, UnicodeDecodeError):
            raise invalid_parameter("Invalid NextToken value.") from None
    rest = [n for n in sorted(names) if n > after]
    size = limit if most is None else most
    chosen = rest[:size]
    more = most is not None and len(rest) > size
    return chosen, base64.urlsafe_b64encode(chosen[-1].encode()).decode() if more else None
