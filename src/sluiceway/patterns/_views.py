"""The shapes AWS filters against, built from the shapes the engine stores."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NoReturn

_INTEGER = re.compile(r"[+-]?[0-9]+")


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def esm_view_of_sqs_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of an SQS Lambda record with a JSON ``body`` decoded, as Lambda filters it.

    Numbers are decoded as ``Decimal`` so exact matches keep their JSON text (``300.0`` is
    not ``300``). A body that is not JSON stays the string it is.

    Example::

        esm_view_of_sqs_record({"messageId": "1", "body": '{"type": "order"}'})
        # {"messageId": "1", "body": {"type": "order"}}
    """
    view = dict(record)
    body = view.get("body")
    if isinstance(body, str):
        with contextlib.suppress(ValueError, RecursionError):
            view["body"] = json.loads(body, parse_float=Decimal, parse_constant=_reject_constant)
    return view


def _number(text: str) -> Any:
    if _INTEGER.fullmatch(text.strip()):
        return int(text)
    try:
        value = float(text)
    except ValueError:
        return text
    return value if value == value and abs(value) != float("inf") else text


def sns_attributes_view(message_attributes: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The event an attribute-scoped SNS filter policy is matched against.

    ``String`` -> str, ``String.Array`` -> the decoded list, ``Number`` -> int or float,
    ``Binary`` -> left out (SNS ignores binary attributes). Accepts the Publish form
    (``DataType``/``StringValue``) and the envelope form (``Type``/``Value``).

    Example::

        sns_attributes_view({"price": {"DataType": "Number", "StringValue": "210.75"}})
        # {"price": 210.75}
    """
    view: dict[str, Any] = {}
    for name, attribute in message_attributes.items():
        data_type = str(attribute.get("DataType", attribute.get("Type", "String")))
        value = attribute.get("StringValue", attribute.get("Value"))
        base = data_type.split(".", 1)[0]
        if base == "Binary" or value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value)
        if data_type == "String.Array":
            try:
                decoded = json.loads(text)
            except ValueError:
                decoded = None
            view[name] = decoded if isinstance(decoded, list) else text
        elif base == "Number":
            numeric = isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)
            view[name] = value if numeric else _number(text)
        elif base == "String":
            view[name] = text
    return view
