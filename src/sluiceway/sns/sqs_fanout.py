"""SNS to SQS: a publish's delivery to each subscribed queue, written in the publish's own
transaction.

The queue lives in the same database as the topic, so there is no peer that can be down:
the SQS message commits with the notification (a publish that returned has reached its
queues, and one that failed reached none) instead of waiting in the outbox for a worker.
Each delivery is still recorded in the outbox's table, ``delivered`` or ``failed`` with
the reason (a queue deleted since, a message too large for the queue), so ``sluiceway
deliveries`` shows it; a failed one is not retried (it would fail the same way).

The body is SNS's signed ``Notification`` envelope (`envelopes.notification`, as Lambda gets
it), or with ``RawMessageDelivery`` the message itself, its SNS message attributes becoming
SQS message attributes.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Protocol

from sluiceway.core import naming
from sluiceway.core.errors import ValidationError
from sluiceway.core.store import Tx
from sluiceway.sns import envelopes
from sluiceway.sns.email import Links
from sluiceway.sns.info import TopicInfo
from sluiceway.sns.outbox import Job
from sluiceway.sns.signing import Signer
from sluiceway.sns.texts import text_for
from sluiceway.sqs import messages, queues
from sluiceway.sqs.info import QueueInfo
from sluiceway.sqs.spec import QueueSpec

# The SenderId SQS shows on what SNS delivered.
SENDER_ID = naming.principal_id("sns")


class Fanout(Protocol):
    """What an SQS delivery needs of the runtime: its region, its signing key and where the
    envelopes' links point (the engine has all three)."""

    @property
    def region(self) -> naming.Region: ...

    @property
    def signer(self) -> Signer: ...

    @property
    def links(self) -> Links: ...


@dataclass(frozen=True, slots=True)
class Subscriber:
    """An ``sqs`` subscription as publishing reads it."""

    arn: str
    token: str
    queue_arn: str
    raw: bool


class Notice(Protocol):
    """What a publish hands its subscribers (a `topics.Publication`)."""

    @property
    def message_id(self) -> str: ...

    @property
    def message(self) -> str: ...

    @property
    def subject(self) -> str | None: ...

    @property
    def structure(self) -> str | None: ...

    @property
    def attributes(self) -> str | None: ...

    @property
    def trace_id(self) -> str | None: ...


def queue_of(cx: sqlite3.Connection, region: naming.Region, arn: str) -> QueueInfo | None:
    """The stored queue an SQS endpoint ARN names in this account and region, if any."""
    prefix = naming.queue_arn(region, "")
    if not arn.startswith(prefix):
        return None
    return _queue(cx, arn, arn[len(prefix) :])


def _queue(cx: sqlite3.Connection, arn: str, name: str) -> QueueInfo | None:
    row = cx.execute("SELECT id, config FROM queues WHERE name = ?", (name,)).fetchone()
    if row is None:
        return None
    spec = QueueSpec(**json.loads(row[1]))
    dead_letter = None
    if spec.dead_letter:
        found = cx.execute("SELECT id FROM queues WHERE name = ?", (spec.dead_letter,)).fetchone()
        dead_letter = None if found is None else int(found[0])
    return QueueInfo(int(row[0]), spec, arn, dead_letter)


def deliver(
    tx: Tx, fanout: Fanout, topic: TopicInfo, notice: Notice, subscriber: Subscriber
) -> str | None:
    """Send the publish to the subscriber's queue in `tx`; None when sent, else why not."""
    name = subscriber.queue_arn.rsplit(":", 1)[-1]
    queue = _queue(tx.cx, subscriber.queue_arn, name)
    if queue is None:
        return f"queue {subscriber.queue_arn} does not exist"
    attributes = None
    if subscriber.raw:
        body = text_for("sqs", notice.message, notice.structure)
        if notice.attributes is not None:
            attributes = json.loads(notice.attributes)
    else:
        body = json.dumps(_envelope(tx, fanout, topic, notice, subscriber))
    try:
        message = messages.prepare(
            queue, body, sender_id=SENDER_ID, attributes=attributes, trace_id=notice.trace_id
        )
    except ValidationError as error:
        return str(error)
    queues.send(tx, queue, message)
    return None


def _envelope(
    tx: Tx, fanout: Fanout, topic: TopicInfo, notice: Notice, subscriber: Subscriber
) -> dict[str, object]:
    job = Job(
        id=0,
        kind="notification",
        protocol="sqs",
        endpoint=subscriber.queue_arn,
        attempts=0,
        subscription_arn=subscriber.arn,
        token=subscriber.token,
        topic=topic.name,
        message_id=notice.message_id,
        subject=notice.subject,
        message=notice.message,
        structure=notice.structure,
        attributes=notice.attributes,
        published_at=tx.now_ms,
    )
    return envelopes.notification(
        job, region=fanout.region, signer=fanout.signer, links=fanout.links
    )
