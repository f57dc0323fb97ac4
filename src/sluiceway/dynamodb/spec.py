"""A DynamoDB table (and its stream) as declared."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sluiceway.core.attrvalue import KeyType

StreamViewType = Literal["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"]


STREAM_VIEW_TYPES: tuple[StreamViewType, ...] = (
    "KEYS_ONLY",
    "NEW_IMAGE",
    "OLD_IMAGE",
    "NEW_AND_OLD_IMAGES",
)


@dataclass(frozen=True)
class KeySpec:
    name: str
    type: KeyType = "S"


ProjectionType = Literal["ALL", "KEYS_ONLY", "INCLUDE"]
PROJECTION_TYPES: tuple[ProjectionType, ...] = ("ALL", "KEYS_ONLY", "INCLUDE")


@dataclass(frozen=True)
class IndexSpec:
    """A secondary index: its keys (a local index shares the table's partition key) and
    which attributes it projects (``INCLUDE``: the keys plus `non_key_attributes`)."""

    name: str
    partition_key: KeySpec
    sort_key: KeySpec | None = None
    projection: ProjectionType = "ALL"
    non_key_attributes: tuple[str, ...] = ()

    @property
    def key_names(self) -> tuple[str, ...]:
        if self.sort_key is None:
            return (self.partition_key.name,)
        return (self.partition_key.name, self.sort_key.name)


@dataclass(frozen=True)
class TableSpec:
    name: str
    partition_key: KeySpec
    sort_key: KeySpec | None = None
    stream: StreamViewType | None = None
    ttl_attribute: str | None = None
    global_indexes: tuple[IndexSpec, ...] = ()
    local_indexes: tuple[IndexSpec, ...] = ()

    @property
    def indexes(self) -> tuple[IndexSpec, ...]:
        return self.global_indexes + self.local_indexes

    def index(self, name: str) -> IndexSpec | None:
        return next((index for index in self.indexes if index.name == name), None)

    @property
    def key_schema(self) -> str:
        """The keys in words: 'id (S) + roll (S)'."""
        keys = [self.partition_key, *([self.sort_key] if self.sort_key else [])]
        return " + ".join(f"{k.name} ({k.type})" for k in keys)

    @property
    def key_names(self) -> tuple[str, ...]:
        if self.sort_key is None:
            return (self.partition_key.name,)
        return (self.partition_key.name, self.sort_key.name)


KeyDeclaration = str | tuple[str, KeyType]


@dataclass(frozen=True)
class GlobalIndex:
    """A global secondary index, declared on its table (keys as `app.table` takes them).

    >>> app.table("orders", partition_key="orderID", global_indexes=[
    ...     GlobalIndex("by-customer", partition_key="customer", sort_key=("placedAt", "N"))
    ... ])                                                                    # doctest: +SKIP
    """

    name: str
    partition_key: KeyDeclaration
    sort_key: KeyDeclaration | None = None
    projection: ProjectionType = "ALL"
    non_key_attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class LocalIndex:
    """A local secondary index: the table's partition key with another sort key.

    >>> app.table("orders", partition_key="customer", sort_key="orderID",
    ...           local_indexes=[LocalIndex("by-date", sort_key="placedAt")])  # doctest: +SKIP
    """

    name: str
    sort_key: KeyDeclaration
    projection: ProjectionType = "ALL"
    non_key_attributes: tuple[str, ...] = ()
