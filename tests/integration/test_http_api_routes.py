"""Functions behind HTTP API routes (payload format 2.0) through the real gateway: the 2.0
event, the 2.0 answer rules, and HTTP API's own failures, beside a REST API route."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx

from conftest import EngineFactory
from sluiceway import App
from sluiceway.testing.plugin import Launcher
from support import gateway


def http_api_app(events: list[dict[str, Any]]) -> App:
    app = App("web")

    @app.on_http("POST", "/orders/{id}", payload_format_version="2.0")
    def place(event: dict[str, Any], context: Any) -> dict[str, Any]:
        events.append(event)
        return {
            "statusCode": 201,
            "headers": {"X-Method": event["requestContext"]["http"]["method"]},
            "cookies": [f"last={event['pathParameters']['id']}; Path=/", "seen=1"],
            "body": json.dumps(
                {
                    "path": event["rawPath"],
                    "id": event["pathParameters"]["id"],
                    "cookies": event.get("cookies", []),
                }
            ),
        }

    @app.on_http("GET", "/orders/{id}", payload_format_version="2.0")
    def show(event: dict[str, Any], context: Any) -> dict[str, Any]:
        events.append(event)
        return {
            "id": event["pathParameters"]["id"],
            "method": event["requestContext"]["http"]["method"],
        }

    @app.on_http("GET", "/hello", payload_format_version="2.0")
    def hello(event: dict[str, Any], context: Any) -> str:
        return "Hello from Lambda!"

    @app.on_http("GET", "/legacy")
    def legacy(event: dict[str, Any], context: Any) -> dict[str, Any]:
        events.append(event)
        return {"statusCode": 200, "body": "rest"}

    @app.on_http("GET", "/crash", payload_format_version="2.0")
    def crash(event: dict[str, Any], context: Any) -> Any:
        raise RuntimeError("boom: secret details")

    @app.on_http("GET", "/broken", payload_format_version="2.0")
    def broken(event: dict[str, Any], context: Any) -> Any:
        return {"statusCode": 200, "cookies": "not-a-list"}

    release = threading.Event()

    @app.on_http("GET", "/slow", timeout=1, payload_format_version="2.0")
    def slow(event: dict[str, Any], context: Any) -> Any:
        release.wait(5)
        return {"statusCode": 200}

    app.release = release  # type: ignore[attr-defined]
    return app


def test_a_2_0_route_gets_the_http_api_event_and_its_full_answer_is_mapped(
    make_engine: EngineFactory,
) -> None:
    events: list[dict[str, Any]] = []
    engine = make_engine(http_api_app(events))
    with gateway(engine) as url:
        placed = httpx.post(
            f"{url}/orders/o-1?x=1&x=2",
            content=b'{"qty": 2}',
            headers=[("Cookie", "session=abc; theme=dark"), ("X-Tag", "a"), ("X-Tag", "b")],
        )
    assert placed.status_code == 201
    assert placed.json() == {
        "path": "/orders/o-1",
        "id": "o-1",
        "cookies": ["session=abc", "theme=dark"],
    }
    assert placed.headers["x-method"] == "POST"
    assert placed.headers.get_list("set-cookie") == ["last=o-1; Path=/", "seen=1"]
    assert placed.headers["content-type"] == "application/json"
    assert len(placed.headers["x-amzn-requestid"]) == 36
    event = events[0]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /orders/{id}"
    assert event["rawPath"] == "/orders/o-1"
    assert event["rawQueryString"] == "x=1&x=2"
    assert event["queryStringParameters"] == {"x": "1,2"}
    assert event["pathParameters"] == {"id": "o-1"}
    assert event["cookies"] == ["session=abc", "theme=dark"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-tag"] == "a,b"
    assert all(name == name.lower() for name in event["headers"])
    assert (event["body"], event["isBase64Encoded"]) == ('{"qty": 2}', False)
    context = event["requestContext"]
    assert context["http"] == {
        "method": "POST",
        "path": "/orders/o-1",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": event["headers"]["user-agent"],
    }
    assert context["requestId"] == placed.headers["x-amzn-requestid"]
    assert context["routeKey"] == "POST /orders/{id}"
    assert context["stage"] == "$default"
    assert context["domainName"] == url.removeprefix("http://")


def test_a_bare_answer_is_inferred_and_a_rest_route_beside_it_keeps_format_1_0(
    make_engine: EngineFactory,
) -> None:
    events: list[dict[str, Any]] = []
    engine = make_engine(http_api_app(events))
    with gateway(engine) as url:
        shown = httpx.get(f"{url}/orders/o-7")
        hello = httpx.get(f"{url}/hello")
        legacy = httpx.get(f"{url}/legacy")
    assert shown.status_code == 200
    assert shown.headers["content-type"] == "application/json"
    assert shown.json() == {"id": "o-7", "method": "GET"}
    assert (hello.status_code, hello.text) == (200, "Hello from Lambda!")
    assert hello.headers["content-type"] == "application/json"
    assert legacy.text == "rest"
    v2, v1 = events
    assert "body" not in v2
    assert "cookies" not in v2
    assert "queryStringParameters" not in v2
    assert "version" not in v1
    assert v1["httpMethod"] == "GET"


def test_failures_answer_as_an_http_api_does_without_details(make_engine: EngineFactory) -> None:
    app = http_api_app([])
    engine = make_engine(app)
    with gateway(engine) as url:
        crashed = httpx.get(f"{url}/crash")
        malformed = httpx.get(f"{url}/broken")
        timed_out = httpx.get(f"{url}/slow", timeout=10)
        app.release.set()  # type: ignore[attr-defined]
    assert (crashed.status_code, crashed.json()) == (500, {"message": "Internal Server Error"})
    assert "secret" not in crashed.text
    assert (malformed.status_code, malformed.json()) == (500, {"message": "Internal Server Error"})
    assert (timed_out.status_code, timed_out.json()) == (503, {"message": "Service Unavailable"})


def test_an_unknown_route_of_an_http_api_is_404_and_of_a_rest_api_403(
    sluiceway: Launcher,
) -> None:
    only_http = App("only-http")

    @only_http.on_http("GET", "/hello", payload_format_version="2.0")
    def hello(event: dict[str, Any], context: Any) -> str:
        return "hi"

    app = sluiceway.run(only_http)
    assert app.http.get("/hello").text == "hi"
    for unrouted in (app.http.get("/nope"), app.http.delete("/hello")):
        assert (unrouted.status_code, unrouted.json()) == (404, {"message": "Not Found"})
    app.close()
    mixed = sluiceway.run(http_api_app([]))  # a REST route beside them: a REST API answers
    unrouted = mixed.http.get("/nope")
    assert (unrouted.status_code, unrouted.json()) == (
        403,
        {"message": "Missing Authentication Token"},
    )
