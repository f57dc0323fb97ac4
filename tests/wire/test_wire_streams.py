"""DynamoDB Streams' API over the wire: a put through the table handle is read back with
ListStreams, DescribeStream, GetShardIterator and GetRecords, as boto3 parses them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import ServeFactory
from sluiceway import App
from sluiceway.core.clock import VirtualClock
from sluiceway.dynamodb.handle import Table
from support import Wire


def _app() -> tuple[App, Table]:
    app = App("wire-streams")
    orders = app.table("orders", "orderID", stream="NEW_AND_OLD_IMAGES")
    app.table("plain", "id")

    @app.function()
    def outsider(event: Any, context: Any) -> None:
        return None

    return app, orders


def _error(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response: Any = raised.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def _stream(wire: Wire) -> tuple[Any, str, str]:
    streams = wire.client("dynamodbstreams")
    (listed,) = streams.list_streams()["Streams"]
    arn = listed["StreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    return streams, arn, shard


def test_a_put_through_the_table_handle_is_read_from_the_stream(serve: ServeFactory) -> None:
    app, orders = _app()
    wire = serve(app)
    orders.put_item({"orderID": "o-1", "order": "gloves"})
    orders.put_item({"orderID": "o-1", "order": "masks"})
    orders.delete_item({"orderID": "o-1"})
    streams, arn, shard = _stream(wire)
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    answer = streams.get_records(ShardIterator=iterator)
    records = answer["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    first = records[0]
    assert "eventSourceARN" not in first
    assert (first["eventSource"], first["awsRegion"]) == ("aws:dynamodb", "us-east-1")
    assert first["dynamodb"]["Keys"] == {"orderID": {"S": "o-1"}}
    assert first["dynamodb"]["NewImage"] == {"orderID": {"S": "o-1"}, "order": {"S": "gloves"}}
    assert records[1]["dynamodb"]["OldImage"]["order"] == {"S": "gloves"}
    assert first["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert isinstance(first["dynamodb"]["ApproximateCreationDateTime"], datetime)
    numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert numbers == sorted(numbers)
    # the next iterator carries on after the last record
    assert streams.get_records(ShardIterator=answer["NextShardIterator"])["Records"] == []
    orders.put_item({"orderID": "o-2"})
    (later,) = streams.get_records(ShardIterator=answer["NextShardIterator"])["Records"]
    assert later["dynamodb"]["Keys"] == {"orderID": {"S": "o-2"}}


def test_describe_stream_shows_one_open_shard(serve: ServeFactory) -> None:
    app, orders = _app()
    wire = serve(app)
    orders.put_item({"orderID": "o-1"})
    streams, arn, shard = _stream(wire)
    description = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert description["StreamStatus"] == "ENABLED"
    assert description["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert description["TableName"] == "orders"
    assert description["KeySchema"] == [{"AttributeName": "orderID", "KeyType": "HASH"}]
    assert isinstance(description["CreationRequestDateTime"], datetime)
    (only,) = description["Shards"]
    assert only["ShardId"] == shard
    assert "StartingSequenceNumber" in only["SequenceNumberRange"]
    assert "EndingSequenceNumber" not in only["SequenceNumberRange"]
    listed = streams.list_streams(TableName="orders")["Streams"]
    assert [s["StreamArn"] for s in listed] == [arn]
    assert streams.list_streams(TableName="plain")["Streams"] == []


def test_iterators_start_where_asked(serve: ServeFactory) -> None:
    app, orders = _app()
    wire = serve(app)
    for n in range(3):
        orders.put_item({"orderID": f"o-{n}"})
    streams, arn, shard = _stream(wire)

    def keys(kind: str, number: str | None = None) -> list[str]:
        extra = {} if number is None else {"SequenceNumber": number}
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard, ShardIteratorType=kind, **extra
        )["ShardIterator"]
        records = streams.get_records(ShardIterator=iterator, Limit=2)["Records"]
        return [r["dynamodb"]["Keys"]["orderID"]["S"] for r in records]

    assert keys("TRIM_HORIZON") == ["o-0", "o-1"]
    assert keys("LATEST") == []
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    second = streams.get_records(ShardIterator=iterator)["Records"][1]["dynamodb"]
    assert keys("AT_SEQUENCE_NUMBER", second["SequenceNumber"]) == ["o-1", "o-2"]
    assert keys("AFTER_SEQUENCE_NUMBER", second["SequenceNumber"]) == ["o-2"]


def test_an_iterator_expires_after_fifteen_minutes(
    serve: ServeFactory, clock: VirtualClock
) -> None:
    wire = serve(_app()[0])
    streams, arn, shard = _stream(wire)
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")[
        "ShardIterator"
    ]
    clock.advance(14 * 60)
    fresh = streams.get_records(ShardIterator=iterator)["NextShardIterator"]
    clock.advance(2 * 60)
    with pytest.raises(ClientError) as raised:
        streams.get_records(ShardIterator=iterator)
    assert _error(raised) == ("ExpiredIteratorException", 400)
    assert streams.get_records(ShardIterator=fresh)["Records"] == []


def test_records_past_the_trim_horizon_are_refused(
    serve: ServeFactory, clock: VirtualClock
) -> None:
    app, orders = _app()
    wire = serve(app)
    orders.put_item({"orderID": "old"})
    streams, arn, shard = _stream(wire)
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    (old,) = streams.get_records(ShardIterator=iterator)["Records"]
    clock.advance(25 * 3600)
    orders.put_item({"orderID": "new"})
    wire.engine.sweep()
    with pytest.raises(ClientError) as raised:
        streams.get_shard_iterator(
            StreamArn=arn,
            ShardId=shard,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=old["dynamodb"]["SequenceNumber"],
        )
    assert _error(raised) == ("TrimmedDataAccessException", 400)


def test_unknown_streams_shards_and_iterators_are_refused(serve: ServeFactory) -> None:
    wire = serve(_app()[0])
    streams, arn, shard = _stream(wire)
    with pytest.raises(ClientError) as raised:
        streams.describe_stream(StreamArn=arn.replace("orders", "nope"))
    assert _error(raised) == ("ResourceNotFoundException", 400)
    with pytest.raises(ClientError) as raised:
        streams.get_shard_iterator(
            StreamArn=arn,
            ShardId="shardId-00000000000000000000-deadbeef",
            ShardIteratorType="LATEST",
        )
    assert _error(raised) == ("ResourceNotFoundException", 400)
    with pytest.raises(ClientError) as raised:
        streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER"
        )
    assert _error(raised) == ("ValidationException", 400)
    with pytest.raises(ClientError) as raised:
        streams.get_records(ShardIterator="x" * 40)
    assert _error(raised) == ("ValidationException", 400)
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")[
        "ShardIterator"
    ]
    with pytest.raises(ClientError) as raised:
        streams.get_records(ShardIterator=iterator, Limit=1001)
    assert _error(raised) == ("ValidationException", 400)


def test_a_function_without_the_stream_s_grant_is_denied(serve: ServeFactory) -> None:
    wire = serve(_app()[0])
    _, arn, _ = _stream(wire)
    streams = wire.client("dynamodbstreams", as_function="outsider")
    assert streams.list_streams()["Streams"] == []
    with pytest.raises(ClientError) as raised:
        streams.describe_stream(StreamArn=arn)
    assert _error(raised) == ("AccessDeniedException", 400)
    assert "dynamodb:DescribeStream" in str(raised.value)
