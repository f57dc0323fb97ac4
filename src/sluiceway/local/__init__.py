"""The local runtime: the app running on one machine, on SQLite. The engine assembles the
services' local engines, the registry stores the graph, the execution environments run
handlers in processes of their own; `sluiceway run`, the admin functions, metrics and the
console sit on top.

`Admin`, `LocalEngine` and `Settings` are imported on first use, so a process that needs one
part of the engine (the front door, a function environment) does not import all of it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sluiceway.core.settings import Settings
    from sluiceway.local.admin import Admin
    from sluiceway.local.engine import LocalEngine

__all__ = ["Admin", "LocalEngine", "Settings"]

_WHERE = {
    "Admin": "sluiceway.local.admin",
    "LocalEngine": "sluiceway.local.engine",
    "Settings": "sluiceway.core.settings",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'sluiceway.local' has no attribute {name!r}")
    return getattr(importlib.import_module(where), name)
