"""Template import pieces the second batch of real patterns needed: ``Fn::Transform``
AWS::Include of a local OpenAPI file (apigw-sns-sms), a REST API's trailing slash, and a Lambda
Managed Instances capacity provider listed rather than refused (sqs-lambda-lmi-esm-...)."""

from __future__ import annotations

import re
from pathlib import Path
from textwrap import dedent

import pytest

from sluiceway.apigateway.service_integration import compile_routes, find
from sluiceway.apigateway.spec import ServiceRouteSpec
from sluiceway.awslambda.spec import QueueSource
from sluiceway.templates.errors import TemplateError
from sluiceway.templates.stack import load_stack

PATTERNS = Path(__file__).parent.parent / "data" / "templates"

API = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: dev
      DefinitionBody:
        Fn::Transform:
          Name: AWS::Include
          Parameters:
            Location: {location}
  Role:
    Type: AWS::IAM::Role
    Properties:
      RoleName: ApiRole
      AssumeRolePolicyDocument: {{}}
      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement:
              - {{Effect: Allow, Action: sns:Publish, Resource: "*"}}
"""

OPENAPI = """
openapi: "3.0.1"
info: {title: t, version: "1"}
paths:
  /:
    post:
      x-amazon-apigateway-integration:
        type: aws
        httpMethod: POST
        credentials: arn:aws:iam::${AWS::AccountId}:role/ApiRole
        uri: arn:aws:apigateway:${AWS::Region}:sns:path//
        requestTemplates:
          application/json: "Action=Publish&Message=${context.requestId}"
"""


def test_an_included_openapi_file_becomes_the_api_with_its_pseudo_parameters(
    tmp_path: Path,
) -> None:
    (tmp_path / "api.yaml").write_text(dedent(OPENAPI))
    (tmp_path / "template.yaml").write_text(dedent(API.format(location="./api.yaml")))
    stack = load_stack(str(tmp_path / "template.yaml"), account_id="123456789012")
    (route,) = stack.app.graph.service_routes
    assert isinstance(route, ServiceRouteSpec)
    assert (route.method, route.path, route.service, route.uri_path) == (
        "POST",
        "/dev",
        "sns",
        "/",
    )
    assert route.role is not None
    assert route.role.role == "ApiRole"
    # Only ${AWS::...} is filled: a Velocity ${...} stays as written.
    assert route.templates == (("application/json", "Action=Publish&Message=${context.requestId}"),)


def test_an_include_of_a_missing_or_s3_file_names_the_location(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(dedent(API.format(location="./nowhere.yaml")))
    with pytest.raises(TemplateError, match=r"nowhere\.yaml does not exist"):
        load_stack(str(tmp_path / "template.yaml"))
    (tmp_path / "template.yaml").write_text(dedent(API.format(location="s3://b/api.yaml")))
    with pytest.raises(TemplateError, match="is not a local file"):
        load_stack(str(tmp_path / "template.yaml"))


def test_the_apigw_sns_sms_pattern_loads_its_api_yaml() -> None:
    stack = load_stack(str(PATTERNS / "apigw-sns-sms" / "template.yaml"))
    (route,) = stack.app.graph.service_routes
    assert (route.service, route.uri_path, route.passthrough) == ("sns", "/", "WHEN_NO_TEMPLATES")
    assert "Action=Publish&PhoneNumber=" in dict(route.templates)["application/json"]


def test_a_service_route_takes_a_trailing_slash() -> None:
    routes = compile_routes(
        (
            ServiceRouteSpec("POST", "/dev", "sns", uri_path="/"),
            ServiceRouteSpec("GET", "/dev/music/{artist}", "dynamodb", action="Query"),
        )
    )
    assert find(routes, "POST", "/dev/") is not None
    assert find(routes, "POST", "/dev") is not None
    found = find(routes, "GET", "/dev/music/abba/")
    assert found is not None
    assert found[1] == {"artist": "abba"}
    assert find(routes, "POST", "/dev//") is None
    assert find(routes, "POST", "/") is None


def test_a_managed_instances_function_runs_locally_with_its_mapping_noted() -> None:
    folder = PATTERNS / "sqs-lambda-lmi-esm-provisioned-sam"
    stack = load_stack(str(folder / "template.yaml"))
    (function,) = stack.app.graph.functions
    assert isinstance(function.source, QueueSource)
    assert function.source.queue == "sqs-lambda-lmi-esm-provisioned-sam-queue"
    assert (function.source.batch_size, function.source.report_batch_item_failures) == (10, True)
    assert function.source.maximum_batching_window_in_seconds == 5
    notes = "\n".join(stack.notes)
    assert "'CapacityProvider' (AWS::Lambda::CapacityProvider) is not emulated" in notes
    assert "CapacityProviderConfig is not emulated" in notes
    assert "ProvisionedPollerConfig is not emulated" in notes
    assert "'NatGateway' (AWS::EC2::NatGateway) is not emulated" in notes
    outputs = {name: value for name, (value, _) in stack.outputs.items()}
    assert outputs["CapacityProviderArn"] == (
        "arn:aws:lambda:us-east-1:000000000000:capacity-provider:"
        "sqs-lambda-lmi-esm-provisioned-sam-capacity-provider"
    )
    assert re.fullmatch(
        r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", outputs["EventSourceMappingId"]
    )
