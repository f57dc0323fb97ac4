"""What a table declaration must satisfy: its keys."""

from __future__ import annotations

from typing import cast

from sluiceway.core.attrvalue import KeyType
from sluiceway.core.errors import DeclarationError
from sluiceway.dynamodb.spec import KeySpec


def key_spec(where: str, option: str, key: str | tuple[str, KeyType]) -> KeySpec:
    name, kind = (key, "S") if isinstance(key, str) else key
    if not isinstance(name, str) or not 1 <= len(name.encode()) <= 255:
        raise DeclarationError(
            where,
            f"{option} name {name!r} must be 1-255 bytes",
            "name the key attribute, e.g. 'orderID'",
        )
    if kind in ("S", "N", "B"):
        return KeySpec(name, cast(KeyType, kind))
    raise DeclarationError(
        where, f"{option} type {kind!r} is not a key type", "use 'S', 'N' or 'B'"
    )
