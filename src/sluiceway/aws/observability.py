"""How the rendered app is observed on AWS (`App.deployment`, both on by default).

* **Tracing**: X-Ray on the REST API's stage (``TracingEnabled``) and on every function
  (``Tracing: Active``), whose role gets AWS's ``AWSXrayWriteOnlyAccess`` (X-Ray's write
  actions take no resource, so a managed policy carries them rather than a ``"*"`` of ours).
  An HTTP API has no X-Ray tracing on AWS.
* **Access logs**: each API's stage writes a JSON line per request to a log group of its own,
  kept a year. API Gateway writes logs through the account's CloudWatch role, set once per
  account and region (``AWS::ApiGateway::Account``): a REST API's access logs come with that
  role and its setting, which a stack deleted later leaves in place (as AWS keeps it).
"""

from __future__ import annotations

import json
from typing import Any

from sluiceway.core.cfn import Resources, get_att, sub
from sluiceway.core.render.roles import trust
from sluiceway.core.specs import Deployment

XRAY_POLICY = sub("arn:${AWS::Partition}:iam::aws:policy/AWSXrayWriteOnlyAccess")
PUSH_TO_LOGS_POLICY = sub(
    "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
)
CLOUDWATCH_ROLE = "ApiGatewayCloudWatchRole"
ACCOUNT = "ApiGatewayAccount"
RETENTION_DAYS = 365
# The line each request writes, in API Gateway's $context variables.
REST_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "path": "$context.path",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "integrationLatency": "$context.integrationLatency",
    "wafResponseCode": "$context.wafResponseCode",
    "xrayTraceId": "$context.xrayTraceId",
}
HTTP_API_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "integrationLatency": "$context.integrationLatency",
}


def observed(deployment: Deployment, resources: Resources) -> Resources:
    """What `resources` gain for `deployment`: the log groups and the account's CloudWatch
    role (new resources, returned); tracing and log settings (set in place)."""
    added: Resources = {}
    for logical, resource in list(resources.items()):
        properties = resource["Properties"]
        match resource["Type"]:
            case "AWS::Serverless::Function" if deployment.tracing:
                properties["Tracing"] = "Active"
                role = resources[properties["Role"]["Fn::GetAtt"][0]]["Properties"]
                role["ManagedPolicyArns"] = [*role.get("ManagedPolicyArns", []), XRAY_POLICY]
            case "AWS::Serverless::Api":
                if deployment.tracing:
                    properties["TracingEnabled"] = True
                if deployment.access_logs:
                    group = _log_group(added, logical)
                    properties["AccessLogSetting"] = _logging(group, REST_FORMAT)
                    resource["DependsOn"] = ACCOUNT  # its stage logs through the account's role
                    added[CLOUDWATCH_ROLE] = _cloudwatch_role()
                    added[ACCOUNT] = {
                        "Type": "AWS::ApiGateway::Account",
                        "Properties": {"CloudWatchRoleArn": get_att(CLOUDWATCH_ROLE, "Arn")},
                    }
            case "AWS::Serverless::HttpApi" if deployment.access_logs:
                group = _log_group(added, logical)
                properties["AccessLogSettings"] = _logging(group, HTTP_API_FORMAT)
    return added


def _log_group(added: Resources, api: str) -> str:
    logical = f"{api}AccessLogs"
    added[logical] = {
        "Type": "AWS::Logs::LogGroup",
        # Removed with the stack, as its tables and queues are (`sluiceway destroy`).
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
        "Properties": {"RetentionInDays": RETENTION_DAYS},
    }
    return logical


def _logging(group: str, line: dict[str, str]) -> dict[str, Any]:
    return {"DestinationArn": get_att(group, "Arn"), "Format": json.dumps(line)}


def _cloudwatch_role() -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": "Lets API Gateway write this account's API logs to CloudWatch",
            "AssumeRolePolicyDocument": trust("apigateway.amazonaws.com"),
            "ManagedPolicyArns": [PUSH_TO_LOGS_POLICY],
        },
    }
