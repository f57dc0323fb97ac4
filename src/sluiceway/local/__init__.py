"""The local engine: the app running on one machine, on SQLite."""

from sluiceway.local.admin import Admin
from sluiceway.local.engine import LocalEngine
from sluiceway.settings import Settings

__all__ = ["Admin", "LocalEngine", "Settings"]
