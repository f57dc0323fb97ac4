"""SNS's API over the wire: topics, subscriptions and publishing, through the same outbox
as `topic.publish` (the email arrives)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import ServeFactory
from sluiceway import App
from sluiceway.sns import outbox
from sluiceway.sns.outbox import DeliveryView
from support import SmtpServer, Wire

ARN = "arn:aws:sns:us-east-1:000000000000"


def _app() -> App:
    app = App("wire-sns")
    topic = app.topic("orders")
    app.topic("private")

    @app.function(uses=[topic.publishes])
    def notifier(event: Any, context: Any) -> None:
        return None

    return app


def _error(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response: Any = raised.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def _deliveries(wire: Wire) -> list[DeliveryView]:
    """The notifications' deliveries in the outbox (not confirmation requests)."""
    views = outbox.list_deliveries(wire.engine.store.reader())
    return [view for view in views if view.kind == "notification"]


def test_publish_over_the_wire_sends_the_email_through_the_outbox(
    serve: ServeFactory, smtp: SmtpServer
) -> None:
    wire = serve(_app(), smtp=smtp.url, auto_confirm=True)
    sns = wire.client("sns")
    sns.subscribe(TopicArn=f"{ARN}:orders", Protocol="email", Endpoint="ops@example.com")
    sent = sns.publish(
        TopicArn=f"{ARN}:orders",
        Message="New order o-1",
        Subject="New order",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "order"}},
    )
    assert len(sent["MessageId"]) == 36
    wire.engine.drain()
    (mail,) = smtp.mailbox.wait_for(1)
    assert mail["Subject"] == "New order"
    assert mail["To"] == "ops@example.com"
    assert "New order o-1" in str(mail.get_content())


def test_message_structure_json_gives_email_its_own_text(
    serve: ServeFactory, smtp: SmtpServer
) -> None:
    wire = serve(_app(), smtp=smtp.url, auto_confirm=True)
    sns = wire.client("sns")
    sns.subscribe(TopicArn=f"{ARN}:orders", Protocol="email", Endpoint="ops@example.com")
    sns.publish(
        TopicArn=f"{ARN}:orders",
        MessageStructure="json",
        Message=json.dumps({"default": "plain", "email": "for email"}),
    )
    wire.engine.drain()
    (mail,) = smtp.mailbox.wait_for(1)
    assert "for email" in str(mail.get_content())


def test_message_structure_json_needs_a_default_key_and_stores_nothing(
    serve: ServeFactory,
) -> None:
    wire = serve(_app(), auto_confirm=True)
    sns = wire.client("sns")
    sns.subscribe(TopicArn=f"{ARN}:orders", Protocol="email", Endpoint="ops@example.com")
    for message in (json.dumps({"email": "x"}), "not json"):
        with pytest.raises(ClientError) as raised:
            sns.publish(TopicArn=f"{ARN}:orders", MessageStructure="json", Message=message)
        assert _error(raised) == ("InvalidParameter", 400)
    assert _deliveries(wire) == []


def test_publish_to_an_unknown_topic_is_not_found(serve: ServeFactory) -> None:
    sns = serve(_app()).client("sns")
    with pytest.raises(ClientError) as raised:
        sns.publish(TopicArn=f"{ARN}:nope", Message="hi")
    assert _error(raised) == ("NotFound", 404)
    with pytest.raises(ClientError) as raised:
        sns.publish(TopicArn="not-an-arn", Message="hi")
    assert _error(raised) == ("InvalidParameter", 400)
    with pytest.raises(ClientError) as raised:
        sns.publish(Message="hi")
    assert _error(raised) == ("InvalidParameter", 400)


def test_publish_refuses_fifo_parameters_on_a_standard_topic(serve: ServeFactory) -> None:
    wire = serve(_app(), auto_confirm=True)
    sns = wire.client("sns")
    sns.subscribe(TopicArn=f"{ARN}:orders", Protocol="email", Endpoint="ops@example.com")
    with pytest.raises(ClientError) as raised:
        sns.publish(TopicArn=f"{ARN}:orders", Message="hi", MessageGroupId="g")
    assert _error(raised) == ("InvalidParameter", 400)
    assert _deliveries(wire) == []


def test_target_arn_names_a_topic_too(serve: ServeFactory) -> None:
    wire = serve(_app(), auto_confirm=True)
    sns = wire.client("sns")
    sns.subscribe(TopicArn=f"{ARN}:orders", Protocol="email", Endpoint="ops@example.com")
    sns.publish(TargetArn=f"{ARN}:orders", Message="by target")
    assert [d.text for d in _deliveries(wire)] == ["by target"]


def test_publish_to_a_phone_number_queues_an_sms(serve: ServeFactory) -> None:
    wire = serve(_app())
    sns = wire.client("sns")
    sent = sns.publish(
        PhoneNumber="+919876543210",
        Message="Welcome!",
        MessageAttributes={
            "AWS.SNS.SMS.SenderID": {"DataType": "String", "StringValue": "SHOP"},
        },
    )
    (delivery,) = _deliveries(wire)
    assert (delivery.protocol, delivery.destination, delivery.text) == (
        "sms",
        "+919876543210",
        "Welcome!",
    )
    assert delivery.message_id == sent["MessageId"]
    with pytest.raises(ClientError) as raised:
        sns.publish(PhoneNumber="12345", Message="x")
    assert _error(raised) == ("InvalidParameter", 400)


def test_a_function_may_publish_only_where_its_grants_allow(serve: ServeFactory) -> None:
    wire = serve(_app(), auto_confirm=True)
    sns = wire.client("sns", as_function="notifier")
    assert sns.publish(TopicArn=f"{ARN}:orders", Message="allowed")["MessageId"]
    with pytest.raises(ClientError) as raised:
        sns.publish(TopicArn=f"{ARN}:private", Message="denied")
    assert _error(raised) == ("AuthorizationError", 403)
    assert "sns:Publish" in str(raised.value)
    for call in (
        lambda: sns.create_topic(Name="mine"),
        lambda: sns.list_topics(),
        lambda: sns.publish(PhoneNumber="+919876543210", Message="x"),
    ):
        with pytest.raises(ClientError) as raised:
            call()
        assert _error(raised) == ("AuthorizationError", 403)
    assert "mine" not in wire.engine.registry.topics


def test_publish_batch_publishes_the_good_entries_and_reports_the_bad(
    serve: ServeFactory,
) -> None:
    wire = serve(_app(), auto_confirm=True)
    sns = wire.client("sns")
    sns.subscribe(TopicArn=f"{ARN}:orders", Protocol="email", Endpoint="ops@example.com")
    answer = sns.publish_batch(
        TopicArn=f"{ARN}:orders",
        PublishBatchRequestEntries=[
            {"Id": "one", "Message": "first"},
            {"Id": "two", "Message": "second", "Subject": "bad\nsubject"},
            {"Id": "three", "Message": "third"},
        ],
    )
    assert [s["Id"] for s in answer["Successful"]] == ["one", "three"]
    (failed,) = answer["Failed"]
    assert failed["Id"] == "two"
    assert (failed["Code"], failed["SenderFault"]) == ("InvalidParameter", True)
    assert [d.text for d in _deliveries(wire)] == ["first", "third"]


@pytest.mark.parametrize(
    ("entries", "code"),
    [
        ([], "EmptyBatchRequest"),
        ([{"Id": str(n), "Message": "m"} for n in range(11)], "TooManyEntriesInBatchRequest"),
        ([{"Id": "a", "Message": "m"}, {"Id": "a", "Message": "n"}], "BatchEntryIdsNotDistinct"),
        ([{"Id": "bad id!", "Message": "m"}], "InvalidBatchEntryId"),
        (
            [{"Id": "a", "Message": "x" * 200_000}, {"Id": "b", "Message": "y" * 100_000}],
            "BatchRequestTooLong",
        ),
    ],
)
def test_a_bad_batch_is_refused_whole(
    serve: ServeFactory, entries: list[dict[str, str]], code: str
) -> None:
    wire = serve(_app(), auto_confirm=True)
    sns = wire.client("sns")
    sns.subscribe(TopicArn=f"{ARN}:orders", Protocol="email", Endpoint="ops@example.com")
    with pytest.raises(ClientError) as raised:
        sns.publish_batch(TopicArn=f"{ARN}:orders", PublishBatchRequestEntries=entries)
    assert _error(raised) == (code, 400)
    assert _deliveries(wire) == []


def test_the_aws_cli_publishes_and_the_email_arrives(serve: ServeFactory, smtp: SmtpServer) -> None:
    wire = serve(_app(), smtp=smtp.url, auto_confirm=True)
    wire.client("sns").subscribe(
        TopicArn=f"{ARN}:orders", Protocol="email", Endpoint="ops@example.com"
    )
    keys = wire.engine.keyring.admin
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_ACCESS_KEY_ID": keys.access_key,
        "AWS_SECRET_ACCESS_KEY": keys.secret_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": wire.url,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    if keys.session_token:
        env["AWS_SESSION_TOKEN"] = keys.session_token
    aws = str(Path(sys.executable).with_name("aws"))
    done = subprocess.run(
        [aws, "sns", "publish", "--topic-arn", f"{ARN}:orders", "--message", "from the CLI"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["MessageId"]) == 36
    wire.engine.drain()
    (mail,) = smtp.mailbox.wait_for(1)
    assert "from the CLI" in str(mail.get_content())
