"""Payload format 2.0 routes render as SAM ``HttpApi`` events on the app's HTTP API (API
Gateway v2), beside the REST API that keeps the app's 1.0 routes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_support import findings, sam_transform

from sluiceway import App
from sluiceway.aws import Code, RenderError, _yaml, template_for
from sluiceway.aws.observability import HTTP_API_FORMAT
from sluiceway.firewall import Rule, rate_limit


def mixed_app() -> App:
    app = App("shop")
    app.route("POST", "/intake", to=app.queue("intake"))

    @app.on_http("GET", "/legacy/{id}", name="legacy")
    def legacy(event: Any, context: Any) -> dict[str, Any]:
        return {"statusCode": 200}

    @app.on_http("POST", "/orders/{id}", name="place", payload_format_version="2.0")
    def place(event: Any, context: Any) -> dict[str, Any]:
        return {"ok": True}

    @app.on_http("ANY", "/admin/{proxy+}", name="admin", payload_format_version="2.0")
    def admin(event: Any, context: Any) -> str:
        return "admin"

    return app


def only_http_api_app() -> App:
    app = App("tiny")

    @app.on_http("GET", "/hello", name="hello", payload_format_version="2.0")
    def hello(event: Any, context: Any) -> str:
        return "Hello from Lambda!"

    return app


def test_a_2_0_route_is_an_http_api_event_on_the_apps_http_api() -> None:
    template = template_for(mixed_app().graph, Code("shop:app"))
    resources = template["Resources"]
    assert resources["Place"]["Properties"]["Events"] == {
        "HttpApi": {
            "Type": "HttpApi",
            "Properties": {
                "ApiId": {"Ref": "ShopHttpApi"},
                "Method": "POST",
                "Path": "/orders/{id}",
                "PayloadFormatVersion": "2.0",
            },
        }
    }
    assert resources["Admin"]["Properties"]["Events"]["HttpApi"]["Properties"]["Method"] == "ANY"
    assert resources["ShopHttpApi"] == {
        "Type": "AWS::Serverless::HttpApi",
        "Properties": {
            "Name": "shop-http",
            "AccessLogSettings": {
                "DestinationArn": {"Fn::GetAtt": ["ShopHttpApiAccessLogs", "Arn"]},
                "Format": json.dumps(HTTP_API_FORMAT),
            },
        },
    }
    # SAM makes their invoke permissions; only the 1.0 route has one of its own.
    assert "PlaceInvokePermission" not in resources
    assert "LegacyInvokePermission" in resources
    # The REST API keeps the queue route and the 1.0 function, and nothing of the 2.0 ones.
    paths = resources["ShopApi"]["Properties"]["DefinitionBody"]["paths"]
    assert sorted(paths) == ["/intake", "/legacy/{id}"]
    outputs = template["Outputs"]
    assert outputs["ShopHttpApiUrl"]["Value"] == {
        "Fn::Sub": "https://${ShopHttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
    }
    assert outputs["PlaceUrl"]["Value"] == {
        "Fn::Sub": "https://${ShopHttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/orders/{id}"
    }
    assert outputs["ShopApiUrl"]["Value"]["Fn::Sub"].endswith("/prod")


def test_both_apis_pass_cfn_lint_and_the_sam_translator_makes_the_http_api_routes() -> None:
    template = template_for(mixed_app().graph, Code("shop:app"))
    assert findings(_yaml.dump(template)) == []
    transformed = sam_transform(template)["Resources"]
    kinds = sorted(r["Type"] for r in transformed.values())
    assert kinds.count("AWS::ApiGatewayV2::Api") == 1
    assert kinds.count("AWS::ApiGateway::RestApi") == 1
    assert transformed["ShopHttpApiApiGatewayDefaultStage"]["Properties"]["StageName"] == (
        "$default"
    )
    body = transformed["ShopHttpApi"]["Properties"]["Body"]
    assert sorted(body["paths"]) == ["/admin/{proxy+}", "/orders/{id}"]
    integration = body["paths"]["/orders/{id}"]["post"]["x-amazon-apigateway-integration"]
    assert integration["type"] == "aws_proxy"
    assert integration["payloadFormatVersion"] == "2.0"
    assert list(body["paths"]["/admin/{proxy+}"]) == ["x-amazon-apigateway-any-method"]
    assert transformed["PlaceHttpApiPermission"]["Type"] == "AWS::Lambda::Permission"
    assert transformed["PlaceHttpApiPermission"]["Properties"]["Principal"] == (
        "apigateway.amazonaws.com"
    )


def test_an_app_with_only_2_0_routes_has_an_http_api_and_no_rest_api() -> None:
    template = template_for(only_http_api_app().graph, Code("tiny:app"))
    kinds = {r["Type"] for r in template["Resources"].values()}
    assert "AWS::Serverless::HttpApi" in kinds
    assert "AWS::Serverless::Api" not in kinds
    assert findings(_yaml.dump(template)) == []
    assert "TinyHttpApi" in sam_transform(template)["Resources"]


def test_an_app_with_only_1_0_routes_has_no_http_api() -> None:
    app = App("old")
    app.on_http("GET", "/a", name="a")(lambda e, c: None)
    kinds = {r["Type"] for r in template_for(app.graph, Code("old:app"))["Resources"].values()}
    assert "AWS::Serverless::HttpApi" not in kinds


def test_a_2_0_route_with_auth_is_refused_at_render() -> None:
    app = App("guarded")
    pool = app.user_pool("staff", domain="guarded-staff")
    pool.resource_server("api", scopes={"read": "read"})
    app.on_http(
        "GET", "/me", name="me", auth=pool.requires("api/read"), payload_format_version="2.0"
    )(lambda e, c: None)
    with pytest.raises(RenderError, match=r"function 'me' .*JWT authorizer"):
        template_for(app.graph, Code("guarded:app"))


def test_a_firewall_cannot_guard_an_http_api_and_is_refused() -> None:
    app = App("walled")
    app.route("POST", "/in", to=app.queue("in"))
    app.on_http("GET", "/v2", name="v2", payload_format_version="2.0")(lambda e, c: None)
    app.firewall([Rule("r", 0, "block", rate_limit(10, window=60))])
    with pytest.raises(RenderError, match="AWS WAF cannot be associated with an HTTP API"):
        template_for(app.graph, Code("walled:app"))
