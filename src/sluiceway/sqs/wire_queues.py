"""SQS's queue operations on the wire: CreateQueue, DeleteQueue, ListQueues, GetQueueUrl,
Get/SetQueueAttributes, PurgeQueue, tags, ListDeadLetterSourceQueues and the message move
tasks (StartMessageMoveTask ...), on the engine's queues (`catalog`, `queues`, `moves`)."""

from __future__ import annotations

from sluiceway.core import naming
from sluiceway.core.errors import NotFound, ValidationError
from sluiceway.core.wire import Call, WireError
from sluiceway.sqs import attributes, catalog, moves, queues
from sluiceway.sqs.info import QueueInfo
from sluiceway.sqs.wire_common import (
    Output,
    Params,
    QueueEngine,
    invalid_parameter,
    no_queue,
    operation,
    page,
    queue_by_arn,
    queue_of,
    queue_url,
)


def _account_arn(call: Call) -> str:
    return naming.queue_arn(call.region, "*")


@operation("CreateQueue")
def create_queue(engine: QueueEngine, call: Call, params: Params) -> Output:
    name = params["QueueName"]
    call.require_admin("sqs:CreateQueue", naming.queue_arn(call.region, name))
    given = {k: str(v) for k, v in (params.get("Attributes") or {}).items()}
    tags = params.get("tags") or {}
    created = engine.store.write(lambda tx: catalog.create(tx, call.region, name, given, tags))
    if created:
        engine.refresh_registry()
    return {"QueueUrl": queue_url(call, name)}


@operation("DeleteQueue")
def delete_queue(engine: QueueEngine, call: Call, params: Params) -> Output:
    queue = queue_of(engine, call, params["QueueUrl"])
    call.require_admin("sqs:DeleteQueue", queue.arn)
    engine.store.write(lambda tx: catalog.delete(tx, queue))
    engine.refresh_registry()
    return {}


@operation("ListQueues")
def list_queues(engine: QueueEngine, call: Call, params: Params) -> Output:
    call.require_admin("sqs:ListQueues", _account_arn(call))
    prefix = params.get("QueueNamePrefix") or ""
    names = [n for n in engine.registry.queues if n.startswith(prefix)]
    chosen, token = page(names, params)
    out: Output = {}
    if chosen:
        out["QueueUrls"] = [queue_url(call, n) for n in chosen]
    if token:
        out["NextToken"] = token
    return out


@operation("GetQueueUrl")
def get_queue_url(engine: QueueEngine, call: Call, params: Params) -> Output:
    owner = params.get("QueueOwnerAWSAccountId")
    if owner is not None and owner != call.region.account_id:
        raise no_queue()
    queue = queue_of(engine, call, params["QueueName"])
    call.authorize("queue", queue.name, "sqs:GetQueueUrl", queue.arn)
    return {"QueueUrl": queue_url(call, queue.name)}


@operation("GetQueueAttributes")
def get_queue_attributes(engine: QueueEngine, call: Call, params: Params) -> Output:
    queue = queue_of(engine, call, params["QueueUrl"])
    call.authorize("queue", queue.name, "sqs:GetQueueAttributes", queue.arn)
    wanted = params.get("AttributeNames") or []
    for name in wanted:
        if name != "All" and name not in attributes.ALL:
            raise WireError("InvalidAttributeName", f"Unknown Attribute {name}.")
    if not wanted:
        return {}
    cx = engine.store.reader()
    row = catalog.stored(cx, queue.id)
    if row is None:
        raise no_queue()
    found = attributes.describe(row.spec, row.extras, call.region)
    stats = queues.stats(cx, queue, int(engine.clock.now() * 1000))
    found |= {
        "ApproximateNumberOfMessages": str(stats.visible),
        "ApproximateNumberOfMessagesNotVisible": str(stats.in_flight),
        "ApproximateNumberOfMessagesDelayed": str(stats.delayed),
        "CreatedTimestamp": str(row.created_at // 1000),
        "LastModifiedTimestamp": str(row.modified_at // 1000),
    }
    if "All" not in wanted:
        found = {k: v for k, v in found.items() if k in wanted}
    return {"Attributes": found} if found else {}


@operation("SetQueueAttributes")
def set_queue_attributes(engine: QueueEngine, call: Call, params: Params) -> Output:
    queue = queue_of(engine, call, params["QueueUrl"])
    call.authorize("queue", queue.name, "sqs:SetQueueAttributes", queue.arn)
    given = {k: str(v) for k, v in params["Attributes"].items()}
    engine.store.write(lambda tx: catalog.set_attributes(tx, call.region, queue, given))
    engine.refresh_registry()
    return {}


@operation("PurgeQueue")
def purge_queue(engine: QueueEngine, call: Call, params: Params) -> Output:
    queue = queue_of(engine, call, params["QueueUrl"])
    call.authorize("queue", queue.name, "sqs:PurgeQueue", queue.arn)
    try:
        engine.store.write(lambda tx: queues.purge(tx, queue))
    except ValidationError as error:
        if error.code == "PurgeQueueInProgress":
            raise WireError(
                "PurgeQueueInProgress",
                f"Only one PurgeQueue operation on {queue.name} is allowed every 60 seconds.",
                status=403,
            ) from None
        raise
    return {}


# -- tags ------------------------------------------------------------------------------------


@operation("TagQueue")
def tag_queue(engine: QueueEngine, call: Call, params: Params) -> Output:
    queue = queue_of(engine, call, params["QueueUrl"])
    call.authorize("queue", queue.name, "sqs:TagQueue", queue.arn)
    tags = params["Tags"]
    if not tags:
        raise WireError("MissingParameter", "The request must contain the parameter Tags.")
    engine.store.write(lambda tx: catalog.tag(tx, queue, tags))
    return {}


@operation("UntagQueue")
def untag_queue(engine: QueueEngine, call: Call, params: Params) -> Output:
    queue = queue_of(engine, call, params["QueueUrl"])
    call.authorize("queue", queue.name, "sqs:UntagQueue", queue.arn)
    keys = params["TagKeys"]
    if not keys:
        raise WireError("MissingParameter", "The request must contain the parameter TagKeys.")
    engine.store.write(lambda tx: catalog.untag(tx, queue, keys))
    return {}


@operation("ListQueueTags")
def list_queue_tags(engine: QueueEngine, call: Call, params: Params) -> Output:
    queue = queue_of(engine, call, params["QueueUrl"])
    call.authorize("queue", queue.name, "sqs:ListQueueTags", queue.arn)
    return {"Tags": catalog.tags(engine.store.reader(), queue)}


# -- dead-letter queues and move tasks -------------------------------------------------------


@operation("ListDeadLetterSourceQueues")
def list_dead_letter_source_queues(engine: QueueEngine, call: Call, params: Params) -> Output:
    queue = queue_of(engine, call, params["QueueUrl"])
    call.authorize("queue", queue.name, "sqs:ListDeadLetterSourceQueues", queue.arn)
    sources = [q.name for q in moves.sources_of(engine.registry, queue)]
    chosen, token = page(sources, params)
    out: Output = {"queueUrls": [queue_url(call, n) for n in chosen]}
    if token:
        out["NextToken"] = token
    return out


@operation("StartMessageMoveTask")
def start_message_move_task(engine: QueueEngine, call: Call, params: Params) -> Output:
    source = queue_by_arn(engine, call, params["SourceArn"], "SourceArn")
    call.authorize("queue", source.name, "sqs:StartMessageMoveTask", source.arn)
    destination: QueueInfo | None = None
    if params.get("DestinationArn"):
        destination = queue_by_arn(engine, call, params["DestinationArn"], "DestinationArn")
        call.authorize("queue", destination.name, "sqs:SendMessage", destination.arn)
    rate = params.get("MaxNumberOfMessagesPerSecond")
    handle = engine.store.write(
        lambda tx: moves.start(tx, engine.registry, source, destination=destination, rate=rate)
    )
    return {"TaskHandle": handle}


@operation("CancelMessageMoveTask")
def cancel_message_move_task(engine: QueueEngine, call: Call, params: Params) -> Output:
    handle = params["TaskHandle"]
    try:
        task = moves.task(engine.store.reader(), handle)
    except NotFound:
        raise WireError(
            "ResourceNotFoundException",
            "The resource that you specified doesn't exist.",
            status=404,
        ) from None
    source = engine.registry.queues.get(task.source)
    if source is None or task.done:
        raise WireError(
            "ResourceNotFoundException",
            "Task does not exist or is not running, so cannot be cancelled.",
            status=404,
        )
    call.authorize("queue", source.name, "sqs:CancelMessageMoveTask", source.arn)
    engine.store.write(lambda tx: moves.cancel(tx, source))
    moved = moves.task(engine.store.reader(), handle).moved
    return {"ApproximateNumberOfMessagesMoved": moved}


@operation("ListMessageMoveTasks")
def list_message_move_tasks(engine: QueueEngine, call: Call, params: Params) -> Output:
    source = queue_by_arn(engine, call, params["SourceArn"], "SourceArn")
    call.authorize("queue", source.name, "sqs:ListMessageMoveTasks", source.arn)
    most = params.get("MaxResults", 1)
    if not 1 <= most <= 10:
        raise invalid_parameter(
            f"Value {most} for parameter MaxResults is invalid. Reason: must be 1 to 10."
        )
    results = []
    for task in moves.tasks(engine.store.reader(), source, most):
        entry: Output = {
            "Status": task.status,
            "SourceArn": naming.queue_arn(call.region, task.source),
            "ApproximateNumberOfMessagesMoved": task.moved,
            "ApproximateNumberOfMessagesToMove": task.to_move,
            "StartedTimestamp": task.started_at,
        }
        if task.status == "RUNNING":
            entry["TaskHandle"] = task.handle
        if task.destination is not None:
            entry["DestinationArn"] = naming.queue_arn(call.region, task.destination)
        if task.rate is not None:
            entry["MaxNumberOfMessagesPerSecond"] = task.rate
        if task.failure is not None:
            entry["FailureReason"] = task.failure
        results.append(entry)
    return {"Results": results}
