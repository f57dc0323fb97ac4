"""A route straight into a table: API Gateway's DynamoDB UpdateItem integration.

Locally the JSON object body *is* the item, whatever its shape. A mapping template cannot do
that: VTL has no generic way to turn arbitrary JSON into DynamoDB attribute values. So on AWS
the route must declare a model that says, for every attribute, which type it is, and the
request template is generated from it. A route is rendered only when its model is

* an ``object`` with ``"additionalProperties": false`` (otherwise API Gateway would drop,
  without a word, properties the local engine stores);
* made of properties named with letters, digits and ``_`` whose ``type`` is one of
  ``string`` (S), ``number`` or ``integer`` (N), ``boolean`` (BOOL): nested objects, arrays,
  nulls and type lists have no per-property mapping;
* requiring the table's key attributes, each typed as the key is (a binary key is refused:
  JSON carries no bytes).

Anything else is a `RenderError` that names the route and says to declare such a model or
to put a function behind the route. API Gateway validates the body against the model first
(the request validator), so the template can trust each property's type.

Why UpdateItem and not PutItem: an integration response template sees only DynamoDB's
answer, never the request, and a successful PutItem answers ``{}``. UpdateItem with
``ReturnValues: ALL_NEW`` answers the stored item, so the deployed API answers
``200 {"key": {...}}`` as the local gateway does. The write is still the local put: the key
attributes are the ``Key``, every other property in the body is SET and every optional one
it lacks is REMOVEd, which replaces the item whole because a model is closed and holds only
scalars (an attribute outside the model, written by a function, would survive a replace on
AWS; locally the put drops it). A new key is an INSERT on the table's stream, a replaced
item a MODIFY, as locally.

The request template maps each property with ``$input.json``, which gives JSON text: a
properly quoted and escaped string for S (``$util.escapeJavaScript`` would write ``'`` as
``\\'``, which is not JSON), the number's text for N, ``true``/``false`` for BOOL; whether
an optional property is there is ``$body.containsKey(...)``. Every name in an expression is
a placeholder (``#a0``...), so properties named like reserved words (``name``) work. With
``overwrite=False`` the update carries ``attribute_not_exists(#pk)`` and
``ReturnValuesOnConditionCheckFailure: ALL_OLD``, so DynamoDB's refusal holds the existing
item and the 409 answer can name its key as the local gateway does.

What still differs from the local gateway: a refused body is API Gateway's own
``BAD_REQUEST_BODY`` (the same message and code as locally, without the per-problem
``errors`` list), numbers go through API Gateway's JSON parser (very long numbers may lose
digits) and come back as DynamoDB normalizes them, and the model's ``pattern`` is evaluated
by API Gateway's validator rather than Python's ``re``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from sluiceway.apigateway.spec import RouteSpec, TableTarget
from sluiceway.core.cfn import sub
from sluiceway.core.errors import RenderError
from sluiceway.core.render import names
from sluiceway.dynamodb.spec import TableSpec

AttributeType = Literal["S", "N", "BOOL"]
SCALAR_TYPES: dict[str, AttributeType] = {
    "string": "S",
    "number": "N",
    "integer": "N",
    "boolean": "BOOL",
}
_PROPERTY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

UNAVAILABLE_RESPONSE = '{"message": "the item could not be stored; retry", "code": "Unavailable"}'


@dataclass(frozen=True)
class Attribute:
    """One property of the body, as the item attribute it becomes."""

    name: str
    type: AttributeType
    required: bool


@dataclass(frozen=True)
class ItemMapping:
    """A route's model (what API Gateway validates the body against) and the attributes the
    request template builds from the body, in the model's order."""

    model: dict[str, Any]
    attributes: tuple[Attribute, ...]


def item_mapping(route: RouteSpec, target: TableTarget, table: TableSpec) -> ItemMapping:
    """The route's model checked for what a mapping template can map, or a RenderError that
    says why it cannot be."""
    if target.model is None:
        raise _refused(route, "it has no model")
    model: dict[str, Any] = json.loads(target.model)
    if model.get("type") != "object":
        raise _refused(route, 'its model\'s type is not "object"')
    if model.get("additionalProperties") is not False:
        raise _refused(
            route,
            'its model allows undeclared properties (set "additionalProperties": false, or '
            "API Gateway would drop what the local engine stores)",
        )
    required = set(model.get("required", []))
    mapped: list[Attribute] = []
    for name, prop in model.get("properties", {}).items():
        if not _PROPERTY_NAME.fullmatch(name):
            raise _refused(route, f"property {name!r} is not named with letters, digits and '_'")
        declared = prop.get("type")
        kind = SCALAR_TYPES.get(declared) if isinstance(declared, str) else None
        if kind is None:
            raise _refused(route, f"property {name!r} has type {declared!r}, not a scalar type")
        mapped.append(Attribute(name, kind, name in required))
    for key in (table.partition_key, table.sort_key):
        if key is None:
            continue
        if key.type == "B":
            raise _refused(route, f"key attribute {key.name!r} is binary, which JSON cannot carry")
        if not any(a.name == key.name and a.required and a.type == key.type for a in mapped):
            wanted = "string" if key.type == "S" else "number or integer"
            raise _refused(route, f"key attribute {key.name!r} is not a required {wanted} property")
    return ItemMapping(model, tuple(mapped))


def _refused(route: RouteSpec, problem: str) -> RenderError:
    return RenderError(
        f"route {route.method} {route.path} cannot be rendered as an UpdateItem integration: "
        f"{problem}. A mapping template builds the item property by property, so declare a "
        "model= whose properties are all string, number, integer or boolean, that requires "
        "the table's key and sets additionalProperties to false; or route to a function"
    )


def request_template(table: TableSpec, mapping: ItemMapping, overwrite: bool) -> Any:
    """The UpdateItem request for the body, as an ``Fn::Sub`` (for the table's name): the key
    attributes as the ``Key``, every other present property SET, every absent optional one
    REMOVEd, so the stored item is the body, as a PutItem would store it."""
    logical = names.resource_id(table.name)
    keys = [a for name in table.key_names for a in mapping.attributes if a.name == name]
    others = [a for a in mapping.attributes if a.name not in table.key_names]
    lines = ["#set($body = $input.path('$'))", "{", f'  "TableName": "${{{logical}}}",']
    lines.append('  "Key": {')
    lines += [f"    {_value(a)}{',' if n < len(keys) - 1 else ''}" for n, a in enumerate(keys)]
    lines.append("  },")
    # Placeholders, so properties named like reserved words ("name") work too.
    placeholders = {f"#a{n}": a.name for n, a in enumerate(others)}
    if others:
        lines.append(f'  "UpdateExpression": "{_update_expression(others)}",')
        lines.append(f"  {_values(others)}")
    if not overwrite:
        placeholders["#pk"] = table.partition_key.name
        lines += [
            '  "ConditionExpression": "attribute_not_exists(#pk)",',
            '  "ReturnValuesOnConditionCheckFailure": "ALL_OLD",',
        ]
    if placeholders:
        lines.append(f'  "ExpressionAttributeNames": {json.dumps(placeholders)},')
    lines += ['  "ReturnValues": "ALL_NEW"', "}"]
    return sub("\n".join(lines))


def _update_expression(others: list[Attribute]) -> str:
    """SET for each present property, then REMOVE for each absent optional one, on one line
    (a line break would be inside a JSON string). ``$sep`` is what comes before the next item:
    its clause's keyword for the first, ", " after that. Every non-key property is SET or
    REMOVEd, so each placeholder name is used, as DynamoDB requires."""
    parts = ['#set($sep = "SET ")']
    for n, attribute in enumerate(others):
        item = f'$sep#a{n} = :a{n}#set($sep = ", ")'
        parts.append(_if_present(attribute, item))
    if any(not a.required for a in others):
        parts.append('#if($sep == ", ")#set($sep = " REMOVE ")#else#set($sep = "REMOVE ")#end')
    for n, attribute in enumerate(others):
        if not attribute.required:
            parts.append(
                f'#if(!$body.containsKey("{attribute.name}"))$sep#a{n}#set($sep = ", ")#end'
            )
    return "".join(parts)


def _values(others: list[Attribute]) -> str:
    """``"ExpressionAttributeValues": {...},`` with the present properties' values, or nothing
    when none is present (DynamoDB refuses an empty map, and an unused value)."""
    parts = ["#set($sep = '\"ExpressionAttributeValues\": {')"]
    for n, attribute in enumerate(others):
        parts.append(_if_present(attribute, f'$sep":a{n}": {_typed(attribute)}#set($sep = ", ")'))
    parts.append('#if($sep == ", ")},#end')
    return "".join(parts)


def _if_present(attribute: Attribute, text: str) -> str:
    if attribute.required:
        return text  # the model requires it, and API Gateway validated the body against it
    return f'#if($body.containsKey("{attribute.name}")){text}#end'


def _value(attribute: Attribute) -> str:
    """``"name": {<type>: <value>}`` with the value as JSON text from the body."""
    return f'"{attribute.name}": {_typed(attribute)}'


def _typed(attribute: Attribute) -> str:
    """``{<type>: <value>}``, an attribute value from the body's JSON text."""
    value = f"$input.json('$.{attribute.name}')"
    if attribute.type == "N":
        value = f'"{value}"'  # DynamoDB takes a number as its decimal text
    return f'{{"{attribute.type}": {value}}}'


def refused_response(table: TableSpec, overwrite: bool) -> str:
    """DynamoDB's 4xx, in the local gateway's shapes: an existing key is a 409 naming it
    (from the item DynamoDB returns with the refusal), anything else a 400."""
    refused = (
        "#set($message = $input.path('$.message'))"
        '{"message": #if("$!message" == "")"the table refused the item"'
        '#else$input.json(\'$.message\')#end, "code": "InvalidItem"}'
    )
    if overwrite:
        return refused  # no condition, so no conflict
    return (
        "#set($type = $input.path('$.__type'))"
        '#if($type && $type.endsWith("ConditionalCheckFailedException"))'
        "#set($context.responseOverride.status = 409)"
        f"{conflict_response(table)}"
        f"#else{refused}#end"
    )


def stored_response(table: TableSpec) -> str:
    """The 200 answer: the stored item's key, read from the item UpdateItem returns
    (``$.Attributes``), as the local gateway answers it."""
    return f'{{"key": {key_json(table, "$.Attributes")}}}'


def conflict_response(table: TableSpec) -> str:
    """The 409 answer, its key read from the existing item (``$.Item``)."""
    return (
        f'{{"message": "an item with this key already exists in table \'{table.name}\'", '
        f'"code": "ConditionalCheckFailed", "key": {key_json(table, "$.Item")}}}'
    )


def key_json(table: TableSpec, item: str) -> str:
    """The key attributes of the item at JSON path `item`, as plain JSON: a string key as a
    JSON string (``$input.json`` quotes and escapes it), a number key as the number's text."""
    keys = [table.partition_key, *([table.sort_key] if table.sort_key else [])]
    shown = ", ".join(
        f"\"{key.name}\": $input.json('{item}.{key.name}.S')"
        if key.type == "S"
        else f"\"{key.name}\": $input.path('{item}.{key.name}.N')"
        for key in keys
    )
    return f"{{{shown}}}"
