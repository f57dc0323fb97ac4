"""User pools on AWS: the pool, its domain (a parameter) and resource servers, the API's Cognito
authorizer with each protected method's scopes, the outputs that make an app client, and the
whole of it made in moto's Cognito and API Gateway (moto issues no client-credentials token,
so the token flow itself is the README's to show)."""

from __future__ import annotations

import shlex
from typing import Any

import aws_edge_app as edge
import boto3
import pytest
from aws_support import Stack, fake_aws, findings, sam_transform

from sluiceway import App
from sluiceway.aws import Code, _yaml, deploy_aws, template_for
from sluiceway.awslambda.spec import HttpSource
from sluiceway.blueprints import iot_router
from sluiceway.blueprints.orders import app as orders_app
from sluiceway.cognito.render import create_client_command
from sluiceway.core.render import names

ROUTER = Code("sluiceway.blueprints.iot_router:app")


@pytest.fixture(scope="module")
def router() -> dict[str, Any]:
    return template_for(iot_router.app.graph, ROUTER)


def definition(template: dict[str, Any], api: str) -> dict[str, Any]:
    return template["Resources"][api]["Properties"]["DefinitionBody"]  # type: ignore[no-any-return]


# -- what renders ----------------------------------------------------------------------------


def test_a_user_pool_renders_with_its_domain_and_its_resource_server_s_scopes(
    router: dict[str, Any],
) -> None:
    resources = router["Resources"]
    assert resources["Devices"] == {
        "Type": "AWS::Cognito::UserPool",
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
        "Properties": {
            "UserPoolName": "devices",
            "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
        },
    }
    assert resources["DevicesUserPoolDomain"] == {
        "Type": "AWS::Cognito::UserPoolDomain",
        "Properties": {"Domain": {"Ref": "DevicesDomainPrefix"}, "UserPoolId": {"Ref": "Devices"}},
    }
    assert resources["DevicesDevicesResourceServer"] == {
        "Type": "AWS::Cognito::UserPoolResourceServer",
        "Properties": {
            "UserPoolId": {"Ref": "Devices"},
            "Identifier": "devices",
            "Name": "devices",
            "Scopes": [
                {"ScopeName": "send", "ScopeDescription": "Send messages to devices"},
                {"ScopeName": "read", "ScopeDescription": "Read-only access; cannot send"},
            ],
        },
    }


def test_each_pool_gets_an_app_client_for_client_credentials_with_its_scopes(
    router: dict[str, Any],
) -> None:
    assert router["Resources"]["DevicesAppClient"] == {
        "Type": "AWS::Cognito::UserPoolClient",
        "DependsOn": ["DevicesDevicesResourceServer"],
        "Properties": {
            "UserPoolId": {"Ref": "Devices"},
            "ClientName": "devices-app",
            "GenerateSecret": True,
            "AllowedOAuthFlows": ["client_credentials"],
            "AllowedOAuthFlowsUserPoolClient": True,
            "AllowedOAuthScopes": ["devices/send", "devices/read"],
            "SupportedIdentityProviders": ["COGNITO"],
            "AccessTokenValidity": 3600,
            "TokenValidityUnits": {"AccessToken": "seconds"},
        },
    }
    outputs = router["Outputs"]
    assert outputs["DevicesAppClientId"]["Value"] == {"Ref": "DevicesAppClient"}
    assert outputs["DevicesAppClientSecretCommand"]["Value"] == {
        "Fn::Sub": "aws cognito-idp describe-user-pool-client --user-pool-id ${Devices} "
        "--client-id ${DevicesAppClient} --query UserPoolClient.ClientSecret --output text"
    }


def test_the_domain_prefix_is_a_parameter_defaulting_to_the_declared_one(
    router: dict[str, Any],
) -> None:
    assert router["Parameters"]["DevicesDomainPrefix"] == {
        "Type": "String",
        "Description": (
            "Domain prefix of user pool devices: its token endpoint is "
            "https://<prefix>.auth.<region>.amazoncognito.com/oauth2/token (unique per Region "
            "across all AWS accounts; may not contain aws, amazon or cognito)"
        ),
        "AllowedPattern": "^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$",
        "ConstraintDescription": "1-63 lowercase letters, digits and hyphens (not at either end)",
        "Default": "sibesg",
    }


def test_a_pool_declared_without_a_domain_leaves_the_prefix_to_the_deployment() -> None:
    app = App("nodomain")
    pool = app.user_pool("machines")
    pool.resource_server("jobs", scopes={"run": "Run jobs"})
    parameter = template_for(app.graph, Code("m:app"))["Parameters"]["MachinesDomainPrefix"]
    assert "Default" not in parameter


def test_the_protected_route_carries_the_pool_s_authorizer_and_its_scope(
    router: dict[str, Any],
) -> None:
    body = definition(router, "IotRouterApi")
    operation = body["paths"]["/messages"]["post"]
    assert list(operation)[:3] == ["operationId", "summary", "security"]
    assert operation["security"] == [{"DevicesAuthorizer": ["devices/send"]}]
    assert body["components"]["securitySchemes"] == {
        "DevicesAuthorizer": {
            "type": "apiKey",
            "name": "Authorization",
            "in": "header",
            "x-amazon-apigateway-authtype": "cognito_user_pools",
            "x-amazon-apigateway-authorizer": {
                "type": "cognito_user_pools",
                "providerARNs": [{"Fn::GetAtt": ["Devices", "Arn"]}],
            },
        }
    }


def test_a_function_behind_http_takes_any_one_of_its_scopes() -> None:
    body = definition(template_for(edge.app.graph, Code("m:app")), "EdgeApi")
    assert body["paths"]["/status/{id}"]["get"]["security"] == [
        {"PartnersAuthorizer": [edge.READ, edge.WRITE]}
    ]


def test_the_authorizer_s_refusals_answer_in_the_local_gateway_s_shape_with_a_challenge(
    router: dict[str, Any],
) -> None:
    responses = definition(router, "IotRouterApi")["x-amazon-apigateway-gateway-responses"]
    challenge = {"gatewayresponse.header.WWW-Authenticate": "'Bearer realm=\"sluiceway\"'"}
    assert responses["UNAUTHORIZED"] == {
        "statusCode": "401",
        "responseTemplates": {
            "application/json": (
                '{"message": $context.error.messageString, "code": "Unauthorized"}'
            )
        },
        "responseParameters": challenge,
    }
    assert responses["ACCESS_DENIED"]["statusCode"] == "403"
    assert responses["ACCESS_DENIED"]["responseParameters"] == challenge
    assert (
        '"code": "Forbidden"' in responses["ACCESS_DENIED"]["responseTemplates"]["application/json"]
    )


def test_an_app_that_requires_no_token_has_no_authorizer_and_no_auth_responses() -> None:
    body = definition(template_for(orders_app.graph, Code("m:app")), "OrdersApi")
    assert "securitySchemes" not in body["components"]
    assert "security" not in body["paths"]["/orders"]["post"]
    # An unknown method or path keeps API Gateway's own 403, as the local gateway answers.
    assert set(body["x-amazon-apigateway-gateway-responses"]) == {
        "UNSUPPORTED_MEDIA_TYPE",
        "BAD_REQUEST_BODY",
    }


def test_the_outputs_give_the_pool_id_the_token_url_and_the_command_making_a_client(
    router: dict[str, Any],
) -> None:
    outputs = router["Outputs"]
    assert outputs["DevicesUserPoolId"]["Value"] == {"Ref": "Devices"}
    assert outputs["DevicesTokenUrl"]["Value"] == {
        "Fn::Sub": "https://${DevicesDomainPrefix}.auth.${AWS::Region}.amazoncognito.com"
        "/oauth2/token"
    }
    assert outputs["DevicesCreateClientCommand"]["Value"] == {
        "Fn::Sub": "aws cognito-idp create-user-pool-client --user-pool-id ${Devices} "
        "--client-name my-client --generate-secret --allowed-o-auth-flows client_credentials "
        "--allowed-o-auth-flows-user-pool-client --allowed-o-auth-scopes devices/send "
        "devices/read --access-token-validity 3600 --token-validity-units AccessToken=seconds"
    }


def test_a_resource_server_named_by_a_url_gets_a_name_cognito_accepts() -> None:
    template = template_for(edge.app.graph, Code("m:app"))
    server = template["Resources"]["PartnersHttpsApiExampleComResourceServer"]["Properties"]
    assert (server["Identifier"], server["Name"]) == (
        "https://api.example.com",
        "https---api.example.com",
    )


@pytest.mark.parametrize("app", [iot_router.app, edge.app], ids=["iot-router", "edge"])
def test_user_pools_and_authorizers_pass_cfn_lint_and_the_sam_translator(app: App) -> None:
    template = template_for(app.graph, Code("m:app"))
    assert findings(_yaml.dump(template)) == []
    transformed = sam_transform(template)
    (api,) = [
        r for r in transformed["Resources"].values() if r["Type"] == "AWS::ApiGateway::RestApi"
    ]
    assert api["Properties"]["Body"]["components"]["securitySchemes"]


def test_deploy_sets_the_domain_prefix_by_its_name(tmp_path: Any) -> None:
    plan = deploy_aws(
        "iot-router",
        "relay",
        parameters={"devices_domain_prefix": "acme-devices"},
        out_dir=tmp_path / "b",
        which=lambda name: None,
    )
    assert plan.commands[1][-2:] == ("--parameter-overrides", "DevicesDomainPrefix=acme-devices")


# -- made in moto ----------------------------------------------------------------------------


def client_request(command: str, pool_id: str) -> dict[str, Any]:
    """The output's AWS CLI command as the CreateUserPoolClient request it sends."""
    words = shlex.split(command.replace("${Devices}", pool_id))
    assert words[:3] == ["aws", "cognito-idp", "create-user-pool-client"]
    options: dict[str, list[str]] = {}
    for word in words[3:]:
        if word.startswith("--"):
            current = options.setdefault(word, [])
        else:
            current.append(word)
    unit, value = options["--token-validity-units"][0].split("=")
    return {
        "UserPoolId": options["--user-pool-id"][0],
        "ClientName": options["--client-name"][0],
        "GenerateSecret": "--generate-secret" in options,
        "AllowedOAuthFlows": options["--allowed-o-auth-flows"],
        "AllowedOAuthFlowsUserPoolClient": "--allowed-o-auth-flows-user-pool-client" in options,
        "AllowedOAuthScopes": options["--allowed-o-auth-scopes"],
        "AccessTokenValidity": int(options["--access-token-validity"][0]),
        "TokenValidityUnits": {unit: value},
    }


def test_the_pool_domain_and_scopes_are_made_in_cognito_and_the_output_makes_a_client(
    router: dict[str, Any],
) -> None:
    with fake_aws():
        stack = Stack.deploy(sam_transform(router), parameters={"DevicesDomainPrefix": "acme"})
        stack.create_user_pools()
        idp = boto3.client("cognito-idp")
        pool_id = stack.physical["Devices"]
        domain = idp.describe_user_pool_domain(Domain="acme")["DomainDescription"]
        server = idp.describe_resource_server(UserPoolId=pool_id, Identifier="devices")
        command = router["Outputs"]["DevicesCreateClientCommand"]["Value"]["Fn::Sub"]
        client = idp.create_user_pool_client(**client_request(command, pool_id))
    assert domain["UserPoolId"] == pool_id
    defined = {f"devices/{s['ScopeName']}" for s in server["ResourceServer"]["Scopes"]}
    made = client["UserPoolClient"]
    assert made["ClientSecret"]
    assert made["AllowedOAuthFlows"] == ["client_credentials"]
    assert set(made["AllowedOAuthScopes"]) == defined == {"devices/send", "devices/read"}
    assert (made["AccessTokenValidity"], made["TokenValidityUnits"]["AccessToken"]) == (
        3600,
        "seconds",
    )


def test_the_command_carries_the_declared_token_lifetime() -> None:
    (pool,) = edge.app.graph.user_pools
    assert "--access-token-validity 900 --token-validity-units AccessToken=seconds" in (
        create_client_command(pool)
    )


@pytest.mark.parametrize("app", [iot_router.app, edge.app], ids=["iot-router", "edge"])
def test_each_protected_method_is_authorized_by_its_pool_with_its_scopes_in_api_gateway(
    app: App,
) -> None:
    with fake_aws():
        stack = Stack.deploy(sam_transform(template_for(app.graph, Code("m:app"))))
        stack.create_user_pools()
        stack.create_api()
        apigw = boto3.client("apigateway")
        (api,) = [stack.physical[k] for k in stack.of_type("AWS::ApiGateway::RestApi")]
        (authorizer,) = apigw.get_authorizers(restApiId=api)["items"]
        methods = {
            (resource["path"], method): apigw.get_method(
                restApiId=api, resourceId=resource["id"], httpMethod=method
            )
            for resource in apigw.get_resources(restApiId=api)["items"]
            for method in resource.get("resourceMethods", {})
        }
        (pool,) = app.graph.user_pools
        pool_arn = stack.attributes[names.user_pool_id(pool.name), "Arn"]
    assert (authorizer["type"], authorizer["providerARNs"]) == ("COGNITO_USER_POOLS", [pool_arn])
    protected = {
        (route.path, route.method): list(route.auth.scopes)
        for route in app.graph.routes
        if route.auth is not None
    }
    for function in app.graph.functions:
        source = function.source
        if isinstance(source, HttpSource) and source.auth is not None:
            protected[source.path, source.method] = list(source.auth.scopes)
    assert protected
    for key, method in methods.items():
        if key in protected:
            assert method["authorizationType"] == "COGNITO_USER_POOLS"
            assert method["authorizerId"] == authorizer["id"]
            assert method["authorizationScopes"] == protected[key]
        else:
            assert method["authorizationType"] == "NONE"
