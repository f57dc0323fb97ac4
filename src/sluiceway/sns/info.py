"""A topic as the local engine knows it once stored."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TopicInfo:
    id: int
    name: str
    arn: str
