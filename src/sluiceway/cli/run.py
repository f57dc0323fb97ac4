"""`sluiceway run`: serve an app with the local runtime."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sluiceway.cli._common import GreedyOption, data_dir_option
from sluiceway.core.errors import SluicewayError

if TYPE_CHECKING:
    from sluiceway.core.settings import Settings


@click.command()
@click.argument("app", default="orders")
@data_dir_option
@click.option("--host", help="Listen address [default: $SLUICEWAY_HOST or 127.0.0.1].")
@click.option(
    "--port",
    type=int,
    help="0 picks a free port, printed when ready [default: $SLUICEWAY_PORT or 8080].",
)
@click.option(
    "--smtp",
    help="smtp://[user:password@]host:port or smtps://... [default: $SLUICEWAY_SMTP]; "
    "without it, mail goes to a Maildir.",
)
@click.option("--smtp-from", help="The From address of notifications.")
@click.option(
    "--sms",
    help="Where texts go: outbox (default: <data dir>/sms/outbox.jsonl), an http(s):// "
    "webhook that gets each text as JSON, or python:module:attr (a provider class) "
    "[default: $SLUICEWAY_SMS].",
)
@click.option(
    "--mqtt",
    help="mqtt://[user:password@]host[:port] or mqtts://... (?ca=FILE, ?insecure=1): the "
    "broker iot.publish delivers to [default: $SLUICEWAY_MQTT]; without it, a broker "
    "embedded in the runtime on a free port (printed at start).",
)
@click.option(
    "--auto-confirm", is_flag=True, help="Confirm email subscriptions without the email round trip."
)
@click.option("--set", "params", multiple=True, metavar="KEY=VALUE", help="Set an app parameter.")
@click.option(
    "--durability",
    type=click.Choice(["full", "relaxed"]),
    default=None,
    help="full (default): a 2xx means fsync'd. relaxed: no fsync per commit; a power "
    "loss (not a crash) may lose the last moments.",
)
@click.option(
    "--public-url", help="Base URL for links in notifications (default: the listen address)."
)
@click.option(
    "--tls-cert", type=click.Path(dir_okay=False), help="Serve HTTPS with this certificate."
)
@click.option("--tls-key", type=click.Path(dir_okay=False), help="The certificate's private key.")
@click.option(
    "--tls",
    type=click.Choice(["self-signed"]),
    help="Serve HTTPS with a self-signed certificate for localhost, made in the data directory.",
)
@click.option("--log-format", type=click.Choice(["auto", "json", "pretty"]))
@click.option("--no-console", is_flag=True, help="Do not serve the web console at /console.")
@click.option(
    "--console-host",
    "console_hosts",
    multiple=True,
    metavar="ADDRESS[/BITS]",
    help="Let these clients open the console too (an address, a network, or * for any); "
    "by default only this machine's.",
)
@click.option(
    "--isolation",
    type=click.Choice(["process", "thread"]),
    default=None,
    help="process (default): each function runs in execution environments of its own, "
    "as on Lambda. thread: handlers share this process (faster to debug, no isolation).",
)
@click.option(
    "--front-door",
    type=click.Choice(["process", "inline"]),
    default=None,
    help="process (default): HTTP is accepted by a process of its own, which stores "
    "queue routes' messages and hands every other request to the runtime. inline: the "
    "runtime serves HTTP itself (always so with TLS or a web ACL).",
)
@click.option(
    "--reset",
    is_flag=True,
    help="Set the data directory's store aside (in damaged-<time>/, kept) and start with an "
    "empty one: for a store that is damaged or lost and that no backup can replace.",
)
@click.option(
    "--token-failure-limit",
    type=click.IntRange(min=1),
    default=None,
    help="Failed client authentications a minute at the token endpoint, per client id and "
    "per address, before it answers 429 [default: $SLUICEWAY_TOKEN_FAILURE_LIMIT or 20].",
)
@click.option(
    "--parameter-overrides",
    "overrides",
    cls=GreedyOption,
    multiple=True,
    metavar="KEY=VALUE",
    help="A template's parameters, as `sam deploy` takes them (Key=Value, several per "
    "option or the option repeated); they win over samconfig.toml's.",
)
@click.option(
    "--config-env",
    default="default",
    show_default=True,
    help="The samconfig.toml environment whose parameter_overrides a template gets.",
)
@click.option(
    "--stack-name", help="A template's AWS::StackName [default: the template's folder name]."
)
def run(
    app: str,
    data_dir: Path | None,
    host: str | None,
    port: int | None,
    smtp: str | None,
    smtp_from: str | None,
    sms: str | None,
    mqtt: str | None,
    auto_confirm: bool,
    params: tuple[str, ...],
    durability: str | None,
    public_url: str | None,
    tls_cert: str | None,
    tls_key: str | None,
    tls: str | None,
    log_format: str | None,
    no_console: bool,
    console_hosts: tuple[str, ...],
    isolation: str | None,
    front_door: str | None,
    reset: bool,
    token_failure_limit: int | None,
    overrides: tuple[str, ...],
    config_env: str,
    stack_name: str | None,
) -> None:
    """Run APP: a blueprint (orders), module:attr, path/to/app.py, or a SAM or
    CloudFormation template (path/to/template.yaml, .yml, .json, or a folder holding one)."""
    from sluiceway.app.loader import load_app
    from sluiceway.core import logs
    from sluiceway.core.settings import Settings
    from sluiceway.local.runtime import point_thread_handlers_here, serve
    from sluiceway.templates.document import is_template

    values: dict[str, str] = {}
    for param in params:
        key, sep, value = param.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{param!r} is not KEY=VALUE", param_hint="--set")
        values[key] = value
    try:
        settings = Settings.from_env(
            data_dir=data_dir,
            host=host,
            port=port,
            smtp=smtp,
            smtp_from=smtp_from,
            sms=sms,
            mqtt=mqtt,
            auto_confirm=auto_confirm or None,
            params=values,
            durability=durability,
            public_url=public_url,
            tls_cert=tls or tls_cert,
            tls_key=tls_key,
            log_format=log_format,
            console=False if no_console else None,
            console_hosts=console_hosts or None,
            token_failure_limit=token_failure_limit,
        )
        if isolation is not None or "SLUICEWAY_ISOLATION" not in os.environ:
            settings = settings.replace(isolation=isolation or "process")
        if front_door is not None or "SLUICEWAY_FRONT_DOOR" not in os.environ:
            settings = settings.replace(front_door=front_door or "process")
        logs.configure(settings.log_format)
        if reset:
            _reset(Path(settings.data_dir))
        settings = point_thread_handlers_here(settings)
        if is_template(app):
            _serve_template(app, settings, overrides, config_env, stack_name)
        elif overrides or stack_name:
            raise click.UsageError("--parameter-overrides and --stack-name are for templates")
        else:
            serve(load_app(app), settings)
    except (SluicewayError, ValueError) as error:
        raise click.ClickException(str(error)) from None


def _serve_template(
    target: str,
    settings: Settings,
    overrides: tuple[str, ...],
    config_env: str,
    stack_name: str | None,
) -> None:
    from sluiceway.local.runtime import serve
    from sluiceway.templates.outputs import outputs_lines, save_outputs
    from sluiceway.templates.parameters import parse_overrides
    from sluiceway.templates.stack import load_stack

    stack = load_stack(
        target,
        parse_overrides(overrides),
        region=settings.region,
        account_id=settings.account_id,
        config_env=config_env,
        stack_name=stack_name,
    )
    for note in stack.notes:
        click.echo(f"sluiceway: {note}", err=True)

    def on_ready(url: str) -> list[str]:
        save_outputs(Path(settings.data_dir), stack, url)
        return outputs_lines(stack.local_outputs(url), stack.api_keys)

    serve(stack.app, settings, on_ready=on_ready)


def _reset(data_dir: Path) -> None:
    from sluiceway.core.store_health import set_aside
    from sluiceway.local.data_dir import DataDirLock

    lock = DataDirLock(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    lock.acquire()  # not under a running runtime
    try:
        aside = set_aside(data_dir)
    finally:
        lock.release()
    if aside is not None:
        click.echo(f"sluiceway: the store was set aside in {aside}; starting empty", err=True)
