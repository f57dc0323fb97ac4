"""A route straight into a table, rendered as API Gateway's DynamoDB UpdateItem integration.

moto's API Gateway does not run mapping templates (its DynamoDB integration forwards the raw
request body), and no Velocity engine is a dependency, so the deployed integration is not
executed here. What is checked: the template passes cfn-lint and the SAM translator; the
role may only update items of the one table; the model becomes the API's model and its
validator; the request template for a sample model is exactly what it should be; and that
template, played for sample bodies (`play`: the handful of VTL constructs `table_routes`
writes, evaluated in Python), is an UpdateItem moto accepts that stores the item the local
engine stores, writes the same stream records (INSERT for a new key, MODIFY for a replaced
item), is answered with the local gateway's ``{"key": ...}``, and whose refusal yields the
local gateway's 409 answer. Not checked against AWS: that API Gateway evaluates
``#set``, ``$body.containsKey``, ``$input.json`` and ``$context.responseOverride.status`` as
documented. Not played: a model with only key properties (its UpdateItem has no
UpdateExpression, which DynamoDB takes and moto's UpdateItem crashes on).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from aws_support import (
    Stack,
    fake_aws,
    findings,
    play,
    sam_transform,
    stream_records,
    write_through_the_template,
)
from botocore.exceptions import ClientError

from conftest import EngineFactory
from sluiceway import App
from sluiceway.apigateway.spec import TableTarget
from sluiceway.apigateway.table_routes import conflict_response
from sluiceway.aws import Code, RenderError, _yaml, route_grants, template_for
from sluiceway.aws.adapters import from_boto3
from sluiceway.core import attrvalue
from sluiceway.local import Admin, LocalEngine
from support import gateway

USER_MODEL = {
    "type": "object",
    "required": ["id", "roll", "name"],
    "properties": {
        "id": {"type": "string", "minLength": 1},
        "roll": {"type": "string"},
        "name": {"type": "string", "maxLength": 100},
        "age": {"type": "integer", "minimum": 0},
        "vip": {"type": "boolean"},
    },
    "additionalProperties": False,
}
ENTRY_MODEL = {
    "type": "object",
    "required": ["account", "at", "amount"],
    "properties": {
        "account": {"type": "string"},
        "at": {"type": "integer"},
        "amount": {"type": "number"},
        "note": {"type": "string"},
    },
    "additionalProperties": False,
}


NOTE_MODEL = {
    "type": "object",
    "required": ["id"],
    "properties": {
        "id": {"type": "string"},
        "nick": {"type": "string"},
        "stars": {"type": "integer"},
    },
    "additionalProperties": False,
}


def users_app(*, overwrite: bool = False, model: Any = USER_MODEL) -> App:
    app = App("users")
    users = app.table("Users", partition_key="id", sort_key="roll", stream="NEW_AND_OLD_IMAGES")
    app.route("POST", "/users", to=users, model=model, overwrite=overwrite)
    return app


def ledger_app() -> App:
    app = App("ledger")
    entries = app.table(
        "entries", partition_key="account", sort_key=("at", "N"), stream="NEW_AND_OLD_IMAGES"
    )
    app.route("PUT", "/entries", to=entries, model=ENTRY_MODEL)
    return app


def notes_app() -> App:
    """Nothing but the key is required: each present property is SET, each absent one
    REMOVEd, and a body with the key alone has no values at all."""
    app = App("notes")
    notes = app.table("notes", partition_key="id", stream="NEW_AND_OLD_IMAGES")
    app.route("PUT", "/notes", to=notes, model=NOTE_MODEL, overwrite=True)
    return app


def resources(app: App) -> dict[str, Any]:
    return template_for(app.graph, Code("m:app"))["Resources"]  # type: ignore[no-any-return]


def operation(app: App, path: str, method: str) -> dict[str, Any]:
    definition = resources(app)[f"{app.name.capitalize()}Api"]["Properties"]["DefinitionBody"]
    return definition["paths"][path][method]  # type: ignore[no-any-return]


# -- what is rendered -----------------------------------------------------------------------


def test_a_table_route_passes_cfn_lint_and_the_sam_translator() -> None:
    template = template_for(users_app().graph, Code("m:app"))
    assert findings(_yaml.dump(template)) == []
    kinds = {r["Type"] for r in sam_transform(template)["Resources"].values()}
    assert {"AWS::ApiGateway::RestApi", "AWS::IAM::Role", "AWS::DynamoDB::Table"} <= kinds


def test_a_table_route_is_an_updateitem_integration_validating_the_body_against_its_model() -> None:
    app = users_app()
    op = operation(app, "/users", "post")
    integration = op["x-amazon-apigateway-integration"]
    assert {k: v for k, v in integration.items() if k not in ("requestTemplates", "responses")} == {
        "type": "aws",
        "httpMethod": "POST",
        "uri": {
            "Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:dynamodb:action/UpdateItem"
        },
        "credentials": {"Fn::GetAtt": ["RoutePostUsersRole", "Arn"]},
        "passthroughBehavior": "never",
    }
    assert op["requestBody"] == {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/RoutePostUsersModel"}}
        },
    }
    assert op["x-amazon-apigateway-request-validator"] == "body-is-a-json-object"
    assert sorted(op["responses"]) == ["200", "400", "409", "503"]
    definition = resources(app)["UsersApi"]["Properties"]["DefinitionBody"]
    assert definition["components"]["schemas"]["RoutePostUsersModel"] == USER_MODEL
    assert definition["x-amazon-apigateway-request-validators"]["body-is-a-json-object"] == {
        "validateRequestBody": True,
        "validateRequestParameters": False,
    }
    assert definition["x-amazon-apigateway-gateway-responses"]["BAD_REQUEST_BODY"] == {
        "statusCode": "400",
        "responseTemplates": {
            "application/json": '{"message": $context.error.messageString, '
            '"code": "BadRequestBody"}'
        },
    }


def test_the_route_role_may_only_update_items_of_its_table() -> None:
    app = users_app()
    (route,) = app.graph.routes
    assert [(g.kind, g.name, g.actions) for g in route_grants(route)] == [
        ("table", "Users", frozenset({"dynamodb:UpdateItem"}))
    ]
    role = resources(app)["RoutePostUsersRole"]["Properties"]
    assert role["Description"] == "Lets POST /users put the request body into its table"
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "apigateway.amazonaws.com"
    }
    assert role["Policies"] == [
        {
            "PolicyName": "sluiceway-route",
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "TableUsers",
                        "Effect": "Allow",
                        "Action": ["dynamodb:UpdateItem"],
                        "Resource": {"Fn::GetAtt": ["Users", "Arn"]},
                    }
                ],
            },
        }
    ]


def test_the_request_template_keys_the_item_and_sets_or_removes_every_other_property() -> None:
    integration = operation(ledger_app(), "/entries", "put")["x-amazon-apigateway-integration"]
    assert integration["requestTemplates"] == {
        "application/json": {
            "Fn::Sub": "\n".join(
                [
                    "#set($body = $input.path('$'))",
                    "{",
                    '  "TableName": "${Entries}",',
                    '  "Key": {',
                    '    "account": {"S": $input.json(\'$.account\')},',
                    '    "at": {"N": "$input.json(\'$.at\')"}',
                    "  },",
                    '  "UpdateExpression": "'
                    '#set($sep = "SET ")$sep#a0 = :a0#set($sep = ", ")'
                    '#if($body.containsKey("note"))$sep#a1 = :a1#set($sep = ", ")#end'
                    '#if($sep == ", ")#set($sep = " REMOVE ")#else#set($sep = "REMOVE ")#end'
                    '#if(!$body.containsKey("note"))$sep#a1#set($sep = ", ")#end",',
                    "  #set($sep = '\"ExpressionAttributeValues\": {')"
                    '$sep":a0": {"N": "$input.json(\'$.amount\')"}#set($sep = ", ")'
                    '#if($body.containsKey("note"))'
                    '$sep":a1": {"S": $input.json(\'$.note\')}#set($sep = ", ")#end'
                    '#if($sep == ", ")},#end',
                    '  "ConditionExpression": "attribute_not_exists(#pk)",',
                    '  "ReturnValuesOnConditionCheckFailure": "ALL_OLD",',
                    '  "ExpressionAttributeNames": '
                    '{"#a0": "amount", "#a1": "note", "#pk": "account"},',
                    '  "ReturnValues": "ALL_NEW"',
                    "}",
                ]
            )
        }
    }


def test_a_model_of_key_properties_only_updates_nothing_but_the_key() -> None:
    model = {
        "type": "object",
        "required": ["id", "roll"],
        "properties": {"id": {"type": "string"}, "roll": {"type": "string"}},
        "additionalProperties": False,
    }
    integration = operation(users_app(model=model, overwrite=True), "/users", "post")[
        "x-amazon-apigateway-integration"
    ]
    # No UpdateExpression (DynamoDB creates the item with its key), and no empty name map.
    assert integration["requestTemplates"]["application/json"]["Fn::Sub"] == "\n".join(
        [
            "#set($body = $input.path('$'))",
            "{",
            '  "TableName": "${Users}",',
            '  "Key": {',
            '    "id": {"S": $input.json(\'$.id\')},',
            '    "roll": {"S": $input.json(\'$.roll\')}',
            "  },",
            '  "ReturnValues": "ALL_NEW"',
            "}",
        ]
    )


def test_dynamodb_s_answers_become_the_local_gateway_s_answers() -> None:
    responses = operation(ledger_app(), "/entries", "put")["x-amazon-apigateway-integration"][
        "responses"
    ]
    # A stored item: the key, read from the item UpdateItem answers with (ReturnValues).
    assert responses["default"] == {
        "statusCode": "200",
        "responseTemplates": {
            "application/json": '{"key": {"account": $input.json(\'$.Attributes.account.S\'), '
            "\"at\": $input.path('$.Attributes.at.N')}}"
        },
    }
    assert responses[r"4\d{2}"] == {
        "statusCode": "400",
        "responseTemplates": {
            "application/json": "#set($type = $input.path('$.__type'))"
            '#if($type && $type.endsWith("ConditionalCheckFailedException"))'
            "#set($context.responseOverride.status = 409)"
            '{"message": "an item with this key already exists in table \'entries\'", '
            '"code": "ConditionalCheckFailed", '
            '"key": {"account": $input.json(\'$.Item.account.S\'), '
            "\"at\": $input.path('$.Item.at.N')}}"
            "#else#set($message = $input.path('$.message'))"
            '{"message": #if("$!message" == "")"the table refused the item"'
            '#else$input.json(\'$.message\')#end, "code": "InvalidItem"}#end'
        },
    }
    assert responses[r"5\d{2}"] == {
        "statusCode": "503",
        "responseParameters": {"method.response.header.Retry-After": "'1'"},
        "responseTemplates": {
            "application/json": '{"message": "the item could not be stored; retry", '
            '"code": "Unavailable"}'
        },
    }


def test_an_overwrite_route_updates_without_a_condition_and_knows_no_conflict() -> None:
    op = operation(users_app(overwrite=True), "/users", "post")
    assert sorted(op["responses"]) == ["200", "400", "503"]
    integration = op["x-amazon-apigateway-integration"]
    request = integration["requestTemplates"]["application/json"]["Fn::Sub"]
    assert "ConditionExpression" not in request
    assert "ReturnValuesOnConditionCheckFailure" not in request
    refused = integration["responses"][r"4\d{2}"]["responseTemplates"]["application/json"]
    assert "409" not in refused
    assert '"code": "InvalidItem"' in refused


# -- what cannot be rendered ----------------------------------------------------------------


def with_property(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {**USER_MODEL, "properties": {**USER_MODEL["properties"], name: schema}}


@pytest.mark.parametrize(
    ("model", "problem"),
    [
        (None, "it has no model"),
        ({**USER_MODEL, "type": "array"}, 'its model\'s type is not "object"'),
        (
            {k: v for k, v in USER_MODEL.items() if k != "additionalProperties"},
            "its model allows undeclared properties",
        ),
        (
            with_property("address", {"type": "object"}),
            "property 'address' has type 'object', not a scalar type",
        ),
        (
            with_property("tags", {"type": "array", "items": {"type": "string"}}),
            "property 'tags' has type 'array'",
        ),
        (
            with_property("nick", {"type": ["string", "null"]}),
            "property 'nick' has type ['string', 'null']",
        ),
        (with_property("colour", {"enum": ["red"]}), "property 'colour' has type None"),
        (
            with_property("first-name", {"type": "string"}),
            "property 'first-name' is not named with letters, digits and '_'",
        ),
        (
            {**USER_MODEL, "required": ["id", "name"]},
            "key attribute 'roll' is not a required string property",
        ),
        (
            with_property("roll", {"type": "integer"}),
            "key attribute 'roll' is not a required string property",
        ),
    ],
)
def test_a_model_a_mapping_template_cannot_map_is_refused_at_render(
    model: Any, problem: str
) -> None:
    app = users_app(model=model)
    with pytest.raises(RenderError) as refused:
        template_for(app.graph, Code("m:app"))
    message = str(refused.value)
    assert message.startswith("route POST /users cannot be rendered as an UpdateItem integration: ")
    assert problem in message
    assert message.endswith("or route to a function")


def test_a_binary_key_is_refused_because_json_carries_no_bytes() -> None:
    app = App("files")
    blobs = app.table("blobs", partition_key=("digest", "B"))
    model = {
        "type": "object",
        "required": ["digest"],
        "properties": {"digest": {"type": "string"}},
        "additionalProperties": False,
    }
    app.route("POST", "/blobs", to=blobs, model=model)
    with pytest.raises(RenderError, match="key attribute 'digest' is binary"):
        template_for(app.graph, Code("m:app"))


def test_a_number_key_takes_a_number_or_an_integer_property() -> None:
    model = {**ENTRY_MODEL, "properties": {**ENTRY_MODEL["properties"], "at": {"type": "number"}}}
    app = App("ledger")
    app.route(
        "PUT",
        "/entries",
        to=app.table("entries", partition_key="account", sort_key=("at", "N")),
        model=model,
    )
    assert "RoutePutEntriesRole" in resources(app)


# -- the request template, played against moto and compared with the local engine -----------


def stored(table: str) -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=table)["Items"]
    return [attrvalue.to_plain_json(attrvalue.deserialize_item(from_boto3(i))) for i in items]


def canonical(item: dict[str, Any]) -> str:
    return json.dumps(item, sort_keys=True)


def changes_on_aws(table: str) -> list[tuple[str, Any]]:
    """Each record on the table's stream: its event name and new image."""
    return [(r["eventName"], from_boto3(r["dynamodb"]["NewImage"])) for r in stream_records(table)]


def changes_locally(engine: LocalEngine) -> list[tuple[str, Any]]:
    rows = engine.store.query("SELECT event_name, new_image FROM stream_records ORDER BY seq")
    return [(row["event_name"], json.loads(row["new_image"])) for row in rows]


@pytest.fixture
def moto_stack() -> Iterator[None]:
    with fake_aws():
        yield


SAMPLES = {
    "users": (
        users_app,
        "/users",
        [
            {"id": "u1", "roll": "7", "name": 'O\'Brien "Bo" \u00e9\U0001f600', "age": 30},
            {"id": "u2", "roll": "7", "name": "", "vip": False},
        ],
    ),
    "ledger": (
        ledger_app,
        "/entries",
        [
            {"account": "a", "at": 1, "amount": 0.1, "note": "first\nline"},
            {"account": "a", "at": 2, "amount": -12.5},
        ],
    ),
}


@pytest.mark.parametrize("sample", list(SAMPLES))
def test_the_template_stores_answers_and_refuses_as_the_local_gateway_does(
    make_engine: EngineFactory, moto_stack: None, sample: str
) -> None:
    make_app, path, bodies = SAMPLES[sample]
    app = make_app()
    (route,) = app.graph.routes
    assert isinstance(route.target, TableTarget)
    table = app.graph.table(route.target.table)

    engine = make_engine(app)
    with gateway(engine) as url:
        local_answers = [httpx.request(route.method, url + path, json=b) for b in bodies]
        local_conflict = httpx.request(route.method, url + path, json=bodies[0])
    with Admin(engine.settings.data_dir) as admin:
        local_items = list(admin.scan(table.name))

    stack = Stack.deploy(sam_transform(template_for(app.graph, Code("m:app"))))
    answers = [write_through_the_template(stack, app, body) for body in bodies]
    with pytest.raises(ClientError) as refused:
        write_through_the_template(stack, app, bodies[0])

    assert [a.status_code for a in local_answers] == [200, 200]
    assert answers == [a.json() for a in local_answers]
    assert sorted(stored(table.name), key=canonical) == sorted(local_items, key=canonical)
    assert changes_on_aws(table.name) == changes_locally(engine)
    assert [name for name, _ in changes_locally(engine)] == ["INSERT", "INSERT"]
    assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert local_conflict.status_code == 409
    conflict = play(conflict_response(table), {"Item": refused.value.response["Item"]})
    assert json.loads(conflict) == local_conflict.json()


REPLACEMENTS = {
    "users": (
        lambda: users_app(overwrite=True),
        "/users",
        [
            {"id": "u1", "roll": "7", "name": "Alice", "age": 30},
            {"id": "u1", "roll": "7", "name": "Alicia", "vip": True},
        ],
    ),
    "notes": (
        notes_app,
        "/notes",
        [
            {"id": "n1", "nick": "x"},
            {"id": "n1", "stars": 3},
            {"id": "n2"},
            {"id": "n2", "nick": "y", "stars": 5},
            {"id": "n2"},
        ],
    ),
}


@pytest.mark.parametrize("sample", list(REPLACEMENTS))
def test_an_overwrite_route_s_template_replaces_the_item_as_the_local_gateway_does(
    make_engine: EngineFactory, moto_stack: None, sample: str
) -> None:
    make_app, path, bodies = REPLACEMENTS[sample]
    app = make_app()
    (route,) = app.graph.routes
    assert isinstance(route.target, TableTarget)
    table = route.target.table

    engine = make_engine(app)
    with gateway(engine) as url:
        local_answers = [httpx.request(route.method, url + path, json=b) for b in bodies]
    with Admin(engine.settings.data_dir) as admin:
        local_items = list(admin.scan(table))

    stack = Stack.deploy(sam_transform(template_for(app.graph, Code("m:app"))))
    answers = [write_through_the_template(stack, app, body) for body in bodies]

    assert {a.status_code for a in local_answers} == {200}
    assert answers == [a.json() for a in local_answers]
    assert sorted(stored(table), key=canonical) == sorted(local_items, key=canonical)
    assert changes_on_aws(table) == changes_locally(engine)


def test_a_replaced_item_is_a_modify_holding_only_the_new_body(
    make_engine: EngineFactory, moto_stack: None
) -> None:
    app = users_app(overwrite=True)
    first = {"id": "u1", "roll": "7", "name": "Alice", "age": 30}
    second = {"id": "u1", "roll": "7", "name": "Alicia", "vip": True}
    stack = Stack.deploy(sam_transform(template_for(app.graph, Code("m:app"))))
    answers = [write_through_the_template(stack, app, body) for body in (first, second)]

    assert answers == [{"key": {"id": "u1", "roll": "7"}}] * 2
    assert stored("Users") == [second]
    assert [name for name, _ in changes_on_aws("Users")] == ["INSERT", "MODIFY"]
