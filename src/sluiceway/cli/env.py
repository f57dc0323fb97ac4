"""`sluiceway env`: the shell exports that point the AWS CLI and any SDK at the running app.

    eval "$(sluiceway env)"
    aws sqs receive-message --queue-url "$(aws sqs get-queue-url --queue-name orders \
        --query QueueUrl --output text)"

The credentials are the runtime's admin's (allowed every action on the app's resources), or
with ``--as FUNCTION`` that function's own, so a call is checked against its ``uses=`` as the
function's would be. They are derived from a secret in the data directory
(``keys/aws-credentials.key``) and hold across restarts.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import click

from sluiceway.cli._common import _data_dir, data_dir_option


def exports(data_dir: Path, *, endpoint: str | None, principal: str | None) -> dict[str, str]:
    """The variables `sluiceway env` prints (the tests call this too)."""
    from sluiceway.core.settings import Settings
    from sluiceway.core.wire.credentials import Keyring
    from sluiceway.local.admin import running_runtime

    runtime = running_runtime(data_dir)
    if endpoint is None:
        if runtime is None:
            raise click.ClickException(
                f"no runtime is running on {data_dir}: start it with `sluiceway run`, or "
                "give the endpoint with --endpoint-url"
            )
        endpoint = runtime.get("aws") or runtime["url"]
    keyring = Keyring.load(data_dir / "keys")
    credentials = keyring.admin if principal is None else keyring.for_principal(principal)
    region = (runtime or {}).get("region") or Settings.from_env(data_dir=data_dir).region
    return {
        "AWS_ENDPOINT_URL": str(endpoint),
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        **credentials.variables(),
    }


@click.command()
@data_dir_option
@click.option("--endpoint-url", help="The runtime's URL [default: the running runtime's].")
@click.option(
    "--as",
    "principal",
    metavar="FUNCTION",
    help="Print the credentials of this function (checked against its uses=) instead of "
    "the admin's.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the variables as JSON.")
def env(
    data_dir: Path | None, endpoint_url: str | None, principal: str | None, as_json: bool
) -> None:
    """Print `export` lines for the AWS CLI and SDKs: endpoint, region, credentials.

    Use it as ``eval "$(sluiceway env)"``; then ``aws sqs list-queues`` and any boto3 code
    talk to the running app."""
    variables = exports(_data_dir(data_dir), endpoint=endpoint_url, principal=principal)
    if as_json:
        click.echo(json.dumps(variables, indent=2))
        return
    click.echo(
        "# AWS CLI v1 sends `aws sqs` to AWS whatever AWS_ENDPOINT_URL says "
        '(aws/aws-cli#8737): add --endpoint-url "$AWS_ENDPOINT_URL" there'
    )
    if "AWS_SESSION_TOKEN" not in variables:
        click.echo("unset AWS_SESSION_TOKEN AWS_PROFILE")
    for name, value in variables.items():
        click.echo(f"export {name}={shlex.quote(value)}")
