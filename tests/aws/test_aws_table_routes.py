"""A route straight into a table, rendered as API Gateway's DynamoDB PutItem integration.

moto's API Gateway does not run mapping templates (its DynamoDB integration forwards the raw
request body), and no Velocity engine is a dependency, so the deployed integration is not
executed here. What is checked: the template passes cfn-lint and the SAM translator; the
role may only put items into the one table; the model becomes the API's model and its
validator; the request template for a sample model is exactly what it should be; and that
template, played for sample bodies (`play`: the handful of VTL constructs `table_routes`
writes, evaluated in Python), is a PutItem moto accepts that stores the item the local
engine stores, and whose refusal yields the local gateway's 409 answer. Not checked against
AWS: that API Gateway evaluates ``$body.containsKey``, ``$input.json`` and
``$context.responseOverride.status`` as documented.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from aws_support import Stack, fake_aws, findings, sam_transform
from botocore.exceptions import ClientError

from conftest import EngineFactory
from sluiceway import App, attrvalue
from sluiceway.aws import Code, RenderError, _yaml, route_grants, template_for
from sluiceway.aws.adapters import from_boto3
from sluiceway.aws.table_routes import conflict_response
from sluiceway.local import Admin
from sluiceway.specs import TableTarget
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


def users_app(*, overwrite: bool = False, model: Any = USER_MODEL) -> App:
    app = App("users")
    users = app.table("Users", partition_key="id", sort_key="roll")
    app.route("POST", "/users", to=users, model=model, overwrite=overwrite)
    return app


def ledger_app() -> App:
    app = App("ledger")
    entries = app.table("entries", partition_key="account", sort_key=("at", "N"))
    app.route("PUT", "/entries", to=entries, model=ENTRY_MODEL)
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


def test_a_table_route_is_a_putitem_integration_validating_the_body_against_its_model() -> None:
    app = users_app()
    op = operation(app, "/users", "post")
    integration = op["x-amazon-apigateway-integration"]
    assert {k: v for k, v in integration.items() if k not in ("requestTemplates", "responses")} == {
        "type": "aws",
        "httpMethod": "POST",
        "uri": {
            "Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:dynamodb:action/PutItem"
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


def test_the_route_role_may_only_put_items_into_its_table() -> None:
    app = users_app()
    (route,) = app.graph.routes
    assert [(g.kind, g.name, g.actions) for g in route_grants(route)] == [
        ("table", "Users", frozenset({"dynamodb:PutItem"}))
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
                        "Action": ["dynamodb:PutItem"],
                        "Resource": {"Fn::GetAtt": ["Users", "Arn"]},
                    }
                ],
            },
        }
    ]


def test_the_request_template_maps_each_property_by_its_type_and_skips_absent_optional_ones() -> (
    None
):
    integration = operation(ledger_app(), "/entries", "put")["x-amazon-apigateway-integration"]
    assert integration["requestTemplates"] == {
        "application/json": {
            "Fn::Sub": "\n".join(
                [
                    "#set($body = $input.path('$'))",
                    "{",
                    '  "TableName": "${Entries}",',
                    '  "Item": {',
                    '    "account": {"S": $input.json(\'$.account\')},',
                    '    "amount": {"N": "$input.json(\'$.amount\')"},',
                    '    "at": {"N": "$input.json(\'$.at\')"}',
                    '    #if($body.containsKey("note")), '
                    '"note": {"S": $input.json(\'$.note\')}#end',
                    "  },",
                    '  "ConditionExpression": "attribute_not_exists(#pk)",',
                    '  "ExpressionAttributeNames": {"#pk": "account"},',
                    '  "ReturnValuesOnConditionCheckFailure": "ALL_OLD"',
                    "}",
                ]
            )
        }
    }


def test_dynamodb_s_answers_become_the_local_gateway_s_answers() -> None:
    responses = operation(ledger_app(), "/entries", "put")["x-amazon-apigateway-integration"][
        "responses"
    ]
    # A stored item: PutItem answers {}, and a response template cannot see the request,
    # so the key the local gateway echoes is not in this answer (see table_routes).
    assert responses["default"] == {
        "statusCode": "200",
        "responseTemplates": {"application/json": "{}"},
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


def test_an_overwrite_route_puts_without_a_condition_and_knows_no_conflict() -> None:
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
    assert message.startswith("route POST /users cannot be rendered as a PutItem integration: ")
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


def play(template: str, document: Any) -> str:
    """A request or response template evaluated for one JSON document, as API Gateway would:
    only the constructs `table_routes` writes (``#set($body = $input.path('$'))``,
    ``#if($body.containsKey("x"))...#end``, ``$input.json(path)``, ``$input.path(path)``
    for dotted paths). Anything else left in the output fails the test."""

    def at(path: str) -> Any:
        value = document
        for step in path.strip(".").split("."):
            value = value[step]
        return value

    text = template.replace("#set($body = $input.path('$'))", "")
    text = re.sub(
        r'#if\(\$body\.containsKey\("(\w+)"\)\)(.*?)#end',
        lambda m: m.group(2) if m.group(1) in document else "",
        text,
    )
    text = re.sub(r"\$input\.json\('\$([\w.]+)'\)", lambda m: json.dumps(at(m.group(1))), text)
    text = re.sub(r"\$input\.path\('\$([\w.]+)'\)", lambda m: str(at(m.group(1))), text)
    assert not re.search(r"#(set|if|else|end)\b|\$input|\$body", text), text
    return text


def put_through_the_template(stack: Stack, app: App, body: dict[str, Any]) -> None:
    """What the integration sends DynamoDB for `body`: the played request template, its
    table resolved as CloudFormation would, as a PutItem call."""
    (route,) = app.graph.routes
    # The SAM translator has made the API a RestApi whose Body is the OpenAPI definition.
    definition = stack.template["Resources"][f"{app.name.capitalize()}Api"]["Properties"]["Body"]
    integration = definition["paths"][route.path][route.method.lower()][
        "x-amazon-apigateway-integration"
    ]
    template = integration["requestTemplates"]["application/json"]["Fn::Sub"]
    for logical_id, physical in stack.physical.items():
        template = template.replace(f"${{{logical_id}}}", physical)
    boto3.client("dynamodb").put_item(**json.loads(play(template, body)))


def stored(table: str) -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=table)["Items"]
    return [attrvalue.to_plain_json(attrvalue.deserialize_item(from_boto3(i))) for i in items]


def canonical(item: dict[str, Any]) -> str:
    return json.dumps(item, sort_keys=True)


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
def test_the_template_stores_what_the_local_gateway_stores_and_refuses_what_it_refuses(
    make_engine: EngineFactory, moto_stack: None, sample: str
) -> None:
    make_app, path, bodies = SAMPLES[sample]
    app = make_app()
    (route,) = app.graph.routes
    assert isinstance(route.target, TableTarget)
    table = app.graph.table(route.target.table)

    engine = make_engine(app)
    with gateway(engine) as url:
        for body in bodies:
            assert httpx.request(route.method, url + path, json=body).status_code == 200
        local_conflict = httpx.request(route.method, url + path, json=bodies[0])
    with Admin(engine.settings.data_dir) as admin:
        local_items = list(admin.scan(table.name))

    stack = Stack.deploy(sam_transform(template_for(app.graph, Code("m:app"))))
    for body in bodies:
        put_through_the_template(stack, app, body)
    with pytest.raises(ClientError) as refused:
        put_through_the_template(stack, app, bodies[0])

    assert sorted(stored(table.name), key=canonical) == sorted(local_items, key=canonical)
    assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert local_conflict.status_code == 409
    conflict = play(conflict_response(table), {"Item": refused.value.response["Item"]})
    assert json.loads(conflict) == local_conflict.json()


def test_an_overwrite_route_s_template_replaces_the_item_as_the_local_gateway_does(
    make_engine: EngineFactory, moto_stack: None
) -> None:
    app = users_app(overwrite=True)
    bodies = [
        {"id": "u1", "roll": "7", "name": "Alice", "age": 30},
        {"id": "u1", "roll": "7", "name": "Alicia", "vip": True},
    ]
    engine = make_engine(app)
    with gateway(engine) as url:
        answers = [httpx.post(f"{url}/users", json=body).status_code for body in bodies]
    with Admin(engine.settings.data_dir) as admin:
        local_items = list(admin.scan("Users"))

    stack = Stack.deploy(sam_transform(template_for(app.graph, Code("m:app"))))
    for body in bodies:
        put_through_the_template(stack, app, body)

    assert answers == [200, 200]
    assert stored("Users") == local_items == [bodies[1]]
