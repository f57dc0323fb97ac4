"""SQS's message operations on the wire: SendMessage(Batch), ReceiveMessage (long polling
included), DeleteMessage(Batch) and ChangeMessageVisibility(Batch).

A receive is the engine's own claim (`queues.claim`), the one Lambda's mappings make: a
message one of them holds is invisible to the other.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from sluiceway.core import naming
from sluiceway.core.errors import ValidationError
from sluiceway.core.events import md5_hex, md5_of_message_attributes
from sluiceway.core.store import Tx
from sluiceway.core.wire import Call, WireError
from sluiceway.sqs import catalog, long_poll, messages, queues
from sluiceway.sqs.info import QueueInfo
from sluiceway.sqs.messages import Message, Outgoing
from sluiceway.sqs.wire_common import (
    Output,
    Params,
    QueueEngine,
    invalid_parameter,
    operation,
    queue_of,
)

MAX_BATCH = 10
MAX_BATCH_BYTES = 1_048_576
MAX_WAIT = 20
_ENTRY_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")
SYSTEM_ATTRIBUTES = frozenset(
    {
        "SenderId",
        "SentTimestamp",
        "ApproximateReceiveCount",
        "ApproximateFirstReceiveTimestamp",
        "SequenceNumber",
        "MessageDeduplicationId",
        "MessageGroupId",
        "AWSTraceHeader",
        "DeadLetterQueueSourceArn",
    }
)


def _prepare(queue: QueueInfo, call: Call, entry: Params) -> Outgoing:
    return messages.prepare(
        queue,
        entry["MessageBody"],
        sender_id=naming.principal_id(call.caller.principal),
        delay_seconds=entry.get("DelaySeconds"),
        attributes=entry.get("MessageAttributes"),
        group_id=entry.get("MessageGroupId"),
        dedup_id=entry.get("MessageDeduplicationId"),
    )


@operation("SendMessage")
def send_message(engine: QueueEngine, call: Call, params: Params) -> Output:
    queue = queue_of(engine, call, params["QueueUrl"])
    call.authorize("queue", queue.name, "sqs:SendMessage", queue.arn)
    message = _prepare(queue, call, params)
    return engine.store.write(lambda tx: queues.send(tx, queue, message))


# -- batches ---------------------------------------------------------------------------------


def _entries(params: Params, kind: str) -> list[Params]:
    """A batch's entries, checked as SQS checks the batch as a whole."""
    entries: list[Params] = params.get("Entries") or []
    if not entries:
        raise WireError(
            "EmptyBatchRequest", f"There should be at least one {kind}RequestEntry in the request."
        )
    if len(entries) > MAX_BATCH:
        raise WireError(
            "TooManyEntriesInBatchRequest",
            f"Maximum number of entries per request are {MAX_BATCH}. You have sent {len(entries)}.",
        )
    seen: set[str] = set()
    for entry in entries:
        entry_id = entry.get("Id")
        if entry_id is None:
            raise WireError(
                "MissingParameter", f"The request must contain the parameter {kind}Entry.Id."
            )
        if not _ENTRY_ID.fullmatch(entry_id):
            raise WireError(
                "InvalidBatchEntryId",
                "A batch entry id can only contain alphanumeric characters, hyphens and "
                "underscores. It can be at most 80 letters long.",
            )
        if entry_id in seen:
            raise WireError("BatchEntryIdsNotDistinct", f"Id {entry_id} repeated.")
        seen.add(entry_id)
    return entries


def _failed(entry_id: str, error: ValidationError | WireError) -> Output:
    message = error.message if isinstance(error, WireError) else str(error)
    return {"Id": entry_id, "SenderFault": True, "Code": error.code, "Message": message}


@operation("SendMessageBatch")
def send_message_batch(engine: QueueEngine, call: Call, params: Params) -> Output:
    queue = queue_of(engine, call, params["QueueUrl"])
    call.authorize("queue", queue.name, "sqs:SendMessage", queue.arn)
    entries = _entries(params, "SendMessageBatch")
    size = sum(len(str(e.get("MessageBody", "")).encode()) for e in entries)
    if size > MAX_BATCH_BYTES:
        raise WireError(
            "BatchRequestTooLong",
            f"Batch requests cannot be longer than {MAX_BATCH_BYTES} bytes. "
            f"You have sent {size} bytes.",
        )
    ready: list[tuple[str, Outgoing]] = []
    failed: list[Output] = []
    for entry in entries:
        if entry.get("MessageBody") is None:
            failed.append(
                _failed(entry["Id"], WireError("MissingParameter", "MessageBody is required."))
            )
            continue
        try:
            ready.append((entry["Id"], _prepare(queue, call, entry)))
        except ValidationError as error:
            failed.append(_failed(entry["Id"], error))

    def send(tx: Tx) -> list[Output]:
        return [{"Id": i, **queues.send(tx, queue, m)} for i, m in ready]

    successful = engine.store.write(send) if ready else []
    return {"Successful": successful, "Failed": failed}


def _each(engine: QueueEngine, entries: list[Params], act: Callable[[Tx, Params], None]) -> Output:
    """Run `act` for each entry in one write; an entry it refuses fails alone."""

    def run(tx: Tx) -> Output:
        successful: list[Output] = []
        failed: list[Output] = []
        for entry in entries:
            try:
                act(tx, entry)
            except (ValidationError, WireError) as error:
                failed.append(_failed(entry["Id"], error))
            else:
                successful.append({"Id": entry["Id"]})
        return {"Successful": successful, "Failed": failed}

    return engine.store.write(run)


# -- delete and visibility ---------------------------------------------------------------------


def _receipt(entry: Params) -> str:
    receipt = entry.get("ReceiptHandle")
    if not receipt:
        raise WireError("MissingParameter", "The request must contain the parameter ReceiptHandle.")
    return str(receipt)


def _delete(queue: QueueInfo) -> Callable[[Tx, Params], None]:
    def act(tx: Tx, entry: Params) -> None:
        receipt = _receipt(entry)
        try:
            queues.delete(tx, queue, receipt)
        except ValidationError:
            raise WireError(
                "ReceiptHandleIsInvalid",
                f'The input receipt handle "{receipt}" is not a valid receipt handle.',
            ) from None

    return act


def _change(queue: QueueInfo) -> Callable[[Tx, Params], None]:
    def act(tx: Tx, entry: Params) -> None:
        receipt = _receipt(entry)
        timeout = entry.get("VisibilityTimeout")
        if timeout is None:
            raise WireError(
                "MissingParameter", "The request must contain the parameter VisibilityTimeout."
            )
        try:
            queues.change_visibility(tx, queue, receipt, timeout)
        except ValidationError as error:
            if error.code == "ReceiptHandleIsInvalid":
                raise WireError(
                    "ReceiptHandleIsInvalid",
                    f'The input receipt handle "{receipt}" is not a valid receipt handle.',
                ) from None
            if error.code == "MessageNotInflight":
                raise WireError(
                    "InvalidParameterValue",
                    f"Value {receipt} for parameter ReceiptHandle is invalid. Reason: Message "
                    "does not exist or is not available for visibility timeout change.",
                ) from None
            raise

    return act


@operation("DeleteMessage")
def delete_message(engine: QueueEngine, call: Call, params: Params) -> Output:
    queue = queue_of(engine, call, params["QueueUrl"])
    call.authorize("queue", queue.name, "sqs:DeleteMessage", queue.arn)
    act = _delete(queue)
    engine.store.write(lambda tx: act(tx, params))
    return {}


@operation("DeleteMessageBatch")
def delete_message_batch(engine: QueueEngine, call: Call, params: Params) -> Output:
    queue = queue_of(engine, call, params["QueueUrl"])
    call.authorize("queue", queue.name, "sqs:DeleteMessage", queue.arn)
    return _each(engine, _entries(params, "DeleteMessageBatch"), _delete(queue))


@operation("ChangeMessageVisibility")
def change_message_visibility(engine: QueueEngine, call: Call, params: Params) -> Output:
    queue = queue_of(engine, call, params["QueueUrl"])
    call.authorize("queue", queue.name, "sqs:ChangeMessageVisibility", queue.arn)
    act = _change(queue)
    engine.store.write(lambda tx: act(tx, params))
    return {}


@operation("ChangeMessageVisibilityBatch")
def change_message_visibility_batch(engine: QueueEngine, call: Call, params: Params) -> Output:
    queue = queue_of(engine, call, params["QueueUrl"])
    call.authorize("queue", queue.name, "sqs:ChangeMessageVisibility", queue.arn)
    return _each(engine, _entries(params, "ChangeMessageVisibilityBatch"), _change(queue))


# -- receive -------------------------------------------------------------------------------------


def _bounded(params: Params, name: str, low: int, high: int, default: int | None) -> int | None:
    value = params.get(name, default)
    if value is not None and not low <= value <= high:
        raise invalid_parameter(
            f"Value {value} for parameter {name} is invalid. Reason: Must be between {low} "
            f"and {high}, if provided."
        )
    return value


@operation("ReceiveMessage")
def receive_message(engine: QueueEngine, call: Call, params: Params) -> Output:
    queue = queue_of(engine, call, params["QueueUrl"])
    call.authorize("queue", queue.name, "sqs:ReceiveMessage", queue.arn)
    limit = _bounded(params, "MaxNumberOfMessages", 1, 10, 1) or 1
    timeout = _bounded(params, "VisibilityTimeout", 0, 43_200, None)
    wait = _bounded(params, "WaitTimeSeconds", 0, MAX_WAIT, None)
    if wait is None:
        stored = catalog.stored(engine.store.reader(), queue.id)
        extras = stored.extras if stored is not None else {}
        wait = int(extras.get("ReceiveMessageWaitTimeSeconds", "0"))
    system = set(params.get("AttributeNames") or ()) | set(
        params.get("MessageSystemAttributeNames") or ()
    )
    wanted = params.get("MessageAttributeNames") or []
    taken = _claim_waiting(engine, queue, limit, timeout, wait)
    return {"Messages": [_message(m, system, wanted) for m in taken]} if taken else {}


def _claim_waiting(
    engine: QueueEngine, queue: QueueInfo, limit: int, timeout: int | None, wait: int
) -> list[Message]:
    """Claim up to `limit` messages, waiting up to `wait` (real) seconds for the first:
    woken by each commit that touches the queue, or when a delayed or in-flight message
    becomes visible again."""
    deadline = time.monotonic() + wait
    waits = long_poll.waits(engine.store) if wait else None
    while True:
        event = waits.watch(queue.channel) if waits is not None else None
        try:
            taken = engine.store.write(
                lambda tx: queues.claim(tx, queue, limit, visibility_timeout=timeout)
            )
            left = deadline - time.monotonic()
            if taken or event is None or left <= 0:
                return taken
            if engine.registry.queues.get(queue.name) != queue:
                return []  # deleted or changed while we waited
            now_ms = int(engine.clock.now() * 1000)
            due = queues.next_visible_at(engine.store.reader(), queue, now_ms)
            if due is not None:
                left = min(left, max(0.0, (due - now_ms) / 1000))
            event.wait(left)
        finally:
            if waits is not None and event is not None:
                waits.forget(queue.channel, event)


def _message(message: Message, system: set[str], wanted: list[str]) -> Output:
    out: Output = {
        "MessageId": message.message_id,
        "ReceiptHandle": message.receipt,
        "MD5OfBody": md5_hex(message.body),
        "Body": message.body,
    }
    if system:
        every = message.system_attributes()
        chosen = {k: v for k, v in every.items() if "All" in system or k in system}
        if chosen:
            out["Attributes"] = chosen
    attributes = _chosen_attributes(message.attributes or {}, wanted)
    if attributes:
        out["MessageAttributes"] = attributes
        out["MD5OfMessageAttributes"] = md5_of_message_attributes(attributes)
    return out


def _chosen_attributes(
    attributes: Mapping[str, dict[str, Any]], wanted: list[str]
) -> dict[str, dict[str, Any]]:
    """The message attributes MessageAttributeNames asks for: ``All`` or ``.*``, a name, or
    a prefix ``name.*``."""

    def asked(name: str) -> bool:
        for pattern in wanted:
            if pattern in ("All", ".*") or pattern == name:
                return True
            if pattern.endswith(".*") and name.startswith(pattern[:-1]):
                return True
        return False

    return {k: dict(v) for k, v in attributes.items() if asked(k)}
