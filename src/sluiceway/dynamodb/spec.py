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


@dataclass(frozen=True)
class TableSpec:
    name: str
    partition_key: KeySpec
    sort_key: KeySpec | None = None
    stream: StreamViewType | None = None
    ttl_attribute: str | None = None

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
