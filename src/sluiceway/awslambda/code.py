"""A handler found as Lambda finds it: a code folder and ``Handler: module.function``.

A template's function is not imported by the runtime: its execution environments import
`CodeSource.module` from `CodeSource.root` (Lambda's ``/var/task``), with the function's layers
on the path after it, as Lambda puts ``/opt/python`` there. `CodeHandler` is the callable the
app graph holds for it; called in the runtime's own process (``--isolation thread``) it
imports the module on first use.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sluiceway.core.errors import DeclarationError


@dataclass(frozen=True)
class CodeSource:
    root: str  # the code folder (CodeUri), absolute
    handler: str  # Lambda's Handler: "app.lambda_handler", "pkg/mod.fn" or "pkg.mod.fn"
    layers: tuple[str, ...] = ()  # folders put on sys.path after `root`

    @property
    def module(self) -> str:
        return self.handler.rpartition(".")[0].replace("/", ".")

    @property
    def function(self) -> str:
        return self.handler.rpartition(".")[2]

    @property
    def path(self) -> tuple[str, ...]:
        return (self.root, *self.layers)

    def load(self) -> Callable[[Any, Any], Any]:
        """Import the module (the path set up by the caller) and return its handler."""
        module = importlib.import_module(self.module)
        handler = getattr(module, self.function, None)
        if not callable(handler):
            raise AttributeError(f"Handler '{self.function}' missing on module '{self.module}'")
        return handler  # type: ignore[no-any-return]


def check_code(where: str, root: str, handler: Any) -> CodeSource:
    """A `CodeSource`, checked as Lambda checks ``Handler`` (module.function)."""
    if not isinstance(handler, str) or "." not in handler.strip("."):
        raise DeclarationError(
            where,
            f"Handler {handler!r} is not module.function",
            "set Handler: app.lambda_handler (the file app.py, the function lambda_handler)",
        )
    return CodeSource(root, handler)


class CodeHandler:
    """The callable a template function's spec holds; see the module's docstring."""

    def __init__(self, code: CodeSource) -> None:
        self.code = code
        self.__module__ = code.module
        self.__qualname__ = code.function
        self.__name__ = code.function
        self._loaded: Callable[[Any, Any], Any] | None = None
        self._lock = threading.Lock()

    def __call__(self, event: Any, context: Any) -> Any:
        if self._loaded is None:
            with self._lock:
                if self._loaded is None:
                    for folder in reversed(self.code.path):
                        if folder not in sys.path:
                            sys.path.insert(0, folder)
                    self._loaded = self.code.load()
        return self._loaded(event, context)

    def __repr__(self) -> str:
        return f"CodeHandler({self.code.root!r}, {self.code.handler!r})"
