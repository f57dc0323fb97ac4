"""A route straight into a table: API Gateway's DynamoDB PutItem integration.

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

The request template maps each property with ``$input.json``, which gives JSON text: a
properly quoted and escaped string for S (``$util.escapeJavaScript`` would write ``'`` as
``\\'``, which is not JSON), the number's text for N, ``true``/``false`` for BOOL. An
optional property is written only when the body has it (``#if($body.containsKey(...))``).
With ``overwrite=False`` the put carries ``attribute_not_exists(#pk)`` and
``ReturnValuesOnConditionCheckFailure: ALL_OLD``, so DynamoDB's refusal holds the existing
item and the 409 answer can name its key as the local gateway does.

What the local gateway answers and the deployed API cannot: an integration response template
sees only DynamoDB's answer, never the request, and a successful PutItem answers ``{}``. So a
stored item is answered ``200 {}`` on AWS where the local gateway answers
``{"key": {...}}``. A refused body is API Gateway's own ``BAD_REQUEST_BODY`` (the same
message and code as locally, without the per-problem ``errors`` list), numbers go through
API Gateway's JSON parser (very long numbers may lose digits), and the model's ``pattern``
is evaluated by API Gateway's validator rather than Python's ``re``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from sluiceway.aws import names
from sluiceway.aws.cfn import sub
from sluiceway.aws.errors import RenderError
from sluiceway.specs import RouteSpec, TableSpec, TableTarget

AttributeType = Literal["S", "N", "BOOL"]
SCALAR_TYPES: dict[str, AttributeType] = {
    "string": "S",
    "number": "N",
    "integer": "N",
    "boolean": "BOOL",
}
_PROPERTY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

STORED_RESPONSE = "{}"
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
        f"route {route.method} {route.path} cannot be rendered as a PutItem integration: "
        f"{problem}. A mapping template builds the item property by property, so declare a "
        "model= whose properties are all string, number, integer or boolean, that requires "
        "the table's key and sets additionalProperties to false; or route to a function"
    )


def request_template(table: TableSpec, mapping: ItemMapping, overwrite: bool) -> Any:
    """The PutItem request for the body, as an ``Fn::Sub`` (for the table's name)."""
    logical = names.resource_id(table.name)
    lines = ["#set($body = $input.path('$'))", "{", f'  "TableName": "${{{logical}}}",']
    lines.append('  "Item": {')
    required = [a for a in mapping.attributes if a.required]
    for n, attribute in enumerate(required):
        comma = "," if n < len(required) - 1 else ""
        lines.append(f"    {_value(attribute)}{comma}")
    for attribute in mapping.attributes:
        if not attribute.required:
            lines.append(f'    #if($body.containsKey("{attribute.name}")), {_value(attribute)}#end')
    if overwrite:
        lines.append("  }")
    else:
        # A placeholder, so a key named like a reserved word ("name") works too.
        lines += [
            "  },",
            '  "ConditionExpression": "attribute_not_exists(#pk)",',
            f'  "ExpressionAttributeNames": {{"#pk": "{table.partition_key.name}"}},',
            '  "ReturnValuesOnConditionCheckFailure": "ALL_OLD"',
        ]
    lines.append("}")
    return sub("\n".join(lines))


def _value(attribute: Attribute) -> str:
    """``"name": {<type>: <value>}`` with the value as JSON text from the body."""
    value = f"$input.json('$.{attribute.name}')"
    if attribute.type == "N":
        value = f'"{value}"'  # DynamoDB takes a number as its decimal text
    return f'"{attribute.name}": {{"{attribute.type}": {value}}}'


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


def conflict_response(table: TableSpec) -> str:
    """The 409 answer, its key read from the existing item (``$.Item``)."""
    keys = [table.partition_key, *([table.sort_key] if table.sort_key else [])]
    shown = ", ".join(
        f"\"{key.name}\": $input.json('$.Item.{key.name}.S')"
        if key.type == "S"
        else f"\"{key.name}\": $input.path('$.Item.{key.name}.N')"
        for key in keys
    )
    return (
        f'{{"message": "an item with this key already exists in table \'{table.name}\'", '
        f'"code": "ConditionalCheckFailed", "key": {{{shown}}}}}'
    )
