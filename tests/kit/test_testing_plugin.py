"""The pytest plugin as a user's project meets it: installed with the package (the `pytest11`
entry point), fixtures on request, nothing otherwise. Each case is a pytest run of its own."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]


def run(pytester: pytest.Pytester, test: str, ini: str = "") -> pytest.RunResult:
    pytester.makepyfile(test_user=textwrap.dedent(test))
    if ini:
        pytester.makeini(textwrap.dedent(ini))
    return pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")


def test_the_marker_names_the_app(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import pytest

        pytestmark = pytest.mark.sluiceway_app("orders", params={"notify_email": "a@b.test"})

        def test_an_order(sluiceway_app):
            assert sluiceway_app.http.post("/orders", json={"item": "x"}).status_code == 200
            sluiceway_app.drain()
            (mail,) = sluiceway_app.emails
            assert mail["To"] == "a@b.test"

        @pytest.mark.sluiceway_app("registrations")
        def test_the_nearest_marker_wins(sluiceway_app):
            assert sluiceway_app.app.name == "registrations"
        """,
    )
    result.assert_outcomes(passed=2)


def test_the_ini_names_the_app_and_a_path_is_the_ini_folders(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        shop=textwrap.dedent(
            """
            from sluiceway import App

            app = App("shop")
            app.queue("orders")
            """
        )
    )
    result = run(
        pytester,
        """
        def test_it(sluiceway_app):
            assert sluiceway_app.app.name == "shop"
            assert [q.name for q in sluiceway_app.app.graph.queues] == ["orders"]
        """,
        ini="""
        [pytest]
        sluiceway_app = shop.py
        """,
    )
    result.assert_outcomes(passed=1)


def test_without_a_target_the_fixture_says_how_to_name_one(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        def test_it(sluiceway_app):
            pass
        """,
    )
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*mark the test with @pytest.mark.sluiceway_app('orders')*"])


def test_the_plugin_is_inert_unless_asked(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import os
        import sys

        def test_nothing_of_the_engine_is_loaded():
            loaded = [m for m in sys.modules if m.startswith("sluiceway")]
            assert "sluiceway.testing.plugin" in loaded
            engine = ("sluiceway.local", "sluiceway.testing.harness")
            assert not [m for m in loaded if m.startswith(engine)]
            assert "AWS_ENDPOINT_URL" not in os.environ
        """,
    )
    result.assert_outcomes(passed=1)


def test_apps_are_closed_when_the_test_ends(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import os

        import pytest
        from sluiceway import NotBound

        seen = {}

        def test_one(sluiceway):
            seen["app"] = sluiceway.run("orders")
            assert os.environ["AWS_ENDPOINT_URL"] == "http://sluiceway.test"

        def test_two():
            assert "AWS_ENDPOINT_URL" not in os.environ
            with pytest.raises(NotBound):  # closed: its handles are bound to nothing
                seen["app"].app.backend
        """,
    )
    result.assert_outcomes(passed=2)


def test_the_readme_shows_the_example_as_it_runs() -> None:
    root = Path(__file__).parent.parent.parent
    example = (root / "tests" / "kit" / "test_orders_example.py").read_text()
    code = example[example.index("import json") :]
    readme = (root / "README.md").read_text()
    section = readme[readme.index("## Testing your app") :]
    assert f"```python\n{code}```" in section
