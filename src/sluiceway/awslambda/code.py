"""A handler found as Lambda finds it: a code folder and ``Handler: module.function``.

A template's function is not imported by the runtime: its execution environments import
`CodeSource.module` from `CodeSource.root` (Lambda's ``/var/task``), with the function's layers
on the path after it, as Lambda puts ``/opt/python`` there. `CodeHandler` is the callable the
app graph holds for it; called in the runtime's own process (``--isolation thread``, or a test
under `sluiceway.testing`) it imports the module on first use, apart from other folders' modules
of the same name (`load_apart`).
"""

from __future__ import annotations

import ast
import importlib
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
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
                    self._loaded = load_apart(self.code)
        return self._loaded(event, context)

    def __repr__(self) -> str:
        return f"CodeHandler({self.code.root!r}, {self.code.handler!r})"


# The modules each code folder (with its layers) gave, kept out of `sys.modules` between loads.
_apart: dict[tuple[str, ...], dict[str, ModuleType]] = {}
_apart_lock = threading.Lock()


def load_apart(code: CodeSource) -> Callable[[Any, Any], Any]:
    """`code`'s handler, imported in this process as its own environment would import it: from
    its folders first, with modules of its own. Two templates' ``index.py`` (or a test's own
    ``app`` module and a function's ``app.py``) are different modules: while the import runs,
    `sys.modules` holds none of the modules the folders' names would shadow but the folders'
    own (from an earlier load), and afterwards the others are back."""
    names = _top_level_names(code.path)
    with _apart_lock:
        ours = _apart.setdefault(code.path, {})
        displaced = {n: sys.modules.pop(n) for n in list(sys.modules) if _named(n, names)}
        sys.modules.update(ours)
        saved = list(sys.path)
        sys.path[:0] = list(code.path)
        try:
            return code.load()
        finally:
            sys.path[:] = saved
            for name in [n for n in sys.modules if _named(n, names)]:
                ours[name] = sys.modules.pop(name)
            sys.modules.update(displaced)


def _named(module: str, names: set[str]) -> bool:
    return module.partition(".")[0] in names


def _top_level_names(folders: tuple[str, ...]) -> set[str]:
    """The top-level modules and packages `folders` provide."""
    names: set[str] = set()
    for folder in folders:
        try:
            entries = list(Path(folder).iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.suffix == ".py" or (entry.is_dir() and entry.name.isidentifier()):
                names.add(entry.stem if entry.suffix == ".py" else entry.name)
    return names
