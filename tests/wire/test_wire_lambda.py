"""Lambda's Invoke over the wire, for the app's own functions: synchronous, asynchronous
through the outbox, dry runs, and Lambda's errors."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import ServeFactory
from sluiceway import App
from sluiceway.sns import outbox

seen: list[Any] = []


def _app() -> App:
    app = App("wire-lambda")
    audit = app.queue("audit")

    @app.function(uses=[audit.sends])
    def greet(event: Any, context: Any) -> Any:
        seen.append(event)
        if isinstance(event, dict) and event.get("fail"):
            raise ValueError(f"cannot greet {event.get('name')}")
        audit.send_message(json.dumps(event))
        return {"greeting": f"hello {event.get('name', 'world')}"}

    return app


@pytest.fixture(autouse=True)
def _forget() -> None:
    seen.clear()


def _error(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response: Any = raised.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def _audited(wire: Any) -> int:
    cx = wire.engine.store.reader()
    return int(cx.execute("SELECT COUNT(*) FROM messages").fetchone()[0])


def test_request_response_answers_the_handler_s_result_and_commits_its_effects(
    serve: ServeFactory,
) -> None:
    wire = serve(_app())
    client = wire.client("lambda")
    answer = client.invoke(FunctionName="greet", Payload=json.dumps({"name": "ana"}))
    assert answer["StatusCode"] == 200
    assert answer["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in answer
    assert json.loads(answer["Payload"].read()) == {"greeting": "hello ana"}
    assert seen == [{"name": "ana"}]
    assert _audited(wire) == 1  # the deferred send committed before the answer


def test_a_function_is_named_by_name_arn_or_partial_arn(serve: ServeFactory) -> None:
    client = serve(_app()).client("lambda")
    for name in (
        "arn:aws:lambda:us-east-1:000000000000:function:greet",
        "arn:aws:lambda:us-east-1:000000000000:function:greet:$LATEST",
        "000000000000:function:greet",
    ):
        assert client.invoke(FunctionName=name, Payload=b"{}")["StatusCode"] == 200


def test_a_raising_handler_answers_lambda_s_error_payload(serve: ServeFactory) -> None:
    wire = serve(_app())
    client = wire.client("lambda")
    answer = client.invoke(
        FunctionName="greet", Payload=json.dumps({"fail": True, "name": "bo"}), LogType="Tail"
    )
    assert answer["StatusCode"] == 200
    assert answer["FunctionError"] == "Unhandled"
    error = json.loads(answer["Payload"].read())
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "cannot greet bo"
    assert any("raise ValueError" in line for line in error["stackTrace"])
    log = base64.b64decode(answer["LogResult"]).decode()
    assert log.startswith("START RequestId: ")
    assert "REPORT RequestId: " in log
    assert _audited(wire) == 0  # a failed invocation's effects do not commit


def test_an_event_invocation_is_durable_and_runs_in_the_background(
    serve: ServeFactory,
) -> None:
    wire = serve(_app())
    client = wire.client("lambda")
    answer = client.invoke(
        FunctionName="greet", InvocationType="Event", Payload=json.dumps({"name": "cy"})
    )
    assert answer["StatusCode"] == 202
    assert answer["Payload"].read() == b""
    assert seen == []  # not yet run: waiting in the outbox
    (delivery,) = outbox.list_deliveries(wire.engine.store.reader())
    assert (delivery.kind, delivery.destination, delivery.status) == ("invoke", "greet", "pending")
    wire.engine.drain()
    assert seen == [{"name": "cy"}]
    assert _audited(wire) == 1
    (delivery,) = outbox.list_deliveries(wire.engine.store.reader())
    assert delivery.status == "delivered"


def test_a_failing_event_invocation_is_retried_twice_as_lambda_does(
    serve: ServeFactory,
) -> None:
    wire = serve(_app())
    wire.client("lambda").invoke(
        FunctionName="greet", InvocationType="Event", Payload=json.dumps({"fail": True})
    )
    wire.engine.drain(advance_time=True)
    assert len(seen) == 3
    (delivery,) = outbox.list_deliveries(wire.engine.store.reader())
    assert (delivery.status, delivery.attempts) == ("failed", 3)


def test_a_dry_run_checks_and_runs_nothing(serve: ServeFactory) -> None:
    wire = serve(_app())
    client = wire.client("lambda")
    answer = client.invoke(FunctionName="greet", InvocationType="DryRun", Payload=b"{}")
    assert answer["StatusCode"] == 204
    wire.engine.drain()
    assert seen == []
    assert outbox.list_deliveries(wire.engine.store.reader()) == []


def test_unknown_functions_and_bad_payloads_are_lambda_s_errors(serve: ServeFactory) -> None:
    wire = serve(_app())
    client = wire.client("lambda")
    for name in ("nope", "arn:aws:lambda:eu-west-1:000000000000:function:greet", "greet:v2"):
        with pytest.raises(ClientError) as raised:
            client.invoke(FunctionName=name, Payload=b"{}")
        assert _error(raised) == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as raised:
        client.invoke(FunctionName="greet", Payload=b"{not json")
    assert _error(raised) == ("InvalidRequestContentException", 400)
    with pytest.raises(ClientError) as raised:
        client.invoke(FunctionName="greet", Payload=b'"' + b"x" * (6 * 1024 * 1024) + b'"')
    assert _error(raised) == ("RequestTooLargeException", 413)
    with pytest.raises(ClientError) as raised:
        client.invoke(
            FunctionName="greet", InvocationType="Event", Payload=b'"' + b"x" * 1_100_000 + b'"'
        )
    assert _error(raised) == ("RequestTooLargeException", 413)
    assert seen == []
    assert outbox.list_deliveries(wire.engine.store.reader()) == []


def test_a_function_may_not_invoke_another(serve: ServeFactory) -> None:
    client = serve(_app()).client("lambda", as_function="greet")
    with pytest.raises(ClientError) as raised:
        client.invoke(FunctionName="greet", Payload=b"{}")
    assert _error(raised) == ("AccessDeniedException", 403)
    assert "lambda:InvokeFunction" in str(raised.value)
    assert seen == []
