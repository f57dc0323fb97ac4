"""`sluiceway run APP`: a blueprint name, module:attr, or path/to/app.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sluiceway.app.loader import AppNotFound, load_app

APP_SOURCE = """
from sluiceway import App

app = App("mine")
other = App("second")
"""


def test_a_blueprint_is_loaded_by_name() -> None:
    assert load_app("orders").name == "orders"


def test_an_app_is_loaded_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "shop.py"
    path.write_text(APP_SOURCE)
    assert load_app(str(path)).name == "mine"
    assert load_app(f"{path}:other").name == "second"


def test_an_app_is_loaded_from_module_and_attribute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "myshop_app.py").write_text(APP_SOURCE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert load_app("myshop_app:other").name == "second"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nosuch", "is not a blueprint"),
        ("no_such_module_here:app", "cannot import 'no_such_module_here'"),
        ("missing/file.py", "does not exist"),
    ],
)
def test_a_target_that_is_not_an_app_says_why(target: str, message: str) -> None:
    with pytest.raises(AppNotFound, match=message):
        load_app(target)


def test_an_attribute_that_is_not_an_app_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notapp.py"
    path.write_text("app = 42\n")
    with pytest.raises(AppNotFound, match="has no App named 'app'"):
        load_app(str(path))
