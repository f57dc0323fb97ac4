"""What the AWS render refuses, over every service: the fields each service's render turns
into the template (`RENDERED_FIELDS`, the union of theirs, which a test holds to the specs),
and how the template's errors name a declaration (`describe`)."""

from __future__ import annotations

from typing import assert_never

from sluiceway.apigateway import render as api
from sluiceway.apigateway.spec import RouteSpec
from sluiceway.aws.fragment import Renderable
from sluiceway.awslambda import render as awslambda
from sluiceway.awslambda.spec import FunctionSpec
from sluiceway.cognito import render as cognito
from sluiceway.cognito.spec import UserPoolSpec
from sluiceway.core.render.checks import RenderedFields
from sluiceway.dynamodb import render as dynamodb
from sluiceway.dynamodb.spec import TableSpec
from sluiceway.iot import render as iot
from sluiceway.iot.spec import IotSpec
from sluiceway.pipes import render as pipes
from sluiceway.pipes.spec import PipeSpec
from sluiceway.sns import render as sns
from sluiceway.sns.spec import SubscriptionSpec, TopicSpec
from sluiceway.sqs import render as sqs
from sluiceway.sqs.spec import QueueSpec
from sluiceway.wafv2 import render as waf
from sluiceway.wafv2.rules import WebACL

RENDERED_FIELDS: RenderedFields = {
    **sqs.RENDERED_FIELDS,
    **dynamodb.RENDERED_FIELDS,
    **sns.RENDERED_FIELDS,
    **api.RENDERED_FIELDS,
    **awslambda.RENDERED_FIELDS,
    **pipes.RENDERED_FIELDS,
    **cognito.RENDERED_FIELDS,
    **iot.RENDERED_FIELDS,
    **waf.RENDERED_FIELDS,
}
# A pipe's source is checked against these instead (the parameters Pipes has).
PIPE_SOURCE_FIELDS: RenderedFields = pipes.PIPE_SOURCE_FIELDS


def describe(spec: Renderable) -> str:
    """How an error names a spec."""
    match spec:
        case QueueSpec():
            return sqs.describe(spec)
        case TableSpec():
            return dynamodb.describe(spec)
        case TopicSpec():
            return sns.describe_topic(spec)
        case SubscriptionSpec():
            return sns.describe_subscription(spec)
        case RouteSpec():
            return api.describe(spec)
        case FunctionSpec():
            return awslambda.describe(spec)
        case PipeSpec():
            return pipes.describe(spec)
        case UserPoolSpec():
            return cognito.describe(spec)
        case IotSpec():
            return iot.DESCRIBED
        case WebACL():
            return waf.DESCRIBED
        case _:
            assert_never(spec)
