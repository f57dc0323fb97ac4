"""The table handle's boto3-named calls in-process: the same engine code as the wire API
(expressions, ReturnValues, indexes, batches, transactions), Python values in and out."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.conditions import Attr, Key

from conftest import EngineFactory
from sluiceway import App, ConditionalCheckFailed, GlobalIndex, LocalIndex, ValidationError
from sluiceway.dynamodb import tables
from sluiceway.dynamodb.errors import ConditionFailed, TransactionCanceled


def _app() -> tuple[App, Any, Any]:
    app = App("h")
    orders = app.table(
        "orders",
        partition_key="customer",
        sort_key="orderID",
        stream="NEW_IMAGE",
        global_indexes=[GlobalIndex("by-status", partition_key="status", sort_key=("at", "N"))],
        local_indexes=[LocalIndex("by-at", sort_key=("at", "N"), projection="KEYS_ONLY")],
    )
    stock = app.table("stock", partition_key="sku")
    return app, orders, stock


@pytest.fixture
def handles(make_engine: EngineFactory) -> tuple[Any, Any, Any]:
    app, orders, stock = _app()
    engine = make_engine(app)
    return engine, orders, stock


def _records(engine: Any, table: str) -> list[str]:
    info = engine.registry.table(table)
    return [
        r.record["eventName"]
        for r in tables.read_stream(engine.store.reader(), info, 0, 1000, "us-east-1")
    ]


def test_put_get_update_delete_with_boto3_s_names(handles: tuple[Any, Any, Any]) -> None:
    engine, orders, _ = handles
    key = {"customer": "c-1", "orderID": "o-1"}
    assert orders.put_item(Item={**key, "status": "placed", "at": 1, "blob": b"\x00"}) == {}
    assert orders.get_item(Key=key)["Item"]["blob"] == b"\x00"
    answer = orders.update_item(
        Key=key,
        UpdateExpression="SET #s = :s ADD n :one",
        ConditionExpression="#s = :placed",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": "shipped", ":placed": "placed", ":one": 1},
        ReturnValues="UPDATED_NEW",
    )
    assert answer == {"Attributes": {"status": "shipped", "n": Decimal(1)}}
    assert orders.get_item(Key=key, ProjectionExpression="n") == {"Item": {"n": Decimal(1)}}
    old = orders.delete_item(Key=key, ReturnValues="ALL_OLD")["Attributes"]
    assert old["status"] == "shipped"
    assert orders.get_item(Key=key) == {}
    assert _records(engine, "orders") == ["INSERT", "MODIFY", "REMOVE"]


def test_the_positional_forms_still_work_beside_them(handles: tuple[Any, Any, Any]) -> None:
    _, orders, _ = handles
    orders.put_item({"customer": "c-1", "orderID": "o-1"}, if_not_exists=True)
    with pytest.raises(ConditionalCheckFailed):
        orders.put_item({"customer": "c-1", "orderID": "o-1"}, if_not_exists=True)
    assert orders.get_item({"customer": "c-1", "orderID": "o-1"}) == {
        "customer": "c-1",
        "orderID": "o-1",
    }
    assert [i["orderID"] for i in orders.query("c-1")] == ["o-1"]
    assert len(orders.scan()) == 1


def test_a_failed_condition_raises_with_the_old_item_when_asked(
    handles: tuple[Any, Any, Any],
) -> None:
    _, orders, _ = handles
    orders.put_item(Item={"customer": "c", "orderID": "o", "v": 1})
    with pytest.raises(ConditionFailed) as raised:
        orders.put_item(
            Item={"customer": "c", "orderID": "o", "v": 2},
            ConditionExpression="attribute_not_exists(orderID)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert raised.value.item == {"customer": {"S": "c"}, "orderID": {"S": "o"}, "v": {"N": "1"}}


def test_query_an_index_with_strings_or_boto3_conditions(handles: tuple[Any, Any, Any]) -> None:
    _, orders, _ = handles
    for i in range(6):
        orders.put_item(
            Item={
                "customer": f"c-{i % 2}",
                "orderID": f"o-{i}",
                "status": "open" if i < 4 else "done",
                "at": i,
            }
        )
    text = orders.query(
        IndexName="by-status",
        KeyConditionExpression="#s = :s AND #a >= :a",
        ExpressionAttributeNames={"#s": "status", "#a": "at"},
        ExpressionAttributeValues={":s": "open", ":a": 1},
    )
    assert [i["orderID"] for i in text["Items"]] == ["o-1", "o-2", "o-3"]
    built = orders.query(
        IndexName="by-status",
        KeyConditionExpression=Key("status").eq("open") & Key("at").gte(1),
        FilterExpression=Attr("customer").eq("c-1"),
    )
    assert [i["orderID"] for i in built["Items"]] == ["o-1", "o-3"]
    assert built["ScannedCount"] == 3
    local = orders.query(
        IndexName="by-at", KeyConditionExpression=Key("customer").eq("c-0"), ScanIndexForward=False
    )
    assert [i["orderID"] for i in local["Items"]] == ["o-4", "o-2", "o-0"]
    page = orders.scan(Limit=4)
    assert page["Count"] == 4
    assert "LastEvaluatedKey" in page


def test_a_batch_writer_and_batch_get(handles: tuple[Any, Any, Any]) -> None:
    _, _, stock = handles
    with stock.batch_writer() as batch:
        for i in range(60):
            batch.put_item(Item={"sku": f"s-{i}", "qty": i})
        batch.delete_item(Key={"sku": "s-0"})
    assert len(stock.scan()) == 59
    got = stock.batch_get_item(
        RequestItems={"stock": {"Keys": [{"sku": "s-1"}, {"sku": "s-0"}, {"sku": "s-2"}]}}
    )
    assert sorted(i["sku"] for i in got["Responses"]["stock"]) == ["s-1", "s-2"]
    assert got["UnprocessedKeys"] == {}
    with pytest.raises(ValidationError, match="duplicates"):
        stock.batch_write_item(
            RequestItems={
                "stock": [
                    {"PutRequest": {"Item": {"sku": "d"}}},
                    {"DeleteRequest": {"Key": {"sku": "d"}}},
                ]
            }
        )


def test_a_transaction_writes_two_tables_or_nothing(handles: tuple[Any, Any, Any]) -> None:
    engine, orders, stock = handles
    stock.put_item(Item={"sku": "glove", "qty": 1})
    order = {
        "Put": {
            "Item": {"customer": "c", "orderID": "o-1", "sku": "glove"},
            "ConditionExpression": "attribute_not_exists(orderID)",
        }
    }
    take = {
        "Update": {
            "TableName": "stock",
            "Key": {"sku": "glove"},
            "UpdateExpression": "SET qty = qty - :one",
            "ConditionExpression": "qty >= :one",
            "ExpressionAttributeValues": {":one": 1},
        }
    }
    orders.transact_write_items(TransactItems=[order, take])
    assert stock.get_item({"sku": "glove"})["qty"] == 0
    again = {"Put": {**order["Put"], "Item": {"customer": "c", "orderID": "o-2"}}}
    with pytest.raises(TransactionCanceled) as raised:
        orders.transact_write_items(TransactItems=[again, take])
    assert [r["Code"] for r in raised.value.reasons] == ["None", "ConditionalCheckFailed"]
    assert orders.get_item({"customer": "c", "orderID": "o-2"}) is None
    assert _records(engine, "orders") == ["INSERT"]
    got = orders.transact_get_items(
        TransactItems=[
            {"Get": {"Key": {"customer": "c", "orderID": "o-1"}}},
            {"Get": {"TableName": "stock", "Key": {"sku": "nope"}}},
        ]
    )
    assert got["Responses"][0]["Item"]["sku"] == "glove"
    assert got["Responses"][1] == {}
