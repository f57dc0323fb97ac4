"""`LocalBackend`: the `sluiceway.app.backend.Backend` the handles call in the local runtime, on
the engine's store: each call checked against the running function's grants, then a write
deferred to the invocation's acknowledgement, a table write answered early, or a read.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from sluiceway.awslambda.invoke import TaskTimedOut, current, current_trace
from sluiceway.core import attrvalue, ids, naming
from sluiceway.core.errors import AccessDenied, NotBound
from sluiceway.core.faults import crash_point
from sluiceway.core.permissions import ACTION_OF_METHOD, allows, denied
from sluiceway.core.store import Op, Store
from sluiceway.dynamodb import dataplane, tables
from sluiceway.dynamodb.keys import SortKeyCondition
from sluiceway.dynamodb.spec import TableSpec
from sluiceway.local.registry import Registry
from sluiceway.sns import phones, topics
from sluiceway.sns.spec import TopicSpec
from sluiceway.sns.sqs_fanout import Fanout
from sluiceway.sqs import messages, queues
from sluiceway.sqs.spec import QueueSpec

T = TypeVar("T")
_METHOD_OF_ACTION = {action: method for method, (_, action, _) in ACTION_OF_METHOD.items()}


class LocalBackend:
    def __init__(self, store: Store, registry: Registry, fanout: Fanout) -> None:
        self.store = store
        self.registry = registry
        self.fanout = fanout  # the engine: what publishing to SQS subscriptions needs
        self.strict = False  # set while the runtime's workers run (see _authorize)

    # -- every call: who makes it, and when its write commits -----------------------------

    def _authorize(self, method: str, name: str) -> str:
        """Check the running function may call `method` on resource `name`; return the
        principal the call is made as."""
        invocation = current()
        if invocation is None:
            if self.strict:
                # In the runtime only handlers call handles. A call with no invocation comes
                # from a thread a handler started, which does not inherit the invocation.
                raise AccessDenied(
                    "(unknown)",
                    ACTION_OF_METHOD[method][1],
                    f"'{name}'",
                    "call resource handles from the handler's own thread, or start threads "
                    "with contextvars.copy_context().run so they carry the invocation",
                )
            return "sluiceway-admin"
        if invocation.expired:
            function = invocation.function
            raise TaskTimedOut(
                f"function '{function.name}' ran past its {function.timeout}s timeout; "
                "its invocation is over"
            )
        kind, action, _ = ACTION_OF_METHOD[method]
        if not allows(invocation.grants, kind, name, action):
            raise denied(invocation.function.name, method, name)
        return invocation.function.name

    def _effect(self, op: Op[T]) -> T | None:
        """Run a write that a handler cannot read back: deferred to the invocation's
        acknowledgement inside a handler (None then), immediate outside one."""
        invocation = current()
        if invocation is not None:
            invocation.deferred.append(op)
            return None
        return self.store.write(op)

    # -- SQS -------------------------------------------------------------------------------

    def send_message(
        self,
        queue: QueueSpec,
        body: str,
        *,
        delay_seconds: int | None,
        message_attributes: Mapping[str, Mapping[str, Any]] | None,
        message_group_id: str | None = None,
        message_deduplication_id: str | None = None,
    ) -> dict[str, str]:
        principal = self._authorize("send_message", queue.name)
        info = self.registry.queue(queue.name)
        message = messages.prepare(
            info,
            body,
            sender_id=naming.principal_id(principal),
            delay_seconds=delay_seconds,
            attributes=message_attributes,
            group_id=message_group_id,
            dedup_id=message_deduplication_id,
            trace_id=current_trace(),
        )
        answer = self._effect(lambda tx: queues.send(tx, info, message))
        return message.response() if answer is None else answer

    def change_message_visibility(
        self, queue: QueueSpec, receipt_handle: str, visibility_timeout: int
    ) -> None:
        self._authorize("change_message_visibility", queue.name)
        info = self.registry.queue(queue.name)
        self.store.write(
            lambda tx: queues.change_visibility(tx, info, receipt_handle, visibility_timeout)
        )

    # -- DynamoDB --------------------------------------------------------------------------

    def _table_write(self, op: Op[T]) -> T:
        """A table write: inside a handler it is answered as soon as it has run (its
        invocation's acknowledgement commits after it, so a crash redelivers and redoes it);
        outside one it is durable when it returns."""
        invocation = current()
        if invocation is None:
            return self.store.write(op)
        invocation.wrote = True
        return self.store.write(op, early=True)

    def _table_read(self, read: Callable[[sqlite3.Connection], T]) -> T:
        """A table read; a handler that wrote reads through the writer, to see its writes."""
        invocation = current()
        if invocation is not None and invocation.wrote:
            return self.store.write(lambda tx: read(tx.cx), early=True)
        return read(self.store.reader())

    def put_item(self, table: TableSpec, item: Mapping[str, Any], *, if_not_exists: bool) -> None:
        self._authorize("put_item", table.name)
        info = self.registry.table(table.name)
        encoded = attrvalue.serialize_item(item)
        tables.check_item(info, encoded)
        trace = current_trace()
        self._table_write(
            lambda tx: tables.put(tx, info, encoded, if_not_exists=if_not_exists, trace_id=trace)
        )
        crash_point("mid-batch")

    def get_item(self, table: TableSpec, key: Mapping[str, Any]) -> dict[str, Any] | None:
        self._authorize("get_item", table.name)
        info = self.registry.table(table.name)
        encoded = tables.key_item(info, key)
        item = self._table_read(lambda cx: tables.get(cx, info, encoded))
        return None if item is None else attrvalue.deserialize_item(item)

    def delete_item(self, table: TableSpec, key: Mapping[str, Any]) -> dict[str, Any] | None:
        self._authorize("delete_item", table.name)
        info = self.registry.table(table.name)
        encoded = tables.key_item(info, key)
        trace = current_trace()
        old = self._table_write(lambda tx: tables.delete(tx, info, encoded, trace_id=trace))
        return None if old is None else attrvalue.deserialize_item(old)

    def query(
        self,
        table: TableSpec,
        partition_value: Any,
        *,
        sort_key: SortKeyCondition | None,
        limit: int | None,
        scan_forward: bool,
    ) -> list[dict[str, Any]]:
        self._authorize("query", table.name)
        info = self.registry.table(table.name)
        items = self._table_read(
            lambda cx: tables.query(
                cx, info, partition_value, sort_key=sort_key, limit=limit, scan_forward=scan_forward
            )
        )
        return [attrvalue.deserialize_item(i) for i in items]

    def scan(self, table: TableSpec, *, limit: int | None) -> list[dict[str, Any]]:
        self._authorize("scan", table.name)
        info = self.registry.table(table.name)
        items = self._table_read(lambda cx: list(tables.scan(cx, info, limit=limit)))
        return [attrvalue.deserialize_item(i) for i in items]

    def table_request(self, operation: str, request: Mapping[str, Any]) -> dict[str, Any]:
        """A boto3-style call of the table handle: prepared by the same engine code as the
        wire API's request, checked against the function's grants table by table."""
        prepared = dataplane.prepare(
            operation, self.registry.tables, request, trace_id=current_trace()
        )
        for info, action in prepared.access:
            self._authorize(_METHOD_OF_ACTION[action], info.name)
        if prepared.write is not None:
            return self._table_write(prepared.write)
        assert prepared.read is not None
        return self._table_read(prepared.read)

    # -- SNS and IoT -----------------------------------------------------------------------

    def publish(
        self,
        topic: TopicSpec,
        message: str,
        *,
        subject: str | None,
        message_attributes: Mapping[str, Mapping[str, Any]] | None,
        message_structure: str | None,
    ) -> dict[str, str]:
        self._authorize("publish", topic.name)
        info = self.registry.topic(topic.name)
        publication = topics.prepare(
            message, subject=subject, attributes=message_attributes, structure=message_structure
        )
        publication = dataclasses.replace(publication, trace_id=current_trace())
        self._effect(lambda tx: topics.publish(tx, info, publication, self.fanout))
        return {"MessageId": publication.message_id}

    def publish_iot(self, topic: str, payload: bytes, qos: int) -> None:
        self._authorize("publish_iot", "*")
        message_id, trace = ids.uuid4(), current_trace()
        self._effect(lambda tx: topics.publish_mqtt(tx, topic, payload, qos, message_id, trace))

    def publish_sms(
        self, phone_number: str, message: str, *, sender_id: str | None, sms_type: str | None
    ) -> dict[str, str]:
        self._authorize("publish_sms", "*")
        phone = phones.check_phone(phone_number)
        publication = topics.prepare(
            phones.check_text(message),
            subject=None,
            attributes=phones.sms_attributes(sender_id, sms_type),
            structure=None,
        )
        publication = dataclasses.replace(publication, trace_id=current_trace())
        self._effect(lambda tx: topics.publish_sms(tx, phone, publication))
        return {"MessageId": publication.message_id}


class HandleCalls:
    """The handle calls as methods of the engine itself: `App.backend` is the `LocalEngine`
    (tests bind an app to one, and reach the engine as the app's backend), which hands each
    call to its `LocalBackend` once open."""

    backend: LocalBackend | None

    def _calls(self) -> LocalBackend:
        if self.backend is None:
            raise NotBound("the engine is not open: open it (with LocalEngine(...) as engine)")
        return self.backend

    def send_message(self, *args: Any, **kwargs: Any) -> dict[str, str]:
        return self._calls().send_message(*args, **kwargs)

    def change_message_visibility(self, *args: Any, **kwargs: Any) -> None:
        self._calls().change_message_visibility(*args, **kwargs)

    def put_item(self, *args: Any, **kwargs: Any) -> None:
        self._calls().put_item(*args, **kwargs)

    def get_item(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        return self._calls().get_item(*args, **kwargs)

    def delete_item(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        return self._calls().delete_item(*args, **kwargs)

    def query(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        return self._calls().query(*args, **kwargs)

    def scan(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        return self._calls().scan(*args, **kwargs)

    def table_request(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self._calls().table_request(*args, **kwargs)

    def publish(self, *args: Any, **kwargs: Any) -> dict[str, str]:
        return self._calls().publish(*args, **kwargs)

    def publish_sms(self, *args: Any, **kwargs: Any) -> dict[str, str]:
        return self._calls().publish_sms(*args, **kwargs)

    def publish_iot(self, *args: Any, **kwargs: Any) -> None:
        self._calls().publish_iot(*args, **kwargs)
