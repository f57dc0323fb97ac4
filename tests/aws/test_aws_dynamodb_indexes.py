"""Secondary indexes render to AWS as CloudFormation has them, and pass cfn-lint."""

from __future__ import annotations

from aws_support import findings

from sluiceway import App, GlobalIndex, LocalIndex, Table
from sluiceway.aws import Code, _yaml, template_for


def _app() -> App:
    return _declared()[0]


def _declared() -> tuple[App, Table]:
    app = App("shop")
    orders = app.table(
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
    return app, orders


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


def test_a_function_that_reads_a_table_may_query_and_scan_its_indexes() -> None:
    app, orders = _declared()

    @app.on_queue(app.queue("jobs"), uses=[orders.reads], name="reader")
    def reader(event: object, context: object) -> None:
        """Reads the orders."""

    role = template_for(app.graph, Code("m:app"))["Resources"]["ReaderRole"]
    statements = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert {
        "Sid": "TableOrdersIndexes",
        "Effect": "Allow",
        "Action": ["dynamodb:Query", "dynamodb:Scan"],
        "Resource": {"Fn::Sub": "${Orders.Arn}/index/*"},
    } in statements
