"""The protocol layer as a client meets it: a boto3 call reaches the operation, signatures
and credentials are checked, and errors come back as AWS's."""

from __future__ import annotations

import datetime
import json
from typing import Any
from unittest import mock

import boto3
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import ServeFactory
from sluiceway import App
from sluiceway.core.wire import sigv4
from support import raw_exchange


def _app() -> App:
    app = App("wire")
    app.queue("orders")
    return app


def test_a_boto3_call_reaches_the_queue(serve: ServeFactory) -> None:
    wire = serve(_app())
    sqs = wire.client("sqs")
    url = sqs.get_queue_url(QueueName="orders")["QueueUrl"]
    assert url == f"{wire.url}/000000000000/orders"
    sent = sqs.send_message(QueueUrl=url, MessageBody="hello")
    assert len(sent["MessageId"]) == 36


def test_an_unknown_queue_is_aws_s_error(serve: ServeFactory) -> None:
    sqs = serve(_app()).client("sqs")
    with pytest.raises(ClientError) as raised:
        sqs.get_queue_url(QueueName="nope")
    error: Any = raised.value.response
    assert error["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400


# -- signatures and credentials, as a hostile or misconfigured client meets them -------------


def _signed(
    wire: Any, target: str, body: bytes, *, secret: str | None = None, when: Any = None
) -> httpx.Response:
    """A json-protocol request signed as botocore signs one (with `secret`, if given, in
    place of the admin's)."""
    admin = wire.engine.keyring.admin
    request = AWSRequest(
        method="POST",
        url=f"{wire.url}/",
        data=body,
        headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"},
    )
    signer = SigV4Auth(
        Credentials(admin.access_key, secret or admin.secret_key), "sqs", "us-east-1"
    )
    if when is None:
        signer.add_auth(request)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=when):
            signer.add_auth(request)
    return httpx.post(f"{wire.url}/", content=body, headers=dict(request.headers.items()))


def test_a_wrong_secret_is_refused_and_sends_nothing(serve: ServeFactory) -> None:
    wire = serve(_app())
    body = json.dumps({"QueueUrl": "orders", "MessageBody": "x"}).encode()
    answer = _signed(wire, "AmazonSQS.SendMessage", body, secret="not-the-secret")
    assert answer.status_code == 400
    assert answer.json()["__type"].endswith("#InvalidSignatureException")
    assert wire.engine.store.query("SELECT count(*) FROM messages")[0][0] == 0
    good = _signed(wire, "AmazonSQS.SendMessage", body)
    assert good.status_code == 200, good.text


def test_an_old_signature_is_refused(serve: ServeFactory) -> None:
    wire = serve(_app())
    body = json.dumps({"QueueUrl": "orders", "MessageBody": "x"}).encode()
    long_ago = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    answer = _signed(wire, "AmazonSQS.SendMessage", body, when=long_ago)
    assert answer.status_code == 400
    assert "Signature expired" in answer.json()["message"]


def test_credentials_the_runtime_did_not_issue_are_refused(serve: ServeFactory) -> None:
    wire = serve(_app())
    stranger = boto3.client(
        "sqs",
        endpoint_url=wire.url,
        region_name="us-east-1",
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    )
    with pytest.raises(ClientError) as raised:
        stranger.get_queue_url(QueueName="orders")
    assert raised.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_an_unsigned_aws_request_is_refused(serve: ServeFactory) -> None:
    wire = serve(_app())
    answer = httpx.post(
        f"{wire.url}/", content=b"{}", headers={"X-Amz-Target": "AmazonSQS.ListQueues"}
    )
    assert answer.status_code == 400
    assert answer.json()["__type"].endswith("#MissingAuthenticationTokenException")


@pytest.mark.parametrize(
    ("target", "body", "code"),
    [
        ("AmazonSQS.SendMessage", b"{not json", "SerializationException"),
        ("AmazonSQS.SendMessage", b"[1, 2]", "SerializationException"),
        ("AmazonSQS.SendMessage", b'{"QueueUrl": 5, "MessageBody": "x"}', "SerializationException"),
        ("AmazonSQS.NoSuchThing", b"{}", "UnknownOperationException"),
        ("NoSuchService_2020.Thing", b"{}", "UnknownOperationException"),
    ],
)
def test_bad_wire_input_gets_aws_s_error_and_stores_nothing(
    serve: ServeFactory, target: str, body: bytes, code: str
) -> None:
    wire = serve(_app())
    answer = _signed(wire, target, body)
    assert answer.status_code == 400
    assert answer.json()["__type"].endswith(f"#{code}")
    assert wire.engine.store.query("SELECT count(*) FROM messages")[0][0] == 0


def test_the_app_s_own_routes_are_not_taken_for_aws_requests(serve: ServeFactory) -> None:
    app = App("wire")
    app.route("POST", "/orders", to=app.queue("orders"))
    wire = serve(app)
    answer = httpx.post(f"{wire.url}/orders", json={"item": "gloves"})
    assert answer.status_code == 200, answer.text
    assert "MessageId" in answer.json()


def test_an_aws_request_on_an_ingest_route_s_path_reaches_the_aws_api(
    serve: ServeFactory,
) -> None:
    """Behind the front door too: a signed request is handed over to the runtime even when
    its path is one of the app's ingest routes."""
    app = App("wire")
    app.route("POST", "/", to=app.queue("orders"))
    wire = serve(app, front_door=True)
    sqs = wire.client("sqs")
    assert sqs.get_queue_url(QueueName="orders")["QueueUrl"].endswith("/orders")
    assert httpx.post(f"{wire.url}/", json={"a": 1}).status_code == 200


def test_a_body_over_the_limit_is_refused_before_it_is_read(serve: ServeFactory) -> None:
    wire = serve(_app())
    head = (
        "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AmazonSQS.SendMessage\r\n"
        "Content-Type: application/x-amz-json-1.0\r\nContent-Length: 30000000\r\n\r\n"
    )
    answer = raw_exchange(wire.url, head.encode(), b"{}", timeout=5)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"RequestEntityTooLarge" in answer


def test_a_signed_form_without_an_action_is_refused(serve: ServeFactory) -> None:
    wire = serve(_app())
    admin = wire.engine.keyring.admin
    request = AWSRequest(
        method="POST",
        url=f"{wire.url}/",
        data=b"QueueName=orders&Version=2012-11-05",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    SigV4Auth(Credentials(admin.access_key, admin.secret_key), "sqs", "us-east-1").add_auth(request)
    answer = httpx.post(f"{wire.url}/", content=request.body, headers=dict(request.headers.items()))
    assert answer.status_code == 400
    assert "<Code>MissingAction</Code>" in answer.text


@pytest.mark.parametrize(
    ("path", "query", "extra"),
    [
        ("/", "", {}),
        (
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af/invocations",
            "",
            {},
        ),
        ("/topics/a%2Fb/c", "qos=1&retain=false", {}),
        ("/000000000000/orders", "Action=SendMessage&b=%20x&a=1", {"X-Extra": "  two   words "}),
    ],
)
def test_the_runtime_computes_the_signature_botocore_computes(
    path: str, query: str, extra: dict[str, str]
) -> None:
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    url = f"http://127.0.0.1:9000{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method="POST", url=url, data=b'{"a": 1}', headers=dict(extra))
    SigV4Auth(credentials, "lambda", "eu-west-1").add_auth(request)
    headers = {name.lower(): value for name, value in request.headers.items()}
    headers["host"] = "127.0.0.1:9000"
    found = sigv4.parse_authorization(headers["authorization"])
    assert found is not None
    assert "x-extra" in found.signed_headers or not extra
    ours = sigv4.signature_of(
        found,
        credentials.secret_key,
        method="POST",
        url=url,
        headers=headers,
        body=b'{"a": 1}',
        stamp=headers["x-amz-date"],
    )
    assert ours == found.signature
