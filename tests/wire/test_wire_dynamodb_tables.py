"""DynamoDB's control plane over the wire: CreateTable (with indexes and a stream) and
DeleteTable for code that makes its own tables, DescribeTable, ListTables, UpdateTable,
time to live and tags."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from ddb_support import n, s, shop, stream_events

from conftest import ServeFactory


@pytest.fixture
def wire(serve: ServeFactory) -> Any:
    return serve(shop())


@pytest.fixture
def ddb(wire: Any) -> Any:
    return wire.client("dynamodb")


def _create(ddb: Any, name: str = "made", **more: Any) -> Any:
    return ddb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
            {"AttributeName": "g", "AttributeType": "S"},
            {"AttributeName": "l", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "by-l",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "l", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        BillingMode="PAY_PER_REQUEST",
        **more,
    )


def test_a_created_table_is_active_usable_and_indexed(wire: Any, ddb: Any) -> None:
    made = _create(ddb)["TableDescription"]
    assert made["TableStatus"] == "ACTIVE"
    assert made["TableArn"] == "arn:aws:dynamodb:us-east-1:000000000000:table/made"
    ddb.get_waiter("table_exists").wait(TableName="made")
    ddb.put_item(TableName="made", Item={"pk": s("a"), "sk": n(1), "g": s("x"), "l": s("q")})
    found = ddb.query(
        TableName="made",
        IndexName="by-g",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": s("x")},
    )
    assert found["Count"] == 1
    assert stream_events(wire.engine, "made") == ["INSERT"]
    described = ddb.describe_table(TableName="made")["Table"]
    assert described["ItemCount"] == 1
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert described["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_IMAGE",
    }
    assert described["LatestStreamArn"].startswith(made["TableArn"] + "/stream/")
    assert [i["IndexName"] for i in described["GlobalSecondaryIndexes"]] == ["by-g"]
    assert described["GlobalSecondaryIndexes"][0]["IndexStatus"] == "ACTIVE"
    assert described["LocalSecondaryIndexes"][0]["Projection"] == {"ProjectionType": "KEYS_ONLY"}


def test_creating_an_existing_table_is_resource_in_use(ddb: Any) -> None:
    _create(ddb)
    with pytest.raises(ClientError) as raised:
        _create(ddb)
    assert raised.value.response["Error"] == {
        "Code": "ResourceInUseException",
        "Message": "Table already exists: made",
    }


@pytest.mark.parametrize(
    ("definitions", "keys", "fragment"),
    [
        (
            [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "x", "AttributeType": "S"},
            ],
            [{"AttributeName": "pk", "KeyType": "HASH"}],
            "Number of attributes in KeySchema does not exactly match number of attributes "
            "defined in AttributeDefinitions",
        ),
        (
            [{"AttributeName": "x", "AttributeType": "S"}],
            [{"AttributeName": "pk", "KeyType": "HASH"}],
            "Some index key attributes are not defined in AttributeDefinitions",
        ),
        (
            [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            [
                {"AttributeName": "sk", "KeyType": "RANGE"},
                {"AttributeName": "pk", "KeyType": "HASH"},
            ],
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        ),
    ],
)
def test_a_create_table_whose_definitions_do_not_match_its_keys_is_refused(
    wire: Any, ddb: Any, definitions: list[Any], keys: list[Any], fragment: str
) -> None:
    with pytest.raises(ClientError) as raised:
        ddb.create_table(
            TableName="bad",
            KeySchema=keys,
            AttributeDefinitions=definitions,
            BillingMode="PAY_PER_REQUEST",
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert fragment in raised.value.response["Error"]["Message"]
    assert "bad" not in ddb.list_tables()["TableNames"]


def test_a_local_index_needs_the_table_s_hash_key(ddb: Any) -> None:
    with pytest.raises(ClientError) as raised:
        ddb.create_table(
            TableName="bad",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
                {"AttributeName": "o", "AttributeType": "S"},
            ],
            LocalSecondaryIndexes=[
                {
                    "IndexName": "lsi",
                    "KeySchema": [
                        {"AttributeName": "o", "KeyType": "HASH"},
                        {"AttributeName": "sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
    assert "does not have the same leading hash key" in raised.value.response["Error"]["Message"]


def test_delete_table_removes_it_and_its_items(wire: Any, ddb: Any) -> None:
    _create(ddb)
    ddb.put_item(TableName="made", Item={"pk": s("a"), "sk": n(1)})
    gone = ddb.delete_table(TableName="made")["TableDescription"]
    assert gone["TableStatus"] == "DELETING"
    assert "made" not in ddb.list_tables()["TableNames"]
    with pytest.raises(ClientError) as raised:
        ddb.describe_table(TableName="made")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    _create(ddb)
    assert ddb.scan(TableName="made")["Count"] == 0


def test_a_declared_table_cannot_be_deleted_over_the_wire(ddb: Any) -> None:
    with pytest.raises(ClientError) as raised:
        ddb.delete_table(TableName="orders")
    assert raised.value.response["Error"]["Code"] == "ResourceInUseException"


def test_list_tables_pages_by_name(ddb: Any) -> None:
    for name in ("t-a", "t-b", "t-c"):
        _create(ddb, name)
    first = ddb.list_tables(Limit=2)
    assert first == {
        **first,
        "TableNames": ["events", "orders"],
        "LastEvaluatedTableName": "orders",
    }
    rest = ddb.list_tables(ExclusiveStartTableName="orders")
    assert rest["TableNames"] == ["t-a", "t-b", "t-c"]
    assert "LastEvaluatedTableName" not in rest


def test_account_wide_operations_are_the_admin_s(wire: Any) -> None:
    ddb = wire.client("dynamodb", as_function="worker")
    for call in (lambda: ddb.list_tables(), lambda: _create(ddb)):
        with pytest.raises(ClientError) as raised:
            call()
        assert raised.value.response["Error"]["Code"] == "AccessDeniedException"


def test_time_to_live_is_enabled_described_and_expires_items(wire: Any, ddb: Any) -> None:
    assert ddb.describe_time_to_live(TableName="orders")["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "DISABLED"
    }
    now = int(wire.engine.clock.now())
    ddb.put_item(TableName="orders", Item={"id": s("old"), "expires": n(now + 10)})
    ddb.put_item(TableName="orders", Item={"id": s("keep"), "expires": n(now + 1000)})
    spec = {"AttributeName": "expires", "Enabled": True}
    assert (
        ddb.update_time_to_live(TableName="orders", TimeToLiveSpecification=spec)[
            "TimeToLiveSpecification"
        ]
        == spec
    )
    assert ddb.describe_time_to_live(TableName="orders")["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "expires",
    }
    with pytest.raises(ClientError) as raised:
        ddb.update_time_to_live(TableName="orders", TimeToLiveSpecification=spec)
    assert raised.value.response["Error"]["Message"] == "TimeToLive is already enabled"
    wire.engine.clock.advance(60)
    info = wire.engine.registry.table("orders")
    from sluiceway.dynamodb import tables

    assert wire.engine.store.write(lambda tx: tables.expire(tx, info)) == 1
    assert [i["id"]["S"] for i in ddb.scan(TableName="orders")["Items"]] == ["keep"]
    assert stream_events(wire.engine, "orders")[-1] == "REMOVE"


def test_update_table_adds_a_global_index_over_existing_items_and_a_stream(ddb: Any) -> None:
    ddb.create_table(
        TableName="plain",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName="plain", Item={"pk": s("a"), "color": s("red")})
    described = ddb.update_table(
        TableName="plain",
        AttributeDefinitions=[{"AttributeName": "color", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": "by-color",
                    "KeySchema": [{"AttributeName": "color", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            }
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )["TableDescription"]
    assert described["GlobalSecondaryIndexes"][0]["ItemCount"] == 1
    assert "LatestStreamArn" in described
    found = ddb.query(
        TableName="plain",
        IndexName="by-color",
        KeyConditionExpression="color = :c",
        ExpressionAttributeValues={":c": s("red")},
    )
    assert found["Count"] == 1


def test_tags_are_set_listed_and_removed(ddb: Any) -> None:
    arn = ddb.describe_table(TableName="orders")["Table"]["TableArn"]
    ddb.tag_resource(
        ResourceArn=arn, Tags=[{"Key": "team", "Value": "shop"}, {"Key": "x", "Value": "1"}]
    )
    ddb.untag_resource(ResourceArn=arn, TagKeys=["x"])
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "shop"}]
