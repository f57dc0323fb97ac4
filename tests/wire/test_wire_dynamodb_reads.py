"""Query and Scan over the wire: key conditions, filters, projections, Select, Limit and
ExclusiveStartKey, 1 MB pages, parallel scan segments, and global and local indexes."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from ddb_support import n, s, shop

from conftest import ServeFactory


@pytest.fixture
def ddb(serve: ServeFactory) -> Any:
    ddb = serve(shop()).client("dynamodb")
    for i in range(10):
        ddb.put_item(
            TableName="events",
            Item={
                "customer": s("c-1" if i < 6 else "c-2"),
                "at": n(i),
                "kind": s("click" if i % 2 else "view"),
                "sku": s(f"sku-{i % 3}"),
                "day": s(f"2024-01-{10 - i:02d}"),
                "qty": n(i * 10),
                "note": s("n"),
            },
        )
    return ddb


def _query(ddb: Any, condition: str, values: dict[str, Any], **options: Any) -> Any:
    return ddb.query(
        TableName="events",
        KeyConditionExpression=condition,
        ExpressionAttributeValues=values,
        **options,
    )


def _ats(items: list[dict[str, Any]]) -> list[int]:
    return [int(item["at"]["N"]) for item in items]


def test_query_returns_a_partition_in_sort_key_order_both_ways(ddb: Any) -> None:
    forward = _query(ddb, "customer = :c", {":c": s("c-1")})
    assert _ats(forward["Items"]) == [0, 1, 2, 3, 4, 5]
    assert (forward["Count"], forward["ScannedCount"]) == (6, 6)
    backward = _query(ddb, "customer = :c", {":c": s("c-1")}, ScanIndexForward=False)
    assert _ats(backward["Items"]) == [5, 4, 3, 2, 1, 0]


@pytest.mark.parametrize(
    ("condition", "values", "expected"),
    [
        ("customer = :c AND #at BETWEEN :a AND :b", {":a": n(2), ":b": n(4)}, [2, 3, 4]),
        ("customer = :c AND #at > :a", {":a": n(3)}, [4, 5]),
        ("customer = :c AND #at <= :a", {":a": n(1)}, [0, 1]),
        ("#at = :a AND customer = :c", {":a": n(5)}, [5]),
    ],
)
def test_query_narrows_by_the_sort_key(
    ddb: Any, condition: str, values: dict[str, Any], expected: list[int]
) -> None:
    answer = ddb.query(
        TableName="events",
        KeyConditionExpression=condition,
        ExpressionAttributeNames={"#at": "at"},
        ExpressionAttributeValues={":c": s("c-1"), **values},
    )
    assert _ats(answer["Items"]) == expected


def test_a_filter_applies_after_the_limit_counts_items_read(ddb: Any) -> None:
    answer = _query(
        ddb,
        "customer = :c",
        {":c": s("c-1"), ":k": s("click")},
        FilterExpression="kind = :k",
        Limit=4,
    )
    assert _ats(answer["Items"]) == [1, 3]
    assert (answer["Count"], answer["ScannedCount"]) == (2, 4)
    assert answer["LastEvaluatedKey"] == {"customer": s("c-1"), "at": n(3)}


def test_pages_with_limit_and_exclusive_start_key_cover_the_partition_once(ddb: Any) -> None:
    seen: list[int] = []
    start: dict[str, Any] | None = None
    while True:
        options = {"Limit": 4} | ({"ExclusiveStartKey": start} if start else {})
        page = _query(ddb, "customer = :c", {":c": s("c-1")}, **options)
        seen += _ats(page["Items"])
        start = page.get("LastEvaluatedKey")
        if start is None:
            break
    assert seen == [0, 1, 2, 3, 4, 5]


def test_select_count_and_a_projection(ddb: Any) -> None:
    counted = _query(ddb, "customer = :c", {":c": s("c-2")}, Select="COUNT")
    assert "Items" not in counted
    assert counted["Count"] == 4
    projected = _query(ddb, "customer = :c", {":c": s("c-2")}, ProjectionExpression="qty")
    assert projected["Items"][0] == {"qty": n(60)}


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"KeyConditionExpression": "kind = :c"}, "Query condition missed key schema element"),
        ({"KeyConditionExpression": "customer = :c OR customer = :c"}, "OR"),
        ({"KeyConditionExpression": "customer = :c", "IndexName": "nope"}, "does not have"),
        (
            {"KeyConditionExpression": "customer = :c", "Select": "SPECIFIC_ATTRIBUTES"},
            "SPECIFIC_ATTRIBUTES",
        ),
        ({"KeyConditionExpression": "customer = :c AND"}, "Invalid KeyConditionExpression"),
    ],
)
def test_invalid_queries_are_validation_errors(
    ddb: Any, options: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ClientError) as raised:
        ddb.query(TableName="events", ExpressionAttributeValues={":c": s("c-1")}, **options)
    error: Any = raised.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert fragment in error["Message"]


def test_a_global_index_query_reads_the_index_in_its_sort_order(ddb: Any) -> None:
    answer = ddb.query(
        TableName="events",
        IndexName="by-kind",
        KeyConditionExpression="kind = :k AND #at >= :a",
        ExpressionAttributeNames={"#at": "at"},
        ExpressionAttributeValues={":k": s("click"), ":a": n(3)},
    )
    assert _ats(answer["Items"]) == [3, 5, 7, 9]
    assert answer["Items"][0]["note"] == s("n")  # ALL projection


def test_a_keys_only_index_projects_the_keys_and_pages_with_them(ddb: Any) -> None:
    page = ddb.query(
        TableName="events",
        IndexName="by-sku",
        KeyConditionExpression="sku = :k",
        ExpressionAttributeValues={":k": s("sku-0")},
        Limit=2,
    )
    assert page["Items"][0] == {"customer": s("c-1"), "at": n(0), "sku": s("sku-0")}
    assert set(page["LastEvaluatedKey"]) == {"customer", "at", "sku"}
    rest = ddb.query(
        TableName="events",
        IndexName="by-sku",
        KeyConditionExpression="sku = :k",
        ExpressionAttributeValues={":k": s("sku-0")},
        ExclusiveStartKey=page["LastEvaluatedKey"],
    )
    assert len(page["Items"]) + len(rest["Items"]) == 4  # at = 0, 3, 6, 9
    assert "LastEvaluatedKey" not in rest


def test_a_global_index_refuses_consistent_reads_and_unprojected_attributes(ddb: Any) -> None:
    for options in (
        {"ConsistentRead": True},
        {"Select": "ALL_ATTRIBUTES"},
    ):
        with pytest.raises(ClientError) as raised:
            ddb.query(
                TableName="events",
                IndexName="by-sku",
                KeyConditionExpression="sku = :k",
                ExpressionAttributeValues={":k": s("sku-0")},
                **options,
            )
        assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_a_local_index_orders_the_partition_by_its_sort_key(ddb: Any) -> None:
    answer = ddb.query(
        TableName="events",
        IndexName="by-day",
        KeyConditionExpression="customer = :c AND begins_with(#d, :m)",
        ExpressionAttributeNames={"#d": "day"},
        ExpressionAttributeValues={":c": s("c-1"), ":m": s("2024-01")},
    )
    assert _ats(answer["Items"]) == [5, 4, 3, 2, 1, 0]
    assert set(answer["Items"][0]) == {"customer", "at", "day", "qty"}  # INCLUDE qty
    full = ddb.query(
        TableName="events",
        IndexName="by-day",
        KeyConditionExpression="customer = :c",
        ExpressionAttributeValues={":c": s("c-1")},
        Select="ALL_ATTRIBUTES",
        Limit=1,
    )
    assert full["Items"][0]["note"] == s("n")  # a local index fetches from the table


def test_an_index_follows_updates_and_deletes(ddb: Any) -> None:
    key = {"customer": s("c-1"), "at": n(0)}
    ddb.update_item(
        TableName="events",
        Key=key,
        UpdateExpression="SET kind = :k",
        ExpressionAttributeValues={":k": s("click")},
    )
    ddb.delete_item(TableName="events", Key={"customer": s("c-1"), "at": n(1)})
    ddb.update_item(
        TableName="events", Key={"customer": s("c-1"), "at": n(3)}, UpdateExpression="REMOVE kind"
    )
    answer = ddb.query(
        TableName="events",
        IndexName="by-kind",
        KeyConditionExpression="kind = :k",
        ExpressionAttributeValues={":k": s("click")},
    )
    assert _ats(answer["Items"]) == [0, 5, 7, 9]


def test_a_wrong_type_for_an_index_key_is_refused(ddb: Any) -> None:
    with pytest.raises(ClientError) as raised:
        ddb.put_item(TableName="events", Item={"customer": s("c"), "at": n(1), "kind": n(1)})
    assert raised.value.response["Error"]["Message"] == (
        "One or more parameter values were invalid: Type mismatch for Index Key kind "
        "Expected: S Actual: N IndexName: by-kind"
    )


def test_scan_with_a_filter_and_pages(ddb: Any) -> None:
    answer = ddb.scan(
        TableName="events", FilterExpression="qty >= :q", ExpressionAttributeValues={":q": n(50)}
    )
    assert sorted(_ats(answer["Items"])) == [5, 6, 7, 8, 9]
    assert answer["ScannedCount"] == 10
    first = ddb.scan(TableName="events", Limit=7)
    second = ddb.scan(TableName="events", ExclusiveStartKey=first["LastEvaluatedKey"])
    assert sorted(_ats(first["Items"] + second["Items"])) == list(range(10))


def test_a_parallel_scan_covers_every_item_exactly_once(ddb: Any) -> None:
    for i in range(10, 60):
        ddb.put_item(TableName="events", Item={"customer": s(f"x-{i}"), "at": n(i)})
    seen: list[int] = []
    for segment in range(4):
        answer = ddb.scan(TableName="events", Segment=segment, TotalSegments=4)
        seen += _ats(answer["Items"])
    assert sorted(seen) == list(range(60))
    with pytest.raises(ClientError):
        ddb.scan(TableName="events", Segment=4, TotalSegments=4)


def test_a_page_stops_at_1_mb_of_items_read(ddb: Any) -> None:
    big = "x" * 300_000
    for i in range(5):
        ddb.put_item(TableName="orders", Item={"id": s(f"o-{i}"), "big": s(big)})
    first = ddb.scan(TableName="orders", Select="COUNT")
    assert first["ScannedCount"] == 4  # 4 x 300 KB reaches 1 MB
    assert "LastEvaluatedKey" in first
    rest = ddb.scan(TableName="orders", Select="COUNT", ExclusiveStartKey=first["LastEvaluatedKey"])
    assert rest["ScannedCount"] == 1
    assert "LastEvaluatedKey" not in rest


def test_scan_an_index(ddb: Any) -> None:
    answer = ddb.scan(TableName="events", IndexName="by-sku")
    assert answer["Count"] == 10
    assert all(set(item) == {"customer", "at", "sku"} for item in answer["Items"])
