"""The `sluiceway` command. Thin: each command calls a function the tests call too.

Every command takes ``--data-dir`` (default ``./.sluiceway`` or ``$SLUICEWAY_DATA_DIR``);
every read command takes ``--json``. The state commands work whether or not the runtime is
running. One module per command group; this one puts them together under `main`.
"""

from __future__ import annotations

import click

from sluiceway.cli import (
    aws,
    env,
    firewall,
    identity,
    mappings,
    observe,
    outputs,
    patterns,
    queues,
    run,
    sms,
    store,
    tables,
)

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sluiceway")
def main() -> None:
    """Run event-driven AWS backends on one machine."""


# `sluiceway --help` lists the commands by name, whatever the order they are added in.
main.add_command(run.run)
main.add_command(queues.queues)
main.add_command(queues.redrive)
main.add_command(queues.purge)
main.add_command(queues.send)
main.add_command(tables.scan)
main.add_command(tables.put_item)
main.add_command(tables.load)
main.add_command(tables.get_item)
main.add_command(mappings.mappings)
main.add_command(observe.tail)
main.add_command(observe.traces)
main.add_command(observe.deliveries)
main.add_command(patterns.match)
main.add_command(identity.clients)
main.add_command(identity.token)
main.add_command(identity.keys)
main.add_command(firewall.firewall)
main.add_command(sms.sms)
main.add_command(store.check)
main.add_command(store.backup)
main.add_command(store.restore)
main.add_command(store.recover)
main.add_command(env.env)
main.add_command(outputs.outputs)
main.add_command(aws.render)
main.add_command(aws.deploy)
main.add_command(aws.destroy)
