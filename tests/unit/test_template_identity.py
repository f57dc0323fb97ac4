"""Cognito in a template: a user pool with its domain, resource servers and client_credentials
app clients becomes `app.user_pool`; API Gateway Cognito and JWT authorizers become a route's
``auth=pool.requires(...)``; what runs only on AWS is refused naming the resource."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from conftest import EngineFactory
from sluiceway.awslambda.spec import HttpSource
from sluiceway.cognito.errors import OAuthError
from sluiceway.cognito.identity import pool_id
from sluiceway.cognito.spec import AuthSpec, ClientSpec
from sluiceway.core.errors import NotFound, ValidationError
from sluiceway.templates.errors import TemplateError
from sluiceway.templates.stack import Stack, load_stack

HANDLER = "def handler(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n"

POOL = """
  Pool:
    Type: AWS::Cognito::UserPool
    Properties:
      UserPoolName: partners
      UsernameAttributes: [email]
  Domain:
    Type: AWS::Cognito::UserPoolDomain
    Properties:
      Domain: partners-auth
      UserPoolId: !Ref Pool
  Server:
    Type: AWS::Cognito::UserPoolResourceServer
    Properties:
      Identifier: orders
      Name: orders-api
      UserPoolId: !Ref Pool
      Scopes:
        - {ScopeName: write, ScopeDescription: place orders}
        - {ScopeName: read, ScopeDescription: read orders}
  Machine:
    Type: AWS::Cognito::UserPoolClient
    DependsOn: Server
    Properties:
      UserPoolId: !Ref Pool
      ClientName: billing
      GenerateSecret: true
      AllowedOAuthFlows: [client_credentials]
      AllowedOAuthFlowsUserPoolClient: true
      AllowedOAuthScopes: [orders/write]
      AccessTokenValidity: 30
      TokenValidityUnits: {AccessToken: minutes}
  Web:
    Type: AWS::Cognito::UserPoolClient
    Properties:
      UserPoolId: !Ref Pool
      AllowedOAuthFlows: [code]
      AllowedOAuthScopes: [openid]
"""

FUNCTION = """
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
"""

OUTPUTS = """
Outputs:
  PoolId: {Value: !Ref Pool}
  Issuer: {Value: !GetAtt Pool.ProviderURL}
  ClientId: {Value: !Ref Machine}
  TokenUrl: {Value: !Sub "https://${Domain}.auth.${AWS::Region}.amazoncognito.com/oauth2/token"}
"""


def template(tmp_path: Path, resources: str, tail: str = "") -> Path:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "app.py").write_text(HANDLER)
    path = tmp_path / "template.yaml"
    head = "AWSTemplateFormatVersion: '2010-09-09'\nTransform: AWS::Serverless-2016-10-31\n"
    path.write_text(head + "Resources:\n" + resources.strip("\n") + "\n" + dedent(tail))
    return path


def rest_method(auth: str) -> str:
    return f"""
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties: {{Name: orders}}
  Orders:
    Type: AWS::ApiGateway::Resource
    Properties:
      RestApiId: !Ref Api
      ParentId: !GetAtt Api.RootResourceId
      PathPart: orders
  Authorizer:
    Type: AWS::ApiGateway::Authorizer
    Properties:
      Name: cognito
      RestApiId: !Ref Api
      Type: COGNITO_USER_POOLS
      IdentitySource: method.request.header.Authorization
      ProviderARNs: [!GetAtt Pool.Arn]
  Post:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !Ref Orders
      HttpMethod: POST
{auth}
      Integration:
        Type: AWS_PROXY
        IntegrationHttpMethod: POST
        Uri: !Sub "arn:aws:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/\
${{Fn.Arn}}/invocations"
  Stage:
    Type: AWS::ApiGateway::Stage
    Properties: {{RestApiId: !Ref Api, StageName: prod, DeploymentId: x}}
"""


COGNITO_SCOPED = """      AuthorizationType: COGNITO_USER_POOLS
      AuthorizerId: !Ref Authorizer
      AuthorizationScopes: [orders/write, orders/read]"""


def auth_of(stack: Stack) -> AuthSpec | None:
    (function,) = stack.app.graph.functions
    assert isinstance(function.source, HttpSource)
    return function.source.auth


def test_a_machine_to_machine_pool_becomes_the_app_s_user_pool(tmp_path: Path) -> None:
    stack = load_stack(str(template(tmp_path, POOL, OUTPUTS)), stack_name="shop")
    (pool,) = stack.app.graph.user_pools
    assert (pool.name, pool.domain) == ("partners", "partners-auth")
    assert pool.access_token_validity == 1800
    (server,) = pool.resource_servers
    assert (server.identifier, server.name) == ("orders", "orders-api")
    assert server.scopes == (("write", "place orders"), ("read", "read orders"))
    client_id = stack.outputs["ClientId"][0]
    assert pool.clients == (ClientSpec(client_id, "billing", ("orders/write",)),)
    assert len(client_id) == 26
    assert client_id.isalnum()
    assert client_id.islower()
    # The pool's Ref is the id the runtime's issuer names.
    assert stack.outputs["PoolId"][0] == pool_id("shop", "partners", "us-east-1")
    assert stack.outputs["Issuer"][0].endswith("/" + stack.outputs["PoolId"][0])
    local = stack.local_outputs("http://127.0.0.1:9")
    assert local["TokenUrl"] == "http://127.0.0.1:9/oauth2/token"
    notes = "\n".join(stack.notes)
    assert "'Web'" in notes
    assert "code" in notes
    assert "UsernameAttributes" in notes
    assert f"sluiceway clients secret {client_id}" in notes
    # Stable: the same ids on every load.
    again = load_stack(str(template(tmp_path, POOL, OUTPUTS)), stack_name="shop")
    assert again.outputs == stack.outputs


def test_a_cognito_method_requires_one_of_its_scopes(tmp_path: Path) -> None:
    stack = load_stack(str(template(tmp_path, POOL + FUNCTION + rest_method(COGNITO_SCOPED))))
    assert auth_of(stack) == AuthSpec("partners", ("orders/write", "orders/read"))


def test_a_cognito_method_without_scopes_takes_any_token_of_the_pool(tmp_path: Path) -> None:
    auth = "      AuthorizationType: COGNITO_USER_POOLS\n      AuthorizerId: !Ref Authorizer"
    stack = load_stack(str(template(tmp_path, POOL + FUNCTION + rest_method(auth))))
    assert auth_of(stack) == AuthSpec("partners", ())


@pytest.mark.parametrize(
    ("kind", "problem"), [("AWS_IAM", "SigV4"), ("CUSTOM", "TOKEN or REQUEST")]
)
def test_iam_and_lambda_authorizers_are_refused_naming_the_method(
    tmp_path: Path, kind: str, problem: str
) -> None:
    # (CUSTOM is a Lambda authorizer, emulated, but not on the pool's COGNITO authorizer)
    auth = f"      AuthorizationType: {kind}\n      AuthorizerId: !Ref Authorizer"
    with pytest.raises(TemplateError) as error:
        load_stack(str(template(tmp_path, POOL + FUNCTION + rest_method(auth))))
    assert "'Post'" in str(error.value)
    assert problem in str(error.value)
    assert "COGNITO_USER_POOLS" in error.value.fix


def test_a_scope_no_resource_server_defines_is_refused(tmp_path: Path) -> None:
    auth = COGNITO_SCOPED.replace("orders/read", "orders/delete")
    with pytest.raises(TemplateError) as error:
        load_stack(str(template(tmp_path, POOL + FUNCTION + rest_method(auth))))
    assert "AuthorizationScopes" in str(error.value)
    assert "orders/delete" in str(error.value)


def test_another_identity_source_is_refused(tmp_path: Path) -> None:
    body = rest_method(COGNITO_SCOPED).replace(
        "method.request.header.Authorization", "method.request.header.authorizationToken"
    )
    with pytest.raises(TemplateError, match="authorizationToken"):
        load_stack(str(template(tmp_path, POOL + FUNCTION + body)))


SAM_API = """
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: prod
      Auth:
        DefaultAuthorizer: Partners
        Authorizers:
          Partners:
            UserPoolArn: !GetAtt Pool.Arn
  Fn:
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
              AuthorizationScopes: [orders/write]
"""


def test_sam_s_cognito_authorizer_in_the_definition_is_the_pool_s_requirement(
    tmp_path: Path,
) -> None:
    stack = load_stack(str(template(tmp_path, POOL + SAM_API)))
    assert auth_of(stack) == AuthSpec("partners", ("orders/write",))


SAM_HTTP_API = """
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Jwt
        Authorizers:
          Jwt:
            IdentitySource: $request.header.Authorization
            JwtConfiguration:
              issuer: !Sub https://cognito-idp.${AWS::Region}.amazonaws.com/${Pool}
              audience: [!Ref Machine]
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Events:
        Post:
          Type: HttpApi
          Properties:
            ApiId: !Ref Api
            Path: /orders
            Method: post
            Auth:
              AuthorizationScopes: [orders/write]
"""


def test_an_http_api_jwt_authorizer_with_the_pool_s_issuer(tmp_path: Path) -> None:
    stack = load_stack(str(template(tmp_path, POOL + SAM_HTTP_API, OUTPUTS)))
    (function,) = stack.app.graph.functions
    assert isinstance(function.source, HttpSource)
    assert function.source.payload_format_version == "2.0"
    client = stack.outputs["ClientId"][0]
    assert function.source.auth == AuthSpec("partners", ("orders/write",), (client,))


HTTP_API_RESOURCES = """
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: orders, ProtocolType: HTTP}
  Jwt:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties:
      ApiId: !Ref Api
      Name: jwt
      AuthorizerType: JWT
      IdentitySource: [$request.header.Authorization]
      JwtConfiguration:
        Issuer: !GetAtt Pool.ProviderURL
  Integration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: !GetAtt Fn.Arn
      PayloadFormatVersion: "2.0"
  Route:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: GET /orders
      Target: !Sub integrations/${Integration}
      AuthorizationType: JWT
      AuthorizerId: !Ref Jwt
"""


def test_an_http_api_route_with_a_jwt_authorizer_resource(tmp_path: Path) -> None:
    stack = load_stack(str(template(tmp_path, POOL + FUNCTION + HTTP_API_RESOURCES)))
    assert auth_of(stack) == AuthSpec("partners", ())


def test_a_jwt_issuer_that_is_not_a_pool_of_the_template_is_refused(tmp_path: Path) -> None:
    body = HTTP_API_RESOURCES.replace(
        "Issuer: !GetAtt Pool.ProviderURL", "Issuer: https://login.example.com/"
    )
    with pytest.raises(TemplateError, match="not the issuer of a Cognito user pool"):
        load_stack(str(template(tmp_path, POOL + FUNCTION + body)))


SIGN_IN_POOL = """
  Pool:
    Type: AWS::Cognito::UserPool
    Properties:
      UserPoolName: people
  Web:
    Type: AWS::Cognito::UserPoolClient
    Properties:
      UserPoolId: !Ref Pool
      AllowedOAuthFlows: [implicit]
"""


def test_a_sign_in_pool_is_listed_and_refused_only_when_a_route_needs_it(tmp_path: Path) -> None:
    stack = load_stack(str(template(tmp_path, SIGN_IN_POOL + FUNCTION)))
    assert stack.app.graph.user_pools == ()
    assert any("used only for user sign-in" in note for note in stack.notes)
    auth = "      AuthorizationType: COGNITO_USER_POOLS\n      AuthorizerId: !Ref Authorizer"
    with pytest.raises(TemplateError) as error:
        load_stack(str(template(tmp_path, SIGN_IN_POOL + FUNCTION + rest_method(auth))))
    assert "'Pool'" in str(error.value)
    assert "user sign-in" in str(error.value)


def test_a_client_secret_cannot_be_handed_on_by_the_template(tmp_path: Path) -> None:
    tail = "Outputs:\n  Secret: {Value: !GetAtt Machine.ClientSecret}\n"
    with pytest.raises(TemplateError) as error:
        load_stack(str(template(tmp_path, POOL, tail)))
    assert "sluiceway clients secret" in error.value.fix


def test_a_client_credentials_client_without_a_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="GenerateSecret"):
        load_stack(str(template(tmp_path, POOL.replace("GenerateSecret: true", ""))))


def test_declared_clients_exist_at_start_with_a_stable_secret(
    tmp_path: Path, make_engine: EngineFactory, data_dir: Path
) -> None:
    path = template(tmp_path, POOL, OUTPUTS)
    stack = load_stack(str(path))
    client_id = stack.outputs["ClientId"][0]
    engine = make_engine(stack.app)
    identity = engine.identity
    assert identity is not None
    (view,) = identity.clients()
    assert (view.client_id, view.name, view.scopes, view.declared) == (
        client_id,
        "billing",
        ("orders/write",),
        True,
    )
    secret = identity.client_secret(client_id)
    issued = identity.issue(client_id, secret, None)
    assert issued["expires_in"] == 1800
    with pytest.raises(OAuthError):
        identity.issue(client_id, secret[:-1] + ("y" if secret.endswith("x") else "x"), None)
    with pytest.raises(ValidationError, match="declared"):
        identity.delete_client(client_id)
    made = identity.create_client("cli-made", ["orders/read"])
    with pytest.raises(NotFound, match="shown once"):
        identity.client_secret(made.client_id)
    engine.close()
    # Again: the same id and secret, nothing duplicated, the CLI's client kept.
    engine = make_engine(load_stack(str(path)).app)
    assert engine.identity is not None
    assert engine.identity.client_secret(client_id) == secret
    assert [v.client_id for v in engine.identity.clients()] == [client_id, made.client_id]
    engine.close()
    # A client no longer declared is deleted, as CloudFormation deletes it.
    changed = POOL.replace("AllowedOAuthFlows: [client_credentials]", "AllowedOAuthFlows: [code]")
    engine = make_engine(load_stack(str(template(tmp_path, changed))).app)
    assert engine.identity is not None
    assert [v.client_id for v in engine.identity.clients()] == [made.client_id]
