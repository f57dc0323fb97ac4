"""What a table declaration must satisfy: its keys and its indexes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import cast

from sluiceway.core.attrvalue import KeyType
from sluiceway.core.errors import DeclarationError
from sluiceway.dynamodb.spec import PROJECTION_TYPES, GlobalIndex, IndexSpec, KeySpec, LocalIndex

_INDEX_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")


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


def index_specs(
    where: str,
    table: tuple[KeySpec, KeySpec | None],
    global_indexes: Sequence[GlobalIndex],
    local_indexes: Sequence[LocalIndex],
) -> tuple[tuple[IndexSpec, ...], tuple[IndexSpec, ...]]:
    """The declared indexes as specs, checked as CloudFormation would: names unique and
    valid, at most 20 global and 5 local, local ones only on a table with a sort key, an
    attribute's type the same in every key it is part of, INCLUDE with its attributes."""
    partition, sort = table
    types = {partition.name: partition.type, **({sort.name: sort.type} if sort else {})}
    out: list[list[IndexSpec]] = [[], []]
    for group, declared in enumerate((global_indexes, local_indexes)):
        for index in declared:
            here = f"{where} index {getattr(index, 'name', index)!r}"
            if not isinstance(index, GlobalIndex if group == 0 else LocalIndex):
                kind = "GlobalIndex" if group == 0 else "LocalIndex"
                raise DeclarationError(here, f"is not a {kind}", f"declare it as {kind}(name, ...)")
            if not isinstance(index.name, str) or not _INDEX_NAME.fullmatch(index.name):
                raise DeclarationError(
                    here,
                    "an index name is 3-255 characters of letters, digits, '_', '-' and '.'",
                    "rename the index, e.g. 'by-customer'",
                )
            if isinstance(index, GlobalIndex):
                pk = key_spec(here, "partition_key", index.partition_key)
                sk = None if index.sort_key is None else key_spec(here, "sort_key", index.sort_key)
            else:
                if sort is None:
                    raise DeclarationError(
                        here,
                        "a local index needs a table with a sort key",
                        "declare the table's sort_key, or use a GlobalIndex",
                    )
                pk, sk = partition, key_spec(here, "sort_key", index.sort_key)
            for key in (pk, sk):
                if key is not None and types.setdefault(key.name, key.type) != key.type:
                    raise DeclarationError(
                        here,
                        f"attribute '{key.name}' is {key.type} here and {types[key.name]} "
                        "in another key",
                        "give an attribute one type in every key",
                    )
            if index.projection not in PROJECTION_TYPES:
                raise DeclarationError(
                    here,
                    f"unknown projection {index.projection!r}",
                    "use " + ", ".join(PROJECTION_TYPES),
                )
            extra = tuple(index.non_key_attributes)
            if (index.projection == "INCLUDE") != bool(extra):
                raise DeclarationError(
                    here,
                    "non_key_attributes go with projection='INCLUDE', and only with it",
                    "pass projection='INCLUDE' with non_key_attributes=(...), or neither",
                )
            out[group].append(IndexSpec(index.name, pk, sk, index.projection, extra))
    names = [i.name for group in out for i in group]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise DeclarationError(where, f"index {duplicate!r} is declared twice", "rename one")
    if len(out[0]) > 20 or len(out[1]) > 5:
        raise DeclarationError(
            where, "too many indexes", "DynamoDB allows 20 global and 5 local indexes a table"
        )
    return tuple(out[0]), tuple(out[1])
