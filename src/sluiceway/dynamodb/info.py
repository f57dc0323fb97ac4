"""A table as the local engine knows it once stored: its id, spec, ARN and stream ARN."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from sluiceway.dynamodb.spec import TableSpec


@dataclass(frozen=True)
class TableInfo:
    id: int
    spec: TableSpec
    arn: str
    stream_arn: str | None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def channel(self) -> str:
        return f"stream:{self.id}"


class Tables(Protocol):
    """The stored tables by name (the engine's `Registry`)."""

    @property
    def tables(self) -> Mapping[str, TableInfo]: ...
