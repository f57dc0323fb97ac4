"""botocore's service models, loaded once per process, and what the protocol layer reads in
them: the operation a JSON target or a query action names, and a REST operation's path."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import unquote

import botocore.loaders
from botocore.model import OperationModel, ServiceModel


@functools.cache
def _loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


@functools.cache
def service_model(name: str) -> ServiceModel:
    return ServiceModel(_loader().load_service_model(name, "service-2"), service_name=name)


@functools.cache
def operation(service: str, name: str) -> OperationModel | None:
    model = service_model(service)
    if name not in model.operation_names:
        return None
    return model.operation_model(name)


@dataclass(frozen=True)
class RestRoute:
    method: str
    pattern: re.Pattern[str]
    labels: tuple[str, ...]
    query: tuple[tuple[str, str], ...]  # fixed query parts of the requestUri ("?x=y")
    operation: str


def _route(op: OperationModel) -> RestRoute:
    uri: str = op.http["requestUri"]
    path, _, fixed = uri.partition("?")
    labels: list[str] = []
    regex = ""
    for piece in re.split(r"(\{[^}]+\})", path):
        if piece.startswith("{"):
            label = piece[1:-1]
            greedy = label.endswith("+")
            labels.append(label.rstrip("+"))
            regex += "(.+)" if greedy else "([^/]+)"
        else:
            regex += re.escape(piece)
    query = tuple((k, v) for k, _, v in (part.partition("=") for part in fixed.split("&") if part))
    return RestRoute(op.http["method"], re.compile(regex + r"/?\Z"), tuple(labels), query, op.name)


@functools.cache
def rest_routes(service: str) -> tuple[RestRoute, ...]:
    model = service_model(service)
    routes = [_route(model.operation_model(name)) for name in model.operation_names]
    # The most specific first: longer literal paths, then those with fixed query parts.
    routes.sort(key=lambda r: (-len(r.pattern.pattern), -len(r.query)))
    return tuple(routes)


def match_rest(
    service: str, method: str, path: str, query: dict[str, list[str]]
) -> tuple[str, dict[str, str]] | None:
    """The REST operation this request names, and its URI labels (decoded)."""
    for route in rest_routes(service):
        if route.method != method:
            continue
        found = route.pattern.match(path)
        if found is None:
            continue
        if any(k not in query or (v and v not in query[k]) for k, v in route.query):
            continue
        return route.operation, {
            label: unquote(value) for label, value in zip(route.labels, found.groups(), strict=True)
        }
    return None
