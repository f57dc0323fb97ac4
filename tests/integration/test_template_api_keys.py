"""A SAM API whose Lambda proxy methods require an API key (`Auth: ApiKeyRequired`, with the
usage plan SAM makes): a request without one of the plan's keys gets API Gateway's 403 before
the function runs; with one, the function answers."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

from sluiceway.testing.plugin import Launcher

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
      Auth:
        ApiKeyRequired: true
        UsagePlan:
          CreateUsagePlan: PER_API
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Events:
        Get:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /hello
            Method: get
"""
HANDLER = "def handler(event, context):\n    return {'statusCode': 200, 'body': 'hello'}\n"


def test_an_api_key_required_lambda_method_wants_a_usage_plans_key(
    sluiceway: Launcher, tmp_path: Path
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(HANDLER)
    (tmp_path / "template.yaml").write_text(dedent(TEMPLATE))
    app = sluiceway.run(tmp_path / "template.yaml")
    assert app.stack is not None
    (key,) = app.stack.api_keys.values()
    assert app.http.get("/Prod/hello").status_code == 403
    wrong = app.http.get("/Prod/hello", headers={"x-api-key": "not-a-key"})
    assert (wrong.status_code, wrong.json()) == (403, {"message": "Forbidden"})
    assert app.invocations == []
    right = app.http.get("/Prod/hello", headers={"x-api-key": key})
    assert (right.status_code, right.text) == (200, "hello")
