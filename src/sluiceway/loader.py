"""Finding the app a command names: a blueprint, ``module:attr`` or ``path/to/app.py``."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from sluiceway.app import App
from sluiceway.errors import SluicewayError

BLUEPRINTS = {
    "orders": "sluiceway.blueprints.orders:app",
    "registrations": "sluiceway.blueprints.registrations:app",
    "iot-router": "sluiceway.blueprints.iot_router:app",
}


class AppNotFound(SluicewayError):
    code = "AppNotFound"


def load_app(target: str = "orders") -> App:
    """Import the app `target` names. Importing is inert: it declares, nothing runs."""
    if target in BLUEPRINTS:
        return _from_module(BLUEPRINTS[target], target)
    if target.endswith(".py") or "/" in target:
        path, _, attr = target.partition(":")
        return _from_file(Path(path), attr or "app", target)
    if ":" in target:
        return _from_module(target, target)
    known = ", ".join(BLUEPRINTS)
    raise AppNotFound(f"{target!r} is not a blueprint ({known}), a module:attr or a path/to/app.py")


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
