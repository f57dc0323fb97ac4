"""`sluiceway sms`: the SMS opt-out list."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sluiceway.cli._common import _admin, _table, _time, data_dir_option, json_option


@click.group()
def sms() -> None:
    """The SMS opt-out list: numbers that get no texts (what a STOP reply does)."""


@sms.command("opt-out")
@click.argument("phone")
@data_dir_option
def sms_opt_out(phone: str, data_dir: Path | None) -> None:
    """Stop texting PHONE (E.164, e.g. +919876543210); waiting texts are not sent."""
    with _admin(data_dir) as admin:
        skipped = admin.sms_opt_out(phone)
    click.echo(f"{phone} opted out; {skipped} waiting text{'s' if skipped != 1 else ''} skipped")


@sms.command("opt-in")
@click.argument("phone")
@data_dir_option
def sms_opt_in(phone: str, data_dir: Path | None) -> None:
    """Text PHONE again (OptInPhoneNumber)."""
    with _admin(data_dir) as admin:
        was = admin.sms_opt_in(phone)
    click.echo(f"{phone} opted in" if was else f"{phone} was not opted out")


@sms.command("opted-out")
@data_dir_option
@json_option
def sms_opted_out(data_dir: Path | None, as_json: bool) -> None:
    """The numbers that opted out (ListPhoneNumbersOptedOut)."""
    with _admin(data_dir) as admin:
        numbers = admin.sms_opted_out()
    if as_json:
        click.echo(json.dumps([{"phone": p, "opted_out_at": at} for p, at in numbers], indent=2))
        return
    _table([[p, _time(at)] for p, at in numbers], ["PHONE", "SINCE"])
