"""Finding the app a command names: a blueprint, ``module:attr`` or ``path/to/app.py``."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path

from sluiceway.app import App
from sluiceway.core.errors import SluicewayError

DEFAULT_REGION = "us-east-1"  # Settings().region

BLUEPRINTS = {
    "orders": "sluiceway.blueprints.orders:app",
    "registrations": "sluiceway.blueprints.registrations:app",
    "iot-router": "sluiceway.blueprints.iot_router:app",
}


class AppNotFound(SluicewayError):
    code = "AppNotFound"


def load_app(target: str = "orders") -> App:
    """Import the app `target` names. Importing is inert: it declares, nothing runs.

    The app's `origin` says how to import it again elsewhere (an execution environment):
    the module:attr, or the file's absolute path, ``/abs/app.py:attr``.

    A handler module may make its SDK clients when it is imported (``table =
    boto3.resource("dynamodb").Table("orders")`` at module level, as Lambda code does);
    boto3 needs a region for that, so one is set here when the environment has none (the
    runtime's region; in an execution environment Lambda's variables hold it)."""
    if not (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")):
        os.environ["AWS_DEFAULT_REGION"] = os.environ.get("SLUICEWAY_REGION", DEFAULT_REGION)
    if target in BLUEPRINTS:
        app = _from_module(BLUEPRINTS[target], target)
        app.origin = BLUEPRINTS[target]
    elif target.endswith(".py") or "/" in target or target.partition(":")[0].endswith(".py"):
        path, _, attr = target.partition(":")
        app = _from_file(Path(path), attr or "app", target)
        app.origin = f"{Path(path).resolve()}:{attr or 'app'}"
    elif ":" in target:
        app = _from_module(target, target)
        app.origin = target
    else:
        known = ", ".join(BLUEPRINTS)
        raise AppNotFound(
            f"{target!r} is not a blueprint ({known}), a module:attr or a path/to/app.py"
        )
    return app


def _from_module(spec: str, target: str) -> App:
    module_name, _, attr = spec.partition(":")
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        raise AppNotFound(f"cannot import {module_name!r} for {target!r}: {error}") from None
    return _attr(module.__dict__, attr or "app", target)


def _from_file(path: Path, attr: str, target: str) -> App:
    if not path.is_file():
        raise AppNotFound(f"{path} does not exist")
    name = f"sluiceway_app_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise AppNotFound(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(path.parent.resolve()))
    spec.loader.exec_module(module)
    return _attr(module.__dict__, attr, target)


def _attr(namespace: dict[str, object], attr: str, target: str) -> App:
    app = namespace.get(attr)
    if not isinstance(app, App):
        raise AppNotFound(f"{target!r} has no App named {attr!r}")
    return app
