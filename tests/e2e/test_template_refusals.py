"""`sluiceway run` refuses a template it cannot run before anything starts: exit status 1
and one message naming the logical id and the fix (a missing parameter, a bad intrinsic, a
runtime other than Python, a resource sluiceway does not emulate that the app needs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from textwrap import dedent

import pytest

pytestmark = pytest.mark.slow

FUNCTION = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
Resources:
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: {runtime}
      Environment:
        Variables:
          STAGE: !Ref Stage
          {extra}
{more}
"""


def run(
    tmp_path: Path, *args: str, runtime: str = "python3.12", extra: str = "", more: str = ""
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return 1\n")
    body = FUNCTION.format(runtime=runtime, extra=extra or "KIND: worker", more=more)
    (tmp_path / "template.yaml").write_text(dedent(body))
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "sluiceway",
            "run",
            str(tmp_path),
            "--port",
            "0",
            "--data-dir",
            str(tmp_path / "data"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_missing_parameter(tmp_path: Path) -> None:
    done = run(tmp_path)
    assert done.returncode == 1
    assert "parameter 'Stage'" in done.stderr
    assert "--parameter-overrides Stage=" in done.stderr


def test_a_bad_intrinsic(tmp_path: Path) -> None:
    done = run(tmp_path, "--parameter-overrides", "Stage=dev", extra="KIND: {Fn::Upper: x}")
    assert done.returncode == 1
    assert "resource 'Worker'" in done.stderr
    assert "Fn::Upper" in done.stderr


def test_a_runtime_other_than_python(tmp_path: Path) -> None:
    done = run(tmp_path, "--parameter-overrides", "Stage=dev", runtime="nodejs20.x")
    assert done.returncode == 1
    assert "resource 'Worker' (AWS::Lambda::Function) property Runtime" in done.stderr
    assert "nodejs20.x" in done.stderr


def test_an_unemulated_resource_the_app_needs(tmp_path: Path) -> None:
    more = "  Machine:\n    Type: AWS::StepFunctions::StateMachine\n    Properties: {}\n"
    done = run(
        tmp_path, "--parameter-overrides", "Stage=dev", extra="MACHINE: !Ref Machine", more=more
    )
    assert done.returncode == 1
    assert "resource 'Machine' (AWS::StepFunctions::StateMachine)" in done.stderr
    assert "'Worker' (AWS::Lambda::Function) depends on it" in done.stderr
