"""Cognito from a template, run with `sluiceway run` as a user would.

The public template is the prerequisite stack of aws-samples/serverless-patterns'
eventbridge-api-destinations/12-oauth-api-cmk-encryption (MIT-0, copied unchanged into
tests/data/templates/): a user pool with a domain, a resource server, a client_credentials
app client and a REST API whose POST method needs a token with the resource server's scope.
No public pattern has that and a Lambda function: this one's method integrates with an
external HTTP endpoint (the petstore demo), which is not emulated, so the second test runs the
same Cognito setup in front of a Python function, in a template of its own.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from runtime import RuntimeProcess, template_outputs

pytestmark = pytest.mark.slow

PATTERN = (
    Path(__file__).parent.parent
    / "data"
    / "templates"
    / "eventbridge-api-destinations-12-oauth-api-cmk-encryption"
)
SCOPE = "petstore-api.example.com/domestic.read"


def sluiceway(data_dir: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "sluiceway", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=os.environ,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def output(runtime: RuntimeProcess, name: str) -> str:
    return str(template_outputs(runtime)["outputs"][name])


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    found: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return found


def token(url: str, client_id: str, secret: str) -> str:
    answer = httpx.post(
        url,
        data={"grant_type": "client_credentials", "scope": SCOPE},
        auth=(client_id, secret),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def test_the_pattern_s_client_gets_tokens_for_its_scope_from_the_pool(tmp_path: Path) -> None:
    data = tmp_path / "data"
    runtime = RuntimeProcess(data, [str(PATTERN / "prerequisite.yaml")]).start(timeout=60)
    try:
        client_id = output(runtime, "ClientId")
        token_url = output(runtime, "ExternalAuthEndpoint")
        assert token_url == f"{runtime.url}/oauth2/token"
        pool = output(runtime, "UserPoolArn").rsplit("/", 1)[-1]
        listed = sluiceway(data, "clients", "list")
        assert client_id in listed
        assert "declared" in listed
        secret = sluiceway(data, "clients", "secret", client_id).strip()
        claims = claims_of(token(token_url, client_id, secret))
        assert claims["client_id"] == client_id
        assert claims["scope"] == SCOPE
        assert claims["iss"] == f"https://cognito-idp.us-east-1.amazonaws.com/{pool}"
        wrong = httpx.post(
            token_url,
            data={"grant_type": "client_credentials"},
            auth=(client_id, secret[:-1] + ("a" if secret[-1] != "a" else "b")),
            timeout=30,
        )
        assert wrong.status_code == 401
    finally:
        assert runtime.stop() == 0
    # Restarted: the same client, the same secret.
    runtime = RuntimeProcess(data, [str(PATTERN / "prerequisite.yaml")]).start(timeout=60)
    try:
        assert output(runtime, "ClientId") == client_id
        assert sluiceway(data, "clients", "secret", client_id).strip() == secret
        token(f"{runtime.url}/oauth2/token", client_id, secret)
    finally:
        assert runtime.stop() == 0


FUNCTION = """\
import json


def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"ordered": json.loads(event["body"])})}
"""
# The pattern's pool, domain, resource server and client, then this API and function.
API = """
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: prod
      Auth:
        Authorizers:
          Partners:
            UserPoolArn: !GetAtt MyUserPool.Arn
  Orders:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Events:
        Post:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /orders
            Method: post
            Auth:
              Authorizer: Partners
              AuthorizationScopes: [petstore-api.example.com/domestic.read]
Outputs:
  ClientId: {Value: !Ref MyWebClient}
"""


def test_the_same_pool_guards_a_python_function_behind_the_api(tmp_path: Path) -> None:
    pattern = (PATTERN / "prerequisite.yaml").read_text()
    head, rest = pattern.split("\nResources:\n", 1)
    cognito = rest.split("\n  # CMK Key Resources", 1)[0]
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(FUNCTION)
    template = tmp_path / "template.yaml"
    transform = "Transform: AWS::Serverless-2016-10-31\n"
    template.write_text(head + "\n" + transform + "Resources:\n" + cognito + API)
    data = tmp_path / "data"
    runtime = RuntimeProcess(data, [str(template)]).start(timeout=60)
    try:
        client_id = output(runtime, "ClientId")
        secret = sluiceway(data, "clients", "secret", client_id).strip()
        url = f"{runtime.url}/prod/orders"
        assert httpx.post(url, json={"item": "gloves"}, timeout=30).status_code == 401
        bad = {"Authorization": "Bearer not.a.token"}
        assert httpx.post(url, json={"item": "gloves"}, headers=bad, timeout=30).status_code == 401
        good = {"Authorization": token(f"{runtime.url}/oauth2/token", client_id, secret)}
        answer = httpx.post(url, json={"item": "gloves"}, headers=good, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"ordered": {"item": "gloves"}}
    finally:
        assert runtime.stop() == 0
