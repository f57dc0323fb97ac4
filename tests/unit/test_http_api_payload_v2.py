"""HTTP APIs (API Gateway v2): the payload format 2.0 event, and the answer rules, checked
against the examples of AWS's guide ("Create AWS Lambda proxy integrations for HTTP APIs in
API Gateway": payload format structure; Lambda function response for format 2.0)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sluiceway import App, DeclarationError
from sluiceway.apigateway import proxy
from sluiceway.awslambda.spec import HttpSource
from sluiceway.core.events import apigw_http_event

# The keys of AWS's 2.0 example, in its order (without authentication, authorizer and
# stageVariables, which a local route without mTLS, JWT claims or stages has none of).
EVENT_KEYS = [
    "version",
    "routeKey",
    "rawPath",
    "rawQueryString",
    "cookies",
    "headers",
    "queryStringParameters",
    "requestContext",
    "body",
    "pathParameters",
    "isBase64Encoded",
]
CONTEXT_KEYS = [
    "accountId",
    "apiId",
    "domainName",
    "domainPrefix",
    "http",
    "requestId",
    "routeKey",
    "stage",
    "time",
    "timeEpoch",
]


def event(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "method": "POST",
        "path": "/my/path",
        "route_key": "$default",
        "path_parameters": {"parameter1": "value1"},
        "raw_query_string": "parameter1=value1&parameter1=value2&parameter2=value",
        "headers": [
            ("Header1", "value1"),
            ("Header2", "value1"),
            ("header2", "value2"),
            ("Cookie", "cookie1"),
            ("cookie", "cookie2"),
            ("User-Agent", "agent"),
        ],
        "body": b"Hello from Lambda",
        "source_ip": "198.51.100.7",
        "request_id": "id",
        "request_time_ms": 1583348638390,
        "account_id": "123456789012",
        "domain_name": "id.execute-api.us-east-1.amazonaws.com",
        "api_id": "api-id",
    }
    return apigw_http_event(**{**arguments, **overrides})


def test_the_event_is_the_documented_example() -> None:
    got = event()
    assert list(got) == EVENT_KEYS
    assert list(got["requestContext"]) == CONTEXT_KEYS
    assert got == {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/my/path",
        "rawQueryString": "parameter1=value1&parameter1=value2&parameter2=value",
        "cookies": ["cookie1", "cookie2"],
        "headers": {"header1": "value1", "header2": "value1,value2", "user-agent": "agent"},
        "queryStringParameters": {"parameter1": "value1,value2", "parameter2": "value"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api-id",
            "domainName": "id.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "id",
            "http": {
                "method": "POST",
                "path": "/my/path",
                "protocol": "HTTP/1.1",
                "sourceIp": "198.51.100.7",
                "userAgent": "agent",
            },
            "requestId": "id",
            "routeKey": "$default",
            "stage": "$default",
            # From timeEpoch (AWS's example pairs it with another day's "12/Mar/2020").
            "time": "04/Mar/2020:19:03:58 +0000",
            "timeEpoch": 1583348638390,
        },
        "body": "Hello from Lambda",
        "pathParameters": {"parameter1": "value1"},
        "isBase64Encoded": False,
    }


def test_what_is_empty_is_left_out_as_aws_leaves_it_out() -> None:
    got = event(
        route_key="GET /orders",
        path="/orders",
        path_parameters={},
        raw_query_string="",
        headers=[("host", "localhost:8080")],
        body=b"",
    )
    assert list(got) == [
        "version",
        "routeKey",
        "rawPath",
        "rawQueryString",
        "headers",
        "requestContext",
        "isBase64Encoded",
    ]
    assert got["rawQueryString"] == ""
    assert got["headers"] == {"host": "localhost:8080"}
    assert got["isBase64Encoded"] is False
    assert got["requestContext"]["routeKey"] == "GET /orders"
    assert got["requestContext"]["http"]["userAgent"] == ""


def test_one_cookie_header_holds_several_cookies_each_its_own_entry() -> None:
    got = event(headers=[("cookie", "a=1; b=2;c=3"), ("Cookie", "d=4")])
    assert got["cookies"] == ["a=1", "b=2", "c=3", "d=4"]
    assert "cookie" not in got["headers"]


def test_query_values_are_decoded_and_the_raw_string_kept() -> None:
    got = event(raw_query_string="q=a%20b&q=c%2Cd&empty=&plus=1+2")
    assert got["rawQueryString"] == "q=a%20b&q=c%2Cd&empty=&plus=1+2"
    assert got["queryStringParameters"] == {"q": "a b,c,d", "empty": "", "plus": "1 2"}


def test_a_binary_body_is_base64_as_in_format_1_0() -> None:
    got = event(body=b"\xff\x00")
    assert (got["body"], got["isBase64Encoded"]) == ("/wA=", True)


# -- the answer rules ------------------------------------------------------------------------

JSON_TYPE = (b"content-type", b"application/json")


@pytest.mark.parametrize(
    ("returned", "body"),
    [
        # AWS's two examples: a string is the body as it is, an object its JSON.
        ("Hello from Lambda!", b"Hello from Lambda!"),
        ({"message": "Hello from Lambda!"}, json.dumps({"message": "Hello from Lambda!"}).encode()),
        ([1, "two"], b'[1, "two"]'),
        (42, b"42"),
        (True, b"true"),
        (None, b"null"),
        ({"body": "x", "headers": {"a": "b"}}, b'{"body": "x", "headers": {"a": "b"}}'),
    ],
)
def test_an_answer_without_a_status_code_is_inferred(returned: Any, body: bytes) -> None:
    assert proxy.answer_v2(returned) == (200, [JSON_TYPE], body)


def test_an_answer_with_a_status_code_is_mapped_as_in_format_1_0_with_its_cookies() -> None:
    status, headers, body = proxy.answer_v2(
        {
            "cookies": ["a=1; Path=/", "b=2; HttpOnly"],
            "isBase64Encoded": False,
            "statusCode": 201,
            "headers": {"X-Order": "o-1", "Content-Type": "text/plain"},
            "body": "Hello from Lambda!",
        }
    )
    assert status == 201
    assert body == b"Hello from Lambda!"
    assert headers == [
        (b"x-order", b"o-1"),
        (b"content-type", b"text/plain"),
        (b"set-cookie", b"a=1; Path=/"),
        (b"set-cookie", b"b=2; HttpOnly"),
    ]
    assert proxy.answer_v2({"statusCode": "204"}) == (204, [], b"")
    assert proxy.answer_v2({"statusCode": 200, "body": "AQI=", "isBase64Encoded": True})[2] == (
        b"\x01\x02"
    )


@pytest.mark.parametrize(
    ("returned", "problem"),
    [
        ({"statusCode": 200, "cookies": "a=1"}, "cookies is not a list"),
        ({"statusCode": 200, "status": 1}, "unexpected keys"),
        ({"statusCode": 700}, "not an HTTP status"),
        ({"statusCode": 200, "body": {"a": 1}}, "body must be a string"),
        ({"statusCode": 200, "cookies": ["a=1\r\nX: y"]}, "line break"),
        (float("nan"), "not JSON"),
        ({"when": object()}, "not JSON"),
    ],
)
def test_an_answer_api_gateway_would_refuse_is_malformed(returned: Any, problem: str) -> None:
    with pytest.raises(proxy.MalformedAnswer, match=problem):
        proxy.answer_v2(returned)


def test_format_1_0_still_refuses_what_is_not_a_proxy_response() -> None:
    with pytest.raises(proxy.MalformedAnswer, match="not an object"):
        proxy.answer("Hello from Lambda!")
    with pytest.raises(proxy.MalformedAnswer, match="unexpected keys"):
        proxy.answer({"statusCode": 200, "cookies": ["a=1"]})


def test_failures_answer_with_each_api_kinds_own_status_and_text() -> None:
    assert proxy.failure(True, timed_out=False) == (500, {"message": "Internal Server Error"})
    assert proxy.failure(True, timed_out=True) == (503, {"message": "Service Unavailable"})
    assert proxy.failure(False, timed_out=False) == (502, {"message": "Internal server error"})
    assert proxy.failure(False, timed_out=True) == (504, {"message": "Endpoint request timed out"})


# -- declaring ------------------------------------------------------------------------------


def test_on_http_takes_the_payload_format_version() -> None:
    app = App("web")
    app.on_http("GET", "/a", name="old")(lambda e, c: None)
    app.on_http("GET", "/b", name="new", payload_format_version="2.0")(lambda e, c: None)
    sources = {f.name: f.source for f in app.graph.functions}
    assert sources["old"] == HttpSource("GET", "/a")
    assert sources["old"].payload_format_version == "1.0"  # type: ignore[union-attr]
    assert sources["new"] == HttpSource("GET", "/b", None, "2.0")


@pytest.mark.parametrize("version", ["2", "3.0", 2.0, None])
def test_another_payload_format_version_is_refused_naming_the_function(version: Any) -> None:
    with pytest.raises(DeclarationError, match=r"function 'f' .*payload_format_version=") as error:
        App("web").on_http("GET", "/a", name="f", payload_format_version=version)(lambda e, c: None)
    assert "'1.0'" in error.value.fix
    assert "'2.0'" in error.value.fix
