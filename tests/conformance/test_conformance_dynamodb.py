"""DynamoDB over the wire, the same on moto and on sluiceway: tables, items with conditions
and ReturnValues, update clauses, projections, queries and scans (filters, pages, indexes,
segments), batches, transactions and their cancellation reasons, TTL, tags, and DynamoDB's
validation errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import conformance_harness as h
import pytest
from conformance_harness import Clients

DOCS = "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/"
GUIDE = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/"
INVALID = {"Error": "ValidationException", "HTTPStatusCode": 400}
suite = h.Suite(
    "dynamodb",
    quirks=(
        h.Quirk(
            "ConsumedCapacity",
            "moto answers ConsumedCapacity that was not asked for (ReturnConsumedCapacity NONE)",
            DOCS + "API_UpdateItem.html#DDB-UpdateItem-response-ConsumedCapacity",
        ),
        h.Quirk(
            "ItemCollectionMetrics",
            "moto answers an empty ItemCollectionMetrics that was not asked for",
            DOCS + "API_BatchWriteItem.html#DDB-BatchWriteItem-response-ItemCollectionMetrics",
        ),
    ),
)
case = suite.case


def _invalid(message: str) -> dict[str, Any]:
    return {**INVALID, "Message": message}


@pytest.fixture(scope="module")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[h.Backend, h.Backend]]:
    with h.backends(tmp_path_factory.mktemp("dynamodb")) as pair:
        yield pair


def _table(
    c: Clients,
    tag: str = "",
    *,
    sort: str | None = None,
    types: dict[str, str] | None = None,
    **extra: Any,
) -> str:
    """A pay-per-request table keyed by `pk` (and `sort`), named for the case."""
    name = c.name(tag)
    types = {"pk": "S", **({sort: "S"} if sort else {}), **(types or {})}
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    if sort:
        keys.append({"AttributeName": sort, "KeyType": "RANGE"})
    c.dynamodb.create_table(
        TableName=name,
        KeySchema=keys,
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": t} for k, t in types.items()],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )
    return name


def _described(description: dict[str, Any]) -> dict[str, Any]:
    """What every implementation of DescribeTable must agree on (capacity, sizes and
    warm throughput are AWS's estimates)."""
    kept = {
        k: description[k]
        for k in (
            "TableName",
            "TableArn",
            "TableStatus",
            "KeySchema",
            "StreamSpecification",
            "LatestStreamArn",
        )
        if k in description
    }
    kept["AttributeDefinitions"] = sorted(
        description["AttributeDefinitions"], key=lambda a: a["AttributeName"]
    )
    kept["BillingMode"] = description.get("BillingModeSummary", {}).get("BillingMode")
    for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        indexes = description.get(kind) or []
        if indexes:
            kept[kind] = sorted(
                (
                    {
                        k: index[k]
                        for k in ("IndexName", "KeySchema", "Projection", "IndexStatus")
                        if k in index
                    }
                    for index in indexes
                ),
                key=lambda i: i["IndexName"],
            )
    return kept


def _items(answer: dict[str, Any]) -> list[Any]:
    """A scan's items in key order (a scan's order is DynamoDB's hash order)."""
    return sorted(answer.get("Items", []), key=lambda i: (i["pk"]["S"], str(i.get("sk"))))


def _put(c: Clients, table: str, *items: dict[str, Any]) -> None:
    for item in items:
        c.dynamodb.put_item(TableName=table, Item=item)


def _orders(c: Clients) -> str:
    """A table of one customer's orders, sorted by `sk`, with a total and a status each."""
    table = _table(c, sort="sk")
    for i, status in enumerate(["open", "shipped", "open", "closed", "open"]):
        _put(
            c,
            table,
            {
                "pk": {"S": "cust"},
                "sk": {"S": f"order#{i}"},
                "total": {"N": str(10 * i)},
                "status": {"S": status},
            },
        )
    _put(c, table, {"pk": {"S": "other"}, "sk": {"S": "order#9"}, "total": {"N": "1"}})
    return table


# -- tables ------------------------------------------------------------------------------


@case()
def create_table_and_describe_it(c: Clients) -> list[Any]:
    created = c.dynamodb.create_table(
        TableName=c.name(),
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    described = c.dynamodb.describe_table(TableName=c.name())
    return [_described(created["TableDescription"]), _described(described["Table"])]


@case()
def create_table_with_indexes_and_a_stream(c: Clients) -> list[Any]:
    name = _table(
        c,
        sort="sk",
        types={"gpk": "S", "lsk": "N"},
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "KeySchema": [{"AttributeName": "gpk", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "by-l",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "lsk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return [_described(c.dynamodb.describe_table(TableName=name)["Table"])]


@case()
def create_table_twice_is_refused(c: Clients) -> list[Any]:
    name = _table(c)
    return [
        c.error(
            c.dynamodb.create_table,
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    ]


@case()
def create_table_refuses_a_key_without_a_definition(c: Clients) -> list[Any]:
    return [
        c.error(
            c.dynamodb.create_table,
            message=False,
            TableName=c.name(),
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "other", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        ),
        c.error(c.dynamodb.describe_table, TableName=c.name()),
    ]


@case()
def create_table_refuses_a_short_name(c: Clients) -> list[Any]:
    created = c.error(
        c.dynamodb.create_table,
        message=False,
        TableName="ab",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return [
        c.differs(
            "Error" in created,
            aws=True,
            moto=False,
            source=GUIDE + "HowItWorks.NamingRulesDataTypes.html#HowItWorks.NamingRules",
            note="moto creates a table whose name is shorter than 3 characters",
        ),
        created.get("Error"),
    ]


@case()
def a_missing_table(c: Clients) -> list[Any]:
    missing = c.name("missing")
    return [
        c.error(c.dynamodb.describe_table, TableName=missing),
        c.error(c.dynamodb.get_item, TableName=missing, Key={"pk": {"S": "a"}}),
        c.error(c.dynamodb.put_item, TableName=missing, Item={"pk": {"S": "a"}}),
        c.error(
            c.dynamodb.query,
            TableName=missing,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "a"}},
        ),
        c.error(c.dynamodb.scan, TableName=missing),
        c.differs(
            c.error(c.dynamodb.delete_table, TableName=missing),
            aws={
                "Error": "ResourceNotFoundException",
                "HTTPStatusCode": 400,
                "Message": f"Requested resource not found: Table: {missing} not found",
            },
            moto={
                "Error": "ResourceNotFoundException",
                "HTTPStatusCode": 400,
                "Message": "Requested resource not found",
            },
            source=DOCS + "API_DeleteTable.html#API_DeleteTable_Errors",
            note="moto's DeleteTable message does not name the table, as DescribeTable's does",
        ),
    ]


@case()
def list_tables_names_them_in_order_and_pages(c: Clients) -> list[Any]:
    for tag in ("a", "b", "c"):
        _table(c, tag)
    listed = c.dynamodb.list_tables()["TableNames"]
    page = c.dynamodb.list_tables(ExclusiveStartTableName=c.name("a"), Limit=1)
    return [[n for n in listed if n.startswith(c.name())], page]


@case()
def delete_table_answers_its_description_and_it_is_gone(c: Clients) -> list[Any]:
    name = _table(c)
    deleted = c.dynamodb.delete_table(TableName=name)["TableDescription"]
    return [
        {k: deleted[k] for k in ("TableName", "TableArn", "KeySchema")},
        c.error(c.dynamodb.describe_table, TableName=name),
    ]


@case()
def time_to_live_is_enabled_and_described(c: Clients) -> list[Any]:
    name = _table(c)
    before = c.dynamodb.describe_time_to_live(TableName=name)
    enabled = c.dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"}
    )
    return [before, enabled, c.dynamodb.describe_time_to_live(TableName=name)]


@case()
def tags_of_a_table(c: Clients) -> list[Any]:
    name = _table(c)
    arn = c.dynamodb.describe_table(TableName=name)["Table"]["TableArn"]
    c.dynamodb.tag_resource(
        ResourceArn=arn, Tags=[{"Key": "team", "Value": "orders"}, {"Key": "env", "Value": "dev"}]
    )
    tagged = c.dynamodb.list_tags_of_resource(ResourceArn=arn)
    c.dynamodb.untag_resource(ResourceArn=arn, TagKeys=["env"])
    tagged["Tags"].sort(key=lambda t: t["Key"])
    return [tagged, c.dynamodb.list_tags_of_resource(ResourceArn=arn)]


# -- items -------------------------------------------------------------------------------

EVERY_TYPE = {
    "pk": {"S": "k"},
    "s": {"S": "text"},
    "n": {"N": "1.5"},
    "big": {"N": "12345678901234567890123456789012345678"},
    "b": {"B": b"\x00\xff"},
    "t": {"BOOL": True},
    "null": {"NULL": True},
    "m": {"M": {"inner": {"S": "x"}, "deep": {"M": {"n": {"N": "-7"}}}}},
    "l": {"L": [{"S": "a"}, {"N": "2"}, {"L": []}]},
    "ss": {"SS": ["b", "a"]},
    "ns": {"NS": ["3", "1"]},
    "bs": {"BS": [b"x", b"y"]},
}


@case()
def put_and_get_every_attribute_type(c: Clients) -> list[Any]:
    table = _table(c)
    return [
        c.dynamodb.put_item(TableName=table, Item=EVERY_TYPE),
        c.dynamodb.get_item(TableName=table, Key={"pk": {"S": "k"}}),
        c.dynamodb.get_item(TableName=table, Key={"pk": {"S": "k"}}, ConsistentRead=True),
    ]


@case()
def numbers_are_stored_without_leading_and_trailing_zeroes(c: Clients) -> list[Any]:
    table = _table(c)
    _put(c, table, {"pk": {"S": "n"}, "a": {"N": "1.50"}, "b": {"N": "007"}, "c": {"N": "-0.0"}})
    got = c.dynamodb.get_item(TableName=table, Key={"pk": {"S": "n"}})
    return [
        c.differs(
            got,
            aws={"Item": {"pk": {"S": "n"}, "a": {"N": "1.5"}, "b": {"N": "7"}, "c": {"N": "0"}}},
            moto={
                "Item": {
                    "pk": {"S": "n"},
                    "a": {"N": "1.50"},
                    "b": {"N": "007"},
                    "c": {"N": "-0.0"},
                }
            },
            source=GUIDE + "HowItWorks.NamingRulesDataTypes.html#HowItWorks.DataTypes.Number",
            note="moto keeps a number's leading and trailing zeroes",
        )
    ]


@case()
def get_item_of_a_missing_key_answers_no_item(c: Clients) -> list[Any]:
    table = _table(c)
    return [c.dynamodb.get_item(TableName=table, Key={"pk": {"S": "nobody"}})]


@case()
def get_item_projects_paths(c: Clients) -> list[Any]:
    table = _table(c)
    _put(c, table, EVERY_TYPE)
    return [
        c.dynamodb.get_item(
            TableName=table,
            Key={"pk": {"S": "k"}},
            ProjectionExpression="s, m.deep, l[1], #n",
            ExpressionAttributeNames={"#n": "null"},
        )
    ]


@case()
def put_item_returns_the_old_item_when_asked(c: Clients) -> list[Any]:
    table = _table(c)
    item = {"pk": {"S": "a"}, "v": {"N": "1"}}
    return [
        c.dynamodb.put_item(TableName=table, Item=item, ReturnValues="ALL_OLD"),
        c.dynamodb.put_item(
            TableName=table, Item={**item, "v": {"N": "2"}}, ReturnValues="ALL_OLD"
        ),
        c.dynamodb.put_item(TableName=table, Item=item, ReturnValues="NONE"),
    ]


@case()
def a_failed_condition_on_put_changes_nothing(c: Clients) -> list[Any]:
    table = _table(c)
    _put(c, table, {"pk": {"S": "a"}, "v": {"N": "1"}})
    return [
        c.error(
            c.dynamodb.put_item,
            TableName=table,
            Item={"pk": {"S": "a"}, "v": {"N": "2"}},
            ConditionExpression="attribute_not_exists(pk)",
        ),
        c.error(
            c.dynamodb.put_item,
            TableName=table,
            Item={"pk": {"S": "a"}, "v": {"N": "3"}},
            ConditionExpression="v = :one AND attribute_exists(nothing)",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        ),
        c.dynamodb.get_item(TableName=table, Key={"pk": {"S": "a"}}),
    ]


@case()
def a_condition_that_holds_lets_the_put_through(c: Clients) -> list[Any]:
    table = _table(c)
    _put(c, table, {"pk": {"S": "a"}, "v": {"N": "1"}, "tags": {"SS": ["x", "y"]}})
    return [
        c.dynamodb.put_item(
            TableName=table,
            Item={"pk": {"S": "a"}, "v": {"N": "2"}},
            ConditionExpression=(
                "v < :two AND contains(tags, :x) AND size(tags) = :two "
                "AND attribute_type(v, :n) AND NOT begins_with(pk, :z)"
            ),
            ExpressionAttributeValues={
                ":two": {"N": "2"},
                ":x": {"S": "x"},
                ":n": {"S": "N"},
                ":z": {"S": "z"},
            },
        ),
        c.dynamodb.get_item(TableName=table, Key={"pk": {"S": "a"}}),
    ]


@case()
def put_item_refuses_a_bad_key(c: Clients) -> list[Any]:
    table = _table(c)
    return [
        c.error(c.dynamodb.put_item, TableName=table, Item={"other": {"S": "x"}}),
        c.error(c.dynamodb.put_item, TableName=table, Item={"pk": {"N": "1"}}),
        c.error(c.dynamodb.put_item, message=False, TableName=table, Item={"pk": {"S": ""}}),
        c.dynamodb.scan(TableName=table),
    ]


@case()
def get_item_refuses_a_key_that_is_not_the_tables(c: Clients) -> list[Any]:
    table = _table(c, sort="sk")
    return [
        c.differs(
            c.error(c.dynamodb.get_item, TableName=table, Key={"pk": {"S": "a"}}),
            aws=_invalid("The provided key element does not match the schema"),
            moto=_invalid("Validation Exception"),
            source=DOCS + "API_GetItem.html#DDB-GetItem-request-Key",
            note="moto's message for a key without its sort key",
        ),
        c.error(
            c.dynamodb.get_item,
            TableName=table,
            Key={"pk": {"S": "a"}, "sk": {"S": "b"}, "x": {"S": "c"}},
        ),
    ]


@case()
def an_oversize_item_is_refused_and_not_stored(c: Clients) -> list[Any]:
    table = _table(c)
    return [
        c.error(
            c.dynamodb.put_item,
            TableName=table,
            Item={"pk": {"S": "big"}, "blob": {"S": "x" * (400 * 1024)}},
        ),
        c.dynamodb.get_item(TableName=table, Key={"pk": {"S": "big"}}),
    ]


@case()
def an_empty_set_or_a_duplicate_in_a_set_is_refused(c: Clients) -> list[Any]:
    table = _table(c)
    return [
        c.error(
            c.dynamodb.put_item,
            message=False,
            TableName=table,
            Item={"pk": {"S": "a"}, "s": {"SS": []}},
        ),
        c.differs(
            c.error(
                c.dynamodb.put_item,
                message=False,
                TableName=table,
                Item={"pk": {"S": "a"}, "s": {"SS": ["x", "x"]}},
            ),
            aws=INVALID,
            moto={"UnexpectedSuccess": {}},
            source=GUIDE + "HowItWorks.NamingRulesDataTypes.html#HowItWorks.DataTypes.SetTypes",
            note="moto stores a set with a repeated value (a set's values are unique)",
        ),
    ]


@case()
def a_number_that_is_not_a_number_is_refused(c: Clients) -> list[Any]:
    table = _table(c)
    return [
        c.error(
            c.dynamodb.put_item,
            message=False,
            TableName=table,
            Item={"pk": {"S": "a"}, "n": {"N": "one"}},
        )
    ]


# -- updates -----------------------------------------------------------------------------


def _counter(c: Clients) -> str:
    table = _table(c)
    _put(
        c,
        table,
        {
            "pk": {"S": "a"},
            "count": {"N": "1"},
            "name": {"S": "first"},
            "list": {"L": [{"S": "x"}]},
            "set": {"SS": ["p", "q"]},
            "gone": {"S": "soon"},
        },
    )
    return table


@case()
def update_item_set_remove_add_delete_return_all_new(c: Clients) -> list[Any]:
    table = _counter(c)
    return [
        c.dynamodb.update_item(
            TableName=table,
            Key={"pk": {"S": "a"}},
            UpdateExpression=(
                "SET #c = #c + :one, #l = list_append(#l, :more), fresh = if_not_exists(fresh, :f) "
                "REMOVE gone ADD added :one DELETE #s :q"
            ),
            ExpressionAttributeNames={"#c": "count", "#l": "list", "#s": "set"},
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                ":more": {"L": [{"S": "y"}]},
                ":f": {"S": "new"},
                ":q": {"SS": ["q"]},
            },
            ReturnValues="ALL_NEW",
        )
    ]


@case()
def update_item_return_values_each_kind(c: Clients) -> list[Any]:
    table = _counter(c)
    answers = []
    for kind in ("UPDATED_OLD", "UPDATED_NEW", "ALL_OLD", "NONE"):
        answers.append(
            c.dynamodb.update_item(
                TableName=table,
                Key={"pk": {"S": "a"}},
                UpdateExpression="SET #c = #c + :one",
                ExpressionAttributeNames={"#c": "count"},
                ExpressionAttributeValues={":one": {"N": "1"}},
                ReturnValues=kind,
            )
        )
    return answers


@case()
def update_item_makes_a_missing_item(c: Clients) -> list[Any]:
    table = _table(c)
    return [
        c.dynamodb.update_item(
            TableName=table,
            Key={"pk": {"S": "new"}},
            UpdateExpression="SET v = :v ADD hits :one",
            ExpressionAttributeValues={":v": {"S": "x"}, ":one": {"N": "1"}},
            ReturnValues="ALL_NEW",
        )
    ]


@case()
def update_item_with_a_failing_condition(c: Clients) -> list[Any]:
    table = _counter(c)
    return [
        c.error(
            c.dynamodb.update_item,
            TableName=table,
            Key={"pk": {"S": "a"}},
            UpdateExpression="SET #c = :ten",
            ConditionExpression="#c > :ten",
            ExpressionAttributeNames={"#c": "count"},
            ExpressionAttributeValues={":ten": {"N": "10"}},
        ),
        c.error(
            c.dynamodb.update_item,
            TableName=table,
            Key={"pk": {"S": "nobody"}},
            UpdateExpression="SET v = :ten",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":ten": {"N": "10"}},
        ),
        c.dynamodb.get_item(TableName=table, Key={"pk": {"S": "nobody"}}),
    ]


@case()
def update_item_cannot_change_the_key(c: Clients) -> list[Any]:
    table = _counter(c)
    return [
        c.error(
            c.dynamodb.update_item,
            TableName=table,
            Key={"pk": {"S": "a"}},
            UpdateExpression="SET pk = :v",
            ExpressionAttributeValues={":v": {"S": "b"}},
        )
    ]


@case()
def update_expression_errors(c: Clients) -> list[Any]:
    table = _counter(c)
    key = {"pk": {"S": "a"}}
    return [
        c.error(
            c.dynamodb.update_item,
            TableName=table,
            Key=key,
            UpdateExpression="SET = :v",
            ExpressionAttributeValues={":v": {"S": "b"}},
        ),
        c.differs(
            c.error(
                c.dynamodb.update_item,
                TableName=table,
                Key=key,
                UpdateExpression="SET v = :v",
                ExpressionAttributeValues={":v": {"S": "b"}, ":unused": {"S": "c"}},
            ),
            aws=_invalid(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused}"
            ),
            moto=_invalid(
                "1 validation error detected: Value provided in ExpressionAttributeValues "
                "unused in expressions: keys: {:unused}"
            ),
            source=GUIDE + "Expressions.ExpressionAttributeValues.html",
            note="moto prefixes the message with a constraint count",
        ),
        c.error(
            c.dynamodb.update_item,
            TableName=table,
            Key=key,
            UpdateExpression="SET v = :missing",
        ),
        c.differs(
            c.error(
                c.dynamodb.update_item,
                TableName=table,
                Key=key,
                UpdateExpression="SET #v = :v",
                ExpressionAttributeNames={"#v": "v", "#unused": "w"},
                ExpressionAttributeValues={":v": {"S": "b"}},
            ),
            aws=_invalid(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {#unused}"
            ),
            moto=_invalid(
                "1 validation error detected: Value provided in ExpressionAttributeNames "
                "unused in expressions: keys: {#unused}"
            ),
            source=GUIDE + "Expressions.ExpressionAttributeNames.html",
            note="moto prefixes the message with a constraint count",
        ),
        c.differs(
            c.error(
                c.dynamodb.update_item,
                TableName=table,
                Key=key,
                UpdateExpression="SET v = :v REMOVE v",
                ExpressionAttributeValues={":v": {"S": "b"}},
            ),
            aws=_invalid(
                "Invalid UpdateExpression: Two document paths overlap with each other; must "
                "remove or rewrite one of these paths; path one: [v], path two: [v]"
            ),
            moto=_invalid(
                "1 validation error detected: Invalid UpdateExpression: Two document paths "
                "overlap with each other; must remove or rewrite one of these paths; "
                "path one: [v], path two: [v]"
            ),
            source=GUIDE + "Expressions.UpdateExpressions.html",
            note="moto prefixes the message with a constraint count",
        ),
        c.differs(
            c.error(
                c.dynamodb.update_item,
                TableName=table,
                Key=key,
                UpdateExpression="SET #c = #c + :s",
                ExpressionAttributeNames={"#c": "count"},
                ExpressionAttributeValues={":s": {"S": "text"}},
            ),
            aws=_invalid(
                "Invalid UpdateExpression: Incorrect operand type for operator or function; "
                "operator or function: +, operand type: S"
            ),
            moto=_invalid(
                "Invalid UpdateExpression: Incorrect operand type for operator or function; "
                "operator or function: +, operand type: N"
            ),
            source=GUIDE + "Expressions.UpdateExpressions.html",
            note="moto names the number operand, not the string one that is wrong",
        ),
        c.dynamodb.get_item(TableName=table, Key=key),
    ]


@case()
def a_reserved_word_needs_a_name_placeholder(c: Clients) -> list[Any]:
    table = _counter(c)
    key = {"pk": {"S": "a"}}
    return [
        c.differs(
            c.error(c.dynamodb.get_item, TableName=table, Key=key, ProjectionExpression="name"),
            aws=_invalid(
                "Invalid ProjectionExpression: Attribute name is a reserved keyword; "
                "reserved keyword: name"
            ),
            moto=_invalid(
                "ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: name"
            ),
            source=GUIDE + "ReservedWords.html",
            note="moto's message lacks 'Invalid'",
        ),
        c.error(
            c.dynamodb.update_item,
            TableName=table,
            Key=key,
            UpdateExpression="SET count = :v",
            ExpressionAttributeValues={":v": {"N": "5"}},
        ),
        c.dynamodb.get_item(
            TableName=table,
            Key=key,
            ProjectionExpression="#n",
            ExpressionAttributeNames={"#n": "name"},
        ),
    ]


@case()
def a_condition_expression_with_bad_syntax(c: Clients) -> list[Any]:
    table = _counter(c)
    note = "moto raises an exception of its own (a 500) for a malformed ConditionExpression"
    source = GUIDE + "Expressions.OperatorsAndFunctions.html"
    return [
        c.differs(
            c.error(
                c.dynamodb.put_item,
                message=False,
                TableName=table,
                Item={"pk": {"S": "a"}},
                ConditionExpression=expression,
            ),
            aws=INVALID,
            moto={"Crash": "ValueError"},
            source=source,
            note=note,
        )
        for expression in ("attribute_exists(", "no_such_function(pk)")
    ] + [c.dynamodb.get_item(TableName=table, Key={"pk": {"S": "a"}})]


# -- deletes -----------------------------------------------------------------------------


@case()
def delete_item_with_a_condition_and_the_old_item(c: Clients) -> list[Any]:
    table = _counter(c)
    key = {"pk": {"S": "a"}}
    return [
        c.error(
            c.dynamodb.delete_item,
            TableName=table,
            Key=key,
            ConditionExpression="#c = :two",
            ExpressionAttributeNames={"#c": "count"},
            ExpressionAttributeValues={":two": {"N": "2"}},
        ),
        c.dynamodb.delete_item(
            TableName=table,
            Key=key,
            ConditionExpression="#c = :one",
            ExpressionAttributeNames={"#c": "count"},
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="ALL_OLD",
        ),
        c.dynamodb.delete_item(TableName=table, Key=key, ReturnValues="ALL_OLD"),
        c.dynamodb.get_item(TableName=table, Key=key),
    ]


# -- query and scan ------------------------------------------------------------------------


@case()
def query_by_partition_and_sort_conditions(c: Clients) -> list[Any]:
    table = _orders(c)
    values = {":c": {"S": "cust"}}
    return [
        c.dynamodb.query(
            TableName=table, KeyConditionExpression="pk = :c", ExpressionAttributeValues=values
        ),
        c.dynamodb.query(
            TableName=table,
            KeyConditionExpression="pk = :c AND sk BETWEEN :a AND :b",
            ExpressionAttributeValues={**values, ":a": {"S": "order#1"}, ":b": {"S": "order#3"}},
            ScanIndexForward=False,
        ),
        c.dynamodb.query(
            TableName=table,
            KeyConditionExpression="pk = :c AND begins_with(sk, :p)",
            ExpressionAttributeValues={**values, ":p": {"S": "order#4"}},
        ),
        c.dynamodb.query(
            TableName=table,
            KeyConditionExpression="pk = :c AND sk > :a",
            ExpressionAttributeValues={**values, ":a": {"S": "order#2"}},
            ProjectionExpression="sk, #t",
            ExpressionAttributeNames={"#t": "total"},
        ),
    ]


@case()
def query_filters_after_reading(c: Clients) -> list[Any]:
    table = _orders(c)
    return [
        c.dynamodb.query(
            TableName=table,
            KeyConditionExpression="pk = :c",
            FilterExpression="#s = :open AND #t >= :t",
            ExpressionAttributeNames={"#s": "status", "#t": "total"},
            ExpressionAttributeValues={
                ":c": {"S": "cust"},
                ":open": {"S": "open"},
                ":t": {"N": "20"},
            },
        ),
        c.dynamodb.query(
            TableName=table,
            KeyConditionExpression="pk = :c",
            ExpressionAttributeValues={":c": {"S": "cust"}},
            Select="COUNT",
        ),
    ]


@case()
def query_pages_with_limit_and_exclusive_start_key(c: Clients) -> list[Any]:
    table = _orders(c)
    params: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :c",
        "ExpressionAttributeValues": {":c": {"S": "cust"}},
        "Limit": 2,
    }
    pages = [c.dynamodb.query(**params)]
    while "LastEvaluatedKey" in pages[-1]:
        pages.append(c.dynamodb.query(**params, ExclusiveStartKey=pages[-1]["LastEvaluatedKey"]))
    return pages


@case()
def query_refuses_a_bad_key_condition(c: Clients) -> list[Any]:
    table = _orders(c)
    return [
        c.error(
            c.dynamodb.query,
            TableName=table,
            KeyConditionExpression="#t = :t",
            ExpressionAttributeNames={"#t": "total"},
            ExpressionAttributeValues={":t": {"N": "1"}},
        ),
        c.differs(
            c.error(
                c.dynamodb.query,
                message=False,
                TableName=table,
                KeyConditionExpression="pk = :c AND sk <> :s",
                ExpressionAttributeValues={":c": {"S": "cust"}, ":s": {"S": "x"}},
            ),
            aws=INVALID,
            moto={"Crash": "AssertionError"},
            source=DOCS + "API_Query.html#DDB-Query-request-KeyConditionExpression",
            note="moto raises an exception of its own for <> in a key condition",
        ),
        c.differs(
            c.error(
                c.dynamodb.query,
                TableName=table,
                KeyConditionExpression="pk = :c",
                FilterExpression="sk = :s",
                ExpressionAttributeValues={":c": {"S": "cust"}, ":s": {"S": "x"}},
            ),
            aws=_invalid(
                "Filter Expression can only contain non-primary key attributes: "
                "Primary key attribute: sk"
            ),
            moto={"UnexpectedSuccess": {"Count": 0, "Items": [], "ScannedCount": 5}},
            source=DOCS + "API_Query.html#DDB-Query-request-FilterExpression",
            note="moto filters a query on a key attribute",
        ),
        c.differs(
            c.error(
                c.dynamodb.query,
                message=False,
                TableName=table,
                IndexName="no-such-index",
                KeyConditionExpression="pk = :c",
                ExpressionAttributeValues={":c": {"S": "cust"}},
            ),
            aws=INVALID,
            moto={"Error": "ResourceNotFoundException", "HTTPStatusCode": 400},
            source=DOCS + "API_Query.html#API_Query_Errors",
            note="moto answers ResourceNotFoundException for an index the table lacks",
        ),
    ]


def _indexed(c: Clients) -> str:
    table = _table(
        c,
        sort="sk",
        types={"status": "S", "total": "N"},
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-status",
                "KeySchema": [
                    {"AttributeName": "status", "KeyType": "HASH"},
                    {"AttributeName": "total", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["note"]},
            }
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "by-total",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "total", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    for i, (status, total) in enumerate([("open", 30), ("open", 10), ("done", 20)]):
        _put(
            c,
            table,
            {
                "pk": {"S": "cust"},
                "sk": {"S": f"o{i}"},
                "status": {"S": status},
                "total": {"N": str(total)},
                "note": {"S": f"note {i}"},
                "hidden": {"S": "not projected"},
            },
        )
    _put(c, table, {"pk": {"S": "cust"}, "sk": {"S": "sparse"}})
    return table


@case()
def query_a_global_index(c: Clients) -> list[Any]:
    table = _indexed(c)
    return [
        c.dynamodb.query(
            TableName=table,
            IndexName="by-status",
            KeyConditionExpression="#s = :open",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":open": {"S": "open"}},
        ),
        c.dynamodb.scan(TableName=table, IndexName="by-status", Select="COUNT"),
    ]


@case()
def query_a_local_index(c: Clients) -> list[Any]:
    table = _indexed(c)
    return [
        c.dynamodb.query(
            TableName=table,
            IndexName="by-total",
            KeyConditionExpression="pk = :c AND #t > :t",
            ExpressionAttributeNames={"#t": "total"},
            ExpressionAttributeValues={":c": {"S": "cust"}, ":t": {"N": "15"}},
            ScanIndexForward=False,
        )
    ]


@case()
def scan_with_a_filter_and_a_projection(c: Clients) -> list[Any]:
    table = _orders(c)
    answer = c.dynamodb.scan(
        TableName=table,
        FilterExpression="#s IN (:open, :closed)",
        ProjectionExpression="pk, sk, #s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":open": {"S": "open"}, ":closed": {"S": "closed"}},
    )
    return [_items(answer), answer["Count"], answer["ScannedCount"]]


@case()
def scan_pages_cover_every_item_once(c: Clients) -> list[Any]:
    table = _orders(c)
    pages = [c.dynamodb.scan(TableName=table, Limit=4)]
    while "LastEvaluatedKey" in pages[-1]:
        pages.append(
            c.dynamodb.scan(
                TableName=table, Limit=4, ExclusiveStartKey=pages[-1]["LastEvaluatedKey"]
            )
        )
    every = sorted((i["pk"]["S"], i["sk"]["S"]) for page in pages for i in page["Items"])
    return [[p["Count"] for p in pages], every]


@case()
def parallel_scan_segments_split_the_table(c: Clients) -> list[Any]:
    table = _orders(c)
    segments = [c.dynamodb.scan(TableName=table, Segment=s, TotalSegments=3) for s in range(3)]
    every = sorted((i["pk"]["S"], i["sk"]["S"]) for s in segments for i in s["Items"])
    return [
        every,
        c.error(c.dynamodb.scan, message=False, TableName=table, Segment=3, TotalSegments=3),
    ]


# -- batches -----------------------------------------------------------------------------


@case()
def batch_write_then_batch_get(c: Clients) -> list[Any]:
    table = _table(c)
    _put(c, table, {"pk": {"S": "old"}})
    written = c.dynamodb.batch_write_item(
        RequestItems={
            table: [
                {"PutRequest": {"Item": {"pk": {"S": "a"}, "v": {"N": "1"}}}},
                {"PutRequest": {"Item": {"pk": {"S": "b"}, "v": {"N": "2"}}}},
                {"DeleteRequest": {"Key": {"pk": {"S": "old"}}}},
            ]
        }
    )
    got = c.dynamodb.batch_get_item(
        RequestItems={
            table: {
                "Keys": [{"pk": {"S": "a"}}, {"pk": {"S": "b"}}, {"pk": {"S": "old"}}],
                "ProjectionExpression": "v",
            }
        }
    )
    got["Responses"][table].sort(key=lambda i: i["v"]["N"])
    return [written, got]


@case()
def batch_write_refuses_more_than_25_and_duplicates(c: Clients) -> list[Any]:
    table = _table(c)
    many = [{"PutRequest": {"Item": {"pk": {"S": f"k{i}"}}}} for i in range(26)]
    twice = [{"PutRequest": {"Item": {"pk": {"S": "k"}}}}] * 2
    source = DOCS + "API_BatchWriteItem.html"
    note = "moto writes 26 items in one BatchWriteItem (at most 25)"
    return [
        c.differs(
            "Error" in c.error(c.dynamodb.batch_write_item, RequestItems={table: many}),
            aws=True,
            moto=False,
            source=source,
            note=note,
        ),
        c.error(c.dynamodb.batch_write_item, RequestItems={table: twice}),
        c.differs(
            c.dynamodb.scan(TableName=table, Select="COUNT")["Count"],
            aws=0,
            moto=26,
            source=source,
            note=note,
        ),
    ]


@case()
def batch_get_refuses_a_missing_table_and_duplicate_keys(c: Clients) -> list[Any]:
    table = _table(c)
    return [
        c.error(
            c.dynamodb.batch_get_item,
            RequestItems={c.name("missing"): {"Keys": [{"pk": {"S": "a"}}]}},
        ),
        c.error(
            c.dynamodb.batch_get_item,
            RequestItems={table: {"Keys": [{"pk": {"S": "a"}}, {"pk": {"S": "a"}}]}},
        ),
    ]


# -- transactions ------------------------------------------------------------------------


@case()
def transact_write_items_all_at_once(c: Clients) -> list[Any]:
    table = _counter(c)
    _put(c, table, {"pk": {"S": "doomed"}}, {"pk": {"S": "check"}, "ok": {"BOOL": True}})
    written = c.dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": {"pk": {"S": "new"}, "v": {"N": "1"}}}},
            {
                "Update": {
                    "TableName": table,
                    "Key": {"pk": {"S": "a"}},
                    "UpdateExpression": "SET #c = #c + :one",
                    "ExpressionAttributeNames": {"#c": "count"},
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
            {"Delete": {"TableName": table, "Key": {"pk": {"S": "doomed"}}}},
            {
                "ConditionCheck": {
                    "TableName": table,
                    "Key": {"pk": {"S": "check"}},
                    "ConditionExpression": "ok = :t",
                    "ExpressionAttributeValues": {":t": {"BOOL": True}},
                }
            },
        ]
    )
    got = c.dynamodb.transact_get_items(
        TransactItems=[
            {"Get": {"TableName": table, "Key": {"pk": {"S": k}}}} for k in ("new", "doomed")
        ]
        + [
            {
                "Get": {
                    "TableName": table,
                    "Key": {"pk": {"S": "a"}},
                    "ProjectionExpression": "#c",
                    "ExpressionAttributeNames": {"#c": "count"},
                }
            }
        ]
    )
    projected = {"Item": {"count": {"N": "2"}}}
    return [
        written,
        got["Responses"][:2],
        c.differs(
            got["Responses"][2],
            aws=projected,
            moto={
                "Item": {
                    "pk": {"S": "a"},
                    "count": {"N": "2"},
                    "name": {"S": "first"},
                    "list": {"L": [{"S": "x"}]},
                    "set": {"SS": ["p", "q"]},
                    "gone": {"S": "soon"},
                }
            },
            source=DOCS + "API_Get.html#DDB-Type-Get-ProjectionExpression",
            note="moto ignores a TransactGetItems Get's ProjectionExpression",
        ),
    ]


@case()
def a_cancelled_transaction_names_each_reason_and_writes_nothing(c: Clients) -> list[Any]:
    table = _counter(c)
    cancelled = c.error(
        c.dynamodb.transact_write_items,
        TransactItems=[
            {"Put": {"TableName": table, "Item": {"pk": {"S": "new"}}}},
            {
                "ConditionCheck": {
                    "TableName": table,
                    "Key": {"pk": {"S": "a"}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
        ],
    )
    return [cancelled, c.dynamodb.get_item(TableName=table, Key={"pk": {"S": "new"}})]


@case()
def a_transaction_may_touch_an_item_once(c: Clients) -> list[Any]:
    table = _counter(c)
    return [
        c.error(
            c.dynamodb.transact_write_items,
            message=False,
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": {"S": "a"}}}},
                {"Delete": {"TableName": table, "Key": {"pk": {"S": "a"}}}},
            ],
        ),
        c.error(
            c.dynamodb.transact_write_items,
            TransactItems=[
                {"Put": {"TableName": c.name("missing"), "Item": {"pk": {"S": "a"}}}},
            ],
        ),
    ]


# After every case is registered.
@pytest.mark.parametrize("name", suite.params())
def test_dynamodb_case(name: str, backends: tuple[h.Backend, h.Backend]) -> None:
    sluiceway, moto = h.run(suite, name, *backends)
    assert sluiceway == moto
