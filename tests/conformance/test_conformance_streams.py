"""DynamoDB Streams and the IoT data plane over the wire, the same on moto and on
sluiceway: a table's stream listed, described, iterated and read after puts, updates and
deletes; IoT's Publish. (Lambda's Invoke is left out: moto runs functions only in Docker.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import conformance_harness as h
import pytest
from conformance_harness import Clients

from sluiceway import App
from sluiceway.iot.broker import EmbeddedBroker

DOCS = "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/"
suite = h.Suite("dynamodbstreams")
case = suite.case


@pytest.fixture(scope="module")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[h.Backend, h.Backend]]:
    app = App("conformance-iot")
    app.iot(topics=["conformance/#"])
    with (
        EmbeddedBroker() as broker,
        h.backends(tmp_path_factory.mktemp("streams"), app, mqtt=broker.url) as pair,
    ):
        yield pair


def _streamed(c: Clients, view: str = "NEW_AND_OLD_IMAGES") -> tuple[str, str]:
    """A table with a stream of `view`: (table name, stream ARN)."""
    name = c.name()
    created = c.dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": view},
    )
    return name, created["TableDescription"]["LatestStreamArn"]


def _changes(c: Clients, table: str) -> None:
    key = {"pk": {"S": "a"}}
    c.dynamodb.put_item(TableName=table, Item={**key, "v": {"N": "1"}})
    c.dynamodb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET v = :two",
        ExpressionAttributeValues={":two": {"N": "2"}},
    )
    c.dynamodb.delete_item(TableName=table, Key=key)


def _shard(c: Clients, stream: str) -> str:
    shards = c.dynamodbstreams.describe_stream(StreamArn=stream)["StreamDescription"]["Shards"]
    shard: str = shards[0]["ShardId"]
    return shard


def _records(c: Clients, answer: dict[str, Any]) -> list[Any]:
    """Records without SizeBytes (AWS's own accounting of a record's size), and their
    eventVersion apart."""
    records = answer["Records"]
    versions = sorted({record.pop("eventVersion") for record in records})
    for record in records:
        record["dynamodb"].pop("SizeBytes", None)
    return [
        list(records),
        c.differs(
            versions,
            aws=["1.1"],
            moto=["1.0"],
            source=DOCS + "API_streams_GetRecords.html#API_streams_GetRecords_Examples",
            note="moto's records say eventVersion 1.0",
        ),
    ]


@case()
def list_streams_names_the_tables_stream(c: Clients) -> list[Any]:
    table, stream = _streamed(c)
    listed = c.dynamodbstreams.list_streams(TableName=table)
    return [listed, listed["Streams"][0]["StreamArn"] == stream]


@case()
def describe_stream_shows_its_shard(c: Clients) -> list[Any]:
    _, stream = _streamed(c, "NEW_IMAGE")
    description = c.dynamodbstreams.describe_stream(StreamArn=stream)["StreamDescription"]
    kept = ("StreamArn", "StreamStatus", "StreamViewType", "TableName", "KeySchema")
    return [
        {k: description.get(k) for k in kept},
        len(description["Shards"]) >= 1,
        sorted(description["Shards"][0]),
    ]


@case()
def get_records_reads_inserts_modifies_and_removes(c: Clients) -> list[Any]:
    table, stream = _streamed(c)
    _changes(c, table)
    iterator = c.dynamodbstreams.get_shard_iterator(
        StreamArn=stream, ShardId=_shard(c, stream), ShardIteratorType="TRIM_HORIZON"
    )
    got = c.dynamodbstreams.get_records(ShardIterator=iterator["ShardIterator"])
    return [iterator, sorted(got), *_records(c, got)]


@case()
def a_keys_only_stream_carries_no_images(c: Clients) -> list[Any]:
    table, stream = _streamed(c, "KEYS_ONLY")
    _changes(c, table)
    iterator = c.dynamodbstreams.get_shard_iterator(
        StreamArn=stream, ShardId=_shard(c, stream), ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    return _records(c, c.dynamodbstreams.get_records(ShardIterator=iterator))


@case()
def get_records_takes_a_limit(c: Clients) -> list[Any]:
    table, stream = _streamed(c)
    _changes(c, table)
    iterator = c.dynamodbstreams.get_shard_iterator(
        StreamArn=stream, ShardId=_shard(c, stream), ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    first = c.dynamodbstreams.get_records(ShardIterator=iterator, Limit=2)
    rest = c.dynamodbstreams.get_records(ShardIterator=first["NextShardIterator"])
    return [
        [r["eventName"] for r in first["Records"]],
        [r["eventName"] for r in rest["Records"]],
    ]


@case()
def a_latest_iterator_starts_after_what_was_written(c: Clients) -> list[Any]:
    table, stream = _streamed(c)
    _changes(c, table)
    iterator = c.dynamodbstreams.get_shard_iterator(
        StreamArn=stream, ShardId=_shard(c, stream), ShardIteratorType="LATEST"
    )["ShardIterator"]
    return [c.dynamodbstreams.get_records(ShardIterator=iterator)["Records"]]


@case()
def unknown_streams_and_shards_are_not_found(c: Clients) -> list[Any]:
    table, stream = _streamed(c)
    missing = stream.replace(table, c.name("missing"))
    return [
        c.error(c.dynamodbstreams.describe_stream, message=False, StreamArn=missing),
        c.differs(
            c.error(
                c.dynamodbstreams.get_shard_iterator,
                message=False,
                StreamArn=stream,
                ShardId="shardId-00000000000000000000-00000000",
                ShardIteratorType="TRIM_HORIZON",
            ),
            aws={"Error": "ResourceNotFoundException", "HTTPStatusCode": 400},
            moto={"Crash": "AssertionError"},
            source=DOCS + "API_streams_GetShardIterator.html#API_streams_GetShardIterator_Errors",
            note="moto raises an exception of its own for a shard the stream lacks",
        ),
    ]


# -- IoT data plane ----------------------------------------------------------------------


@case()
def iot_publish_with_qos_0_and_1(c: Clients) -> list[Any]:
    return [
        c.iot_data.publish(topic="conformance/orders", qos=0, payload=b'{"order": 1}'),
        c.iot_data.publish(topic="conformance/orders/bytes", qos=1, payload=b"\x00\xff"),
        c.iot_data.publish(topic="conformance/empty"),
    ]


# After every case is registered.
@pytest.mark.parametrize("name", suite.params())
def test_streams_case(name: str, backends: tuple[h.Backend, h.Backend]) -> None:
    sluiceway, moto = h.run(suite, name, *backends)
    assert sluiceway == moto
