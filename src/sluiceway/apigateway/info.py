"""A route as the gateway serves it: into a queue or a table, with its checks."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from sluiceway.cognito.spec import AuthSpec
from sluiceway.dynamodb.info import TableInfo
from sluiceway.sqs.info import QueueInfo


@dataclass(frozen=True)
class RouteInfo:
    """A route to a queue (`queue`) or a table (`table`, with its `model` and `overwrite`)."""

    method: str
    path: str
    queue: str | None
    forward_headers: tuple[str, ...]
    table: str | None = None
    model: str | None = None
    overwrite: bool = False
    auth: AuthSpec | None = None

    @functools.cached_property
    def single_headers(self) -> frozenset[str]:
        """Headers a request may carry once: the framing ones and those forwarded as
        message attributes (two would be ambiguous)."""
        return frozenset(
            {"content-length", "content-type", "transfer-encoding"}
            | {name.lower() for name in self.forward_headers}
        )

    @functools.cached_property
    def label(self) -> str:
        """``POST /orders``: how logs and traces name the route."""
        return f"{self.method} {self.path}"


class RouteRegistry(Protocol):
    """The app's routes and the queues and tables they lead to, as the gateway and the front
    door read them (`sluiceway.local.registry.Registry` is one)."""

    @property
    def routes(self) -> Mapping[tuple[str, str], RouteInfo]: ...
    @property
    def queues(self) -> Mapping[str, QueueInfo]: ...

    def queue(self, name: str) -> QueueInfo: ...
    def table(self, name: str) -> TableInfo: ...
