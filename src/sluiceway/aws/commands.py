"""What ``sluiceway render|deploy|destroy aws`` do, as functions the tests call too.

Deploying is the SAM CLI's job: `deploy_aws` renders the app, then runs ``sam build`` and
``sam deploy`` when ``sam`` is on PATH, and otherwise returns the exact commands to run. The
returned `Plan` says which happened.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sluiceway.app.loader import load_app
from sluiceway.aws.errors import DeployError
from sluiceway.aws.fragment import DEFAULT_STAGE
from sluiceway.aws.package import render
from sluiceway.aws.template import settable_parameters

Which = Callable[[str], str | None]
Runner = Callable[[Sequence[str], Path | None], int]

DEFAULT_OUT = Path(".sluiceway-aws")
_STACK = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")


@dataclass(frozen=True)
class Plan:
    """Commands for the SAM or AWS CLI, run in `cwd`; `ran` tells whether they were run."""

    commands: tuple[tuple[str, ...], ...]
    cwd: Path | None
    ran: bool

    def shell(self) -> str:
        """The commands as one line to paste into a shell."""
        lines = [shlex.join(command) for command in self.commands]
        if self.cwd is not None:
            lines.insert(0, f"cd {shlex.quote(str(self.cwd))}")
        return " && ".join(lines)


def render_aws(app_target: str, out_dir: Path | None = None, *, stage: str = DEFAULT_STAGE) -> Path:
    """Render the app `app_target` names (a blueprint, module:attr or path/to/app.py) into
    `out_dir` (default ``.sluiceway-aws/<app name>``); return the template's path."""
    app = load_app(app_target)
    return render(app, out_dir or DEFAULT_OUT / app.name, stage=stage)


def deploy_aws(
    app_target: str,
    stack_name: str,
    *,
    parameters: Mapping[str, str] | None = None,
    out_dir: Path | None = None,
    region: str | None = None,
    stage: str = DEFAULT_STAGE,
    which: Which = shutil.which,
    runner: Runner | None = None,
) -> Plan:
    """Render, then ``sam build`` and ``sam deploy`` (or, without ``sam``, the commands).

    `parameters` are the app's parameters by their declared names (``notify_email``), as
    ``sluiceway run --set`` takes them, and the ones the template adds by their names
    (``devices_domain_prefix``, ``iot_data_endpoint``: `template.settable_parameters`).
    """
    _check_stack(stack_name)
    app = load_app(app_target)
    settable = settable_parameters(app.graph)
    unknown = sorted(set(parameters or {}) - set(settable))
    if unknown:
        known = ", ".join(sorted(settable)) or "none"
        raise DeployError(
            f"app '{app.name}' has no parameter {', '.join(map(repr, unknown))} "
            f"(its parameters: {known})"
        )
    directory = out_dir or DEFAULT_OUT / stack_name
    render(app, directory, stage=stage)
    deploy = [
        "sam",
        "deploy",
        "--stack-name",
        stack_name,
        "--capabilities",
        "CAPABILITY_IAM",
        "--resolve-s3",
        "--no-confirm-changeset",
        "--no-fail-on-empty-changeset",
    ]
    overrides = [
        f"{settable[name]}={_override_value(value)}"
        for name, value in sorted((parameters or {}).items())
    ]
    if overrides:
        deploy += ["--parameter-overrides", *overrides]
    if region is not None:
        deploy += ["--region", region]
    commands = (("sam", "build"), tuple(deploy))
    return _run_or_show(commands, directory.resolve(), which("sam") is not None, runner)


def destroy_aws(
    stack_name: str,
    *,
    region: str | None = None,
    which: Which = shutil.which,
    runner: Runner | None = None,
) -> Plan:
    """Delete the stack and everything in it (tables included: their DeletionPolicy is
    Delete), with ``sam delete``, or else the AWS CLI's delete-stack and its waiter."""
    _check_stack(stack_name)
    regional = ("--region", region) if region is not None else ()
    if which("sam") is not None or which("aws") is None:
        commands: tuple[tuple[str, ...], ...] = (
            ("sam", "delete", "--stack-name", stack_name, "--no-prompts", *regional),
        )
        return _run_or_show(commands, None, which("sam") is not None, runner)
    commands = (
        ("aws", "cloudformation", "delete-stack", "--stack-name", stack_name, *regional),
        (
            "aws",
            "cloudformation",
            "wait",
            "stack-delete-complete",
            "--stack-name",
            stack_name,
            *regional,
        ),
    )
    return _run_or_show(commands, None, True, runner)


def _run_or_show(
    commands: tuple[tuple[str, ...], ...], cwd: Path | None, available: bool, runner: Runner | None
) -> Plan:
    if not available:
        return Plan(commands, cwd, ran=False)
    run = runner or _subprocess
    for command in commands:
        status = run(command, cwd)
        if status != 0:
            raise DeployError(f"`{shlex.join(command)}` failed (exit status {status})")
    return Plan(commands, cwd, ran=True)


def _subprocess(command: Sequence[str], cwd: Path | None) -> int:
    return subprocess.run(list(command), cwd=cwd, check=False).returncode


def _check_stack(stack_name: str) -> None:
    if not _STACK.fullmatch(stack_name):
        raise DeployError(
            f"stack name {stack_name!r}: a stack name starts with a letter and has up to 128 "
            "letters, digits and '-'"
        )


def _override_value(value: str) -> str:
    # sam splits --parameter-overrides on spaces; a value with spaces or quotes is quoted.
    if value and not re.search(r"[\s\"']", value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
