"""What each function may do, derived from the graph.

`grants_for` is the single source of truth: the local engine enforces it on every handle call
and the AWS renderer turns the same grants into IAM statements scoped to resource ARNs.
"""

from __future__ import annotations

from typing import assert_never

from sluiceway.awslambda.spec import (
    DirectSource,
    FunctionSpec,
    HttpSource,
    QueueSource,
    ScheduleSource,
    StreamSource,
    TopicSource,
)
from sluiceway.core.permissions import Grant, merge
from sluiceway.dynamodb.iam import STREAM_READ_ACTIONS
from sluiceway.sns.iam import TOPIC_PUBLISH_ACTIONS
from sluiceway.sqs.iam import QUEUE_CONSUME_ACTIONS


def source_grants(function: FunctionSpec) -> tuple[Grant, ...]:
    """What a function's event source needs (granted implicitly, like AWS's roles): reading
    its queue or stream, and sending to its on-failure destination. Topics, HTTP routes,
    schedules and pipes invoke the function; that right belongs to the caller, not the
    function."""
    source = function.source
    match source:
        case QueueSource():
            return (Grant("queue", source.queue, QUEUE_CONSUME_ACTIONS),)
        case StreamSource():
            grants = [Grant("stream", source.table, STREAM_READ_ACTIONS)]
            if source.on_failure is not None and source.on_failure.kind == "queue":
                grants.append(
                    Grant("queue", source.on_failure.name, frozenset({"sqs:SendMessage"}))
                )
            elif source.on_failure is not None:
                grants.append(Grant("topic", source.on_failure.name, TOPIC_PUBLISH_ACTIONS))
            return tuple(grants)
        case TopicSource() | HttpSource() | DirectSource() | ScheduleSource():
            return ()
        case _:
            assert_never(source)


def grants_for(function: FunctionSpec) -> tuple[Grant, ...]:
    """Every grant a function holds: its event source's plus its `uses=` permissions."""
    declared = tuple(Grant(p.kind, p.name, p.actions) for p in function.uses)
    return merge(source_grants(function) + declared)
