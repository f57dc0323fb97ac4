"""Secondary indexes render to AWS as CloudFormation has them, and pass cfn-lint."""

from __future__ import annotations

from aws_support import findings

from sluiceway import App, GlobalIndex, LocalIndex
from sluiceway.aws import Code, _yaml, template_for


def _app() -> App:
    app = App("shop")
    app.table(
        "orders",
        partition_key="customer",
        sort_key="orderID",
        global_indexes=[
            GlobalIndex("by-status", partition_key="status", sort_key=("placedAt", "N")),
            GlobalIndex(
                "by-sku",
                partition_key="sku",
                projection="INCLUDE",
                non_key_attributes=("qty",),
            ),
        ],
        local_indexes=[LocalIndex("by-date", sort_key="day", projection="KEYS_ONLY")],
    )
    return app


def test_indexes_render_with_their_keys_projections_and_attribute_definitions() -> None:
    properties = template_for(_app().graph, Code("m:app"))["Resources"]["Orders"]["Properties"]
    assert properties["AttributeDefinitions"] == [
        {"AttributeName": "customer", "AttributeType": "S"},
        {"AttributeName": "orderID", "AttributeType": "S"},
        {"AttributeName": "status", "AttributeType": "S"},
        {"AttributeName": "placedAt", "AttributeType": "N"},
        {"AttributeName": "sku", "AttributeType": "S"},
        {"AttributeName": "day", "AttributeType": "S"},
    ]
    assert properties["GlobalSecondaryIndexes"] == [
        {
            "IndexName": "by-status",
            "KeySchema": [
                {"AttributeName": "status", "KeyType": "HASH"},
                {"AttributeName": "placedAt", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
        {
            "IndexName": "by-sku",
            "KeySchema": [{"AttributeName": "sku", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["qty"]},
        },
    ]
    assert properties["LocalSecondaryIndexes"] == [
        {
            "IndexName": "by-date",
            "KeySchema": [
                {"AttributeName": "customer", "KeyType": "HASH"},
                {"AttributeName": "day", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }
    ]


def test_a_table_with_indexes_passes_cfn_lint() -> None:
    assert findings(_yaml.dump(template_for(_app().graph, Code("m:app")))) == []
