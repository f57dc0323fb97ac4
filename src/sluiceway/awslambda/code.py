"""A handler found as Lambda finds it: a code folder and ``Handler: module.function``.

A template's function is not imported by the runtime: its execution environments import
`CodeSource.module` from `CodeSource.root` (Lambda's ``/var/task``), with the function's layers
on the path after it, as Lambda puts ``/opt/python`` there. `CodeHandler` is the callable the
app graph holds for it; called in the runtime's own process (``--isolation thread``) it
imports the module on first use.
"""

from __future__ import annotations

import ast
import importlib
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
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


def check_defined(where: str, code: CodeSource) -> None:
    """Refuse a Handler whose module is in the code folder but defines no such function (read,
    not imported: importing runs the user's code, which belongs to its environment). A
    module not found here may come from a layer or the runtime; its environment says then."""
    base = Path(code.root, *code.module.split("."))
    source = next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()), None)
    if source is None:
        return
    try:
        tree = ast.parse(source.read_bytes(), str(source))
    except (SyntaxError, ValueError) as error:
        raise DeclarationError(
            where, f"{source} does not parse: {error}", "fix the syntax error"
        ) from None
    defined = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Assign):
            defined.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign | ast.AugAssign) and isinstance(node.target, ast.Name):
            defined.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            defined.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif not isinstance(node, ast.Expr):
            return  # defined conditionally (if/try/for): only importing can tell
    if code.function not in defined:
        found = sorted(n for n in defined if not n.startswith("_"))
        raise DeclarationError(
            where,
            f"Handler '{code.handler}': {source.name} defines no '{code.function}'",
            f"point Handler at one of its functions ({', '.join(found) or 'none defined'})",
        )


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
