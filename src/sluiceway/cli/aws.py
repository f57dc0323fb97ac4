"""``sluiceway render aws``, ``sluiceway deploy aws``, ``sluiceway destroy aws``.

Thin: each command calls a function of `sluiceway.aws.commands`. The groups are registered on
the main command in `sluiceway.cli`; later targets add their own subcommands to them.
"""

from __future__ import annotations

from pathlib import Path

import click

from sluiceway.aws.commands import Plan, deploy_aws, destroy_aws, render_aws
from sluiceway.aws.fragment import DEFAULT_STAGE
from sluiceway.core.errors import SluicewayError

_out_option = click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write template.yaml and src/ (default: .sluiceway-aws/<name>).",
)
_stage_option = click.option(
    "--stage", default=DEFAULT_STAGE, show_default=True, help="The API stage name."
)


@click.group()
def render() -> None:
    """Render an app for a deployment target."""


@click.group()
def deploy() -> None:
    """Deploy an app to a target."""


@click.group()
def destroy() -> None:
    """Remove a deployed app."""


@render.command("aws")
@click.argument("app", default="orders")
@_out_option
@_stage_option
def render_aws_command(app: str, out_dir: Path | None, stage: str) -> None:
    """Write APP as a SAM template and the code Lambda runs."""
    try:
        path = render_aws(app, out_dir, stage=stage)
    except SluicewayError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"wrote {path} and {path.parent / 'src'}")
    click.echo(f"deploy it with: sluiceway deploy aws {app} --stack-name <name>")


@deploy.command("aws")
@click.argument("app", default="orders")
@click.option("--stack-name", required=True, help="The CloudFormation stack to create or update.")
@click.option(
    "--set",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set an app parameter, or one the template adds (devices_domain_prefix=...).",
)
@click.option("--region", help="The AWS region (default: your AWS configuration's).")
@_out_option
@_stage_option
def deploy_aws_command(
    app: str,
    stack_name: str,
    params: tuple[str, ...],
    region: str | None,
    out_dir: Path | None,
    stage: str,
) -> None:
    """Render APP and deploy it with the SAM CLI (or print the commands without it)."""
    values: dict[str, str] = {}
    for param in params:
        key, sep, value = param.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{param!r} is not KEY=VALUE", param_hint="--set")
        values[key] = value
    try:
        plan = deploy_aws(
            app, stack_name, parameters=values, out_dir=out_dir, region=region, stage=stage
        )
    except SluicewayError as error:
        raise click.ClickException(str(error)) from None
    _report(plan, "the SAM CLI is not installed; deploy with:")


@destroy.command("aws")
@click.option("--stack-name", required=True, help="The CloudFormation stack to delete.")
@click.option("--region", help="The AWS region (default: your AWS configuration's).")
def destroy_aws_command(stack_name: str, region: str | None) -> None:
    """Delete the stack and everything it holds (the tables' items too)."""
    try:
        plan = destroy_aws(stack_name, region=region)
    except SluicewayError as error:
        raise click.ClickException(str(error)) from None
    _report(plan, "neither the SAM CLI nor the AWS CLI is installed; delete with:")


def _report(plan: Plan, missing: str) -> None:
    if plan.ran:
        click.echo("done: " + plan.shell())
    else:
        click.echo(missing)
        click.echo(plan.shell())
