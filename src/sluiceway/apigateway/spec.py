"""An API route as declared: a method and path, straight into a queue or a table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from sluiceway.cognito.spec import AuthSpec


@dataclass(frozen=True)
class QueueTarget:
    queue: str


@dataclass(frozen=True)
class TableTarget:
    """A route that writes the request body as an item (API Gateway's PutItem
    integration): `model` is the JSON Schema the body must satisfy (canonical JSON text);
    with `overwrite` False an existing key is a 409, with True the item is replaced."""

    table: str
    model: str | None = None
    overwrite: bool = False


RouteTarget: TypeAlias = QueueTarget | TableTarget


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    target: RouteTarget
    forward_headers: tuple[str, ...] = ()
    auth: AuthSpec | None = None
