"""PutItem, GetItem, UpdateItem and DeleteItem as prepared requests (see `requests`), and
the item writes the batches and transactions are made of."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sluiceway.core.attrvalue import Item
from sluiceway.core.errors import ValidationError
from sluiceway.core.store import Tx
from sluiceway.dynamodb import changes, indexes
from sluiceway.dynamodb.changes import Key
from sluiceway.dynamodb.errors import ConditionFailed
from sluiceway.dynamodb.expressions import (
    Condition,
    Projection,
    Update,
    Usage,
    parse_condition,
    parse_projection,
    parse_update,
)
from sluiceway.dynamodb.info import TableInfo
from sluiceway.dynamodb.requests import (
    Answer,
    Prepared,
    Tables,
    check_item,
    check_key,
    check_size,
    finish,
    key_bytes,
    names_of,
    refuse_legacy,
    return_on_failure,
    return_values,
    table_of,
    values_of,
)

WriteKind = Literal["Put", "Update", "Delete", "ConditionCheck"]


@dataclass(frozen=True)
class ItemWrite:
    """One item's write, checked and parsed: what a PutItem, UpdateItem, DeleteItem or a
    transaction's action does to the item under `key`."""

    kind: WriteKind
    table: TableInfo
    key: Key
    key_item: Item
    item: Item | None = None  # Put
    update: Update | None = None  # Update
    condition: Condition | None = None
    return_on_failure: bool = False

    def evaluate(self, old: Item | None) -> Item | None:
        """The item after this write (None: no item), or ConditionFailed."""
        if self.condition is not None and not self.condition.evaluate(old):
            raise ConditionFailed(old if self.return_on_failure else None)
        if self.kind == "Put":
            return self.item
        if self.kind == "Delete":
            return None
        if self.kind == "ConditionCheck":
            return old
        base = old if old is not None else dict(self.key_item)
        if self.update is None:
            return base
        new = self.update.apply(base, key_names=self.table.spec.key_names)
        indexes.check(self.table.spec, new)
        check_size(new)
        return new

    def apply(self, tx: Tx, *, trace_id: str | None = None) -> tuple[Item | None, Item | None]:
        """Run the write in `tx`; return the item before and after."""
        old = changes.load(tx, self.table, self.key)
        new = self.evaluate(old)
        if self.kind != "ConditionCheck":
            changes.write(tx, self.table, self.key, old, new, trace_id=trace_id)
        return old, new


def _condition(
    request: Mapping[str, Any], usage: Usage, values: Mapping[str, Any] | None
) -> Condition | None:
    text = request.get("ConditionExpression")
    if text is None:
        return None
    return parse_condition(text, names_of(request), values, usage)


def plan_put(tables: Tables, request: Mapping[str, Any]) -> ItemWrite:
    refuse_legacy(request, "Expected", "ConditionalOperator")
    table = table_of(tables, request.get("TableName"))
    item = check_item(table, request.get("Item"))
    usage, values = Usage(), values_of(request)
    condition = _condition(request, usage, values)
    finish(usage, request, values)
    return ItemWrite(
        "Put",
        table,
        key_bytes(table, item),
        changes.keys_of(table, item),
        item=item,
        condition=condition,
        return_on_failure=return_on_failure(request),
    )


def plan_delete(tables: Tables, request: Mapping[str, Any]) -> ItemWrite:
    refuse_legacy(request, "Expected", "ConditionalOperator")
    table = table_of(tables, request.get("TableName"))
    key = check_key(table, request.get("Key"))
    usage, values = Usage(), values_of(request)
    condition = _condition(request, usage, values)
    finish(usage, request, values)
    return ItemWrite(
        "Delete",
        table,
        key_bytes(table, key),
        key,
        condition=condition,
        return_on_failure=return_on_failure(request),
    )


def plan_update(tables: Tables, request: Mapping[str, Any]) -> ItemWrite:
    refuse_legacy(request, "Expected", "ConditionalOperator", "AttributeUpdates")
    table = table_of(tables, request.get("TableName"))
    key = check_key(table, request.get("Key"))
    usage, values = Usage(), values_of(request)
    text = request.get("UpdateExpression")
    update = None if text is None else parse_update(text, names_of(request), values, usage)
    condition = _condition(request, usage, values)
    finish(usage, request, values)
    return ItemWrite(
        "Update",
        table,
        key_bytes(table, key),
        key,
        update=update,
        condition=condition,
        return_on_failure=return_on_failure(request),
    )


def plan_check(tables: Tables, request: Mapping[str, Any]) -> ItemWrite:
    """A transaction's ConditionCheck: a condition on an item, no write."""
    table = table_of(tables, request.get("TableName"))
    key = check_key(table, request.get("Key"))
    usage, values = Usage(), values_of(request)
    if request.get("ConditionExpression") is None:
        raise ValidationError("The ConditionExpression of a ConditionCheck must be given")
    condition = _condition(request, usage, values)
    finish(usage, request, values)
    return ItemWrite(
        "ConditionCheck",
        table,
        key_bytes(table, key),
        key,
        condition=condition,
        return_on_failure=return_on_failure(request),
    )


def _attributes(answer: Answer, item: Item | None) -> Answer:
    if item:
        answer["Attributes"] = item
    return answer


def put_item(tables: Tables, request: Mapping[str, Any], trace_id: str | None = None) -> Prepared:
    return _replacing(plan_put(tables, request), request, "dynamodb:PutItem", trace_id)


def delete_item(
    tables: Tables, request: Mapping[str, Any], trace_id: str | None = None
) -> Prepared:
    return _replacing(plan_delete(tables, request), request, "dynamodb:DeleteItem", trace_id)


def _replacing(
    plan: Any, request: Mapping[str, Any], action: str, trace_id: str | None
) -> Prepared:
    """PutItem and DeleteItem: the write, answering the old item with ReturnValues=ALL_OLD."""
    returning = return_values(request, ("NONE", "ALL_OLD"))

    def write(tx: Tx) -> Answer:
        old, _ = plan.apply(tx, trace_id=trace_id)
        return _attributes({}, old if returning == "ALL_OLD" else None)

    return Prepared(((plan.table, action),), write=write)


def update_item(
    tables: Tables, request: Mapping[str, Any], trace_id: str | None = None
) -> Prepared:
    plan = plan_update(tables, request)
    returning = return_values(request, ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"))
    updated = Projection(plan.update.paths) if plan.update is not None else Projection(())

    def write(tx: Tx) -> Answer:
        old, new = plan.apply(tx, trace_id=trace_id)
        shown = {
            "NONE": None,
            "ALL_OLD": old,
            "ALL_NEW": new,
            "UPDATED_OLD": None if old is None else updated.apply(old),
            "UPDATED_NEW": None if new is None else updated.apply(new),
        }[returning]
        return _attributes({}, shown)

    return Prepared(((plan.table, "dynamodb:UpdateItem"),), write=write)


@dataclass(frozen=True)
class ItemRead:
    """One item's read: its key and what of it to return."""

    table: TableInfo
    key: Key
    projection: Projection | None

    def read(self, cx: Any) -> Item | None:
        item = changes.load(cx, self.table, self.key)
        if item is None or self.projection is None:
            return item
        return self.projection.apply(item)


def plan_get(tables: Tables, request: Mapping[str, Any], *, usage: Usage | None = None) -> ItemRead:
    refuse_legacy(request, "AttributesToGet")
    table = table_of(tables, request.get("TableName"))
    key = check_key(table, request.get("Key"))
    own = usage or Usage()
    text = request.get("ProjectionExpression")
    projection = None if text is None else parse_projection(text, names_of(request), own)
    if usage is None:
        finish(own, request, None)
    return ItemRead(table, key_bytes(table, key), projection)


def get_item(tables: Tables, request: Mapping[str, Any], trace_id: str | None = None) -> Prepared:
    plan = plan_get(tables, request)

    def read(cx: sqlite3.Connection) -> Answer:
        item = plan.read(cx)
        return {} if item is None else {"Item": item}

    return Prepared(((plan.table, "dynamodb:GetItem"),), read=read)
