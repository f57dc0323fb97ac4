"""A template becomes an app, or fails at start naming the logical id and the fix."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from sluiceway.apigateway.spec import ServiceRouteSpec
from sluiceway.awslambda.spec import (
    HttpSource,
    QueueSource,
    ScheduleSource,
    StreamSource,
    TopicSource,
)
from sluiceway.templates.errors import TemplateError
from sluiceway.templates.stack import load_stack

HANDLER = "def handler(event, context):\n    return {'batchItemFailures': []}\n"


def template(tmp_path: Path, body: str) -> Path:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "app.py").write_text(HANDLER)
    path = tmp_path / "template.yaml"
    path.write_text(dedent(body))
    return path


FUNCTION = """
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: {runtime}
      Timeout: 5
      Policies:
        - SQSPollerPolicy:
            QueueName: !GetAtt Queue.QueueName
      Environment:
        Variables:
          TABLE: !Ref Table
          STAGE: !Ref Stage
      Events:
        FromQueue:
          Type: SQS
          Properties:
            Queue: !GetAtt Queue.Arn
            BatchSize: 5
        FromStream:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Table.StreamArn
            StartingPosition: TRIM_HORIZON
            MaximumRetryAttempts: 2
"""

BASE = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    AllowedValues: [dev, prod]
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 60
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt Dlq.Arn
        maxReceiveCount: 3
  Dlq:
    Type: AWS::SQS::Queue
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${AWS::StackName}-items"
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_IMAGE}
      BillingMode: PAY_PER_REQUEST
  Logs:
    Type: AWS::Logs::LogGroup
"""


def test_a_sam_template_becomes_the_same_graph_the_python_api_builds(tmp_path: Path) -> None:
    template(
        tmp_path,
        BASE
        + FUNCTION.format(runtime="python3.12")
        + """
Outputs:
  QueueUrl:
    Value: !Ref Queue
  Items:
    Value: !Ref Table
""",
    )
    stack = load_stack(str(tmp_path), {"Stage": "dev"}, stack_name="shop")
    graph = stack.app.graph
    queue = graph.queue("shop-Queue")
    assert (queue.visibility_timeout, queue.dead_letter, queue.max_receive_count) == (
        60,
        "shop-Dlq",
        3,
    )
    table = graph.table("shop-items")
    assert (table.partition_key.name, table.stream) == ("id", "NEW_IMAGE")
    by_source = {type(f.source): f for f in graph.functions}
    assert by_source[QueueSource].name == "shop-Fn"
    assert by_source[QueueSource].source.batch_size == 5
    stream = by_source[StreamSource]
    assert stream.name == "shop-Fn-2"
    assert stream.source.maximum_retry_attempts == 2
    assert stream.code is not None
    assert stream.code.root == str((tmp_path / "src").resolve())
    assert stream.variables == {"TABLE": "shop-items", "STAGE": "dev"}
    assert stream.role is not None
    assert stream.role.allows("sqs:ReceiveMessage", "arn:aws:sqs:us-east-1:000000000000:shop-Queue")
    assert stack.local_outputs("http://127.0.0.1:8080") == {
        "QueueUrl": "http://127.0.0.1:8080/000000000000/shop-Queue",
        "Items": "shop-items",
    }
    assert any("'Logs' (AWS::Logs::LogGroup) is not emulated" in n for n in stack.notes)
    assert any("BillingMode is not emulated" in n for n in stack.notes)


def test_a_rest_api_with_an_sqs_integration_becomes_a_service_route(tmp_path: Path) -> None:
    path = Path(__file__).parent.parent / "data" / "templates" / "apigw-sqs-lambda-iot"
    stack = load_stack(
        str(path / "template.yaml"),
        {"IOTEndpoint": "https://example-ats.iot.us-east-1.amazonaws.com", "IOTTopic": "t"},
    )
    (route,) = stack.app.graph.service_routes
    assert isinstance(route, ServiceRouteSpec)
    assert (route.method, route.path, route.service) == ("POST", "/Prod", "sqs")
    assert route.uri_path == "000000000000/apigw-sqs-lambda-iot-MySqsQueue"
    assert route.templates == (("application/json", "Action=SendMessage&MessageBody=$input.body"),)
    assert route.role is not None
    assert route.role.allows("sqs:SendMessage", "arn:aws:sqs:x")
    assert stack.app.graph.iot is not None  # the function's role may publish over MQTT
    assert any('on "*"' in note for note in stack.notes)
    assert stack.local_outputs("http://h:1")["AppApiEndpoint"] == "http://h:1/Prod"


def test_a_missing_parameter_is_named_with_the_fix(tmp_path: Path) -> None:
    template(tmp_path, BASE + FUNCTION.format(runtime="python3.12"))
    with pytest.raises(TemplateError, match="parameter 'Stage'") as error:
        load_stack(str(tmp_path))
    assert "--parameter-overrides" in str(error.value)


def test_a_runtime_other_than_python_is_refused_naming_the_function(tmp_path: Path) -> None:
    template(tmp_path, BASE + FUNCTION.format(runtime="nodejs20.x"))
    with pytest.raises(TemplateError, match=r"resource 'Fn' \(AWS::Lambda::Function\)") as error:
        load_stack(str(tmp_path), {"Stage": "dev"})
    assert "nodejs20.x" in str(error.value)
    assert "Python" in str(error.value)


def test_an_unemulated_resource_something_needs_stops_the_start(tmp_path: Path) -> None:
    body = (
        BASE
        + FUNCTION.format(runtime="python3.12").replace(
            "STAGE: !Ref Stage", "STAGE: !Ref Stage\n          BUCKET: !Ref Uploads"
        )
        + """
  Uploads:
    Type: AWS::S3::Bucket
"""
    )
    template(tmp_path, body)
    with pytest.raises(TemplateError) as error:
        load_stack(str(tmp_path), {"Stage": "dev"})
    text = str(error.value)
    assert "resource 'Uploads' (AWS::S3::Bucket)" in text
    assert "'Fn' (AWS::Lambda::Function) depends on it" in text


def test_an_unemulated_resource_nothing_needs_is_only_listed(tmp_path: Path) -> None:
    template(
        tmp_path,
        BASE
        + FUNCTION.format(runtime="python3.12")
        + """
  Uploads:
    Type: AWS::S3::Bucket
""",
    )
    stack = load_stack(str(tmp_path), {"Stage": "dev"})
    assert any("'Uploads' (AWS::S3::Bucket) is not emulated" in n for n in stack.notes)


def test_a_bad_intrinsic_names_the_resource(tmp_path: Path) -> None:
    template(tmp_path, BASE.replace("VisibilityTimeout: 60", "VisibilityTimeout: {Fn::Nope: 1}"))
    with pytest.raises(TemplateError, match="resource 'Queue'") as error:
        load_stack(str(tmp_path), {"Stage": "dev"})
    assert "Fn::Nope" in str(error.value)


def test_a_ref_to_nothing_names_the_resource_and_the_near_name(tmp_path: Path) -> None:
    template(tmp_path, BASE.replace("!GetAtt Dlq.Arn", "!GetAtt Dql.Arn"))
    with pytest.raises(TemplateError, match="Dql"):
        load_stack(str(tmp_path), {"Stage": "dev"})


def test_a_declaration_the_app_refuses_names_the_logical_id(tmp_path: Path) -> None:
    body = BASE + FUNCTION.format(runtime="python3.12").replace("Timeout: 5", "Timeout: 90")
    template(tmp_path, body)
    with pytest.raises(TemplateError, match=r"resource 'Fn'") as error:
        load_stack(str(tmp_path), {"Stage": "dev"})
    assert "visibility_timeout" in str(error.value)


def test_a_damaged_template_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text("Resources: [unclosed\n")
    with pytest.raises(TemplateError, match="not valid YAML"):
        load_stack(str(tmp_path))


def test_samconfig_parameters_apply_and_the_command_line_wins(tmp_path: Path) -> None:
    template(tmp_path, BASE)
    (tmp_path / "samconfig.toml").write_text(
        'version = 0.1\n[default.deploy.parameters]\nparameter_overrides = "Stage=prod"\n'
    )
    assert load_stack(str(tmp_path)).app.graph.queues
    with pytest.raises(TemplateError, match="Stage"):
        load_stack(str(tmp_path), {"Stage": "staging"})


EVENTS = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      Subscription:
        - Protocol: email
          Endpoint: ops@example.com
  Texts:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Topic
      Protocol: sms
      Endpoint: "+919876543210"
      FilterPolicy: {kind: [urgent]}
  Rest:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Events:
        Post:
          Type: Api
          Properties: {Path: "/orders/{id}", Method: post}
        Http:
          Type: HttpApi
          Properties: {Path: /v2/orders, Method: get}
        Notified:
          Type: SNS
          Properties:
            Topic: !Ref Topic
            FilterPolicy: {kind: [order]}
  Table:
    Type: AWS::Serverless::SimpleTable
    Properties:
      PrimaryKey: {Name: id, Type: String}
  Enricher:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
  Queue:
    Type: AWS::SQS::Queue
  Pipe:
    Type: AWS::Pipes::Pipe
    Properties:
      RoleArn: arn:aws:iam::000000000000:role/pipe
      Source: !GetAtt Queue.Arn
      SourceParameters:
        FilterCriteria:
          Filters: [{Pattern: '{"body": {"kind": ["order"]}}'}]
        SqsQueueParameters: {BatchSize: 3}
      Enrichment: !GetAtt Enricher.Arn
      Target: !Ref Topic
"""


def test_sam_events_become_routes_subscriptions_and_pipes(tmp_path: Path) -> None:
    template(tmp_path, EVENTS)
    graph = load_stack(str(tmp_path), stack_name="events").app.graph
    sources = [f.source for f in graph.functions if f.name.startswith("events-Rest")]
    http_sources = [s for s in sources if isinstance(s, HttpSource)]
    rest, http = sorted(http_sources, key=lambda s: s.payload_format_version)
    (topic,) = [s for s in sources if isinstance(s, TopicSource)]
    assert {f.name for f in graph.functions} >= {"events-Rest", "events-Rest-2", "events-Rest-3"}
    assert (rest.method, rest.path, rest.stage, rest.payload_format_version) == (
        "POST",
        "/orders/{id}",
        "Prod",
        "1.0",
    )
    assert rest.served_path == "/Prod/orders/{id}"
    assert (http.method, http.path, http.payload_format_version) == (
        "GET",
        "/v2/orders",
        "2.0",
    )
    assert topic.topic == "events-Topic"
    assert topic.filter_policy is not None
    subscriptions = {(s.protocol, s.endpoint) for s in graph.subscriptions}
    assert subscriptions == {("email", "ops@example.com"), ("sms", "+919876543210")}
    assert graph.table("events-Table").partition_key.name == "id"
    (pipe,) = graph.pipes
    assert (pipe.target.kind, pipe.target.name, pipe.enrichment) == (
        "topic",
        "events-Topic",
        "events-Enricher",
    )
    assert pipe.source.batch_size == 3


def test_schedule_events_become_scheduled_functions(tmp_path: Path) -> None:
    template(
        tmp_path,
        """
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Tick:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: src/
              Handler: app.handler
              Runtime: python3.12
              Events:
                Every:
                  Type: Schedule
                  Properties:
                    Schedule: rate(5 minutes)
                    Input: '{"job": "sweep"}'
                Nightly:
                  Type: ScheduleV2
                  Properties:
                    ScheduleExpression: cron(0 2 * * ? *)
                    State: DISABLED
        """,
    )
    graph = load_stack(str(tmp_path), stack_name="cron").app.graph
    sources = sorted(
        (f.source for f in graph.functions if isinstance(f.source, ScheduleSource)),
        key=lambda s: s.expression,
    )
    assert [(s.expression, s.input, s.enabled) for s in sources] == [
        ("cron(0 2 * * ? *)", None, False),
        ("rate(5 minutes)", '{"job": "sweep"}', True),
    ]


def test_layers_and_inline_code_are_local_folders(tmp_path: Path) -> None:
    template(
        tmp_path,
        """
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Shared:
            Type: AWS::Serverless::LayerVersion
            Properties:
              ContentUri: layer/
          WithLayer:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: src/
              Handler: app.handler
              Runtime: python3.12
              Layers: [!Ref Shared]
          Inline:
            Type: AWS::Lambda::Function
            Properties:
              Runtime: python3.11
              Handler: index.handler
              Role: !GetAtt InlineRole.Arn
              Code:
                ZipFile: |
                  def handler(event, context):
                      return {"inline": event}
          InlineRole:
            Type: AWS::IAM::Role
            Properties:
              AssumeRolePolicyDocument: {}
        """,
    )
    (tmp_path / "layer" / "python").mkdir(parents=True)
    graph = load_stack(str(tmp_path), stack_name="code").app.graph
    layered = graph.function("code-WithLayer")
    assert layered.code is not None
    assert layered.code.layers == (str((tmp_path / "layer" / "python").resolve()),)
    inline = graph.function("code-Inline")
    assert inline.code is not None
    assert (inline.code.module, inline.code.function) == ("index", "handler")
    # Called in the runtime's own process (--isolation thread), it imports on first use.
    assert inline.handler({"a": 1}, None) == {"inline": {"a": 1}}


def test_an_http_api_sqs_integration_becomes_a_service_route_with_its_parameters() -> None:
    pattern = Path(__file__).parent.parent / "data" / "templates"
    stack = load_stack(str(pattern / "apigw-http-api-fifo-sqs-lambda-sns-sam"))
    (route,) = stack.app.graph.service_routes
    assert (route.method, route.path, route.service, route.action) == (
        "POST",
        "/prod",
        "sqs",
        "SendMessage",
    )
    assert dict(route.action_parameters) == {
        "MessageBody": "$request.body",
        "MessageGroupId": "$request.body.messagegroup",
        "QueueUrl": "https://sqs.us-east-1.amazonaws.com/000000000000/ServerlessLandSQS.fifo",
    }
    assert route.role is not None
