"""DynamoDB tables (``AWS::DynamoDB::Table``, and SAM's ``SimpleTable`` after the transform)."""

from __future__ import annotations

from typing import Any

from sluiceway.dynamodb.handle import Table
from sluiceway.dynamodb.spec import GlobalIndex, LocalIndex
from sluiceway.templates import convert
from sluiceway.templates.build import Build
from sluiceway.templates.errors import TemplateError

TABLE = "AWS::DynamoDB::Table"
_IGNORED = (
    "BillingMode",
    "ProvisionedThroughput",
    "SSESpecification",
    "PointInTimeRecoverySpecification",
    "ContributorInsightsSpecification",
    "KinesisStreamSpecification",
    "DeletionProtectionEnabled",
    "TableClass",
    "OnDemandThroughput",
)


def table(build: Build, logical: str) -> Table:
    found = build.handles.get(logical)
    if isinstance(found, Table):
        return found
    props = build.props(logical)
    where = build.where(logical)
    types = _attribute_types(where, props.get("AttributeDefinitions"))
    keys = _keys(f"{where} property KeySchema", props.get("KeySchema"), types)
    stream = convert.mapping(
        f"{where} property StreamSpecification", props.get("StreamSpecification")
    ).get("StreamViewType")
    ttl = convert.mapping(
        f"{where} property TimeToLiveSpecification", props.get("TimeToLiveSpecification")
    )
    ttl_attribute = ttl.get("AttributeName") if convert.boolean(where, ttl.get("Enabled")) else None
    globals_ = []
    for i, raw in enumerate(convert.listing(where, props.get("GlobalSecondaryIndexes"))):
        index = convert.mapping(f"{where} GlobalSecondaryIndexes[{i}]", raw)
        pk, sk = _keys(f"{where} GlobalSecondaryIndexes[{i}]", index.get("KeySchema"), types)
        projection, extra = _projection(index)
        globals_.append(GlobalIndex(str(index.get("IndexName")), pk, sk, projection, extra))
    locals_ = []
    for i, raw in enumerate(convert.listing(where, props.get("LocalSecondaryIndexes"))):
        index = convert.mapping(f"{where} LocalSecondaryIndexes[{i}]", raw)
        _, sk = _keys(f"{where} LocalSecondaryIndexes[{i}]", index.get("KeySchema"), types)
        if sk is None:
            raise TemplateError(
                f"{where} LocalSecondaryIndexes[{i}]", "has no RANGE key", "add one"
            )
        projection, extra = _projection(index)
        locals_.append(LocalIndex(str(index.get("IndexName")), sk, projection, extra))
    for key in convert.ignored(_IGNORED, props):
        build.note(f"{where}: {key} is not emulated (no effect locally)")
    handle = build.app.table(
        build.name(logical),
        partition_key=keys[0],
        sort_key=keys[1],
        stream=stream,
        ttl_attribute=ttl_attribute,
        global_indexes=globals_,
        local_indexes=locals_,
    )
    build.handles[logical] = handle
    return handle


def _attribute_types(where: str, raw: Any) -> dict[str, str]:
    types: dict[str, str] = {}
    for i, item in enumerate(convert.listing(f"{where} property AttributeDefinitions", raw)):
        entry = convert.mapping(f"{where} property AttributeDefinitions[{i}]", item)
        types[str(entry.get("AttributeName"))] = str(entry.get("AttributeType"))
    return types


def _keys(where: str, raw: Any, types: dict[str, str]) -> tuple[Any, Any]:
    hash_key = range_key = None
    for i, item in enumerate(convert.listing(where, raw)):
        entry = convert.mapping(f"{where}[{i}]", item)
        name = str(entry.get("AttributeName"))
        if name not in types:
            raise TemplateError(
                where,
                f"key attribute {name!r} is not in AttributeDefinitions",
                f"add {{AttributeName: {name}, AttributeType: S}} to AttributeDefinitions",
            )
        key = (name, types[name])
        if entry.get("KeyType") == "HASH":
            hash_key = key
        elif entry.get("KeyType") == "RANGE":
            range_key = key
        else:
            raise TemplateError(where, f"KeyType {entry.get('KeyType')!r}", "use HASH or RANGE")
    if hash_key is None:
        raise TemplateError(where, "has no HASH key", "add {AttributeName: id, KeyType: HASH}")
    return hash_key, range_key


def _projection(index: dict[str, Any]) -> tuple[Any, tuple[str, ...]]:
    projection = index.get("Projection") or {}
    kind = projection.get("ProjectionType", "ALL")
    return kind, tuple(projection.get("NonKeyAttributes") or ())
