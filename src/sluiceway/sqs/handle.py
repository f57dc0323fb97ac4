"""The SQS queue handle: what `app.queue(...)` returns and a handler calls."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from sluiceway.core.handle import Declarer, Handle
from sluiceway.core.permissions import permission
from sluiceway.core.specs import Permission
from sluiceway.sqs.iam import QUEUE_CONSUME_ACTIONS, QUEUE_SEND_ACTIONS
from sluiceway.sqs.spec import QueueSpec


class QueueBackend(Protocol):
    """The calls this service's handles make: the local engine implements them on SQLite,
    the Lambda shim on boto3."""

    def send_message(
        self,
        queue: QueueSpec,
        body: str,
        *,
        delay_seconds: int | None,
        message_attributes: Mapping[str, Mapping[str, Any]] | None,
        message_group_id: str | None,
        message_deduplication_id: str | None,
    ) -> dict[str, str]: ...

    def change_message_visibility(
        self, queue: QueueSpec, receipt_handle: str, visibility_timeout: int
    ) -> None: ...


class Queue(Handle):
    """An SQS queue.

    >>> queue = app.queue("POC-Queue", visibility_timeout=30)          # doctest: +SKIP
    >>> queue.send_message('{"item": "latex gloves"}')                 # doctest: +SKIP
    {'MessageId': '...', 'MD5OfMessageBody': '...'}
    """

    def __init__(self, app: Declarer, spec: QueueSpec) -> None:
        super().__init__(app)
        self.spec = spec

    def _backend(self) -> QueueBackend:
        backend: QueueBackend = self._app.backend
        return backend

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def sends(self) -> Permission:
        """Permission to send messages to this queue (`uses=[queue.sends]`)."""
        return permission("queue", self.name, "sends", QUEUE_SEND_ACTIONS)

    @property
    def consumes(self) -> Permission:
        """Permission to receive, delete and change the visibility of this queue's messages."""
        return permission("queue", self.name, "consumes", QUEUE_CONSUME_ACTIONS)

    def send_message(
        self,
        body: str,
        *,
        delay_seconds: int | None = None,
        message_attributes: Mapping[str, Mapping[str, Any]] | None = None,
        message_group_id: str | None = None,
        message_deduplication_id: str | None = None,
    ) -> dict[str, str]:
        """Send one message; returns ``{"MessageId", "MD5OfMessageBody", ...}`` like SQS.
        FIFO queues need `message_group_id` (and a deduplication id unless the queue
        deduplicates by content)."""
        return self._backend().send_message(
            self.spec,
            body,
            delay_seconds=delay_seconds,
            message_attributes=message_attributes,
            message_group_id=message_group_id,
            message_deduplication_id=message_deduplication_id,
        )

    def change_message_visibility(self, receipt_handle: str, visibility_timeout: int) -> None:
        """Extend or end the invisibility of a message you received (its record's
        ``receiptHandle``); 0 makes it visible again at once."""
        self._backend().change_message_visibility(self.spec, receipt_handle, visibility_timeout)

    def __repr__(self) -> str:
        return f"Queue({self.name!r})"
