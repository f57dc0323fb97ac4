"""DynamoDB's item operations over the wire, as boto3 calls them: PutItem, GetItem,
UpdateItem and DeleteItem with conditions, updates, projections and ReturnValues; every
change leaves exactly one stream record, and a refused request stores nothing."""

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


def _error(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error: Any = raised.value.response["Error"]
    return error["Code"], error["Message"]


def test_put_then_get_returns_the_item_with_binary_values_as_bytes(ddb: Any) -> None:
    item = {
        "id": s("o-1"),
        "total": n("12.50"),
        "blob": {"B": b"\x00\xff"},
        "tags": {"BS": [b"a", b"b"]},
        "nested": {"M": {"raw": {"B": b"\x01"}, "list": {"L": [{"B": b"\x02"}, s("x")]}}},
        "flags": {"SS": ["a", "b"]},
        "none": {"NULL": True},
    }
    ddb.put_item(TableName="orders", Item=item)
    got = ddb.get_item(TableName="orders", Key={"id": s("o-1")}, ConsistentRead=True)["Item"]
    assert got == {**item, "total": n("12.5")}


def test_get_of_a_missing_item_answers_no_item(ddb: Any) -> None:
    assert "Item" not in ddb.get_item(TableName="orders", Key={"id": s("nope")})


def test_get_with_a_projection_returns_only_those_paths(ddb: Any) -> None:
    ddb.put_item(
        TableName="orders",
        Item={"id": s("o-1"), "a": n(1), "m": {"M": {"x": n(1), "y": n(2)}}, "name": s("z")},
    )
    got = ddb.get_item(
        TableName="orders",
        Key={"id": s("o-1")},
        ProjectionExpression="m.y, #n",
        ExpressionAttributeNames={"#n": "name"},
    )["Item"]
    assert got == {"m": {"M": {"y": n(2)}}, "name": s("z")}


def test_put_with_a_false_condition_is_refused_and_returns_the_old_item_when_asked(
    wire: Any, ddb: Any
) -> None:
    ddb.put_item(TableName="orders", Item={"id": s("o-1"), "v": n(1)})
    with pytest.raises(ClientError) as raised:
        ddb.put_item(
            TableName="orders",
            Item={"id": s("o-1"), "v": n(2)},
            ConditionExpression="attribute_not_exists(id)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert _error(raised) == ("ConditionalCheckFailedException", "The conditional request failed")
    assert raised.value.response["Item"] == {"id": s("o-1"), "v": n(1)}  # type: ignore[typeddict-item]
    assert stored(wire.engine, "orders") == [{"id": s("o-1"), "v": n(1)}]
    assert stream_events(wire.engine, "orders") == ["INSERT"]


def test_put_with_a_true_condition_and_all_old_returns_the_replaced_item(ddb: Any) -> None:
    ddb.put_item(TableName="orders", Item={"id": s("o-1"), "v": n(1)})
    answer = ddb.put_item(
        TableName="orders",
        Item={"id": s("o-1"), "v": n(2)},
        ConditionExpression="v = :one",
        ExpressionAttributeValues={":one": n(1)},
        ReturnValues="ALL_OLD",
    )
    assert answer["Attributes"] == {"id": s("o-1"), "v": n(1)}


def test_each_put_update_and_delete_leaves_exactly_one_stream_record(wire: Any, ddb: Any) -> None:
    key = {"id": s("o-1")}
    ddb.put_item(TableName="orders", Item={**key, "v": n(1)})
    ddb.put_item(TableName="orders", Item={**key, "v": n(1)})  # no change: no record
    ddb.update_item(
        TableName="orders",
        Key=key,
        UpdateExpression="SET v = v + :one",
        ExpressionAttributeValues={":one": n(1)},
    )
    ddb.delete_item(TableName="orders", Key=key)
    ddb.delete_item(TableName="orders", Key=key)  # nothing to delete: no record
    assert stream_events(wire.engine, "orders") == ["INSERT", "MODIFY", "REMOVE"]


def test_update_with_every_clause_and_all_new(ddb: Any) -> None:
    ddb.put_item(
        TableName="orders",
        Item={
            "id": s("o-1"),
            "count": n(1),
            "gone": s("x"),
            "colors": {"SS": ["red", "blue"]},
            "list": {"L": [n(1)]},
        },
    )
    answer = ddb.update_item(
        TableName="orders",
        Key={"id": s("o-1")},
        UpdateExpression=(
            "SET #c = #c + :one, #l = list_append(#l, :more), fresh = if_not_exists(fresh, :z) "
            "REMOVE gone ADD seen :one DELETE colors :red"
        ),
        ExpressionAttributeNames={"#c": "count", "#l": "list"},
        ExpressionAttributeValues={
            ":one": n(1),
            ":more": {"L": [n(2)]},
            ":z": s("zero"),
            ":red": {"SS": ["red"]},
        },
        ReturnValues="ALL_NEW",
    )
    assert answer["Attributes"] == {
        "id": s("o-1"),
        "count": n(2),
        "colors": {"SS": ["blue"]},
        "list": {"L": [n(1), n(2)]},
        "fresh": s("zero"),
        "seen": n(1),
    }


@pytest.mark.parametrize(
    ("returning", "expected"),
    [
        ("NONE", None),
        ("ALL_OLD", {"id": s("o-1"), "a": n(1), "b": n(1)}),
        ("UPDATED_OLD", {"a": n(1)}),
        ("ALL_NEW", {"id": s("o-1"), "a": n(2), "b": n(1)}),
        ("UPDATED_NEW", {"a": n(2)}),
    ],
)
def test_update_returns_what_return_values_asks(
    ddb: Any, returning: str, expected: dict[str, Any] | None
) -> None:
    ddb.put_item(TableName="orders", Item={"id": s("o-1"), "a": n(1), "b": n(1)})
    answer = ddb.update_item(
        TableName="orders",
        Key={"id": s("o-1")},
        UpdateExpression="SET a = :two",
        ExpressionAttributeValues={":two": n(2)},
        ReturnValues=returning,
    )
    assert answer.get("Attributes") == expected


def test_update_of_a_missing_item_creates_it(wire: Any, ddb: Any) -> None:
    ddb.update_item(
        TableName="orders",
        Key={"id": s("o-9")},
        UpdateExpression="ADD visits :one",
        ExpressionAttributeValues={":one": n(1)},
    )
    assert stored(wire.engine, "orders") == [{"id": s("o-9"), "visits": n(1)}]
    assert stream_events(wire.engine, "orders") == ["INSERT"]


def test_update_with_a_failing_condition_changes_nothing(wire: Any, ddb: Any) -> None:
    ddb.put_item(TableName="orders", Item={"id": s("o-1"), "status": s("shipped")})
    with pytest.raises(ClientError) as raised:
        ddb.update_item(
            TableName="orders",
            Key={"id": s("o-1")},
            UpdateExpression="SET #s = :new",
            ConditionExpression="#s = :old",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":new": s("cancelled"), ":old": s("placed")},
        )
    assert _error(raised)[0] == "ConditionalCheckFailedException"
    assert "Item" not in raised.value.response
    assert stored(wire.engine, "orders") == [{"id": s("o-1"), "status": s("shipped")}]


def test_update_of_a_key_attribute_is_refused(ddb: Any) -> None:
    with pytest.raises(ClientError) as raised:
        ddb.update_item(
            TableName="orders",
            Key={"id": s("o-1")},
            UpdateExpression="SET id = :x",
            ExpressionAttributeValues={":x": s("o-2")},
        )
    assert _error(raised) == (
        "ValidationException",
        "One or more parameter values were invalid: Cannot update attribute id. "
        "This attribute is part of the key",
    )


def test_delete_with_a_condition_and_all_old(wire: Any, ddb: Any) -> None:
    ddb.put_item(TableName="orders", Item={"id": s("o-1"), "v": n(1)})
    with pytest.raises(ClientError):
        ddb.delete_item(
            TableName="orders",
            Key={"id": s("o-1")},
            ConditionExpression="v > :v",
            ExpressionAttributeValues={":v": n(1)},
        )
    answer = ddb.delete_item(
        TableName="orders",
        Key={"id": s("o-1")},
        ConditionExpression="attribute_exists(v)",
        ReturnValues="ALL_OLD",
    )
    assert answer["Attributes"] == {"id": s("o-1"), "v": n(1)}
    assert stored(wire.engine, "orders") == []


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            {"Item": {"v": n(1)}},
            "One or more parameter values were invalid: Missing the key id in the item",
        ),
        (
            {"Item": {"id": n(1)}},
            "One or more parameter values were invalid: Type mismatch for key id expected: S "
            "actual: N",
        ),
        (
            {"Item": {"id": s("")}},
            "One or more parameter values are not valid. The AttributeValue for a key attribute "
            "cannot contain an empty string value. Key: id",
        ),
        (
            {"Item": {"id": s("a"), "big": s("x" * 410_000)}},
            "Item size has exceeded the maximum allowed size",
        ),
        (
            {"Item": {"id": s("a")}, "ConditionExpression": "attribute_not_exists(id"},
            None,
        ),
        (
            {
                "Item": {"id": s("a")},
                "ConditionExpression": "attribute_not_exists(id)",
                "ExpressionAttributeValues": {":unused": n(1)},
            },
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused}",
        ),
        ({"Item": {"id": s("a")}, "ReturnValues": "ALL_NEW"}, "Return values set to invalid value"),
    ],
)
def test_an_invalid_put_is_a_validation_error_and_stores_nothing(
    wire: Any, ddb: Any, request_: dict[str, Any], message: str | None
) -> None:
    with pytest.raises(ClientError) as raised:
        ddb.put_item(TableName="orders", **request_)
    code, text = _error(raised)
    assert code == "ValidationException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    if message is not None:
        assert text == message
    assert stored(wire.engine, "orders") == []
    assert stream_events(wire.engine, "orders") == []


def test_an_update_that_grows_the_item_past_400_kb_is_refused(wire: Any, ddb: Any) -> None:
    ddb.put_item(TableName="orders", Item={"id": s("o-1"), "a": s("x" * 300_000)})
    with pytest.raises(ClientError) as raised:
        ddb.update_item(
            TableName="orders",
            Key={"id": s("o-1")},
            UpdateExpression="SET b = :big",
            ExpressionAttributeValues={":big": s("y" * 200_000)},
        )
    assert _error(raised)[0] == "ValidationException"
    assert stream_events(wire.engine, "orders") == ["INSERT"]


@pytest.mark.parametrize(
    "key",
    [{"id": n(1)}, {"id": s("a"), "extra": s("b")}, {"other": s("a")}],
)
def test_a_key_that_does_not_match_the_schema_is_refused(ddb: Any, key: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as raised:
        ddb.get_item(TableName="orders", Key=key)
    assert _error(raised) == (
        "ValidationException",
        "The provided key element does not match the schema",
    )


def test_an_unknown_table_is_resource_not_found(ddb: Any) -> None:
    with pytest.raises(ClientError) as raised:
        ddb.put_item(TableName="nope", Item={"id": s("a")})
    assert _error(raised) == ("ResourceNotFoundException", "Requested resource not found")


def test_a_function_without_the_grant_is_denied_and_stores_nothing(wire: Any) -> None:
    ddb = wire.client("dynamodb", as_function="worker")
    with pytest.raises(ClientError) as raised:
        ddb.put_item(TableName="orders", Item={"id": s("o-1")})
    code, message = _error(raised)
    assert code == "AccessDeniedException"
    assert "dynamodb:PutItem" in message
    assert stored(wire.engine, "orders") == []
