"""DynamoDB's control plane on the wire: CreateTable, DeleteTable, DescribeTable,
ListTables, UpdateTable (streams and global indexes), time to live and tags."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Protocol, cast

from sluiceway.core.errors import ValidationError
from sluiceway.core.naming import Region
from sluiceway.core.store import Store
from sluiceway.core.wire import Call, WireError
from sluiceway.dynamodb import control
from sluiceway.dynamodb.errors import ResourceInUse, table_not_found
from sluiceway.dynamodb.info import TableInfo, Tables
from sluiceway.dynamodb.requests import INVALID
from sluiceway.dynamodb.spec import (
    PROJECTION_TYPES,
    STREAM_VIEW_TYPES,
    IndexSpec,
    KeySpec,
    ProjectionType,
    StreamViewType,
    TableSpec,
)


class Declared(Protocol):
    @property
    def tables(self) -> tuple[TableSpec, ...]: ...


class TableEngine(Protocol):
    """What DynamoDB's operations need of the engine."""

    store: Store

    @property
    def registry(self) -> Tables: ...

    @property
    def region(self) -> Region: ...

    @property
    def graph(self) -> Declared: ...

    def refresh_registry(self) -> None: ...


Handler = Callable[[TableEngine, Call, dict[str, Any]], dict[str, Any]]
HANDLERS: dict[str, Handler] = {}
MAX_INDEXES = 20
MAX_LOCAL_INDEXES = 5


def _handler(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[name] = handler
        return handler

    return register


def _table(engine: TableEngine, name: str, *, named: bool = False) -> TableInfo:
    table = engine.registry.tables.get(name)
    if table is None:
        raise table_not_found(name if named else None)
    return table


def _arn(engine: TableEngine, name: str) -> str:
    return f"arn:aws:dynamodb:{engine.region.region}:{engine.region.account_id}:table/{name}"


# -- CreateTable ----------------------------------------------------------------------------


def _key_schema(
    schema: list[dict[str, Any]], types: Mapping[str, str], where: str
) -> tuple[KeySpec, KeySpec | None]:
    roles = [element["KeyType"] for element in schema]
    if roles.count("HASH") != 1:
        raise ValidationError(
            f"{INVALID}Too many hash keys specified.  All Dynamo DB tables must have exactly "
            "one hash key"
            if roles.count("HASH") > 1
            else f"{INVALID}No Hash Key specified"
        )
    if roles[0] != "HASH":
        raise ValidationError(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type"
        )
    if len(schema) == 2 and schema[0]["AttributeName"] == schema[1]["AttributeName"]:
        raise ValidationError(
            f"{INVALID}Both the Hash Key and the Range Key element in the KeySchema have the "
            "same name"
        )
    keys = []
    for element in schema:
        name = element["AttributeName"]
        if name not in types:
            raise ValidationError(
                f"{INVALID}Some index key attributes are not defined in AttributeDefinitions. "
                f"Keys: [{', '.join(e['AttributeName'] for e in schema)}], AttributeDefinitions: "
                f"[{', '.join(types)}]"
            )
        keys.append(KeySpec(name, cast(Any, types[name])))
    return keys[0], keys[1] if len(keys) > 1 else None


def _projection(index: Mapping[str, Any]) -> tuple[ProjectionType, tuple[str, ...]]:
    projection = index.get("Projection") or {}
    kind = projection.get("ProjectionType", "ALL")
    if kind not in PROJECTION_TYPES:
        raise ValidationError(f"{INVALID}Unknown ProjectionType: {kind}")
    extra = tuple(projection.get("NonKeyAttributes") or ())
    if kind == "INCLUDE" and not extra:
        raise ValidationError(
            f"{INVALID}ProjectionType is INCLUDE, but NonKeyAttributes is not specified"
        )
    if kind != "INCLUDE" and extra:
        raise ValidationError(
            f"{INVALID}ProjectionType is {kind}, but NonKeyAttributes is specified"
        )
    return cast(ProjectionType, kind), extra


def _indexes(
    given: list[dict[str, Any]] | None,
    types: Mapping[str, str],
    table: tuple[KeySpec, KeySpec | None],
    local: bool,
) -> tuple[IndexSpec, ...]:
    out: list[IndexSpec] = []
    for index in given or ():
        name = index["IndexName"]
        partition, sort = _key_schema(index["KeySchema"], types, name)
        if local:
            if table[1] is None:
                raise ValidationError(
                    f"{INVALID}Table KeySchema does not have a range key, which is required "
                    "when specifying a LocalSecondaryIndex"
                )
            if partition.name != table[0].name:
                raise ValidationError(
                    f"{INVALID}Index KeySchema does not have the same leading hash key as table "
                    f"KeySchema for index: {name}. index hash key: {partition.name}, table hash "
                    f"key: {table[0].name}"
                )
            if sort is None:
                raise ValidationError(
                    f"{INVALID}Index KeySchema must have a range key for local index: {name}"
                )
        if any(o.name == name for o in out):
            raise ValidationError(f"{INVALID}Duplicate index name: {name}")
        projection, extra = _projection(index)
        out.append(IndexSpec(name, partition, sort, projection, extra))
    return tuple(out)


def _stream(spec: Mapping[str, Any] | None) -> StreamViewType | None:
    if not spec or not spec.get("StreamEnabled"):
        if spec and spec.get("StreamViewType") and spec.get("StreamEnabled") is False:
            return None
        return None
    view = spec.get("StreamViewType")
    if view not in STREAM_VIEW_TYPES:
        raise ValidationError(
            f"{INVALID}StreamViewType must be one of {', '.join(STREAM_VIEW_TYPES)} when "
            "StreamEnabled is true"
        )
    return cast(StreamViewType, view)


def spec_of(params: Mapping[str, Any]) -> TableSpec:
    """CreateTable's parameters as a table spec, checked as DynamoDB checks them."""
    definitions = params["AttributeDefinitions"]
    types = {d["AttributeName"]: d["AttributeType"] for d in definitions}
    if len(types) != len(definitions):
        raise ValidationError(f"{INVALID}Cannot have two attributes with the same name")
    partition, sort = _key_schema(params["KeySchema"], types, params["TableName"])
    globals_ = _indexes(params.get("GlobalSecondaryIndexes"), types, (partition, sort), False)
    locals_ = _indexes(params.get("LocalSecondaryIndexes"), types, (partition, sort), True)
    if len(locals_) > MAX_LOCAL_INDEXES or len(globals_) > MAX_INDEXES:
        raise ValidationError(f"{INVALID}Too many secondary indexes")
    names = [i.name for i in (*globals_, *locals_)]
    if len(set(names)) != len(names):
        raise ValidationError(f"{INVALID}Duplicate index name: {names[0]}")
    used = {partition.name, *([sort.name] if sort else [])}
    for index in (*globals_, *locals_):
        used.update(index.key_names)
    if used != set(types):
        raise ValidationError(
            f"{INVALID}Number of attributes in KeySchema does not exactly match number of "
            "attributes defined in AttributeDefinitions"
        )
    if params.get("BillingMode") == "PROVISIONED" and not params.get("ProvisionedThroughput"):
        raise ValidationError(
            f"{INVALID}ReadCapacityUnits and WriteCapacityUnits must both be specified when "
            "BillingMode is PROVISIONED"
        )
    return TableSpec(
        name=params["TableName"],
        partition_key=partition,
        sort_key=sort,
        stream=_stream(params.get("StreamSpecification")),
        global_indexes=globals_,
        local_indexes=locals_,
    )


@_handler("CreateTable")
def create_table(engine: TableEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    name = params["TableName"]
    call.require_admin("dynamodb:CreateTable", _arn(engine, name))
    spec = spec_of(params)

    def create(tx: Any) -> None:
        control.create(tx, spec)
        if params.get("Tags"):
            table = TableInfo(
                tx.execute("SELECT id FROM tables WHERE name = ?", (name,)).fetchone()[0],
                spec,
                _arn(engine, name),
                None,
            )
            control.tag(tx, table, params["Tags"])

    engine.store.write(create)
    engine.refresh_registry()
    return {
        "TableDescription": control.describe(
            engine.store.reader(), engine.region, _table(engine, name)
        )
    }


@_handler("DeleteTable")
def delete_table(engine: TableEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    name = params["TableName"]
    call.require_admin("dynamodb:DeleteTable", _arn(engine, name))
    table = _table(engine, name, named=True)
    if any(spec.name == name for spec in engine.graph.tables):
        raise ResourceInUse(
            f"Attempt to change a resource which is still in use: table {name} is declared by "
            "the app (sluiceway: remove it from the app's declarations instead)"
        )
    description = control.describe(engine.store.reader(), engine.region, table)
    engine.store.write(lambda tx: control.delete(tx, table))
    engine.refresh_registry()
    return {"TableDescription": {**description, "TableStatus": "DELETING"}}


@_handler("DescribeTable")
def describe_table(engine: TableEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    name = params["TableName"]
    table = engine.registry.tables.get(name)
    call.authorize("table", name, "dynamodb:DescribeTable", _arn(engine, name))
    if table is None:
        raise table_not_found(name)
    return {"Table": control.describe(engine.store.reader(), engine.region, table)}


@_handler("ListTables")
def list_tables(engine: TableEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    call.require_admin("dynamodb:ListTables", _arn(engine, "*"))
    names = sorted(engine.registry.tables)
    start = params.get("ExclusiveStartTableName")
    if start is not None:
        names = [n for n in names if n > start]
    limit = params.get("Limit", 100)
    answer: dict[str, Any] = {"TableNames": names[:limit]}
    if len(names) > limit:
        answer["LastEvaluatedTableName"] = names[limit - 1]
    return answer


# -- UpdateTable, TTL, tags ------------------------------------------------------------------


def _replace(engine: TableEngine, table: TableInfo, spec: TableSpec) -> TableInfo:
    engine.store.write(lambda tx: control.replace_spec(tx, table, spec))
    engine.refresh_registry()
    return _table(engine, table.name)


@_handler("UpdateTable")
def update_table(engine: TableEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    name = params["TableName"]
    table = _table(engine, name)
    call.authorize("table", name, "dynamodb:UpdateTable", table.arn)
    spec = table.spec
    stream = params.get("StreamSpecification")
    if stream is not None:
        view = _stream(stream)
        if view is not None and spec.stream is not None:
            raise ValidationError(f"Table already has an enabled stream: TableName: {name}")
        if view is None and spec.stream is None:
            raise ValidationError(f"{INVALID}Table {name} does not have a stream to disable")
        spec = dataclasses.replace(spec, stream=view)
    updates = params.get("GlobalSecondaryIndexUpdates") or []
    types = {k.name: k.type for k in (spec.partition_key, spec.sort_key) if k is not None}
    types.update(
        {d["AttributeName"]: d["AttributeType"] for d in params.get("AttributeDefinitions") or ()}
    )
    globals_ = list(spec.global_indexes)
    for update in updates:
        if "Create" in update:
            (new,) = _indexes([update["Create"]], types, (spec.partition_key, spec.sort_key), False)
            if spec.index(new.name) is not None:
                raise ValidationError(
                    f"{INVALID}Attempting to create an index which already exists"
                )
            globals_.append(new)
        elif "Delete" in update:
            index_name = update["Delete"]["IndexName"]
            if not any(i.name == index_name for i in globals_):
                raise WireError(
                    "ResourceNotFoundException",
                    f"Requested resource not found: Index: {index_name} not found",
                )
            globals_ = [i for i in globals_ if i.name != index_name]
    spec = dataclasses.replace(spec, global_indexes=tuple(globals_))
    if spec != table.spec:
        table = _replace(engine, table, spec)
    return {"TableDescription": control.describe(engine.store.reader(), engine.region, table)}


@_handler("UpdateTimeToLive")
def update_time_to_live(engine: TableEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    table = _table(engine, params["TableName"])
    call.authorize("table", table.name, "dynamodb:UpdateTimeToLive", table.arn)
    wanted = params["TimeToLiveSpecification"]
    attribute, enabled = wanted["AttributeName"], wanted["Enabled"]
    current = table.spec.ttl_attribute
    if enabled and current is not None:
        raise ValidationError("TimeToLive is already enabled")
    if not enabled and current is None:
        raise ValidationError("TimeToLive is already disabled")
    if not enabled and current != attribute:
        raise ValidationError(
            f"TimeToLive is active on a different AttributeName: current AttributeName is {current}"
        )
    if enabled and attribute in table.spec.key_names:
        raise ValidationError(f"{INVALID}TimeToLive attribute cannot be a key attribute")
    _replace(
        engine, table, dataclasses.replace(table.spec, ttl_attribute=attribute if enabled else None)
    )
    return {"TimeToLiveSpecification": {"AttributeName": attribute, "Enabled": enabled}}


@_handler("DescribeTimeToLive")
def describe_time_to_live(
    engine: TableEngine, call: Call, params: dict[str, Any]
) -> dict[str, Any]:
    table = _table(engine, params["TableName"])
    call.authorize("table", table.name, "dynamodb:DescribeTimeToLive", table.arn)
    if table.spec.ttl_attribute is None:
        return {"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}}
    return {
        "TimeToLiveDescription": {
            "TimeToLiveStatus": "ENABLED",
            "AttributeName": table.spec.ttl_attribute,
        }
    }


def _by_arn(engine: TableEngine, arn: str) -> TableInfo:
    prefix = _arn(engine, "")
    name = arn[len(prefix) :] if arn.startswith(prefix) else None
    table = engine.registry.tables.get(name) if name else None
    if table is None:
        raise WireError(
            "ResourceNotFoundException",
            f"Requested resource not found: ResourcArn: {arn} not found",
        )
    return table


@_handler("TagResource")
def tag_resource(engine: TableEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    table = _by_arn(engine, params["ResourceArn"])
    call.authorize("table", table.name, "dynamodb:TagResource", table.arn)
    engine.store.write(lambda tx: control.tag(tx, table, params["Tags"]))
    return {}


@_handler("UntagResource")
def untag_resource(engine: TableEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    table = _by_arn(engine, params["ResourceArn"])
    call.authorize("table", table.name, "dynamodb:UntagResource", table.arn)
    engine.store.write(lambda tx: control.untag(tx, table, params["TagKeys"]))
    return {}


@_handler("ListTagsOfResource")
def list_tags_of_resource(
    engine: TableEngine, call: Call, params: dict[str, Any]
) -> dict[str, Any]:
    table = _by_arn(engine, params["ResourceArn"])
    call.authorize("table", table.name, "dynamodb:ListTagsOfResource", table.arn)
    return {"Tags": control.tags(engine.store.reader(), table)}
