"""The pytest plugin (registered through the ``pytest11`` entry point): fixtures only, so it
does nothing until a test asks for one.

``sluiceway``
    runs apps under test: ``sluiceway.run("orders", params={...})`` returns a
    `RunningApp` on a fresh data directory in the test's ``tmp_path``; each is closed when
    the test ends.

``sluiceway_app``
    the app the test's ``@pytest.mark.sluiceway_app(target, **options)`` marker names (the
    nearest one: a module's ``pytestmark`` serves all its tests), or else the ``sluiceway_app``
    ini option, run as ``sluiceway.run`` would.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from sluiceway.app import App
    from sluiceway.testing.harness import RunningApp

MARKER = "sluiceway_app"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        MARKER,
        "The app the sluiceway_app fixture runs when a test has no sluiceway_app marker "
        "(a blueprint, module:attr, path/to/app.py or a template).",
        default=None,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(target, **options): the app the sluiceway_app fixture runs "
        "(options as sluiceway.testing.run_app takes them).",
    )


class Launcher:
    """What the ``sluiceway`` fixture is: runs apps for one test, closes them after it."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self.apps: list[RunningApp] = []

    def run(self, target: App | str | Path, **options: Any) -> RunningApp:
        """`sluiceway.testing.run_app` on a data directory of this test's (unless given)."""
        from sluiceway.testing.harness import run_app

        options.setdefault("data_dir", self._root / f"sluiceway-{len(self.apps)}")
        app = run_app(target, **options)
        self.apps.append(app)
        return app

    def close(self) -> None:
        while self.apps:
            self.apps.pop().close()


@pytest.fixture
def sluiceway(tmp_path: Path) -> Iterator[Launcher]:
    """Run apps under test: ``sluiceway.run(target, **options)``."""
    launcher = Launcher(tmp_path)
    try:
        yield launcher
    finally:
        launcher.close()


@pytest.fixture
def sluiceway_app(sluiceway: Launcher, request: pytest.FixtureRequest) -> RunningApp:
    """The app the ``sluiceway_app`` marker (or ini option) names, running."""
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        if len(marker.args) != 1:
            raise pytest.UsageError(f"@pytest.mark.{MARKER} takes one target: {marker.args!r}")
        return sluiceway.run(marker.args[0], **marker.kwargs)
    target = request.config.getini(MARKER)
    if not target:
        raise pytest.UsageError(
            f"the {MARKER} fixture needs an app: mark the test with "
            f"@pytest.mark.{MARKER}('orders') or set {MARKER} = ... in the pytest ini"
        )
    found = request.config.rootpath / str(target)  # a path, from the ini file's folder
    return sluiceway.run(str(found) if found.exists() else str(target))
