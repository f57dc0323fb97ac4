"""AWS managed policies a template's roles commonly attach, as the statements that matter
locally. A managed policy not listed here is reported at start and grants nothing, so a call
it would allow fails with AccessDenied naming the action (add the statement inline)."""

from __future__ import annotations

from typing import Any

_LOGS = {"Effect": "Allow", "Action": ["logs:*"], "Resource": "*"}


def _allow(*actions: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}, _LOGS],
    }


MANAGED: dict[str, dict[str, Any]] = {
    "AWSLambdaBasicExecutionRole": {"Statement": [_LOGS]},
    "AWSLambdaExecute": {"Statement": [_LOGS]},
    "AWSLambdaSQSQueueExecutionRole": _allow(
        "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"
    ),
    "AWSLambdaDynamoDBExecutionRole": _allow(
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
    ),
    "AWSLambdaInvocation-DynamoDB": _allow(
        "lambda:InvokeFunction",
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
    ),
    "AWSLambdaRole": _allow("lambda:InvokeFunction"),
    "AmazonSQSFullAccess": _allow("sqs:*"),
    "AmazonSQSReadOnlyAccess": _allow(
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "sqs:ListQueues",
        "sqs:ListDeadLetterSourceQueues",
        "sqs:ListQueueTags",
        "sqs:ReceiveMessage",
    ),
    "AmazonDynamoDBFullAccess": _allow("dynamodb:*"),
    "AmazonDynamoDBReadOnlyAccess": _allow(
        "dynamodb:BatchGetItem",
        "dynamodb:Describe*",
        "dynamodb:List*",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:Scan",
        "dynamodb:PartiQLSelect",
    ),
    "AmazonSNSFullAccess": _allow("sns:*"),
    "AmazonSNSReadOnlyAccess": _allow("sns:GetTopicAttributes", "sns:List*"),
    "AWSIoTDataAccess": _allow(
        "iot:Connect",
        "iot:Publish",
        "iot:Subscribe",
        "iot:Receive",
        "iot:GetThingShadow",
        "iot:UpdateThingShadow",
        "iot:DeleteThingShadow",
        "iot:ListNamedShadowsForThing",
    ),
    "AWSIoTFullAccess": _allow("iot:*", "iotjobsdata:*"),
    "AWSIoTRuleActions": _allow(
        "dynamodb:PutItem", "lambda:InvokeFunction", "sns:Publish", "sqs:SendMessage", "iot:Publish"
    ),
    "AmazonAPIGatewayPushToCloudWatchLogs": {"Statement": [_LOGS]},
    "AWSXrayWriteOnlyAccess": _allow("xray:*"),
    "CloudWatchLambdaInsightsExecutionRolePolicy": {"Statement": [_LOGS]},
    "AmazonEventBridgePipesFullAccess": _allow("pipes:*"),
    "AWSLambda_FullAccess": _allow("lambda:*", "sqs:*", "dynamodb:*", "sns:*", "iot:*"),
    "AdministratorAccess": _allow("*"),
    "PowerUserAccess": _allow("*"),
}


def managed(arn: str) -> dict[str, Any] | None:
    """The document of the managed policy `arn` (arn:aws:iam::aws:policy/[path/]Name)."""
    return MANAGED.get(arn.rsplit("/", 1)[-1])
