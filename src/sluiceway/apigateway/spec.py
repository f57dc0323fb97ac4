"""An API route as declared: a method and path, straight into a queue or a table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from sluiceway.cognito.spec import AuthSpec
from sluiceway.core.policies import RolePolicy


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


@dataclass(frozen=True)
class IntegrationResponse:
    """One of an AWS integration's responses (IntegrationResponses): chosen when the
    service's status matches `selection_pattern` (None: the default), answered with
    `status`, its mapping templates by content type and its static headers."""

    status: int
    selection_pattern: str | None = None
    templates: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ServiceRouteSpec:
    """An API Gateway method with an AWS service integration (``Type: AWS``): the request
    mapped by its Velocity templates into the service's own request (SQS, SNS, DynamoDB),
    sent as the integration's role (`role`: None = no Credentials, allowed everything), and
    the service's answer mapped back by the selected integration response.

    `action` is the Uri's ``action/<Action>``; `uri_path` its ``path/<...>`` form (an SQS
    queue's ``<account>/<name>``). `parameters` are RequestParameters
    (``integration.request.header.Content-Type`` -> ``'application/x-www-form-urlencoded'``)."""

    method: str
    path: str
    service: str
    action: str | None = None
    uri_path: str | None = None
    templates: tuple[tuple[str, str], ...] = ()
    passthrough: str = "WHEN_NO_MATCH"
    parameters: tuple[tuple[str, str], ...] = ()
    responses: tuple[IntegrationResponse, ...] = ()
    role: RolePolicy | None = None
    auth: AuthSpec | None = None
    # An HTTP API's first-class integration (``integrationSubtype: SQS-SendMessage``): the
    # action's parameters by name, each a literal or a ``$request.body.x`` style expression.
    action_parameters: tuple[tuple[str, str], ...] = ()
    # ApiKeyRequired: the x-api-key header must hold one of `api_keys` (the usage plans' keys).
    api_key_required: bool = False
    api_keys: tuple[str, ...] = ()
