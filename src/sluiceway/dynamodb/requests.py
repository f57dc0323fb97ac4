"""What every data-plane request shares: the table it names, its key and item checked as
DynamoDB checks them (with DynamoDB's messages), and the prepared form both ways in run.

A request is *prepared* once, outside the store's writer: the table looked up, the item and
key checked, every expression parsed. What is left is a `Prepared`: the actions it needs on
which tables (checked by the caller against the caller's grants) and a write (run in the
single writer, one transaction) or a read (run on a reader). The wire API and the table
handle both prepare requests here, so an expression is parsed once and every write takes
the same path (`changes.write`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sluiceway.core import attrvalue
from sluiceway.core.attrvalue import AttributeValue, Item
from sluiceway.core.errors import ValidationError
from sluiceway.core.store import Tx
from sluiceway.dynamodb import errors, indexes
from sluiceway.dynamodb.changes import Key
from sluiceway.dynamodb.expressions import Usage
from sluiceway.dynamodb.info import TableInfo
from sluiceway.dynamodb.spec import KeySpec

Tables = Mapping[str, TableInfo]
Answer = dict[str, Any]
MAX_PARTITION_KEY = 2048
MAX_SORT_KEY = 1024
KEY_MISMATCH = "The provided key element does not match the schema"
INVALID = "One or more parameter values were invalid: "


@dataclass(frozen=True)
class Prepared:
    """A checked request: who must be allowed what (table, ``dynamodb:<Action>``), and its
    write or its read."""

    access: tuple[tuple[TableInfo, str], ...]
    write: Callable[[Tx], Answer] | None = None
    read: Callable[[sqlite3.Connection], Answer] | None = None


def table_of(tables: Tables, name: Any) -> TableInfo:
    table = tables.get(name) if isinstance(name, str) else None
    if table is None:
        raise errors.table_not_found()
    return table


def values_of(request: Mapping[str, Any]) -> dict[str, AttributeValue] | None:
    """ExpressionAttributeValues, each checked as an AttributeValue."""
    values = request.get("ExpressionAttributeValues")
    if values is None:
        return None
    return {
        name: _checked(value, f"ExpressionAttributeValues.{name}") for name, value in values.items()
    }


def names_of(request: Mapping[str, Any]) -> dict[str, str] | None:
    names = request.get("ExpressionAttributeNames")
    return None if names is None else dict(names)


def finish(usage: Usage, request: Mapping[str, Any], values: Mapping[str, Any] | None) -> None:
    """After every expression of the request is parsed: unused names or values are errors."""
    usage.check(names_of(request), values)


def refuse_legacy(request: Mapping[str, Any], *params: str) -> None:
    """The pre-expression parameters (Expected, AttributesToGet...) are not supported."""
    for param in params:
        if request.get(param) is not None:
            raise ValidationError(
                f"sluiceway supports the expression parameters only, not the legacy {param}: "
                "use ConditionExpression, ProjectionExpression, FilterExpression, "
                "KeyConditionExpression or UpdateExpression"
            )


def _checked(value: Any, where: str) -> AttributeValue:
    try:
        return attrvalue.validate_attribute_value(value, where=where)
    except ValidationError as error:
        raise ValidationError(f"{INVALID}{error}") from None


def check_item(table: TableInfo, item: Any) -> Item:
    """A PutItem's item: well-formed values, the table's keys of the right types, index keys
    of the right types, at most 400 KB."""
    if not isinstance(item, Mapping):
        raise ValidationError(f"{INVALID}Item must be a map")
    checked = {name: _checked(value, name) for name, value in item.items()}
    for key in _keys(table):
        value = checked.get(key.name)
        if value is None:
            raise ValidationError(f"{INVALID}Missing the key {key.name} in the item")
        kind = next(iter(value))
        if kind != key.type:
            raise ValidationError(
                f"{INVALID}Type mismatch for key {key.name} expected: {key.type} actual: {kind}"
            )
        _check_key_value(table, key, value)
    indexes.check(table.spec, checked)
    check_size(checked)
    return checked


def check_size(item: Item) -> None:
    if attrvalue.item_size(item) > attrvalue.MAX_ITEM_BYTES:
        raise ValidationError("Item size has exceeded the maximum allowed size")


def check_key(table: TableInfo, key: Any, *, message: str = KEY_MISMATCH) -> Item:
    """A request's Key: exactly the table's key attributes, of the right types."""
    if not isinstance(key, Mapping):
        raise ValidationError(message)
    specs = _keys(table)
    if set(key) != {k.name for k in specs}:
        raise ValidationError(message)
    checked: Item = {}
    for spec in specs:
        value = _checked(key[spec.name], spec.name)
        if next(iter(value)) != spec.type:
            raise ValidationError(message)
        _check_key_value(table, spec, value)
        checked[spec.name] = value
    return checked


def _keys(table: TableInfo) -> tuple[KeySpec, ...]:
    spec = table.spec
    return (spec.partition_key,) if spec.sort_key is None else (spec.partition_key, spec.sort_key)


def _check_key_value(table: TableInfo, key: KeySpec, value: AttributeValue) -> None:
    data = value[key.type]
    if key.type in ("S", "B") and data == "":
        raise ValidationError(
            "One or more parameter values are not valid. The AttributeValue for a key "
            f"attribute cannot contain an empty {'string' if key.type == 'S' else 'binary'} "
            f"value. Key: {key.name}"
        )
    limit = MAX_PARTITION_KEY if key is table.spec.partition_key else MAX_SORT_KEY
    if len(attrvalue.key_bytes(value, key.type)) > limit:
        raise ValidationError(
            f"{INVALID}Size of hashkey has exceeded the maximum size limit of2048 bytes"
            if limit == MAX_PARTITION_KEY
            else f"{INVALID}Aggregated size of all range keys has exceeded the size limit of "
            "1024 bytes"
        )


def key_bytes(table: TableInfo, item: Item) -> Key:
    spec = table.spec
    pk = attrvalue.key_bytes(item[spec.partition_key.name], spec.partition_key.type)
    if spec.sort_key is None:
        return pk, b""
    return pk, attrvalue.key_bytes(item[spec.sort_key.name], spec.sort_key.type)


def return_values(request: Mapping[str, Any], allowed: Collection[str]) -> str:
    value = request.get("ReturnValues") or "NONE"
    if value not in allowed:
        raise ValidationError("Return values set to invalid value")
    return str(value)


def return_on_failure(request: Mapping[str, Any]) -> bool:
    value = request.get("ReturnValuesOnConditionCheckFailure") or "NONE"
    if value not in ("NONE", "ALL_OLD"):
        raise ValidationError("Return values set to invalid value")
    return bool(value == "ALL_OLD")
