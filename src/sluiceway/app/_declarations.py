"""What an app's declarations share: the registries they fill and the checks on them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sluiceway.apigateway.spec import RouteSpec, ServiceRouteSpec
from sluiceway.apigateway.validation import HTTP_METHODS, route_shape
from sluiceway.awslambda.spec import (
    FunctionSpec,
)
from sluiceway.cognito.handle import UserPool
from sluiceway.cognito.spec import AuthSpec
from sluiceway.core.errors import DeclarationError
from sluiceway.core.specs import Destination, ParameterRef
from sluiceway.dynamodb.handle import Table
from sluiceway.iot.handle import Iot
from sluiceway.pipes.spec import PipeSpec
from sluiceway.sns.handle import Sms, Topic
from sluiceway.sns.spec import SubscriptionSpec
from sluiceway.sqs.handle import Queue


class Declarations:
    """The registries an app's declarations fill, and the checks they share."""

    name: str
    _queues: dict[str, Queue]
    _tables: dict[str, Table]
    _topics: dict[str, Topic]
    _subscriptions: list[SubscriptionSpec]
    _routes: list[RouteSpec]
    _service_routes: list[ServiceRouteSpec]
    _shapes: dict[tuple[str, str], str]  # (method, path shape) -> what took it
    _functions: dict[str, FunctionSpec]
    _pipes: dict[str, PipeSpec]
    _pools: dict[str, UserPool]
    _parameters: dict[str, ParameterRef]
    _iot: Iot | None
    sms: Sms

    def _claim_route(self, where: str, method: str, path: str) -> None:
        shape = route_shape(where, path)
        for other in ("ANY", method) if method != "ANY" else HTTP_METHODS:
            taken = self._shapes.get((other, shape))
            if taken is not None:
                raise DeclarationError(
                    where, f"{taken} already answers {other} on this path", "use another path"
                )
        self._shapes[(method, shape)] = where

    def _auth(self, where: str, auth: Any) -> AuthSpec | None:
        if auth is None:
            return None
        if not isinstance(auth, AuthSpec) or auth.pool not in self._pools:
            raise DeclarationError(
                where,
                f"auth={auth!r} is not a requirement of a user pool of this app",
                "pass auth=pool.requires('resource/scope')",
            )
        return auth

    def _function_of(self, where: str, option: str, handler: Any) -> str:
        """The name of the function `handler` was declared as in this app."""
        if isinstance(handler, str) and handler in self._functions:
            return handler
        found = [spec.name for spec in self._functions.values() if spec.handler is handler]
        if len(found) > 1:
            raise DeclarationError(
                where,
                f"{option}={getattr(handler, '__name__', handler)!r} is the handler of several "
                f"functions ({', '.join(found)})",
                f"name the function instead: {option}={found[0]!r}",
            )
        if found:
            return found[0]
        raise DeclarationError(
            where,
            f"{option}={handler!r} is not a function declared in app '{self.name}'",
            "declare it first with @app.function(...) (or another app.on_* decorator), or "
            "give its name",
        )

    def _destination(self, where: str, handle: Queue | Topic, option: str) -> Destination:
        if isinstance(handle, Queue):
            return Destination("queue", self._own(handle, Queue, where, option).name)
        return Destination("topic", self._own(handle, Topic, where, option).name)

    def _own(self, handle: Any, kind: type[Any], where: str, option: str) -> Any:
        registries: dict[type[Any], Mapping[str, Any]] = {
            Queue: self._queues,
            Table: self._tables,
            Topic: self._topics,
        }
        registry = registries[kind]
        noun = kind.__name__.lower()
        if not isinstance(handle, kind):
            raise DeclarationError(
                where,
                f"{option}={handle!r} is not a {noun} handle",
                f"pass the object app.{noun}(...) returned",
            )
        if registry.get(handle.name) is not handle:
            raise DeclarationError(
                where,
                f"{noun} '{handle.name}' is not declared in app '{self.name}'",
                f"declare it with app.{noun}('{handle.name}', ...) in this app",
            )
        return handle

    def _unique(self, registry: Mapping[str, Any], name: str, kind: str) -> None:
        if name in registry:
            raise DeclarationError(
                f"{kind} {name!r}",
                "declared twice",
                f"declare each {kind} once and reuse the handle",
            )
