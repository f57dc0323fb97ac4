"""Query and Scan as DynamoDB pages them: `Limit` counts the items read (before the filter),
a page stops at 1 MB of items read, and `LastEvaluatedKey` is the key of the last item read
whenever a page stopped early.

A query is a range scan of the table's (or an index's) key bytes; a parallel scan's segment
holds the items whose partition key bytes hash to it (a stable CRC-32), so every item is in
exactly one segment.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sluiceway.core import attrvalue
from sluiceway.core.attrvalue import AttributeValue, Item
from sluiceway.core.errors import ValidationError
from sluiceway.dynamodb import indexes
from sluiceway.dynamodb.expressions import (
    Condition,
    KeyCondition,
    Projection,
    Usage,
    parse_filter,
    parse_key_condition,
    parse_projection,
)
from sluiceway.dynamodb.info import TableInfo
from sluiceway.dynamodb.keys import SortKeyCondition
from sluiceway.dynamodb.requests import (
    INVALID,
    Answer,
    Prepared,
    Tables,
    finish,
    names_of,
    refuse_legacy,
    table_of,
    values_of,
)
from sluiceway.dynamodb.spec import IndexSpec, KeySpec

PAGE_BYTES = 1024 * 1024
_SELECTS = ("ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES", "SPECIFIC_ATTRIBUTES", "COUNT")


@dataclass(frozen=True)
class Page:
    """What a Query or Scan reads: rows from `start`, evaluated until Limit or 1 MB."""

    table: TableInfo
    index: IndexSpec | None
    select: str
    projection: Projection | None
    filter: Condition | None
    limit: int | None
    fetch_full: bool  # a local index asked for attributes it does not project

    def run(self, cx: sqlite3.Connection, rows: Iterator[tuple[bytes, bytes, str]]) -> Answer:
        items: list[Item] = []
        scanned = size = 0
        last: Item | None = None
        for item_pk, item_sk, text in rows:
            item: Item = json.loads(text)
            if self.fetch_full:
                full = cx.execute(
                    "SELECT item FROM items WHERE table_id = ? AND pk = ? AND sk = ?",
                    (self.table.id, item_pk, item_sk),
                ).fetchone()
                if full is not None:
                    item = json.loads(full[0])
            scanned += 1
            size += attrvalue.item_size(item)
            if self.filter is None or self.filter.evaluate(item):
                items.append(item if self.projection is None else self.projection.apply(item))
            if (self.limit is not None and scanned >= self.limit) or size >= PAGE_BYTES:
                last = self._key_of(item)
                break
        answer: Answer = {"Count": len(items), "ScannedCount": scanned}
        if self.select != "COUNT":
            answer["Items"] = items
        if last is not None:
            answer["LastEvaluatedKey"] = last
        return answer

    def _key_of(self, item: Item) -> Item:
        names = list(self.table.spec.key_names)
        if self.index is not None:
            names += [n for n in self.index.key_names if n not in names]
        return {name: item[name] for name in names if name in item}


def _index_of(table: TableInfo, request: Mapping[str, Any]) -> IndexSpec | None:
    name = request.get("IndexName")
    if name is None:
        return None
    index = table.spec.index(name)
    if index is None:
        raise ValidationError(f"The table does not have the specified index: {name}")
    if request.get("ConsistentRead") and index in table.spec.global_indexes:
        raise ValidationError("Consistent reads are not supported on global secondary indexes")
    return index


def _page(
    table: TableInfo,
    index: IndexSpec | None,
    request: Mapping[str, Any],
    usage: Usage,
    values: Mapping[str, AttributeValue] | None,
) -> Page:
    names = names_of(request)
    text = request.get("ProjectionExpression")
    projection = None if text is None else parse_projection(text, names, usage)
    text = request.get("FilterExpression")
    condition = None if text is None else parse_filter(text, names, values, usage)
    select = request.get("Select")
    if select is None:
        select = (
            "SPECIFIC_ATTRIBUTES"
            if projection is not None
            else "ALL_ATTRIBUTES"
            if index is None
            else "ALL_PROJECTED_ATTRIBUTES"
        )
    if select not in _SELECTS:
        raise ValidationError(f"{INVALID}Unknown Select value {select}")
    if projection is not None and select != "SPECIFIC_ATTRIBUTES":
        raise ValidationError(
            f"{INVALID}Cannot specify the ProjectionExpression when choosing to get {select}"
            if select != "COUNT"
            else f"{INVALID}Cannot specify the ProjectionExpression when choosing to get COUNT"
        )
    if select == "SPECIFIC_ATTRIBUTES" and projection is None:
        raise ValidationError(f"{INVALID}SPECIFIC_ATTRIBUTES requires a ProjectionExpression")
    if select == "ALL_PROJECTED_ATTRIBUTES" and index is None:
        raise ValidationError(
            f"{INVALID}ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName"
        )
    fetch_full = False
    if index is not None and index.projection != "ALL" and select == "ALL_ATTRIBUTES":
        if index in table.spec.global_indexes:
            raise ValidationError(
                f"{INVALID}Select type ALL_ATTRIBUTES is not supported for global secondary "
                f"index {index.name} because its projection type is not ALL"
            )
        fetch_full = True
    if index is not None and index.projection != "ALL" and projection is not None:
        held = indexes.projected_names(table.spec, index) or frozenset()
        wanted = {str(path[0]) for path in projection.paths}
        if not wanted <= held:
            if index in table.spec.global_indexes:
                raise ValidationError(
                    f"{INVALID}Global secondary index {index.name} does not project "
                    f"{', '.join(sorted(wanted - held))}"
                )
            fetch_full = True
    limit = request.get("Limit")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValidationError(
            "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy "
            "constraint: Member must have value greater than or equal to 1"
        )
    return Page(table, index, select, projection, condition, limit, fetch_full)


def _start(
    table: TableInfo, index: IndexSpec | None, request: Mapping[str, Any]
) -> tuple[bytes, ...] | None:
    """ExclusiveStartKey as the row position after which to read."""
    start = request.get("ExclusiveStartKey")
    if start is None:
        return None
    specs = [table.spec.partition_key, table.spec.sort_key]
    if index is not None:
        specs = [index.partition_key, index.sort_key, *specs]
    wanted = {s.name for s in specs if s is not None}
    if not isinstance(start, Mapping) or set(start) != wanted:
        raise ValidationError(
            "The provided starting key is invalid: "
            + "The provided key element does not match the schema"
        )
    return tuple(_key_part(spec, start) for spec in specs)


def _key_part(spec: KeySpec | None, item: Mapping[str, Any]) -> bytes:
    if spec is None:
        return b""
    value = item.get(spec.name)
    if not isinstance(value, dict) or spec.type not in value:
        raise ValidationError(
            "The provided starting key is invalid: The provided key element does not match "
            "the schema"
        )
    return attrvalue.key_bytes(value, spec.type)


# -- Query --------------------------------------------------------------------------------


def query(tables: Tables, request: Mapping[str, Any], trace_id: str | None = None) -> Prepared:
    refuse_legacy(request, "KeyConditions", "QueryFilter", "AttributesToGet", "ConditionalOperator")
    table = table_of(tables, request.get("TableName"))
    index = _index_of(table, request)
    partition, sort = indexes.key_specs(table.spec, index)
    usage, values = Usage(), values_of(request)
    text = request.get("KeyConditionExpression")
    if text is None:
        raise ValidationError(
            "Either the KeyConditions or KeyConditionExpression parameter must be specified "
            "in the request."
        )
    condition = parse_key_condition(
        text,
        names_of(request),
        values,
        usage,
        partition_key=partition.name,
        sort_key=None if sort is None else sort.name,
    )
    page = _page(table, index, request, usage, values)
    finish(usage, request, values)
    start = _start(table, index, request)
    forward = request.get("ScanIndexForward", True) is not False
    sql, params = _query_sql(table, index, partition, sort, condition, start, forward)

    def read(cx: sqlite3.Connection) -> Answer:
        return page.run(cx, iter(cx.execute(sql, params)))

    return Prepared(((table, "dynamodb:Query"),), read=read)


def _query_sql(
    table: TableInfo,
    index: IndexSpec | None,
    partition: KeySpec,
    sort: KeySpec | None,
    condition: KeyCondition,
    start: tuple[bytes, ...] | None,
    forward: bool,
) -> tuple[str, list[Any]]:
    pk = _typed(partition, condition.partition_value)
    if index is None:
        sql = "SELECT pk, sk, item FROM items WHERE table_id = ? AND pk = ?"
        params: list[Any] = [table.id, pk]
        order = ["sk"]
    else:
        sql = (
            "SELECT item_pk, item_sk, item FROM index_items "
            "WHERE table_id = ? AND index_name = ? AND pk = ?"
        )
        params = [table.id, index.name, pk]
        order = ["sk", "item_pk", "item_sk"]
    if condition.sort is not None:
        assert sort is not None
        clause, bounds = _sort_clause(sort, condition.sort)
        sql += clause
        params += bounds
    if start is not None:
        after = start[1:] if index is None else (start[1], start[2], start[3])
        columns = ", ".join(order)
        marks = ", ".join("?" * len(order))
        sql += f" AND ({columns}) {'>' if forward else '<'} ({marks})"
        params += list(after)
    direction = " ASC" if forward else " DESC"
    sql += " ORDER BY " + ", ".join(column + direction for column in order)
    return sql, params


def _typed(spec: KeySpec, value: AttributeValue) -> bytes:
    if spec.type not in value:
        raise ValidationError(f"{INVALID}Condition parameter type does not match schema type")
    return attrvalue.key_bytes(value, spec.type)


def _sort_clause(spec: KeySpec, condition: SortKeyCondition) -> tuple[str, list[bytes]]:
    encoded = [_typed(spec, value) for value in condition.values]
    if condition.op in ("=", "<", "<=", ">", ">="):
        return f" AND sk {condition.op} ?", encoded
    if condition.op == "between":
        return " AND sk BETWEEN ? AND ?", encoded
    if spec.type == "N":
        raise ValidationError(
            "Invalid KeyConditionExpression: Incorrect operand type for operator or function; "
            "operator or function: begins_with, operand type: N"
        )
    prefix = encoded[0]
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return " AND sk >= ?", [prefix]
    return " AND sk >= ? AND sk < ?", [prefix, stripped[:-1] + bytes([stripped[-1] + 1])]


# -- Scan ---------------------------------------------------------------------------------


def scan(tables: Tables, request: Mapping[str, Any], trace_id: str | None = None) -> Prepared:
    refuse_legacy(request, "ScanFilter", "AttributesToGet", "ConditionalOperator")
    table = table_of(tables, request.get("TableName"))
    index = _index_of(table, request)
    usage, values = Usage(), values_of(request)
    page = _page(table, index, request, usage, values)
    finish(usage, request, values)
    segment, total = request.get("Segment"), request.get("TotalSegments")
    if (segment is None) != (total is None):
        raise ValidationError(
            "The TotalSegments parameter is required but was not present in the request when "
            "Segment parameter is present"
            if total is None
            else "The Segment parameter is required but was not present in the request when "
            "parameter TotalSegments is present"
        )
    if segment is not None and total is not None and segment >= total:
        raise ValidationError(
            f"The Segment parameter is zero-based and must be less than parameter "
            f"TotalSegments: Segment: {segment} is not less than TotalSegments: {total}"
        )
    start = _start(table, index, request)
    if index is None:
        sql = "SELECT pk, sk, pk, sk, item FROM items WHERE table_id = ?"
        params: list[Any] = [table.id]
        order = ["pk", "sk"]
    else:
        sql = (
            "SELECT pk, sk, item_pk, item_sk, item FROM index_items "
            "WHERE table_id = ? AND index_name = ?"
        )
        params = [table.id, index.name]
        order = ["pk", "sk", "item_pk", "item_sk"]
    if start is not None:
        sql += f" AND ({', '.join(order)}) > ({', '.join('?' * len(order))})"
        params += list(start if index is not None else start[:2])
    sql += " ORDER BY " + ", ".join(order)

    def rows(cx: sqlite3.Connection) -> Iterator[tuple[bytes, bytes, str]]:
        for pk, _, item_pk, item_sk, text in cx.execute(sql, params):
            if total is None or zlib.crc32(pk) % total == segment:
                yield item_pk, item_sk, text

    def read(cx: sqlite3.Connection) -> Answer:
        return page.run(cx, rows(cx))

    return Prepared(((table, "dynamodb:Scan"),), read=read)
