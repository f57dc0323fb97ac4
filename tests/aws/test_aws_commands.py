"""`sluiceway render|deploy|destroy aws`: what they write, run and print."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from sluiceway.aws import DeployError, RenderError, deploy_aws, destroy_aws, locate, render_aws
from sluiceway.blueprints.orders import app as orders_app
from sluiceway.cli.aws import deploy, destroy, render

# The wiring proposed for sluiceway.cli: main.add_command(render/deploy/destroy).
cli = click.Group("sluiceway", commands=[render, deploy, destroy])


class Recorder:
    """Stands in for subprocess: records each command and its directory."""

    def __init__(self, status: int = 0) -> None:
        self.status = status
        self.calls: list[tuple[tuple[str, ...], Path | None]] = []

    def __call__(self, command: Sequence[str], cwd: Path | None) -> int:
        self.calls.append((tuple(command), cwd))
        return self.status


def on_path(*tools: str) -> object:
    return lambda name: f"/usr/bin/{name}" if name in tools else None


# -- render ---------------------------------------------------------------------------------


def test_render_writes_the_template_and_the_code_lambda_runs(tmp_path: Path) -> None:
    path = render_aws("orders", tmp_path / "out")
    assert path == tmp_path / "out" / "template.yaml"
    code = tmp_path / "out" / "src"
    assert (code / "sluiceway" / "aws" / "shim.py").is_file()
    assert (code / "sluiceway" / "blueprints" / "orders.py").is_file()
    assert (code / "requirements.txt").read_text().startswith("# Nothing to install")
    assert not (code / "sluiceway" / "local").exists()
    assert not (code / "sluiceway" / "cli.py").exists()
    assert not (code / "sluiceway" / "aws" / "cli.py").exists()
    assert not list(code.rglob("__pycache__"))


@pytest.mark.parametrize("blueprint", ["orders", "iot-router"])
def test_the_packaged_code_imports_without_the_local_engine_click_or_uvicorn(
    tmp_path: Path, blueprint: str
) -> None:
    render_aws(blueprint, tmp_path / "out")
    module = blueprint.replace("-", "_")
    code = tmp_path / "out" / "src"
    probe = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(code)!r})
        class Refuse:
            def find_spec(self, name, path=None, target=None):
                lambda_lacks = ("click", "uvicorn", "httptools", "uvloop", "cryptography")
                if name.split(".")[0] in (*lambda_lacks, "amqtt", "paho"):
                    raise ImportError(f"{{name}} is not in Lambda")
        sys.meta_path.insert(0, Refuse())
        import sluiceway.aws.shim
        import sluiceway.blueprints.{module}
        assert sluiceway.__file__.startswith({str(code)!r}), sluiceway.__file__
        assert not any(m.startswith("sluiceway.local") for m in sys.modules)
        assert "boto3" not in sys.modules  # imported by the first client, not before
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout.strip()) == (0, "ok"), result.stderr


def test_an_app_from_a_file_is_packaged_next_to_sluiceway(tmp_path: Path) -> None:
    source = tmp_path / "shop.py"
    source.write_text(
        "from sluiceway import App\n"
        "app = App('shop')\n"
        "jobs = app.queue('jobs')\n"
        "@app.on_queue(jobs)\n"
        "def work(event, context):\n"
        "    return None\n"
    )
    path = render_aws(str(source), tmp_path / "out")
    assert (tmp_path / "out" / "src" / "sluiceway_app_shop.py").read_text() == source.read_text()
    function = yaml.safe_load(path.read_text())["Resources"]["Work"]["Properties"]
    assert function["Environment"]["Variables"]["SLUICEWAY_APP"] == "sluiceway_app_shop:app"


def test_a_blueprint_is_found_by_its_module_attribute() -> None:
    location = locate(orders_app)
    assert (location.target, location.file and location.file.name) == (
        "sluiceway.blueprints.orders:app",
        "orders.py",
    )


def test_render_refuses_to_replace_a_src_directory_it_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "project" / "src").mkdir(parents=True)
    with pytest.raises(RenderError, match="was not written by sluiceway"):
        render_aws("orders", tmp_path / "project")


@pytest.mark.parametrize("blueprint", ["orders", "registrations", "iot-router"])
def test_the_cli_renders_a_blueprint_and_says_how_to_deploy(tmp_path: Path, blueprint: str) -> None:
    result = CliRunner().invoke(cli, ["render", "aws", blueprint, "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o" / "template.yaml").is_file()
    module = blueprint.replace("-", "_")
    assert (tmp_path / "o" / "src" / "sluiceway" / "blueprints" / f"{module}.py").is_file()
    assert f"sluiceway deploy aws {blueprint} --stack-name <name>" in result.output


# -- deploy ---------------------------------------------------------------------------------


def test_without_sam_deploy_prints_the_exact_commands(tmp_path: Path) -> None:
    plan = deploy_aws(
        "orders",
        "orders-prod",
        parameters={"notify_email": "me@shop.test"},
        out_dir=tmp_path / "build",
        which=on_path(),  # type: ignore[arg-type]
    )
    assert not plan.ran
    assert plan.cwd == (tmp_path / "build").resolve()
    assert plan.commands == (
        ("sam", "build"),
        (
            "sam",
            "deploy",
            "--stack-name",
            "orders-prod",
            "--capabilities",
            "CAPABILITY_IAM",
            "--resolve-s3",
            "--no-confirm-changeset",
            "--no-fail-on-empty-changeset",
            "--parameter-overrides",
            "NotifyEmail=me@shop.test",
        ),
    )
    assert plan.shell().startswith(f"cd {plan.cwd} && sam build && sam deploy --stack-name")
    assert (tmp_path / "build" / "template.yaml").is_file()


def test_with_sam_deploy_builds_then_deploys_in_the_rendered_directory(tmp_path: Path) -> None:
    runner = Recorder()
    plan = deploy_aws(
        "orders",
        "orders-prod",
        out_dir=tmp_path / "build",
        region="eu-west-1",
        which=on_path("sam"),  # type: ignore[arg-type]
        runner=runner,
    )
    assert plan.ran
    assert [c[:2] for c, _ in runner.calls] == [("sam", "build"), ("sam", "deploy")]
    assert {cwd for _, cwd in runner.calls} == {(tmp_path / "build").resolve()}
    assert runner.calls[1][0][-2:] == ("--region", "eu-west-1")


def test_a_failing_sam_command_stops_the_deploy(tmp_path: Path) -> None:
    runner = Recorder(status=1)
    with pytest.raises(DeployError, match="`sam build` failed"):
        deploy_aws(
            "orders",
            "orders-prod",
            out_dir=tmp_path / "b",
            which=on_path("sam"),  # type: ignore[arg-type]
            runner=runner,
        )
    assert len(runner.calls) == 1


def test_a_parameter_value_with_spaces_is_quoted_for_sam(tmp_path: Path) -> None:
    plan = deploy_aws(
        "orders",
        "s",
        parameters={"notify_email": 'odd "name" @x'},
        out_dir=tmp_path / "b",
        which=on_path(),  # type: ignore[arg-type]
    )
    assert plan.commands[1][-1] == 'NotifyEmail="odd \\"name\\" @x"'


def test_an_unknown_parameter_or_a_bad_stack_name_is_refused_before_anything_runs(
    tmp_path: Path,
) -> None:
    with pytest.raises(DeployError, match=r"no parameter 'notify_sms' .*notify_email"):
        deploy_aws("orders", "s", parameters={"notify_sms": "x"}, out_dir=tmp_path / "b")
    with pytest.raises(DeployError, match="stack name '1-bad'"):
        deploy_aws("orders", "1-bad", out_dir=tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_the_cli_deploy_prints_the_commands_when_sam_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    result = CliRunner().invoke(
        cli,
        [
            "deploy",
            "aws",
            "orders",
            "--stack-name",
            "orders-dev",
            "--set",
            "notify_email=me@shop.test",
            "--out",
            str(tmp_path / "b"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "the SAM CLI is not installed; deploy with:"
    assert "--parameter-overrides NotifyEmail=me@shop.test" in result.output


def test_the_cli_deploy_rejects_a_malformed_setting(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["deploy", "aws", "--stack-name", "s", "--set", "oops", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "'oops' is not KEY=VALUE" in result.output


# -- destroy --------------------------------------------------------------------------------


def test_destroy_deletes_the_stack_with_sam() -> None:
    runner = Recorder()
    plan = destroy_aws("orders-prod", which=on_path("sam", "aws"), runner=runner)  # type: ignore[arg-type]
    assert plan.ran
    assert runner.calls == [
        (("sam", "delete", "--stack-name", "orders-prod", "--no-prompts"), None)
    ]


def test_without_sam_destroy_uses_the_aws_cli_and_waits_for_the_deletion() -> None:
    runner = Recorder()
    destroy_aws("orders-prod", region="us-east-1", which=on_path("aws"), runner=runner)  # type: ignore[arg-type]
    assert [c for c, _ in runner.calls] == [
        ("aws", "cloudformation", "delete-stack", "--stack-name", "orders-prod",
         "--region", "us-east-1"),
        ("aws", "cloudformation", "wait", "stack-delete-complete", "--stack-name",
         "orders-prod", "--region", "us-east-1"),
    ]  # fmt: skip


def test_with_neither_cli_destroy_prints_the_command(tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("PATH", str(tmp_path))
    result = CliRunner().invoke(cli, ["destroy", "aws", "--stack-name", "orders-prod"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "neither the SAM CLI nor the AWS CLI is installed; delete with:",
        "sam delete --stack-name orders-prod --no-prompts",
    ]
