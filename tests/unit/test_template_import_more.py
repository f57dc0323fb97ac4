"""More of what public templates hold, as `load_stack` imports it (beside
test_template_import.py): an HTTP API's $default route."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from sluiceway import App, DeclarationError
from sluiceway.apigateway import proxy
from sluiceway.apigateway.function_routes import http_api_event
from sluiceway.awslambda.spec import HttpSource
from sluiceway.templates.stack import load_stack

DEFAULT_ROUTE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: index.handler
      Runtime: python3.12
      InlineCode: |
        def handler(event, context):
            return event["routeKey"]
      Events:
        Anything:
          Type: HttpApi
        Orders:
          Type: HttpApi
          Properties: {Path: /orders, Method: get}
"""


def test_an_http_api_event_without_a_path_is_the_default_route(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(dedent(DEFAULT_ROUTE))
    graph = load_stack(str(tmp_path), stack_name="s").app.graph
    sources = {
        (f.source.method, f.source.path, f.source.payload_format_version)
        for f in graph.functions
        if isinstance(f.source, HttpSource)
    }
    assert sources == {("ANY", "$default", "2.0"), ("GET", "/orders", "2.0")}
    router = proxy.Router(graph.functions)
    assert router.find("GET", "/orders") is not None
    assert router.find("GET", "/") is None  # declared routes first; $default after them
    for method, path in (("GET", "/"), ("POST", "/orders"), ("DELETE", "/a/b/c")):
        found = router.find(method, path, default=True)
        assert found is not None
        assert found[0].resource == "$default"


def test_the_default_route_is_an_http_apis_for_any_method() -> None:
    app = App("a")
    with pytest.raises(DeclarationError, match=r"\$default route is an HTTP API's"):
        app.on_http("GET", "$default", payload_format_version="2.0", name="f")(lambda e, c: None)
    with pytest.raises(DeclarationError, match=r"\$default route is an HTTP API's"):
        app.on_http("ANY", "$default", name="f")(lambda e, c: None)


def test_the_default_route_renders_as_sams_http_api_event_without_a_path() -> None:
    app = App("a")

    @app.on_http("ANY", "$default", payload_format_version="2.0")
    def anything(event: object, context: object) -> None: ...

    (function,) = app.graph.functions
    assert isinstance(function.source, HttpSource)
    rendered = http_api_event(function, function.source, "a")
    assert set(rendered["Properties"]) == {"ApiId", "PayloadFormatVersion"}
