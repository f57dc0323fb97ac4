"""A table as the local engine knows it once stored: its id, spec, ARN and stream ARN."""

from __future__ import annotations

from dataclasses import dataclass

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
