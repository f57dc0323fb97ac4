"""`sluiceway match`: test an event against a filter pattern, and say why it misses."""

from __future__ import annotations

import sys

import click

from sluiceway.cli._common import _json_argument


@click.command()
@click.argument("pattern")
@click.argument("event")
@click.option(
    "--context",
    type=click.Choice(["eventbridge", "pipes", "esm", "sns-attributes", "sns-body"]),
    default="eventbridge",
    show_default=True,
    help="Whose rules: an event bus rule, a pipe filter, a Lambda mapping filter, or an SNS "
    "filter policy on attributes or on the body.",
)
def match(pattern: str, event: str, context: str) -> None:
    """Say whether EVENT matches PATTERN, and if not, which field and condition failed.

    PATTERN and EVENT are inline JSON, a file name, or - for standard input. An SQS record's
    JSON body is matched as JSON (as Lambda and Pipes do); for --context sns-attributes, EVENT
    may be message attributes as Publish takes them. Exit status: 0 match, 1 no match,
    2 the pattern is invalid there.
    """
    from sluiceway.patterns import (
        PatternError,
        compile_pattern,
        esm_view_of_sqs_record,
        sns_attributes_view,
    )

    try:
        compiled = compile_pattern(_json_argument(pattern, "PATTERN"), context=context)  # type: ignore[arg-type]
    except PatternError as error:
        click.echo(f"invalid pattern: {error}", err=True)
        sys.exit(2)
    value = _json_argument(event, "EVENT")
    if isinstance(value, dict) and isinstance(value.get("body"), str) and "messageId" in value:
        value = esm_view_of_sqs_record(value)
    publish_form = isinstance(value, dict) and all(
        isinstance(v, dict) and ("DataType" in v or "Type" in v) for v in value.values()
    )
    if context == "sns-attributes" and publish_form:
        value = sns_attributes_view(value)
    explanation = compiled.explain(value)
    if explanation.matched:
        click.echo("match")
        return
    click.echo("no match")
    for miss in explanation.misses:
        where = f"[{miss.branch}] " if miss.branch else ""
        click.echo(f"  {where}{miss.describe()}")
    sys.exit(1)
