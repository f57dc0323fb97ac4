"""A SAM API with Lambda authorizers (TOKEN and REQUEST, as SAM's `Auth.Authorizers` writes
them): each request is decided by the authorizer function's IAM policy, as API Gateway does,
and the route's function sees the authorizer's principal and context."""

from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent

import pytest

from sluiceway.testing import RunningApp
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
        DefaultAuthorizer: TokenAuth
        Authorizers:
          TokenAuth:
            FunctionArn: !GetAtt AuthFn.Arn
            Identity:
              Header: Authorization
              ValidationExpression: "^Bearer .+$"
          RequestAuth:
            FunctionPayloadType: REQUEST
            FunctionArn: !GetAtt AuthFn.Arn
            Identity:
              Headers: [X-User]
  AuthFn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: auth.handler
      Runtime: python3.12
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Events:
        Token:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /hello
            Method: get
        Request:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /who
            Method: get
            Auth:
              Authorizer: RequestAuth
"""
AUTH = """
def handler(event, context):
    if event["type"] == "TOKEN":
        token = event["authorizationToken"].removeprefix("Bearer ")
        if token == "expired":
            raise Exception("Unauthorized")
        effect, principal = ("Allow" if token == "good" else "Deny"), "user-1"
    else:
        principal = event["headers"]["X-User"]
        effect = "Allow" if principal == "ada" else "Deny"
    return {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}
            ],
        },
        "context": {"tier": "gold", "n": 3, "dropped": {"objects": "are"}},
    }
"""
APP = """
import json

def handler(event, context):
    return {"statusCode": 200, "body": json.dumps(event["requestContext"]["authorizer"])}
"""


@pytest.fixture
def app(sluiceway: Launcher, tmp_path: Path) -> RunningApp:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "auth.py").write_text(dedent(AUTH))
    (tmp_path / "src" / "app.py").write_text(dedent(APP))
    (tmp_path / "template.yaml").write_text(dedent(TEMPLATE))
    return sluiceway.run(tmp_path / "template.yaml")


def authorizer_calls(app: RunningApp) -> list[dict[str, object]]:
    return [i.event for i in app.invocations if i.function.endswith("AuthFn")]


def test_a_token_authorizer_decides_by_its_policy(app: RunningApp) -> None:
    allowed = app.http.get("/Prod/hello", headers={"Authorization": "Bearer good"})
    assert allowed.status_code == 200, allowed.text
    assert json.loads(allowed.text) == {
        "principalId": "user-1",
        "tier": "gold",
        "n": 3,
        "integrationLatency": 0,
    }
    (call,) = authorizer_calls(app)
    assert call["type"] == "TOKEN"
    assert call["authorizationToken"] == "Bearer good"
    assert str(call["methodArn"]).endswith("/Prod/GET/hello")
    denied = app.http.get("/Prod/hello", headers={"Authorization": "Bearer bad"})
    assert (denied.status_code, denied.json()) == (
        403,
        {"Message": "User is not authorized to access this resource with an explicit deny"},
    )
    refused = app.http.get("/Prod/hello", headers={"Authorization": "Bearer expired"})
    assert (refused.status_code, refused.json()) == (401, {"message": "Unauthorized"})
    # No token, or one the validation expression refuses: 401 without asking the function.
    calls = len(authorizer_calls(app))
    for headers in ({}, {"Authorization": "good"}):
        answer = app.http.get("/Prod/hello", headers=headers)
        assert (answer.status_code, answer.json()) == (401, {"message": "Unauthorized"})
    assert len(authorizer_calls(app)) == calls
    assert len([i for i in app.invocations if "-Hello" in i.function]) == 1  # the allowed one


def test_a_request_authorizer_gets_the_request(app: RunningApp) -> None:
    allowed = app.http.get("/Prod/who?x=1", headers={"X-User": "ada"})
    assert allowed.status_code == 200, allowed.text
    assert json.loads(allowed.text)["principalId"] == "ada"
    (call,) = authorizer_calls(app)
    assert call["type"] == "REQUEST"
    assert call["httpMethod"] == "GET"
    assert call["queryStringParameters"] == {"x": "1"}
    assert "body" not in call
    assert app.http.get("/Prod/who", headers={"X-User": "bob"}).status_code == 403
    assert app.http.get("/Prod/who").status_code == 401
