"""The table handle's boto3-named calls on both backends: the local engine and
`Boto3Backend` on (moto's) AWS answer the same (items, pages, indexes, batches and
transactions), the declared table names mapped to the deployed ones."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from aws_support import Stack, fake_aws, sam_transform

from conftest import EngineFactory
from sluiceway import App, ConditionalCheckFailed, GlobalIndex
from sluiceway.aws import Boto3Backend, Code, ResourceNames, template_for
from sluiceway.core import naming
from sluiceway.core.render import names
from sluiceway.dynamodb.errors import TransactionCanceled

app = App("requests")
orders = app.table(
    "req-orders",
    partition_key="customer",
    sort_key="orderID",
    global_indexes=[GlobalIndex("by-status", partition_key="status", sort_key=("at", "N"))],
)
stock = app.table("req-stock", partition_key="sku")


@pytest.fixture(params=["local", "aws"])
def backend(request: pytest.FixtureRequest, make_engine: EngineFactory) -> Iterator[str]:
    if request.param == "local":
        make_engine(app)
        yield "local"
        return
    with fake_aws():
        stack = Stack.deploy(sam_transform(template_for(app.graph, Code("m:app"))))
        env = {
            names.env_var("table", spec.name): stack.physical[naming.logical_id(spec.name)]
            for spec in app.graph.tables
        }
        app.bind(Boto3Backend(ResourceNames.from_env(app.graph, env)))
        try:
            yield "aws"
        finally:
            app.bind(None)


def test_update_with_a_condition_and_return_values(backend: str) -> None:
    key = {"customer": "c", "orderID": "o-1"}
    orders.put_item(Item={**key, "status": "open", "at": 1, "blob": b"\x01"})
    answer = orders.update_item(
        Key=key,
        UpdateExpression="SET #s = :done ADD visits :one",
        ConditionExpression="#s = :open",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":done": "done", ":open": "open", ":one": 1},
        ReturnValues="ALL_NEW",
    )
    assert answer == {
        "Attributes": {**key, "status": "done", "at": Decimal(1), "blob": b"\x01", "visits": 1}
    }
    with pytest.raises(ConditionalCheckFailed):
        orders.update_item(
            Key=key,
            UpdateExpression="SET #s = :done",
            ConditionExpression="#s = :open",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":done": "done", ":open": "open"},
        )


def test_query_an_index_with_a_filter(backend: str) -> None:
    for i in range(5):
        orders.put_item(
            Item={"customer": f"c-{i % 2}", "orderID": f"o-{i}", "status": "open", "at": i}
        )
    answer = orders.query(
        IndexName="by-status",
        KeyConditionExpression="#s = :s AND #a > :a",
        FilterExpression="customer = :c",
        ExpressionAttributeNames={"#s": "status", "#a": "at"},
        ExpressionAttributeValues={":s": "open", ":a": 0, ":c": "c-0"},
    )
    assert [i["orderID"] for i in answer["Items"]] == ["o-2", "o-4"]
    assert (answer["Count"], answer["ScannedCount"]) == (2, 4)


def test_batches_and_a_cancelled_transaction(backend: str) -> None:
    with stock.batch_writer() as batch:
        for i in range(30):
            batch.put_item(Item={"sku": f"s-{i}", "qty": 1})
    got = stock.batch_get_item(RequestItems={"req-stock": {"Keys": [{"sku": "s-3"}]}})
    assert got["Responses"] == {"req-stock": [{"sku": "s-3", "qty": 1}]}
    with pytest.raises(TransactionCanceled):
        stock.transact_write_items(
            TransactItems=[
                {"Put": {"Item": {"sku": "new"}}},
                {
                    "ConditionCheck": {
                        "Key": {"sku": "s-1"},
                        "ConditionExpression": "qty > :q",
                        "ExpressionAttributeValues": {":q": 5},
                    }
                },
            ]
        )
    assert stock.get_item(Key={"sku": "new"}) == {}
