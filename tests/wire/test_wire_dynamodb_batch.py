"""BatchGetItem, BatchWriteItem, TransactWriteItems and TransactGetItems over the wire: all
or nothing, each change with one stream record, AWS's errors for bad batches."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from ddb_support import n, s, shop, stored, stream_events

from conftest import ServeFactory


@pytest.fixture
def wire(serve: ServeFactory) -> Any:
    return serve(shop())


@pytest.fixture
def ddb(wire: Any) -> Any:
    return wire.client("dynamodb")


def _put(id_: str, **more: Any) -> dict[str, Any]:
    return {"PutRequest": {"Item": {"id": s(id_), **more}}}


def test_batch_write_puts_and_deletes_across_tables_with_one_record_each(
    wire: Any, ddb: Any
) -> None:
    ddb.put_item(TableName="orders", Item={"id": s("gone")})
    answer = ddb.batch_write_item(
        RequestItems={
            "orders": [_put("a"), _put("b"), {"DeleteRequest": {"Key": {"id": s("gone")}}}],
            "events": [{"PutRequest": {"Item": {"customer": s("c"), "at": n(1)}}}],
        }
    )
    assert answer["UnprocessedItems"] == {}
    assert sorted(i["id"]["S"] for i in stored(wire.engine, "orders")) == ["a", "b"]
    assert stream_events(wire.engine, "orders") == ["INSERT", "INSERT", "INSERT", "REMOVE"]
    assert stream_events(wire.engine, "events") == ["INSERT"]


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (
            {"orders": [_put("a"), {"DeleteRequest": {"Key": {"id": s("a")}}}]},
            "Provided list of item keys contains duplicates",
        ),
        ({"orders": [_put(f"i-{i}") for i in range(26)]}, "25"),
        ({"orders": [_put("a"), _put("b", big=s("x" * 410_000))]}, "Item size"),
        ({"orders": [_put("a")], "nope": [_put("b")]}, "Requested resource not found"),
    ],
)
def test_a_bad_batch_write_stores_nothing(
    wire: Any, ddb: Any, items: dict[str, Any], message: str
) -> None:
    with pytest.raises(ClientError) as raised:
        ddb.batch_write_item(RequestItems=items)
    assert message in raised.value.response["Error"]["Message"]
    assert stored(wire.engine, "orders") == []
    assert stream_events(wire.engine, "orders") == []


def test_batch_get_returns_what_exists_with_its_projection(ddb: Any) -> None:
    for id_ in ("a", "b"):
        ddb.put_item(TableName="orders", Item={"id": s(id_), "v": n(1), "w": n(2)})
    answer = ddb.batch_get_item(
        RequestItems={
            "orders": {
                "Keys": [{"id": s("a")}, {"id": s("b")}, {"id": s("zz")}],
                "ProjectionExpression": "id, v",
            }
        }
    )
    assert sorted(i["id"]["S"] for i in answer["Responses"]["orders"]) == ["a", "b"]
    assert all(set(i) == {"id", "v"} for i in answer["Responses"]["orders"])
    assert answer["UnprocessedKeys"] == {}


def test_batch_get_refuses_duplicates_and_over_100_keys(ddb: Any) -> None:
    many = {
        "orders": {"Keys": [{"id": s(f"k{i}")} for i in range(60)]},
        "events": {"Keys": [{"customer": s("c"), "at": n(i)} for i in range(41)]},
    }
    for items, message in (
        (
            {"orders": {"Keys": [{"id": s("a")}, {"id": s("a")}]}},
            "Provided list of item keys contains duplicates",
        ),
        (many, "Too many items requested for the BatchGetItem call"),
    ):
        with pytest.raises(ClientError) as raised:
            ddb.batch_get_item(RequestItems=items)
        assert message in raised.value.response["Error"]["Message"]


def _transfer(condition_value: int) -> list[dict[str, Any]]:
    return [
        {"Put": {"TableName": "orders", "Item": {"id": s("new")}}},
        {
            "Update": {
                "TableName": "orders",
                "Key": {"id": s("acct")},
                "UpdateExpression": "SET balance = balance - :v",
                "ConditionExpression": "balance >= :v",
                "ExpressionAttributeValues": {":v": n(condition_value)},
            }
        },
        {"Delete": {"TableName": "orders", "Key": {"id": s("old")}}},
        {
            "ConditionCheck": {
                "TableName": "events",
                "Key": {"customer": s("c"), "at": n(1)},
                "ConditionExpression": "attribute_not_exists(customer)",
            }
        },
    ]


def test_a_transaction_applies_every_action_with_one_record_each(wire: Any, ddb: Any) -> None:
    ddb.put_item(TableName="orders", Item={"id": s("acct"), "balance": n(10)})
    ddb.put_item(TableName="orders", Item={"id": s("old")})
    ddb.transact_write_items(TransactItems=_transfer(4))
    ids = sorted(i["id"]["S"] for i in stored(wire.engine, "orders"))
    assert ids == ["acct", "new"]
    assert ddb.get_item(TableName="orders", Key={"id": s("acct")})["Item"]["balance"] == n(6)
    assert stream_events(wire.engine, "orders") == [
        "INSERT",
        "INSERT",
        "INSERT",
        "MODIFY",
        "REMOVE",
    ]


def test_one_failing_condition_cancels_the_whole_transaction(wire: Any, ddb: Any) -> None:
    ddb.put_item(TableName="orders", Item={"id": s("acct"), "balance": n(10)})
    ddb.put_item(TableName="orders", Item={"id": s("old")})
    before = stored(wire.engine, "orders")
    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(TransactItems=_transfer(40))
    response: Any = raised.value.response
    assert response["Error"]["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in response["CancellationReasons"]] == [
        "None",
        "ConditionalCheckFailed",
        "None",
        "None",
    ]
    assert stored(wire.engine, "orders") == before
    assert stream_events(wire.engine, "orders") == ["INSERT", "INSERT"]


def test_a_cancelled_transaction_returns_the_item_when_asked(ddb: Any) -> None:
    ddb.put_item(TableName="orders", Item={"id": s("a"), "v": n(1)})
    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(
            TransactItems=[
                {
                    "ConditionCheck": {
                        "TableName": "orders",
                        "Key": {"id": s("a")},
                        "ConditionExpression": "v = :two",
                        "ExpressionAttributeValues": {":two": n(2)},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                }
            ]
        )
    reasons: Any = raised.value.response["CancellationReasons"]  # type: ignore[typeddict-item]
    assert reasons[0]["Item"] == {"id": s("a"), "v": n(1)}


def test_two_actions_on_one_item_are_refused(ddb: Any) -> None:
    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "orders", "Item": {"id": s("a")}}},
                {"Delete": {"TableName": "orders", "Key": {"id": s("a")}}},
            ]
        )
    assert raised.value.response["Error"]["Message"] == (
        "Transaction request cannot include multiple operations on one item"
    )


def test_a_client_request_token_makes_a_retry_write_once(wire: Any, ddb: Any) -> None:
    actions = [
        {
            "Update": {
                "TableName": "orders",
                "Key": {"id": s("ctr")},
                "UpdateExpression": "ADD hits :one",
                "ExpressionAttributeValues": {":one": n(1)},
            }
        }
    ]
    for _ in range(2):
        ddb.transact_write_items(TransactItems=actions, ClientRequestToken="tok-1")
    assert ddb.get_item(TableName="orders", Key={"id": s("ctr")})["Item"]["hits"] == n(1)
    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(
            TransactItems=[{"Put": {"TableName": "orders", "Item": {"id": s("x")}}}],
            ClientRequestToken="tok-1",
        )
    assert raised.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    wire.engine.clock.advance(601)
    ddb.transact_write_items(TransactItems=actions, ClientRequestToken="tok-1")
    assert ddb.get_item(TableName="orders", Key={"id": s("ctr")})["Item"]["hits"] == n(2)


def test_transact_get_reads_several_tables(ddb: Any) -> None:
    ddb.put_item(TableName="orders", Item={"id": s("a"), "v": n(1)})
    answer = ddb.transact_get_items(
        TransactItems=[
            {"Get": {"TableName": "orders", "Key": {"id": s("a")}, "ProjectionExpression": "v"}},
            {"Get": {"TableName": "events", "Key": {"customer": s("c"), "at": n(1)}}},
        ]
    )
    assert answer["Responses"] == [{"Item": {"v": n(1)}}, {}]


def test_a_function_needs_each_action_s_grant(wire: Any) -> None:
    ddb = wire.client("dynamodb", as_function="worker")
    with pytest.raises(ClientError) as raised:
        ddb.batch_write_item(RequestItems={"orders": [_put("a")]})
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    assert stored(wire.engine, "orders") == []
