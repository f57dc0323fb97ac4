"""AWS::IoT::TopicRule from a template (and SAM's IoTRule event): the rule, its actions on
the template's resources, its Ref and Arn, and what is refused by name."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from sluiceway import App
from sluiceway.aws import Code, template_for
from sluiceway.aws.errors import RenderError
from sluiceway.iot.spec import (
    InvokeFunction,
    PublishToTopic,
    PutItem,
    PutKeyedItem,
    Republish,
    SendToQueue,
)
from sluiceway.templates.errors import TemplateError
from sluiceway.templates.stack import load_stack


def template(tmp_path: Path, body: str) -> Path:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    print(event)\n")
    path = tmp_path / "template.yaml"
    path.write_text(dedent(body))
    return path


def test_a_sam_iot_rule_event_invokes_its_python_function(tmp_path: Path) -> None:
    template(
        tmp_path,
        """
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Logger:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: src/
              Handler: app.handler
              Runtime: python3.12
              Events:
                Telemetry:
                  Type: IoTRule
                  Properties:
                    Sql: "SELECT *, topic(2) AS device FROM 'sensors/+'"
                    AwsIotSqlVersion: '2016-03-23'
        """,
    )
    stack = load_stack(str(tmp_path), stack_name="things")
    (rule,) = stack.app.graph.topic_rules
    assert rule.name == "things_LoggerTelemetry"
    assert rule.sql == "SELECT *, topic(2) AS device FROM 'sensors/+'"
    assert rule.actions == (InvokeFunction("things-Logger"),)
    assert rule.enabled
    assert stack.app.graph.function("things-Logger").name == "things-Logger"
    assert not any("AwsIotSqlVersion" in note for note in stack.notes)


RULES = """
Resources:
  Inbox:
    Type: AWS::SQS::Queue
    Properties: {QueueName: inbox}
  Alerts:
    Type: AWS::SNS::Topic
  Readings:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{AttributeName: thing, AttributeType: S},
                             {AttributeName: at, AttributeType: N}]
      KeySchema: [{AttributeName: thing, KeyType: HASH}, {AttributeName: at, KeyType: RANGE}]
  Events:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{AttributeName: eventId, AttributeType: S}]
      KeySchema: [{AttributeName: eventId, KeyType: HASH}]
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: iot.amazonaws.com},
                     Action: sts:AssumeRole}]
  Rule:
    Type: AWS::IoT::TopicRule
    Properties:
      RuleName: fan_out
      TopicRulePayload:
        Sql: SELECT * FROM 'things/+/data' WHERE temperature > 30
        RuleDisabled: DISABLED
        Actions:
          - Sqs: {QueueUrl: !Ref Inbox, RoleArn: !GetAtt Role.Arn, UseBase64: true}
          - Sns: {TargetArn: !Ref Alerts, RoleArn: !GetAtt Role.Arn, MessageFormat: JSON}
          - DynamoDBv2: {PutItem: {TableName: !Ref Events}, RoleArn: !GetAtt Role.Arn}
          - DynamoDB:
              TableName: !Ref Readings
              HashKeyField: thing
              HashKeyValue: ${topic(2)}
              RangeKeyField: at
              RangeKeyValue: ${timestamp()}
              RoleArn: !GetAtt Role.Arn
          - Republish: {Topic: '${topic()}/hot', Qos: 1, RoleArn: !GetAtt Role.Arn}
        ErrorAction:
          S3: {BucketName: errors, Key: '${timestamp()}', RoleArn: !GetAtt Role.Arn}
Outputs:
  RuleName: {Value: !Ref Rule}
  RuleArn: {Value: !GetAtt Rule.Arn}
"""


def test_a_topic_rule_reaches_the_templates_queues_topics_and_tables(tmp_path: Path) -> None:
    template(tmp_path, RULES.replace("DISABLED", "false"))
    stack = load_stack(str(tmp_path), stack_name="plant")
    (rule,) = stack.app.graph.topic_rules
    assert rule.name == "fan_out"
    assert rule.actions == (
        SendToQueue("inbox", use_base64=True),
        PublishToTopic("plant-Alerts", "JSON"),
        PutItem("plant-Events"),
        PutKeyedItem(
            "plant-Readings",
            hash_key_field="thing",
            hash_key_value="${topic(2)}",
            hash_key_type="STRING",
            range_key_field="at",
            range_key_value="${timestamp()}",
            range_key_type="NUMBER",  # from the table's key schema
        ),
        Republish("${topic()}/hot", qos=1),
    )
    assert rule.error_action is None  # an S3 ErrorAction is never run, so no obstacle
    assert any("ErrorAction is not run locally" in note for note in stack.notes)
    assert any("2015-10-08" in note for note in stack.notes)  # AWS's default version
    assert stack.outputs["RuleName"][0] == "fan_out"
    assert stack.outputs["RuleArn"][0] == "arn:aws:iot:us-east-1:000000000000:rule/fan_out"


def test_rule_disabled_is_declared_but_does_not_run(tmp_path: Path) -> None:
    template(tmp_path, RULES.replace("DISABLED", "true"))
    stack = load_stack(str(tmp_path), stack_name="plant")
    assert not stack.app.graph.topic_rules[0].enabled
    assert any("RuleDisabled: true" in note for note in stack.notes)


def rule_with(action: str, sql: str = "SELECT * FROM 'a/b'") -> str:
    return f"""
    Resources:
      Inbox:
        Type: AWS::SQS::Queue
      Rule:
        Type: AWS::IoT::TopicRule
        Properties:
          TopicRulePayload:
            Sql: "{sql}"
            Actions:
              - {action}
    """


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (rule_with("S3: {BucketName: b, Key: k, RoleArn: r}"), "the S3 action is not emulated"),
        (rule_with("Kinesis: {StreamName: s, RoleArn: r}"), "the Kinesis action"),
        (rule_with("Firehose: {DeliveryStreamName: s, RoleArn: r}"), "the Firehose action"),
        (
            rule_with("Sqs: {QueueUrl: !Ref Inbox, RoleArn: r}", "SELECT upper(a) AS b FROM 'x'"),
            "function upper() is not supported",
        ),
        (
            rule_with(
                "Sqs: {QueueUrl: !Ref Inbox, RoleArn: r}", "SELECT * FROM 'x' WHERE a IN (1)"
            ),
            "IN is not supported",
        ),
        (
            rule_with("Lambda: {FunctionArn: 'arn:aws:lambda:us-east-1:1:function:elsewhere'}"),
            "is not AWS::Lambda::Function of this template",
        ),
        (rule_with("Republish: {Topic: a/b, RoleArn: r}"), "trigger it again forever"),
        (rule_with("Republish: {Topic: $$aws/things/x/shadow/update}"), "reserved topic"),
    ],
)
def test_what_the_rules_engine_cannot_run_stops_the_start_naming_the_rule(
    tmp_path: Path, body: str, named: str
) -> None:
    template(tmp_path, body)
    with pytest.raises(TemplateError) as raised:
        load_stack(str(tmp_path), stack_name="plant")
    assert "'Rule'" in str(raised.value)
    assert named in str(raised.value)


def test_rendering_an_app_with_topic_rules_for_aws_is_refused_by_name() -> None:
    app = App("rules")
    queue = app.queue("q")
    app.topic_rule("keep", "SELECT * FROM 'a/b'", [SendToQueue(queue.name)])
    with pytest.raises(RenderError, match=r"topic rule 'keep'.*not rendered for AWS"):
        template_for(app.graph, Code("m:app"))
