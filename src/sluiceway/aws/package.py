"""Writing a rendered app to disk: ``template.yaml`` and, under ``src/``, the code Lambda runs.

``src/`` holds the sluiceway package (without the local engine and the CLI, which need
uvicorn and click; the Lambda path imports neither) and the app's own module or package. No
third-party package is needed there: the Python runtime ships boto3. Rendering twice gives
the same bytes.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import sluiceway
from sluiceway.app import App
from sluiceway.aws import _yaml
from sluiceway.aws.errors import RenderError
from sluiceway.aws.fragment import DEFAULT_STAGE, Code
from sluiceway.aws.template import template_for

TEMPLATE = "template.yaml"
CODE_DIR = "src"
MARKER = ".sluiceway-render"
# Paths inside the sluiceway package that Lambda never imports.
EXCLUDED = frozenset({"local", "cli", "__main__.py"})
_NEVER_COPIED = ("__pycache__", "*.pyc", "*.pyo")
REQUIREMENTS = (
    "# Nothing to install: boto3 ships with Lambda's Python runtime, and sluiceway and the\n"
    "# app are copied next to this file by `sluiceway render aws`.\n"
)


@dataclass(frozen=True)
class AppLocation:
    """Where an app object lives: ``module:attr``, and the file that defines the module."""

    module: str
    attr: str
    file: Path | None

    @property
    def target(self) -> str:
        return f"{self.module}:{self.attr}"


def locate(app: App) -> AppLocation:
    """Find the module attribute that holds `app` (so Lambda can import it by name)."""
    candidates = [f.module for f in app.graph.functions] + list(sys.modules)
    for name in dict.fromkeys(candidates):
        module = sys.modules.get(name)
        if module is None:
            continue
        for attr, value in list(vars(module).items()):
            if value is app:
                if name == "__main__":
                    break
                file = getattr(module, "__file__", None)
                return AppLocation(name, attr, Path(file) if file else None)
    raise RenderError(
        f"app '{app.name}': no importable module holds it; declare the app at the top level "
        "of a module (app = App(...)) and render it as module:attr or path/to/app.py"
    )


def render(app: App, out_dir: Path, *, stage: str = DEFAULT_STAGE) -> Path:
    """Write `app` as a SAM project into `out_dir`; return the template's path.

    >>> render(load_app("orders"), Path("build/orders"))          # doctest: +SKIP
    PosixPath('build/orders/template.yaml')
    """
    location = locate(app)
    template = template_for(app.graph, Code(app=location.target, uri=CODE_DIR), stage=stage)
    out_dir.mkdir(parents=True, exist_ok=True)
    code = out_dir / CODE_DIR
    _clear(code)
    _copy_sluiceway(code / "sluiceway")
    _copy_app(location, code)
    (code / "requirements.txt").write_text(REQUIREMENTS)
    (code / MARKER).write_text("written by `sluiceway render aws`; replaced on every render\n")
    path = out_dir / TEMPLATE
    path.write_text(_yaml.dump(template))
    return path


def _clear(code: Path) -> None:
    if not code.exists():
        return
    if not (code / MARKER).is_file():
        raise RenderError(
            f"{code} exists and was not written by sluiceway; render into another --out "
            "directory (rendering replaces its src/)"
        )
    shutil.rmtree(code)


def _copy_sluiceway(destination: Path) -> None:
    root = Path(sluiceway.__file__).resolve().parent

    def ignore(directory: str, entries: list[str]) -> set[str]:
        relative = Path(directory).resolve().relative_to(root)
        skipped = set(shutil.ignore_patterns(*_NEVER_COPIED)(directory, entries))
        return skipped | {e for e in entries if (relative / e).as_posix() in EXCLUDED}

    shutil.copytree(root, destination, ignore=ignore)


def _copy_app(location: AppLocation, code: Path) -> None:
    top = location.module.partition(".")[0]
    if top == "sluiceway":
        return  # a blueprint: already in the package
    package = sys.modules.get(top)
    package_dir = getattr(package, "__path__", None)
    if package_dir:
        shutil.copytree(
            Path(next(iter(package_dir))),
            code / top,
            ignore=shutil.ignore_patterns(*_NEVER_COPIED),
        )
        return
    if location.file is None or not location.file.is_file():
        raise RenderError(
            f"app {location.target}: its module has no source file to package; "
            "declare the app in a .py file"
        )
    shutil.copyfile(location.file, code / f"{location.module}.py")
