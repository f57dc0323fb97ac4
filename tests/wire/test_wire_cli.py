"""The AWS CLI (awscli from PyPI) against a running app, with what `sluiceway env` prints."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from conftest import ServeFactory
from sluiceway import App, GlobalIndex
from sluiceway.cli import main
from support import SmtpServer, Wire

AWS = str(Path(sys.executable).parent / "aws")


def _app() -> App:
    app = App("cli")
    app.queue("orders")
    app.topic("notices").subscribe("email", "ops@example.com")
    app.table(
        "orders",
        partition_key="orderID",
        global_indexes=[GlobalIndex("by-customer", partition_key="customerID")],
    )
    return app


def sluiceway_env(wire: Wire, *args: str) -> dict[str, str]:
    """The variables `sluiceway env` exports, read back from its output as a shell would."""
    data_dir = str(wire.engine.settings.data_dir)
    out = CliRunner().invoke(
        main, ["env", "--data-dir", data_dir, "--endpoint-url", wire.url, *args]
    )
    assert out.exit_code == 0, out.output
    variables = {}
    for line in out.output.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            variables[name] = shlex.split(value)[0]
    return variables


def aws(variables: dict[str, str], *args: str) -> Any:
    """Run the AWS CLI with `variables`. Its version 1 sends `sqs` commands to AWS's own
    endpoint whatever AWS_ENDPOINT_URL says (aws/aws-cli#8737), so those name it."""
    if args[0] == "sqs":
        args = (*args, "--endpoint-url", variables["AWS_ENDPOINT_URL"])
    home = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run(
        [AWS, *args, "--output", "json"],
        env={
            **home,
            **variables,
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def aws_fails(variables: dict[str, str], *args: str) -> str:
    """Run the AWS CLI expecting it to fail; its error output."""
    home = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run(
        [AWS, *args, "--output", "json"],
        env={**home, **variables, "AWS_CONFIG_FILE": "/dev/null"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0, done.stdout
    return done.stderr


def test_env_prints_the_admin_s_exports(serve: ServeFactory) -> None:
    wire = serve(_app())
    variables = sluiceway_env(wire)
    admin = wire.engine.keyring.admin
    assert variables == {
        "AWS_ENDPOINT_URL": wire.url,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": admin.access_key,
        "AWS_SECRET_ACCESS_KEY": admin.secret_key,
    }


def test_the_aws_cli_sends_a_message_with_those_exports(serve: ServeFactory) -> None:
    wire = serve(_app())
    variables = sluiceway_env(wire)
    url = aws(variables, "sqs", "get-queue-url", "--queue-name", "orders")["QueueUrl"]
    sent = aws(variables, "sqs", "send-message", "--queue-url", url, "--message-body", "gloves")
    rows = wire.engine.store.query("SELECT message_id, body FROM messages")
    assert [tuple(r) for r in rows] == [(sent["MessageId"], "gloves")]


def test_the_aws_cli_receives_and_deletes_a_message(serve: ServeFactory) -> None:
    wire = serve(_app())
    variables = sluiceway_env(wire)
    url = aws(variables, "sqs", "get-queue-url", "--queue-name", "orders")["QueueUrl"]
    aws(variables, "sqs", "send-message", "--queue-url", url, "--message-body", "gloves")
    got = aws(variables, "sqs", "receive-message", "--queue-url", url, "--wait-time-seconds", "1")
    (message,) = got["Messages"]
    assert message["Body"] == "gloves"
    handle = message["ReceiptHandle"]
    aws(variables, "sqs", "delete-message", "--queue-url", url, "--receipt-handle", handle)
    assert wire.engine.store.query("SELECT count(*) FROM messages")[0][0] == 0


def test_the_aws_cli_publishes_and_the_email_arrives(serve: ServeFactory, smtp: SmtpServer) -> None:
    wire = serve(_app(), smtp=smtp.url, auto_confirm=True)
    variables = sluiceway_env(wire)
    topic = "arn:aws:sns:us-east-1:000000000000:notices"
    sent = aws(variables, "sns", "publish", "--topic-arn", topic, "--message", "from the CLI")
    assert len(sent["MessageId"]) == 36
    wire.engine.drain()
    (mail,) = smtp.mailbox.wait_for(1)
    assert "from the CLI" in str(mail.get_content())


def test_the_aws_cli_puts_updates_with_a_condition_and_queries_an_index(
    serve: ServeFactory,
) -> None:
    wire = serve(_app())
    variables = sluiceway_env(wire)
    item = '{"orderID": {"S": "o-1"}, "customerID": {"S": "c-7"}, "status": {"S": "new"}}'
    aws(variables, "dynamodb", "put-item", "--table-name", "orders", "--item", item)
    update = [
        "dynamodb", "update-item", "--table-name", "orders",
        "--key", '{"orderID": {"S": "o-1"}}',
        "--update-expression", "SET #s = :shipped",
        "--condition-expression", "#s = :new",
        "--expression-attribute-names", '{"#s": "status"}',
        "--expression-attribute-values", '{":shipped": {"S": "shipped"}, ":new": {"S": "new"}}',
        "--return-values", "ALL_NEW",
    ]  # fmt: skip
    updated = aws(variables, *update)
    assert updated["Attributes"]["status"] == {"S": "shipped"}
    refused = aws_fails(variables, *update)
    assert "ConditionalCheckFailedException" in refused
    found = aws(
        variables, "dynamodb", "query", "--table-name", "orders", "--index-name", "by-customer",
        "--key-condition-expression", "customerID = :c",
        "--expression-attribute-values", '{":c": {"S": "c-7"}}',
    )  # fmt: skip
    assert found["Count"] == 1
    assert found["Items"][0]["status"] == {"S": "shipped"}
