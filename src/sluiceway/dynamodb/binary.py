"""Binary AttributeValues at the edges: boto3 (and the wire's protocol layer) carry ``B``
and ``BS`` as bytes; items are stored as DynamoDB's JSON has them, base64 text."""

from __future__ import annotations

import base64
from typing import Any


def to_stored(value: Any) -> Any:
    """A request with every binary value as base64 text."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {key: to_stored(v) for key, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_stored(v) for v in value]
    return value


def to_bytes(value: Any) -> Any:
    """An answer (or request) with binary AttributeValues as bytes again."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((kind, data),) = value.items()
            if kind == "B" and isinstance(data, str):
                return {"B": base64.b64decode(data)}
            if kind == "BS" and isinstance(data, list) and all(isinstance(v, str) for v in data):
                return {"BS": [base64.b64decode(v) for v in data]}
        return {key: to_bytes(v) for key, v in value.items()}
    if isinstance(value, list):
        return [to_bytes(v) for v in value]
    return value
