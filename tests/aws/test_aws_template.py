"""Rendering the app graph into a SAM template: the blueprints pass cfn-lint and the SAM
translator, and each kind renders to exactly the resource it should (pipes: test_aws_pipes)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_support import findings, sam_transform

from sluiceway import App
from sluiceway.apigateway.render import request_template
from sluiceway.aws import Code, RenderError, _yaml, render, render_spec, template_for
from sluiceway.aws import checks as rendering
from sluiceway.aws.fragment import Target
from sluiceway.aws.observability import REST_FORMAT
from sluiceway.awslambda.render import render_event
from sluiceway.blueprints.iot_router import app as iot_router_app
from sluiceway.blueprints.orders import app as orders_app
from sluiceway.blueprints.registrations import app as registrations_app
from sluiceway.core.render.checks import check_rendered

ORDERS = Code(app="sluiceway.blueprints.orders:app")


def access_logging(api: str) -> dict[str, str]:
    """What a REST API's access logs add: its log group, the account's CloudWatch role."""
    return {
        f"{api}AccessLogs": "AWS::Logs::LogGroup",
        "ApiGatewayCloudWatchRole": "AWS::IAM::Role",
        "ApiGatewayAccount": "AWS::ApiGateway::Account",
    }


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return template_for(orders_app.graph, ORDERS)


@pytest.fixture(scope="module")
def transformed(template: dict[str, Any]) -> dict[str, Any]:
    return sam_transform(template)


def resources(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]  # type: ignore[no-any-return]


# -- the whole template --------------------------------------------------------------------


def test_the_orders_template_passes_cfn_lint_without_a_single_finding(tmp_path: Path) -> None:
    path = render(orders_app, tmp_path / "orders")
    assert findings(path.read_text()) == []


def test_the_registrations_template_passes_cfn_lint_with_its_pipe_and_table_route(
    tmp_path: Path,
) -> None:
    path = render(registrations_app, tmp_path / "registrations")
    assert findings(path.read_text()) == []
    kinds = {r["Type"] for r in yaml.safe_load(path.read_text())["Resources"].values()}
    assert {"AWS::Pipes::Pipe", "AWS::Serverless::Api", "AWS::DynamoDB::Table"} <= kinds


def test_the_iot_router_template_passes_cfn_lint_and_becomes_every_seed_004_resource(
    tmp_path: Path,
) -> None:
    path = render(iot_router_app, tmp_path / "iot-router")
    assert findings(path.read_text()) == []
    transformed = sam_transform(yaml.safe_load(path.read_text()))
    types = {logical: r["Type"] for logical, r in resources(transformed).items()}
    assert types == {
        "DeviceMessagesDLQ": "AWS::SQS::Queue",
        "DeviceMessages": "AWS::SQS::Queue",
        "Clients": "AWS::DynamoDB::Table",
        "RoutePostMessagesRole": "AWS::IAM::Role",
        "DeviceRouterRole": "AWS::IAM::Role",
        "DeviceRouter": "AWS::Lambda::Function",
        "DeviceRouterDeviceMessages": "AWS::Lambda::EventSourceMapping",
        "Devices": "AWS::Cognito::UserPool",
        "DevicesUserPoolDomain": "AWS::Cognito::UserPoolDomain",
        "DevicesAppClient": "AWS::Cognito::UserPoolClient",
        "DevicesDevicesResourceServer": "AWS::Cognito::UserPoolResourceServer",
        "IotRouterFirewall": "AWS::WAFv2::WebACL",
        "IotRouterFirewallAssociation": "AWS::WAFv2::WebACLAssociation",
        "IotRouterApi": "AWS::ApiGateway::RestApi",
        "IotRouterApiprodStage": "AWS::ApiGateway::Stage",
        **{k: "AWS::ApiGateway::Deployment" for k in types if k.startswith("IotRouterApiDeploy")},
        **access_logging("IotRouterApi"),
    }
    assert sorted(transformed["Parameters"]) == ["DevicesDomainPrefix", "IotDataEndpoint"]


def test_cfn_lint_is_really_looking(tmp_path: Path) -> None:
    text = render(orders_app, tmp_path / "orders").read_text()
    broken = text.replace("VisibilityTimeout: 30", "VisibilityTimeout: 99999", 1)
    assert [f.split()[0] for f in findings(broken)] == ["E3034"]


def test_the_sam_translator_turns_it_into_plain_cloudformation(
    transformed: dict[str, Any],
) -> None:
    types = {logical: r["Type"] for logical, r in resources(transformed).items()}
    assert "Transform" not in transformed
    assert {t for t in types.values() if t.startswith("AWS::Serverless::")} == set()
    assert types == {
        "POCDLQ": "AWS::SQS::Queue",
        "POCQueue": "AWS::SQS::Queue",
        "POCNotifyFailures": "AWS::SQS::Queue",
        "Orders": "AWS::DynamoDB::Table",
        "POCTopic": "AWS::SNS::Topic",
        "POCTopicEmailNotifyEmail": "AWS::SNS::Subscription",
        "RoutePostOrdersRole": "AWS::IAM::Role",
        "POCLambda1Role": "AWS::IAM::Role",
        "POCLambda1": "AWS::Lambda::Function",
        "POCLambda1POCQueue": "AWS::Lambda::EventSourceMapping",
        "POCLambda2Role": "AWS::IAM::Role",
        "POCLambda2": "AWS::Lambda::Function",
        "POCLambda2OrdersStream": "AWS::Lambda::EventSourceMapping",
        "OrdersApi": "AWS::ApiGateway::RestApi",
        "OrdersApiprodStage": "AWS::ApiGateway::Stage",
        **{k: "AWS::ApiGateway::Deployment" for k in types if k.startswith("OrdersApiDeployment")},
        **access_logging("OrdersApi"),
    }


def test_the_written_file_reads_back_as_the_rendered_template(tmp_path: Path) -> None:
    path = render(orders_app, tmp_path / "orders")
    assert yaml.safe_load(path.read_text()) == template_for(orders_app.graph, ORDERS)


def test_rendering_twice_writes_the_same_bytes(tmp_path: Path) -> None:
    first = render(orders_app, tmp_path / "orders").read_bytes()
    assert render(orders_app, tmp_path / "orders").read_bytes() == first


def test_the_template_starts_with_the_sam_transform_and_ends_with_the_outputs(
    template: dict[str, Any],
) -> None:
    assert list(template) == [
        "AWSTemplateFormatVersion",
        "Transform",
        "Description",
        "Parameters",
        "Resources",
        "Outputs",
    ]
    assert template["Transform"] == "AWS::Serverless-2016-10-31"


# -- one kind at a time --------------------------------------------------------------------


def test_an_app_parameter_becomes_a_template_parameter(template: dict[str, Any]) -> None:
    assert template["Parameters"] == {
        "NotifyEmail": {
            "Type": "String",
            "MinLength": 1,
            "Description": "Where new-order notifications are emailed",
            "Default": "ops@example.com",
        }
    }


def test_a_queue_renders_its_attributes_redrive_policy_and_sse(template: dict[str, Any]) -> None:
    assert resources(template)["POCQueue"] == {
        "Type": "AWS::SQS::Queue",
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
        "Properties": {
            "QueueName": "POC-Queue",
            "VisibilityTimeout": 30,
            "DelaySeconds": 0,
            "MessageRetentionPeriod": 345_600,
            "MaximumMessageSize": 262_144,
            "SqsManagedSseEnabled": True,
            "RedrivePolicy": {
                "deadLetterTargetArn": {"Fn::GetAtt": ["POCDLQ", "Arn"]},
                "maxReceiveCount": 5,
            },
        },
    }
    assert resources(template)["POCDLQ"]["Properties"] == {
        "QueueName": "POC-DLQ",
        "VisibilityTimeout": 30,
        "DelaySeconds": 0,
        "MessageRetentionPeriod": 1_209_600,
        "MaximumMessageSize": 1_048_576,
        "SqsManagedSseEnabled": True,
    }


def test_a_fifo_queue_says_so_and_how_it_deduplicates() -> None:
    app = App("fifo")
    app.queue("jobs.fifo", content_based_deduplication=True)
    properties = resources(template_for(app.graph, Code("m:app")))["JobsFifo"]["Properties"]
    assert properties["FifoQueue"] is True
    assert properties["ContentBasedDeduplication"] is True
    assert properties["QueueName"] == "jobs.fifo"


def test_a_table_renders_on_demand_with_sse_recovery_and_its_stream(
    template: dict[str, Any],
) -> None:
    assert resources(template)["Orders"] == {
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
        "Properties": {
            "TableName": "orders",
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "orderID", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "orderID", "KeyType": "HASH"}],
            "SSESpecification": {"SSEEnabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
        },
    }


def test_a_sort_key_and_a_ttl_attribute_render_too() -> None:
    app = App("ledger")
    app.table("entries", partition_key="account", sort_key=("at", "N"), ttl_attribute="expires")
    properties = resources(template_for(app.graph, Code("m:app")))["Entries"]["Properties"]
    assert properties["AttributeDefinitions"] == [
        {"AttributeName": "account", "AttributeType": "S"},
        {"AttributeName": "at", "AttributeType": "N"},
    ]
    assert properties["KeySchema"] == [
        {"AttributeName": "account", "KeyType": "HASH"},
        {"AttributeName": "at", "KeyType": "RANGE"},
    ]
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expires", "Enabled": True}
    assert "StreamSpecification" not in properties


def test_a_topic_and_its_email_subscription_take_the_endpoint_from_the_parameter(
    template: dict[str, Any],
) -> None:
    assert resources(template)["POCTopic"] == {
        "Type": "AWS::SNS::Topic",
        "Properties": {"TopicName": "POC-Topic", "KmsMasterKeyId": "alias/aws/sns"},
    }
    assert resources(template)["POCTopicEmailNotifyEmail"] == {
        "Type": "AWS::SNS::Subscription",
        "Properties": {
            "TopicArn": {"Ref": "POCTopic"},
            "Protocol": "email",
            "Endpoint": {"Ref": "NotifyEmail"},
        },
    }


def test_a_literal_endpoint_is_written_as_declared_under_a_stable_id() -> None:
    app = App("alerts")
    app.topic("alarms").subscribe("email", "oncall@example.com")
    rendered = resources(template_for(app.graph, Code("m:app")))
    (subscription,) = [r for r in rendered.values() if r["Type"] == "AWS::SNS::Subscription"]
    assert subscription["Properties"]["Endpoint"] == "oncall@example.com"
    assert [k for k, r in rendered.items() if r is subscription] == ["AlarmsEmailD876c66b"]


def test_a_route_is_an_sqs_integration_answering_like_the_local_gateway(
    template: dict[str, Any],
) -> None:
    api = resources(template)["OrdersApi"]
    properties = api["Properties"]
    assert {k: v for k, v in properties.items() if k != "DefinitionBody"} == {
        "Name": "orders",
        "StageName": "prod",
        "OpenApiVersion": "3.0.1",
        "EndpointConfiguration": {"Type": "REGIONAL"},
        "TracingEnabled": True,
        "AccessLogSetting": {
            "DestinationArn": {"Fn::GetAtt": ["OrdersApiAccessLogs", "Arn"]},
            "Format": json.dumps(REST_FORMAT),
        },
    }
    operation = properties["DefinitionBody"]["paths"]["/orders"]["post"]
    assert operation["x-amazon-apigateway-integration"] == {
        "type": "aws",
        "httpMethod": "POST",
        "uri": {
            "Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:sqs:path/"
            "${AWS::AccountId}/${POCQueue.QueueName}"
        },
        "credentials": {"Fn::GetAtt": ["RoutePostOrdersRole", "Arn"]},
        "requestParameters": {
            "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'",
            "integration.request.header.Accept": "'application/json'",
        },
        "requestTemplates": {
            "application/json": "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"
            "#set($n = 0)#set($headers = $input.params().header)"
            '#set($value = "")#foreach($name in $headers.keySet())'
            '#if($name.toLowerCase() == "idempotency-key")#set($value = $headers.get($name))#end'
            '#end#if($value != "")#set($n = $n + 1)'
            "&MessageAttribute.${n}.Name=Idempotency-Key"
            "&MessageAttribute.${n}.Value.DataType=String"
            "&MessageAttribute.${n}.Value.StringValue=$util.urlEncode($value)#end"
        },
        "passthroughBehavior": "never",
        "responses": {
            "default": {
                "statusCode": "200",
                "responseTemplates": {
                    "application/json": "#set($result = $input.path("
                    "'$.SendMessageResponse.SendMessageResult'))"
                    '{"MessageId": "$result.MessageId", '
                    '"MD5OfMessageBody": "$result.MD5OfMessageBody"'
                    '#if("$!result.MD5OfMessageAttributes" != ""), '
                    '"MD5OfMessageAttributes": "$result.MD5OfMessageAttributes"#end}'
                },
            },
            r"4\d{2}": {
                "statusCode": "400",
                "responseTemplates": {
                    "application/json": "#set($error = $input.path('$.Error'))"
                    '#if("$!error.Code" == ""){"message": "the queue refused the message", '
                    '"code": "QueueRejected"}'
                    "#else{\"message\": $input.json('$.Error.Message'), "
                    "\"code\": $input.json('$.Error.Code')}#end"
                },
            },
            r"5\d{2}": {
                "statusCode": "503",
                "responseParameters": {"method.response.header.Retry-After": "'1'"},
                "responseTemplates": {
                    "application/json": '{"message": "the message could not be stored; '
                    'retry", "code": "Unavailable"}'
                },
            },
        },
    }
    assert operation["requestBody"] == {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JsonObject"}}},
    }
    assert operation["x-amazon-apigateway-request-validator"] == "body-is-a-json-object"


def test_the_api_refuses_what_the_local_gateway_refuses_in_the_same_shape(
    template: dict[str, Any],
) -> None:
    definition = resources(template)["OrdersApi"]["Properties"]["DefinitionBody"]
    assert definition["components"] == {"schemas": {"JsonObject": {"type": "object"}}}
    assert definition["x-amazon-apigateway-request-validators"] == {
        "body-is-a-json-object": {"validateRequestBody": True, "validateRequestParameters": False}
    }
    responses = definition["x-amazon-apigateway-gateway-responses"]
    assert responses["UNSUPPORTED_MEDIA_TYPE"] == {
        "statusCode": "415",
        "responseTemplates": {
            "application/json": '{"message": $context.error.messageString, '
            '"code": "UnsupportedMediaType"}'
        },
    }
    assert {kind: r["statusCode"] for kind, r in responses.items()} == {
        "UNSUPPORTED_MEDIA_TYPE": "415",
        "BAD_REQUEST_BODY": "400",
    }


def test_forwarded_headers_become_attributes_numbered_without_gaps() -> None:
    app = App("hooks")
    inbox = app.queue("inbox")
    route = app.route("POST", "/hooks", to=inbox, forward_headers=["X-Source", "X-Trace.Id"])
    text = request_template(route)
    assert text.count("#foreach($name in $headers.keySet())") == 2
    assert '#if($name.toLowerCase() == "x-source")' in text
    assert "&MessageAttribute.${n}.Name=X-Source&" in text
    assert "&MessageAttribute.${n}.Name=X-Trace.Id&" in text
    assert text.count("#set($n = $n + 1)") == 2
    assert "\n" not in text  # a line break would become part of the form


def test_a_header_that_cannot_be_an_sqs_attribute_name_is_refused_at_render() -> None:
    app = App("hooks")
    app.route("POST", "/hooks", to=app.queue("inbox"), forward_headers=["X!Odd"])
    with pytest.raises(RenderError, match="'X!Odd' cannot be an SQS message attribute name"):
        template_for(app.graph, Code("m:app"))


def test_a_queue_function_renders_with_the_shim_its_grants_and_its_mapping(
    template: dict[str, Any],
) -> None:
    assert resources(template)["POCLambda1"] == {
        "Type": "AWS::Serverless::Function",
        "Properties": {
            "FunctionName": "POC-Lambda-1",
            "Description": "sluiceway.blueprints.orders.store_orders",
            "CodeUri": "src",
            "Handler": "sluiceway.aws.shim.handler",
            "Runtime": "python3.12",
            "Timeout": 3,
            "MemorySize": 128,
            "Role": {"Fn::GetAtt": ["POCLambda1Role", "Arn"]},
            "Environment": {
                "Variables": {
                    "SLUICEWAY_APP": "sluiceway.blueprints.orders:app",
                    "SLUICEWAY_FUNCTION": "POC-Lambda-1",
                    "SLUICEWAY_QUEUE_POCQueue": {"Ref": "POCQueue"},
                    "SLUICEWAY_TABLE_Orders": {"Ref": "Orders"},
                }
            },
            "Tracing": "Active",
            "Events": {
                "POCQueue": {
                    "Type": "SQS",
                    "Properties": {
                        "Queue": {"Fn::GetAtt": ["POCQueue", "Arn"]},
                        "BatchSize": 10,
                        "MaximumBatchingWindowInSeconds": 0,
                        "FunctionResponseTypes": ["ReportBatchItemFailures"],
                    },
                }
            },
        },
    }


def test_a_stream_function_renders_its_filter_retries_and_failure_destination(
    template: dict[str, Any],
) -> None:
    function = resources(template)["POCLambda2"]["Properties"]
    assert function["Environment"]["Variables"] == {
        "SLUICEWAY_APP": "sluiceway.blueprints.orders:app",
        "SLUICEWAY_FUNCTION": "POC-Lambda-2",
        "SLUICEWAY_QUEUE_POCNotifyFailures": {"Ref": "POCNotifyFailures"},
        "SLUICEWAY_TOPIC_POCTopic": {"Ref": "POCTopic"},
    }
    assert function["Events"] == {
        "OrdersStream": {
            "Type": "DynamoDB",
            "Properties": {
                "Stream": {"Fn::GetAtt": ["Orders", "StreamArn"]},
                "StartingPosition": "LATEST",
                "BatchSize": 100,
                "MaximumBatchingWindowInSeconds": 0,
                "FilterCriteria": {"Filters": [{"Pattern": '{"eventName":["INSERT"]}'}]},
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "MaximumRetryAttempts": 10,
                "MaximumRecordAgeInSeconds": -1,
                "BisectBatchOnFunctionError": True,
                "ParallelizationFactor": 1,
                "DestinationConfig": {
                    "OnFailure": {
                        "Type": "SQS",
                        "Destination": {"Fn::GetAtt": ["POCNotifyFailures", "Arn"]},
                    }
                },
            },
        }
    }


def test_the_sam_translator_makes_the_mappings_lambda_will_run(
    transformed: dict[str, Any],
) -> None:
    assert resources(transformed)["POCLambda1POCQueue"] == {
        "Type": "AWS::Lambda::EventSourceMapping",
        "Properties": {
            "BatchSize": 10,
            "EventSourceArn": {"Fn::GetAtt": ["POCQueue", "Arn"]},
            "FunctionName": {"Ref": "POCLambda1"},
            "MaximumBatchingWindowInSeconds": 0,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    }
    assert resources(transformed)["POCLambda2OrdersStream"] == {
        "Type": "AWS::Lambda::EventSourceMapping",
        "Properties": {
            "BatchSize": 100,
            "EventSourceArn": {"Fn::GetAtt": ["Orders", "StreamArn"]},
            "FunctionName": {"Ref": "POCLambda2"},
            "MaximumBatchingWindowInSeconds": 0,
            "MaximumRetryAttempts": 10,
            "BisectBatchOnFunctionError": True,
            "MaximumRecordAgeInSeconds": -1,
            "DestinationConfig": {
                "OnFailure": {"Destination": {"Fn::GetAtt": ["POCNotifyFailures", "Arn"]}}
            },
            "ParallelizationFactor": 1,
            "StartingPosition": "LATEST",
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "FilterCriteria": {"Filters": [{"Pattern": '{"eventName":["INSERT"]}'}]},
        },
    }


def test_a_mapping_without_partial_failures_says_nothing_about_them() -> None:
    app = App("plain")
    jobs = app.queue("jobs")

    @app.on_queue(jobs, report_batch_item_failures=False, maximum_concurrency=5)
    def work(event: Any, context: Any) -> None: ...

    event = render_event(app.graph.function("work").source)  # type: ignore[arg-type]
    assert event == {
        "Type": "SQS",
        "Properties": {
            "Queue": {"Fn::GetAtt": ["Jobs", "Arn"]},
            "BatchSize": 10,
            "MaximumBatchingWindowInSeconds": 0,
            "ScalingConfig": {"MaximumConcurrency": 5},
        },
    }


def test_the_outputs_give_the_api_url_queue_urls_table_name_and_topic_arn(
    template: dict[str, Any],
) -> None:
    assert {k: v["Value"] for k, v in template["Outputs"].items()} == {
        "OrdersApiUrl": {
            "Fn::Sub": "https://${OrdersApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/prod"
        },
        "POCDLQUrl": {"Ref": "POCDLQ"},
        "POCQueueUrl": {"Ref": "POCQueue"},
        "POCNotifyFailuresUrl": {"Ref": "POCNotifyFailures"},
        "OrdersTableName": {"Ref": "Orders"},
        "POCTopicArn": {"Ref": "POCTopic"},
        "RoutePostOrdersUrl": {
            "Fn::Sub": "https://${OrdersApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
            "/prod/orders"
        },
    }


def test_an_app_without_routes_has_no_api() -> None:
    app = App("quiet")
    app.queue("q")
    assert "OrdersApi" not in resources(template_for(app.graph, Code("m:app")))
    assert [r["Type"] for r in resources(template_for(app.graph, Code("m:app"))).values()] == [
        "AWS::SQS::Queue"
    ]


# -- loud errors ---------------------------------------------------------------------------


def test_an_unknown_kind_is_a_loud_error() -> None:
    target = Target(orders_app.graph, ORDERS)
    with pytest.raises(AssertionError):
        render_spec(object(), target)  # type: ignore[arg-type]


def test_an_option_the_aws_target_does_not_render_fails_the_render() -> None:
    @dataclasses.dataclass(frozen=True)
    class FutureQueueSpec:
        name: str
        shiny: bool = False

    fields = {FutureQueueSpec: frozenset({"name"})}
    check_rendered(FutureQueueSpec("q"), "queue 'q'", fields)  # left at its default: fine
    with pytest.raises(RenderError, match="queue 'q': shiny=True is not rendered for AWS yet"):
        check_rendered(FutureQueueSpec("q", shiny=True), "queue 'q'", fields)


def test_every_field_of_every_spec_is_either_rendered_or_refused() -> None:
    for fields in (rendering.RENDERED_FIELDS, rendering.PIPE_SOURCE_FIELDS):
        for kind, rendered in fields.items():
            assert rendered <= {f.name for f in dataclasses.fields(kind)}, kind


def test_names_that_become_the_same_logical_id_are_refused() -> None:
    app = App("clash")
    app.queue("work-items")
    app.table("work_items", partition_key="id")
    with pytest.raises(
        RenderError, match=r"queue 'work-items' and table 'work_items' both become .*'WorkItems'"
    ):
        template_for(app.graph, Code("m:app"))


def test_a_function_with_no_trigger_of_its_own_renders_without_events_or_invokers() -> None:
    app = App("helpers")

    @app.function(name="enrich")
    def enrich(event: Any, context: Any) -> list[Any]:
        return []

    rendered = resources(template_for(app.graph, Code("m:app")))
    assert sorted(rendered) == ["Enrich", "EnrichRole"]
    assert "Events" not in rendered["Enrich"]["Properties"]


def test_a_stage_name_api_gateway_would_refuse_is_refused() -> None:
    with pytest.raises(RenderError, match="stage 'pro d'"):
        template_for(orders_app.graph, ORDERS, stage="pro d")


# -- functions invoked by a topic or an HTTP route ------------------------------------------


def invoked_app() -> App:
    app = App("desk")
    tickets = app.table("tickets", partition_key="id")
    alerts = app.topic("alerts")
    app.route("POST", "/tickets", to=app.queue("intake"))

    @app.on_topic(alerts, name="pager")
    def page(event: Any, context: Any) -> None: ...

    @app.on_http("GET", "/tickets/{id}", uses=[tickets.reads], name="lookup")
    def lookup(event: Any, context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": "{}"}

    @app.on_http("ANY", "/admin/{proxy+}", name="admin")
    def admin(event: Any, context: Any) -> dict[str, Any]:
        return {"statusCode": 404, "body": ""}

    return app


def test_functions_behind_topics_and_routes_pass_cfn_lint_and_the_sam_translator() -> None:
    template = template_for(invoked_app().graph, Code("desk:app"))
    assert findings(_yaml.dump(template)) == []
    kinds = sorted(r["Type"] for r in resources(sam_transform(template)).values())
    assert kinds.count("AWS::Lambda::Permission") == 3
    assert "AWS::Lambda::EventSourceMapping" not in kinds


def test_a_topic_function_is_subscribed_and_only_that_topic_may_invoke_it() -> None:
    rendered = resources(template_for(invoked_app().graph, Code("desk:app")))
    assert "Events" not in rendered["Pager"]["Properties"]
    assert rendered["PagerSubscription"] == {
        "Type": "AWS::SNS::Subscription",
        "Properties": {
            "TopicArn": {"Ref": "Alerts"},
            "Protocol": "lambda",
            "Endpoint": {"Fn::GetAtt": ["Pager", "Arn"]},
        },
    }
    assert rendered["PagerInvokePermission"] == {
        "Type": "AWS::Lambda::Permission",
        "Properties": {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": ["Pager", "Arn"]},
            "Principal": "sns.amazonaws.com",
            "SourceArn": {"Ref": "Alerts"},
        },
    }


def test_an_http_function_is_a_proxy_integration_only_its_route_may_invoke() -> None:
    template = template_for(invoked_app().graph, Code("desk:app"))
    rendered = resources(template)
    paths = rendered["DeskApi"]["Properties"]["DefinitionBody"]["paths"]
    assert sorted(paths) == ["/admin/{proxy+}", "/tickets", "/tickets/{id}"]
    assert paths["/tickets/{id}"] == {
        "get": {
            "operationId": "Lookup",
            "summary": "Answered by function lookup",
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {"default": {"description": "What the function answers"}},
            "x-amazon-apigateway-integration": {
                "type": "aws_proxy",
                "httpMethod": "POST",
                "uri": {
                    "Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/"
                    "2015-03-31/functions/${Lookup.Arn}/invocations"
                },
                "passthroughBehavior": "when_no_match",
            },
        }
    }
    assert list(paths["/admin/{proxy+}"]) == ["x-amazon-apigateway-any-method"]
    assert rendered["LookupInvokePermission"]["Properties"]["SourceArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
        "${DeskApi}/*/GET/tickets/*"
    }
    assert rendered["AdminInvokePermission"]["Properties"]["SourceArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
        "${DeskApi}/*/*/admin/*"
    }
    assert template["Outputs"]["LookupUrl"]["Value"] == {
        "Fn::Sub": "https://${DeskApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
        "/prod/tickets/{id}"
    }


def test_a_functions_environment_and_reserved_concurrency_render_and_pass_cfn_lint() -> None:
    app = App("tuned")
    jobs = app.queue("jobs", visibility_timeout=60)

    @app.on_queue(jobs, environment={"PAYMENT_API": "https://pay.example"}, reserved_concurrency=5)
    def work(event: Any, context: Any) -> None:
        return None

    template = template_for(app.graph, Code("m:app"))
    properties = resources(template)["Work"]["Properties"]
    assert properties["ReservedConcurrentExecutions"] == 5
    assert properties["Environment"]["Variables"]["PAYMENT_API"] == "https://pay.example"
    assert properties["Environment"]["Variables"]["SLUICEWAY_FUNCTION"] == "work"
    assert findings(yaml.safe_dump(template)) == []


# -- functions on a schedule ---------------------------------------------------------------


def scheduled_app() -> App:
    app = App("clock")

    @app.on_schedule("cron(0 12 ? * MON-FRI *)", input='{"report": "daily"}')
    def report(event: Any, context: Any) -> None: ...

    @app.on_schedule("at(2026-12-07T10:00:00)")
    def once(event: Any, context: Any) -> None: ...

    return app


def test_scheduled_functions_pass_cfn_lint_and_the_sam_translator() -> None:
    template = template_for(scheduled_app().graph, Code("clock:app"))
    assert findings(_yaml.dump(template)) == []
    transformed = resources(sam_transform(template))
    assert {k: r["Type"] for k, r in transformed.items() if k.startswith(("Report", "Once"))} == {
        "ReportRole": "AWS::IAM::Role",
        "Report": "AWS::Lambda::Function",
        "ReportSchedule": "AWS::Events::Rule",
        "ReportSchedulePermission": "AWS::Lambda::Permission",
        "OnceRole": "AWS::IAM::Role",
        "Once": "AWS::Lambda::Function",
        "OnceSchedule": "AWS::Scheduler::Schedule",
        "OnceScheduleRole": "AWS::IAM::Role",
    }
    rule = transformed["ReportSchedule"]["Properties"]
    assert rule["ScheduleExpression"] == "cron(0 12 ? * MON-FRI *)"
    assert rule["Targets"][0]["Input"] == '{"report": "daily"}'
    schedule = transformed["OnceSchedule"]["Properties"]
    assert schedule["ScheduleExpression"] == "at(2026-12-07T10:00:00)"
