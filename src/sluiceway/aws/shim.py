"""The Lambda entry point: ``Handler: sluiceway.aws.shim.handler``.

The template sets, on every function, ``SLUICEWAY_APP`` (``module:attr``), ``SLUICEWAY_FUNCTION``
(the declared name) and one variable per resource the function's grants name
(`names.env_var`). On the first invocation in a container the shim imports the app, binds its
handles to a `Boto3Backend` built from those variables and the function's grants, and keeps
both; every invocation then calls the user's handler with the event as Lambda passed it and
returns its result as the handler returned it.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sluiceway.app import App
from sluiceway.aws.adapters import Boto3Backend, ResourceNames
from sluiceway.aws.errors import ShimError
from sluiceway.awslambda import permissions
from sluiceway.awslambda.spec import FunctionSpec
from sluiceway.core.render import names


@dataclass(frozen=True)
class Bound:
    """An app imported in this container, one of its functions, and the backend its handles
    call."""

    app: App
    function: FunctionSpec
    backend: Boto3Backend


_BOUND: dict[tuple[str, str], Bound] = {}


def handler(event: Any, context: Any) -> Any:
    """What Lambda calls. The event and the result pass through untouched."""
    bound = bind(os.environ)
    # Cheap, and keeps the handles on this backend even if something rebound the app.
    bound.app.bind(bound.backend)
    return bound.function.handler(event, context)


def bind(env: Mapping[str, str]) -> Bound:
    """The app and function `env` names, imported and bound once per container."""
    target = _required(env, names.APP_VARIABLE)
    function_name = _required(env, names.FUNCTION_VARIABLE)
    key = (target, function_name)
    bound = _BOUND.get(key)
    if bound is None:
        app = import_app(target)
        graph = app.graph
        try:
            function = graph.function(function_name)
        except KeyError:
            raise ShimError(
                f"app '{app.name}' ({target}) declares no function named {function_name!r}; "
                "render and deploy the app again"
            ) from None
        backend = Boto3Backend(
            ResourceNames.from_env(graph, env),
            function=function.name,
            grants=permissions.grants_for(function),
        )
        bound = _BOUND[key] = Bound(app, function, backend)
    return bound


def import_app(target: str) -> App:
    """Import ``module:attr`` and return the `App` there."""
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    app = getattr(module, attr or "app", None)
    if not isinstance(app, App):
        raise ShimError(f"{target} is not an App; {names.APP_VARIABLE} must name one")
    return app


def forget() -> None:
    """Drop what this container bound (tests do, between fake AWS accounts)."""
    _BOUND.clear()


def _required(env: Mapping[str, str], variable: str) -> str:
    value = env.get(variable)
    if not value:
        raise ShimError(
            f"{variable} is not set; this handler runs in functions deployed from the "
            "template `sluiceway render aws` writes"
        )
    return value
