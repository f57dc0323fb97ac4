"""Functions behind HTTP routes (Lambda proxy) and on topics (SNS's lambda protocol)."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest

from conftest import EngineFactory
from sluiceway import App, DeclarationError, plain
from sluiceway.core.clock import VirtualClock
from sluiceway.local import Admin
from sluiceway.sns.signing import verify
from support import gateway

# The keys of the console's "API Gateway AWS Proxy" event, in its order.
PROXY_KEYS = [
    "body",
    "resource",
    "path",
    "httpMethod",
    "isBase64Encoded",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "pathParameters",
    "stageVariables",
    "headers",
    "multiValueHeaders",
    "requestContext",
]
CONTEXT_KEYS = [
    "accountId",
    "resourceId",
    "stage",
    "requestId",
    "requestTime",
    "requestTimeEpoch",
    "identity",
    "path",
    "resourcePath",
    "httpMethod",
    "apiId",
    "protocol",
    "domainName",
    "domainPrefix",
    "extendedRequestId",
]
# The keys of the SNS event Lambda receives (the console's "SNS" template).
SNS_KEYS = [
    "Type",
    "MessageId",
    "TopicArn",
    "Subject",
    "Message",
    "Timestamp",
    "SignatureVersion",
    "Signature",
    "SigningCertUrl",
    "UnsubscribeUrl",
    "MessageAttributes",
]


def http_app(events: list[dict[str, Any]]) -> App:
    app = App("web")
    orders = app.table("orders", partition_key="orderID")
    queue = app.queue("work")

    @app.on_http("GET", "/orders/{orderID}", uses=[orders.reads])
    def get_order(event: dict[str, Any], context: Any) -> dict[str, Any]:
        events.append(event)
        item = orders.get_item({"orderID": event["pathParameters"]["orderID"]})
        if item is None:
            return {"statusCode": 404, "body": json.dumps({"message": "no such order"})}
        return {
            "statusCode": 200,
            "headers": {"X-Order": item["orderID"]},
            "body": json.dumps(plain(item)),
        }

    @app.on_http("GET", "/orders/latest")
    def latest(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": "latest"}

    @app.on_http("POST", "/jobs/{kind+}", uses=[queue.sends])
    def enqueue(event: dict[str, Any], context: Any) -> dict[str, Any]:
        events.append(event)
        queue.send_message(event["body"] or "-")
        return {"statusCode": 202, "body": json.dumps({"queued": event["pathParameters"]["kind"]})}

    @app.on_http("GET", "/broken")
    def broken(event: dict[str, Any], context: Any) -> Any:
        return {"status": 200}

    @app.on_http("GET", "/crash")
    def crash(event: dict[str, Any], context: Any) -> Any:
        raise RuntimeError("boom: secret details")

    release = threading.Event()

    @app.on_http("GET", "/slow", timeout=1)
    def slow(event: dict[str, Any], context: Any) -> Any:
        release.wait(5)
        return {"statusCode": 200}

    app.release = release  # type: ignore[attr-defined]
    return app


def test_a_get_route_gets_the_proxy_event_and_answers_for_itself(
    make_engine: EngineFactory,
) -> None:
    events: list[dict[str, Any]] = []
    app = http_app(events)
    engine = make_engine(app)
    app._tables["orders"].put_item({"orderID": "o-1", "qty": 2})
    with gateway(engine) as url:
        found = httpx.get(
            f"{url}/orders/o-1?expand=items&expand=notes&x=1", headers={"X-Trace": "t"}
        )
        missing = httpx.get(f"{url}/orders/o-2")
    assert found.status_code == 200
    assert found.json() == {"orderID": "o-1", "qty": 2}
    assert found.headers["x-order"] == "o-1"
    assert found.headers["content-type"] == "application/json"
    assert len(found.headers["x-amzn-requestid"]) == 36
    assert missing.status_code == 404
    event = events[0]
    assert list(event) == PROXY_KEYS
    assert list(event["requestContext"]) == CONTEXT_KEYS
    assert event["resource"] == "/orders/{orderID}"
    assert event["path"] == "/orders/o-1"
    assert event["pathParameters"] == {"orderID": "o-1"}
    assert event["queryStringParameters"] == {"expand": "notes", "x": "1"}
    assert event["multiValueQueryStringParameters"] == {"expand": ["items", "notes"], "x": ["1"]}
    assert event["headers"]["X-Trace"] == "t"
    assert event["multiValueHeaders"]["X-Trace"] == ["t"]
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    assert event["stageVariables"] is None
    context = event["requestContext"]
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["requestId"] == found.headers["x-amzn-requestid"]
    assert context["resourcePath"] == "/orders/{orderID}"
    assert context["path"] == "/local/orders/o-1"


def test_a_literal_route_wins_over_a_parameter_and_methods_are_enforced(
    make_engine: EngineFactory,
) -> None:
    app = http_app([])
    engine = make_engine(app)
    with gateway(engine) as url:
        assert httpx.get(f"{url}/orders/latest").text == "latest"
        wrong = httpx.delete(f"{url}/orders/o-1")
    # As a REST API answers any method or path it has no route for (no 405, no Allow).
    assert (wrong.status_code, wrong.json()) == (403, {"message": "Missing Authentication Token"})
    assert wrong.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"


def test_a_post_body_arrives_and_the_functions_sends_commit_before_the_answer(
    make_engine: EngineFactory,
) -> None:
    events: list[dict[str, Any]] = []
    app = http_app(events)
    engine = make_engine(app)
    with gateway(engine) as url:
        text = httpx.post(f"{url}/jobs/reports/monthly", content=b'{"n": 1}')
        binary = httpx.post(f"{url}/jobs/blob", content=b"\xff\x00")
        assert engine.store.query("SELECT COUNT(*) AS n FROM messages")[0]["n"] == 2
    assert text.status_code == 202
    assert text.json() == {"queued": "reports/monthly"}
    assert (events[0]["body"], events[0]["isBase64Encoded"]) == ('{"n": 1}', False)
    assert (events[1]["body"], events[1]["isBase64Encoded"]) == ("/wA=", True)
    assert binary.status_code == 202


def test_failures_answer_as_api_gateway_does_without_details(make_engine: EngineFactory) -> None:
    app = http_app([])
    engine = make_engine(app)
    with gateway(engine) as url:
        malformed = httpx.get(f"{url}/broken")
        crashed = httpx.get(f"{url}/crash")
        timed_out = httpx.get(f"{url}/slow", timeout=10)
        app.release.set()  # type: ignore[attr-defined]
    assert (malformed.status_code, malformed.json()) == (502, {"message": "Internal server error"})
    assert (crashed.status_code, crashed.json()) == (502, {"message": "Internal server error"})
    assert "secret" not in crashed.text
    assert (timed_out.status_code, timed_out.json()) == (
        504,
        {"message": "Endpoint request timed out"},
    )


@pytest.mark.parametrize(
    ("declare", "message"),
    [
        (
            lambda app: app.on_http("GET", "/a/{id}/{id}", name="f")(lambda e, c: None),
            "appears twice",
        ),
        (
            lambda app: app.on_http("GET", "/a/{rest+}/b", name="f")(lambda e, c: None),
            "last segment",
        ),
        (lambda app: app.on_http("FETCH", "/a", name="f")(lambda e, c: None), "not an HTTP method"),
        (lambda app: app.on_http("GET", "/a", timeout=60, name="f")(lambda e, c: None), "29 s"),
        (
            lambda app: app.on_http("GET", "/metrics", name="f")(lambda e, c: None),
            "serves this path",
        ),
    ],
)
def test_http_routes_are_checked_at_declaration(declare: Any, message: str) -> None:
    with pytest.raises(DeclarationError, match=message):
        declare(App("web"))


def test_two_routes_cannot_answer_the_same_request() -> None:
    app = App("web")
    app.on_http("GET", "/items/{id}", name="one")(lambda e, c: None)
    with pytest.raises(DeclarationError, match="already answers GET"):
        app.on_http("GET", "/items/{name}", name="two")(lambda e, c: None)
    with pytest.raises(DeclarationError, match="already answers GET"):
        app.on_http("ANY", "/items/{x}", name="three")(lambda e, c: None)
    app.route("POST", "/items", to=app.queue("q"))
    with pytest.raises(DeclarationError, match="already answers POST"):
        app.on_http("POST", "/items", name="four")(lambda e, c: None)


# -- topics -------------------------------------------------------------------------------


def topic_app(received: list[dict[str, Any]], fail_times: list[int]) -> tuple[App, Any]:
    app = App("t")
    topic = app.topic("events")
    audit = app.queue("audit")

    @app.on_topic(topic, uses=[audit.sends])
    def listener(event: dict[str, Any], context: Any) -> None:
        received.append(event)
        if fail_times and fail_times[0] > 0:
            fail_times[0] -= 1
            raise RuntimeError("not yet")
        audit.send_message(event["Records"][0]["Sns"]["Message"])

    return app, topic


def test_a_function_on_a_topic_gets_the_sns_event_signed(make_engine: EngineFactory) -> None:
    received: list[dict[str, Any]] = []
    app, topic = topic_app(received, [])
    engine = make_engine(app)
    answer = topic.publish(
        "hello",
        subject="Greeting",
        message_attributes={"kind": {"DataType": "String", "StringValue": "x"}},
    )
    topic.publish("no subject")
    engine.drain()
    first, second = (event["Records"][0] for event in received)
    assert list(first) == ["EventSource", "EventVersion", "EventSubscriptionArn", "Sns"]
    assert first["EventSource"] == "aws:sns"
    assert first["EventVersion"] == "1.0"
    assert first["EventSubscriptionArn"].startswith("arn:aws:sns:us-east-1:000000000000:events:")
    sns = first["Sns"]
    assert list(sns) == SNS_KEYS
    assert sns["MessageId"] == answer["MessageId"]
    assert (sns["Subject"], sns["Message"]) == ("Greeting", "hello")
    assert sns["MessageAttributes"] == {"kind": {"Type": "String", "Value": "x"}}
    assert sns["Timestamp"].endswith("Z")
    assert second["Sns"]["Subject"] is None
    assert second["Sns"]["MessageAttributes"] == {}
    envelope = {k if k != "SigningCertUrl" else "SigningCertURL": v for k, v in sns.items()}
    assert verify(engine.signer.certificate(), envelope)
    assert not verify(engine.signer.certificate(), {**envelope, "Message": "tampered"})


def test_a_failing_topic_function_is_retried_twice_then_recorded(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    received: list[dict[str, Any]] = []
    app, topic = topic_app(received, [5])
    engine = make_engine(app)
    topic.publish("will fail")
    start = clock.now()
    engine.drain(advance_time=True)
    assert len(received) == 3
    assert clock.now() - start == pytest.approx(180)  # retried after 1 and 2 more minutes
    with Admin(engine.settings.data_dir, clock=clock) as admin:
        (delivery,) = admin.deliveries()
    assert (delivery.protocol, delivery.status, delivery.attempts) == ("lambda", "failed", 3)
    assert "not yet" in (delivery.last_error or "")


def test_a_topic_functions_sends_commit_with_its_delivery(make_engine: EngineFactory) -> None:
    received: list[dict[str, Any]] = []
    app, topic = topic_app(received, [1])
    engine = make_engine(app)
    topic.publish("eventually")
    engine.drain(advance_time=True)
    bodies = [r["body"] for r in engine.store.query("SELECT body FROM messages")]
    assert bodies == ["eventually"]  # the failed attempt's send was never committed


def test_the_start_banner_lists_every_route_with_what_it_leads_to(
    make_engine: EngineFactory,
) -> None:
    from sluiceway.local.runtime import _banner

    app = App("routes")
    inbox = app.queue("inbox")
    users = app.table("users", partition_key="id")
    app.route("POST", "/in", to=inbox)
    app.route("PUT", "/users", to=users)

    @app.on_http("GET", "/h/{id}")
    def show(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": ""}

    @app.on_http("GET", "/v2/h", payload_format_version="2.0")
    def show_v2(event: dict[str, Any], context: Any) -> str:
        return ""

    lines = _banner(make_engine(app), "http://127.0.0.1:8080")
    assert [line for line in lines if line.startswith("  ") and " -> " in line] == [
        "  POST http://127.0.0.1:8080/in -> queue inbox",
        "  PUT http://127.0.0.1:8080/users -> table users",
        "  GET http://127.0.0.1:8080/h/{id} -> function show",
        "  GET http://127.0.0.1:8080/v2/h -> function show_v2",
    ]
