"""SQS's API on the runtime's port, both protocols (json as current SDKs speak it, query as
older ones do), on the same queues the app declares (see `sluiceway.local.aws_api`)."""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import urlsplit

from sluiceway.core import naming
from sluiceway.core.store import Store
from sluiceway.core.wire import Call, Operations, WireError
from sluiceway.sqs import messages, queues
from sluiceway.sqs.info import QueueInfo, Queues


class QueueEngine(Protocol):
    """What SQS's operations need of the engine."""

    store: Store

    @property
    def registry(self) -> Queues: ...


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
    "OverLimit": "OverLimit",
    "ResourceNotFoundException": "ResourceNotFoundException",
}

operations: Operations[QueueEngine] = Operations(
    "sqs", denied_code="AccessDenied", denied_status=403, query_codes=QUERY_CODES
)


def queue_url(call: Call, name: str) -> str:
    return naming.queue_url(call.endpoint, call.region, name)


def queue_of(engine: QueueEngine, call: Call, url: str) -> QueueInfo:
    """The queue a QueueUrl (or, as SQS also accepts, a bare name) names."""
    name = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1] if "/" in url else url
    queue = engine.registry.queues.get(name)
    if queue is None:
        raise WireError(
            "QueueDoesNotExist", "The specified queue does not exist.", status=400
        )
    return queue


@operations("GetQueueUrl")
def get_queue_url(engine: QueueEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    queue = queue_of(engine, call, params["QueueName"])
    call.authorize("queue", queue.name, "sqs:GetQueueUrl", queue.arn)
    return {"QueueUrl": queue_url(call, queue.name)}


@operations("SendMessage")
def send_message(engine: QueueEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    queue = queue_of(engine, call, params["QueueUrl"])
    call.authorize("queue", queue.name, "sqs:SendMessage", queue.arn)
    message = messages.prepare(
        queue,
        params["MessageBody"],
        sender_id=naming.principal_id(call.caller.principal),
        delay_seconds=params.get("DelaySeconds"),
        attributes=params.get("MessageAttributes"),
        group_id=params.get("MessageGroupId"),
        dedup_id=params.get("MessageDeduplicationId"),
    )
    return engine.store.write(lambda tx: queues.send(tx, queue, message))
