"""The table handle's boto3-style calls as DynamoDB requests: Python values in (as boto3's
resource ``Table`` takes them), AttributeValues to the engine, Python values back.

Expressions are strings, or boto3's condition builder objects (``Key("pk").eq(1)``,
``Attr("n").gt(2)``), which boto3's own ``ConditionExpressionBuilder`` turns into a string
with its names and values, as boto3's resource does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sluiceway.core import attrvalue

_ITEMS = ("Item", "Key", "ExclusiveStartKey")
_EXPRESSIONS = ("ConditionExpression", "KeyConditionExpression", "FilterExpression")


def request(table: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """One table's request (PutItem, Query...) in DynamoDB's JSON form."""
    out = _single(params)
    out["TableName"] = table
    return out


def _single(params: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: v for k, v in params.items() if v is not None}
    names = dict(out.get("ExpressionAttributeNames") or {})
    values = {
        name: attrvalue.serialize(value, where=name)
        for name, value in (out.get("ExpressionAttributeValues") or {}).items()
    }
    for option in _EXPRESSIONS:
        expression = out.get(option)
        if expression is not None and not isinstance(expression, str):
            out[option] = _build(expression, option, names, values)
    for option in _ITEMS:
        if option in out:
            out[option] = attrvalue.serialize_item(out[option], where=option)
    if names:
        out["ExpressionAttributeNames"] = names
    if values:
        out["ExpressionAttributeValues"] = values
    return out


def _build(expression: Any, option: str, names: dict[str, str], values: dict[str, Any]) -> str:
    from boto3.dynamodb.conditions import ConditionExpressionBuilder

    built = ConditionExpressionBuilder().build_expression(
        expression, is_key_condition=option == "KeyConditionExpression"
    )
    # boto3 numbers its placeholders from 0 each time: keep them apart from the caller's.
    text = built.condition_expression
    # Longest first, so that "#n1" does not rewrite part of "#n10".
    by_length = sorted(built.attribute_name_placeholders.items(), key=lambda p: -len(p[0]))
    for old, name in by_length:
        new = f"#{option[:3].lower()}{old[1:]}"
        text = text.replace(old, new)
        names[new] = name
    by_length = sorted(built.attribute_value_placeholders.items(), key=lambda p: -len(p[0]))
    for old, value in by_length:
        new = f":{option[:3].lower()}{old[1:]}"
        text = text.replace(old, new)
        values[new] = attrvalue.serialize(value, where=new)
    return str(text)


def batch_get(params: Mapping[str, Any]) -> dict[str, Any]:
    items = {
        table: {
            **_single({k: v for k, v in entry.items() if k != "Keys"}),
            "Keys": [attrvalue.serialize_item(key, where="Keys") for key in entry["Keys"]],
        }
        for table, entry in params["RequestItems"].items()
    }
    return {"RequestItems": items}


def batch_write(params: Mapping[str, Any]) -> dict[str, Any]:
    items: dict[str, list[dict[str, Any]]] = {}
    for table, entries in params["RequestItems"].items():
        out = items.setdefault(table, [])
        for entry in entries:
            if "PutRequest" in entry:
                item = attrvalue.serialize_item(entry["PutRequest"]["Item"], where="Item")
                out.append({"PutRequest": {"Item": item}})
            else:
                key = attrvalue.serialize_item(entry["DeleteRequest"]["Key"], where="Key")
                out.append({"DeleteRequest": {"Key": key}})
    return {"RequestItems": items}


def transact(table: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """TransactWriteItems or TransactGetItems; an action without TableName is on `table`."""
    actions = []
    for action in params["TransactItems"]:
        ((kind, body),) = action.items()
        actions.append({kind: {**_single(body), "TableName": body.get("TableName", table)}})
    out: dict[str, Any] = {"TransactItems": actions}
    if params.get("ClientRequestToken") is not None:
        out["ClientRequestToken"] = params["ClientRequestToken"]
    return out


def answer(found: Mapping[str, Any]) -> dict[str, Any]:
    """An answer with its items as Python values, as boto3's resource returns them."""
    out: dict[str, Any] = {}
    for name, value in found.items():
        if name in ("Item", "Attributes", "LastEvaluatedKey"):
            out[name] = attrvalue.deserialize_item(value)
        elif name == "Items":
            out[name] = [attrvalue.deserialize_item(item) for item in value]
        elif name == "Responses" and isinstance(value, dict):
            out[name] = {t: [attrvalue.deserialize_item(i) for i in v] for t, v in value.items()}
        elif name == "Responses":
            out[name] = [answer(entry) for entry in value]
        else:
            out[name] = value
    return out
