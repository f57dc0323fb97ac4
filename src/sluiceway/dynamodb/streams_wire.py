"""DynamoDB Streams' API on the runtime's port (see `sluiceway.local.aws_api`): ListStreams,
DescribeStream, GetShardIterator and GetRecords over the tables' streams, one shard per
stream (see `streams.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from sluiceway.core.clock import Clock
from sluiceway.core.naming import Region
from sluiceway.core.store import Store
from sluiceway.core.wire import Call, Operations, WireError
from sluiceway.dynamodb import streams, tables
from sluiceway.dynamodb.info import TableInfo


class Tables(Protocol):
    @property
    def tables(self) -> Mapping[str, TableInfo]: ...


class StreamEngine(Protocol):
    """What DynamoDB Streams' operations need of the engine."""

    store: Store
    region: Region
    clock: Clock

    @property
    def registry(self) -> Tables: ...


operations: Operations[StreamEngine] = Operations(
    "dynamodbstreams", denied_code="AccessDeniedException", denied_status=400
)

MAX_RECORDS = 1000


def _streamed(engine: StreamEngine) -> list[TableInfo]:
    return sorted(
        (t for t in engine.registry.tables.values() if t.stream_arn is not None),
        key=lambda t: (t.name, t.stream_arn or ""),
    )


def stream_of(engine: StreamEngine, arn: str) -> TableInfo:
    for table in _streamed(engine):
        if table.stream_arn == arn:
            return table
    raise WireError(
        "ResourceNotFoundException",
        f"Requested resource not found: Stream: {arn} not found",
    )


def _now_ms(engine: StreamEngine) -> int:
    return int(engine.clock.now() * 1000)


@operations("ListStreams")
def list_streams(engine: StreamEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    name = params.get("TableName")
    found = [
        t
        for t in _streamed(engine)
        if (name is None or t.name == name)
        and call.caller.allows("stream", t.name, "dynamodb:ListStreams", t.stream_arn or "")
    ]
    if name is not None and name not in engine.registry.tables:
        raise WireError(
            "ResourceNotFoundException", f"Requested resource not found: Table: {name} not found"
        )
    start = params.get("ExclusiveStartStreamArn")
    if start is not None:
        arns = [t.stream_arn for t in found]
        found = found[arns.index(start) + 1 :] if start in arns else []
    limit = params.get("Limit") or 100
    page, more = found[:limit], len(found) > limit
    answer: dict[str, Any] = {
        "Streams": [
            {"StreamArn": t.stream_arn, "TableName": t.name, "StreamLabel": streams.label_of(t)}
            for t in page
        ]
    }
    if more:
        answer["LastEvaluatedStreamArn"] = page[-1].stream_arn
    return answer


@operations("DescribeStream")
def describe_stream(engine: StreamEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    table = stream_of(engine, params["StreamArn"])
    call.authorize("stream", table.name, "dynamodb:DescribeStream", params["StreamArn"])
    assert table.spec.stream is not None
    cx = engine.store.reader()
    first = streams.first_seq(cx, table)
    shard: dict[str, Any] = {"ShardId": streams.shard_id(table), "SequenceNumberRange": {}}
    if first is not None:
        shard["SequenceNumberRange"]["StartingSequenceNumber"] = tables.sequence_number(first)
    key_schema = [{"AttributeName": table.spec.partition_key.name, "KeyType": "HASH"}]
    if table.spec.sort_key is not None:
        key_schema.append({"AttributeName": table.spec.sort_key.name, "KeyType": "RANGE"})
    shards = [] if params.get("ExclusiveStartShardId") == shard["ShardId"] else [shard]
    return {
        "StreamDescription": {
            "StreamArn": table.stream_arn,
            "StreamLabel": streams.label_of(table),
            "StreamStatus": "ENABLED",
            "StreamViewType": table.spec.stream,
            "CreationRequestDateTime": streams.created_at(table),
            "TableName": table.name,
            "KeySchema": key_schema,
            "Shards": shards,
        }
    }


@operations("GetShardIterator")
def get_shard_iterator(engine: StreamEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    table = stream_of(engine, params["StreamArn"])
    call.authorize("stream", table.name, "dynamodb:GetShardIterator", params["StreamArn"])
    if params["ShardId"] != streams.shard_id(table):
        raise WireError(
            "ResourceNotFoundException",
            f"Requested resource not found: Shard does not exist: {params['ShardId']}",
        )
    kind = params["ShardIteratorType"]
    cx = engine.store.reader()
    if kind == "TRIM_HORIZON":
        after = tables.oldest_seq(cx, table)
    elif kind == "LATEST":
        after = tables.latest_seq(cx, table)
    elif kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
        after = _position(cx, table, kind, params.get("SequenceNumber"))
    else:
        raise WireError(
            "ValidationException",
            f"1 validation error detected: Value '{kind}' at 'shardIteratorType' failed to "
            "satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, "
            "LATEST, AT_SEQUENCE_NUMBER, TRIM_HORIZON]",
        )
    return {"ShardIterator": streams.iterator(table, after, _now_ms(engine))}


def _position(cx: Any, table: TableInfo, kind: str, number: Any) -> int:
    if number is None:
        raise WireError(
            "ValidationException",
            f"Must specify a SequenceNumber for ShardIteratorType {kind}",
        )
    seq = streams.sequence_of(number)
    latest = tables.latest_seq(cx, table)
    if seq is None or seq > latest:
        raise WireError(
            "ValidationException",
            f"Invalid SequenceNumber {number} for the shard (no such record in this stream)",
        )
    first = streams.first_seq(cx, table)
    if first is None or seq < first:
        raise WireError(
            "TrimmedDataAccessException",
            f"The sequence number {number} is beyond the trim horizon of the stream (records "
            "are kept 24 hours)",
        )
    return seq - 1 if kind == "AT_SEQUENCE_NUMBER" else seq


@operations("GetRecords")
def get_records(engine: StreamEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    read = streams.read_iterator(params["ShardIterator"])
    if read is None:
        raise WireError("ValidationException", "Invalid ShardIterator")
    arn, after, made = read
    now = _now_ms(engine)
    if now - made > streams.ITERATOR_MS:
        raise WireError(
            "ExpiredIteratorException",
            f"Iterator expired. The iterator was created at time {made} while right now it is "
            f"{now} (shard iterators expire after 15 minutes)",
        )
    table = stream_of(engine, arn)
    call.authorize("stream", table.name, "dynamodb:GetRecords", arn)
    limit = params.get("Limit") or MAX_RECORDS
    if limit > MAX_RECORDS:
        raise WireError(
            "ValidationException",
            f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy "
            f"constraint: Member must have value less than or equal to {MAX_RECORDS}",
        )
    records, position = streams.records(
        engine.store.reader(), table, after, limit, engine.region.region
    )
    return {"Records": records, "NextShardIterator": streams.iterator(table, position, now)}
