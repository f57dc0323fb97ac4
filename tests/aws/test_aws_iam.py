"""IAM derived from the graph: every statement of the deployed template names specific ARNs
(texting a phone number, which SNS knows no ARN for, is the one ``NotResource``: anything but a
topic; publishing to IoT Core names the declared topics) and only the actions the graph
derives; the seeds' four policies, made least-privilege."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aws_edge_app as edge
import aws_pipes_app as relay
import aws_sample_app as sample
import pytest
from aws_support import sam_transform

from sluiceway import App
from sluiceway.apigateway.render import route_role_id
from sluiceway.aws import Code, route_grants, template_for
from sluiceway.aws.observability import CLOUDWATCH_ROLE, PUSH_TO_LOGS_POLICY, XRAY_POLICY
from sluiceway.awslambda import permissions
from sluiceway.awslambda.spec import HttpSource, TopicSource
from sluiceway.blueprints import iot_router
from sluiceway.blueprints.orders import app as orders_app
from sluiceway.blueprints.registrations import app as registrations_app
from sluiceway.core.render import names
from sluiceway.dynamodb.iam import TABLE_WRITE_ACTIONS
from sluiceway.iot.render import topic_arns
from sluiceway.pipes.render import pipe_grants, pipe_invokes
from sluiceway.sqs.iam import QUEUE_CONSUME_ACTIONS

LOGS = {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}
# The one resource that ends in "*": ListStreams is evaluated against a table's streams,
# whose label is unknown until the stream exists (and changes if it is re-enabled).
STREAM_LISTING = {"Fn::Sub": "${Orders.Arn}/stream/*"}
# The SMS grant: sns:Publish on anything that is not a topic (a phone number has no ARN).
SMS_FENCE = {"Fn::Sub": "arn:${AWS::Partition}:sns:*:*:*"}

# The seeds' four policies (000/001), all on "Resource": "*".
SEED_POLICIES = {
    "Lambda-Write-DynamoDB": {"dynamodb:PutItem", "dynamodb:DescribeTable"},
    "Lambda-SNS-Publish": {"sns:Publish", "sns:GetTopicAttributes", "sns:ListTopics"},
    "Lambda-DynamoDBStreams-Read": {
        "dynamodb:GetShardIterator",
        "dynamodb:DescribeStream",
        "dynamodb:ListStreams",
        "dynamodb:GetRecords",
    },
    "Lambda-Read-SQS": {
        "sqs:DeleteMessage",
        "sqs:ReceiveMessage",
        "sqs:GetQueueAttributes",
        "sqs:ChangeMessageVisibility",
    },
}


@pytest.fixture(scope="module")
def transformed() -> dict[str, Any]:
    return sam_transform(template_for(orders_app.graph, Code("sluiceway.blueprints.orders:app")))


def roles(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical: resource["Properties"]
        for logical, resource in template["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role"
    }


def statements(role: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for policy in role.get("Policies", []):
        yield from policy["PolicyDocument"]["Statement"]


def resources_of(statement: dict[str, Any]) -> list[Any]:
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


def derived_actions(app: App) -> dict[str, set[str]]:
    """What each role may do, straight from the graph."""
    graph = app.graph
    expected = {
        names.role_id(f.name): {a for g in permissions.grants_for(f) for a in g.actions}
        for f in graph.functions
    }
    for route in graph.routes:
        expected[route_role_id(route)] = {a for g in route_grants(route) for a in g.actions}
    for pipe in graph.pipes:
        invokes = {"lambda:InvokeFunction"} if pipe_invokes(pipe) else set()
        expected[names.role_id(pipe.name)] = {a for g in pipe_grants(pipe) for a in g.actions}
        expected[names.role_id(pipe.name)] |= invokes
    return expected


def desk() -> App:
    """Functions invoked by a topic and by HTTP, and one that writes where it reads."""
    app = App("desk")
    tickets = app.table("tickets", partition_key="id", stream="NEW_AND_OLD_IMAGES")
    alerts = app.topic("alerts")
    app.route("POST", "/tickets", to=app.queue("intake"))

    @app.on_topic(alerts, uses=[tickets.writes], name="pager")
    def page(event: Any, context: Any) -> None: ...

    @app.on_http("GET", "/tickets/{id}", uses=[tickets.reads], name="lookup")
    def lookup(event: Any, context: Any) -> None: ...

    @app.on_stream(tickets, uses=[alerts.publishes], on_failure=alerts, name="watch")
    def watch(event: Any, context: Any) -> None: ...

    return app


def signup() -> App:
    """A route straight into a table, and a function that texts whoever signs up."""
    app = App("signup")
    people = app.table("people", partition_key="id", stream="NEW_IMAGE")
    model = {
        "type": "object",
        "required": ["id", "phone"],
        "properties": {"id": {"type": "string"}, "phone": {"type": "string"}},
        "additionalProperties": False,
    }
    app.route("POST", "/people", to=people, model=model)

    @app.on_stream(people, uses=[app.sms.sends], name="welcome")
    def welcome(event: Any, context: Any) -> None: ...

    return app


APPS = {
    "orders": lambda: orders_app,
    "sample": lambda: sample.app,
    "desk": desk,
    "signup": signup,
    "registrations": lambda: registrations_app,
    "relay": lambda: relay.app,
    "iot-router": lambda: iot_router.app,
    "edge": lambda: edge.app,
}


@pytest.mark.parametrize("name", list(APPS))
def test_every_iam_statement_names_specific_resources_and_only_derived_actions(
    name: str,
) -> None:
    app = APPS[name]()
    template = sam_transform(template_for(app.graph, Code("m:app")))
    expected = derived_actions(app)
    tables = {names.resource_id(t.name) for t in app.graph.tables}
    # The SAM transform added no role (API Gateway's account role writes its access logs).
    assert set(roles(template)) - {CLOUDWATCH_ROLE} == set(expected)
    for logical, role in roles(template).items():
        if logical == CLOUDWATCH_ROLE:
            assert role["ManagedPolicyArns"] == [PUSH_TO_LOGS_POLICY]
            assert "Policies" not in role
            continue
        granted: set[str] = set()
        for statement in statements(role):
            assert statement["Effect"] == "Allow"
            assert "NotAction" not in statement
            actions = statement["Action"]
            granted |= set(actions)
            if "NotResource" in statement:
                # Texting a number: SNS has no resource for one, so "anything but a topic".
                assert (statement["Sid"], actions) == ("Sms", ["sns:Publish"])
                assert statement["NotResource"] == SMS_FENCE
                continue
            if statement["Sid"] == "IotTopics":
                # Publishing to IoT Core: exactly the topics app.iot(topics=[...]) allows.
                assert app.graph.iot is not None
                assert (actions, statement["Resource"]) == (
                    ["iot:Publish"],
                    topic_arns(app.graph.iot),
                )
                assert all(r["Fn::Sub"] != iot_any_topic() for r in statement["Resource"])
                continue
            for resource in resources_of(statement):
                assert resource != "*", statement
                if "Fn::Sub" in resource:
                    # The resources ending in "*": a table's streams, for ListStreams, and
                    # its secondary indexes, for Query and Scan.
                    table, tail = resource["Fn::Sub"].removeprefix("${").split(".Arn}")
                    assert table in tables
                    assert (tail, actions) in (
                        ("/stream/*", ["dynamodb:ListStreams"]),
                        ("/index/*", ["dynamodb:Query", "dynamodb:Scan"]),
                    )
                else:
                    assert set(resource) <= {"Fn::GetAtt", "Ref"}, resource
        assert granted == expected[logical], logical


def iot_any_topic() -> str:
    """The broad ARN no declared allowlist short of ``#`` produces."""
    return "arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:topic/*"


@pytest.mark.parametrize("name", list(APPS))
def test_only_the_one_topic_or_route_may_invoke_a_function(name: str) -> None:
    app = APPS[name]()
    template = template_for(app.graph, Code("m:app"))
    permissions_ = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Permission"
    ]
    invoked = [f for f in app.graph.functions if isinstance(f.source, TopicSource | HttpSource)]
    assert len(permissions_) == len(invoked)
    for permission in permissions_:
        assert permission["Action"] == "lambda:InvokeFunction"
        assert permission["Principal"] in ("sns.amazonaws.com", "apigateway.amazonaws.com")
        source = permission["SourceArn"]
        if permission["Principal"] == "sns.amazonaws.com":
            assert set(source) == {"Ref"}
        else:
            assert source["Fn::Sub"].startswith(
                "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
                f"${{{names.api_id(app.name)}}}/*/"
            )


def test_no_policy_lives_outside_the_rendered_roles(transformed: dict[str, Any]) -> None:
    kinds = {r["Type"] for r in transformed["Resources"].values()}
    assert not kinds & {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::SQS::QueuePolicy"}
    functions = [
        r["Properties"]
        for r in transformed["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    ]
    assert [f["Role"] for f in functions] == [
        {"Fn::GetAtt": [names.role_id(orders_app.graph.function(f["FunctionName"]).name), "Arn"]}
        for f in functions
    ]


def test_the_managed_policies_are_aws_own_for_logs_and_tracing(
    transformed: dict[str, Any],
) -> None:
    """Logs and X-Ray traces (whose write actions take no resource): AWS's managed policies
    for them, never a "*" of ours; and API Gateway's role for the account's API logs."""
    assert {k: r.get("ManagedPolicyArns") for k, r in roles(transformed).items()} == {
        "POCLambda1Role": [LOGS, XRAY_POLICY],
        "POCLambda2Role": [LOGS, XRAY_POLICY],
        "RoutePostOrdersRole": None,
        CLOUDWATCH_ROLE: [PUSH_TO_LOGS_POLICY],
    }


def test_the_api_role_may_only_send_messages_to_its_queue(transformed: dict[str, Any]) -> None:
    assert roles(transformed)["RoutePostOrdersRole"] == {
        "Description": "Lets POST /orders put the request on its queue",
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "apigateway.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        },
        "Policies": [
            {
                "PolicyName": "sluiceway-route",
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "QueuePOCQueue",
                            "Effect": "Allow",
                            "Action": ["sqs:SendMessage"],
                            "Resource": {"Fn::GetAtt": ["POCQueue", "Arn"]},
                        }
                    ],
                },
            }
        ],
    }


def test_the_seed_lambda_1_role_becomes_queue_reads_and_table_writes_on_their_arns(
    transformed: dict[str, Any],
) -> None:
    role = roles(transformed)["POCLambda1Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "lambda.amazonaws.com"
    }
    assert list(statements(role)) == [
        {
            "Sid": "QueuePOCQueue",
            "Effect": "Allow",
            "Action": sorted(SEED_POLICIES["Lambda-Read-SQS"]),
            "Resource": {"Fn::GetAtt": ["POCQueue", "Arn"]},
        },
        {
            "Sid": "TableOrders",
            "Effect": "Allow",
            "Action": sorted(TABLE_WRITE_ACTIONS),
            "Resource": {"Fn::GetAtt": ["Orders", "Arn"]},
        },
    ]
    # The seed's Lambda-Write-DynamoDB is inside `orders.writes`, now on one table.
    assert SEED_POLICIES["Lambda-Write-DynamoDB"] <= TABLE_WRITE_ACTIONS


def test_the_seed_lambda_2_role_becomes_stream_reads_and_one_publish_on_their_arns(
    transformed: dict[str, Any],
) -> None:
    assert list(statements(roles(transformed)["POCLambda2Role"])) == [
        {
            "Sid": "QueuePOCNotifyFailures",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"],
            "Resource": {"Fn::GetAtt": ["POCNotifyFailures", "Arn"]},
        },
        {
            "Sid": "StreamOrders",
            "Effect": "Allow",
            "Action": [
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
            ],
            "Resource": {"Fn::GetAtt": ["Orders", "StreamArn"]},
        },
        {
            "Sid": "StreamOrdersListing",
            "Effect": "Allow",
            "Action": ["dynamodb:ListStreams"],
            "Resource": STREAM_LISTING,
        },
        {
            "Sid": "TopicPOCTopic",
            "Effect": "Allow",
            "Action": ["sns:Publish"],
            "Resource": {"Ref": "POCTopic"},
        },
    ]
    # sns:GetTopicAttributes and sns:ListTopics of the seed are gone: nothing calls them.
    assert SEED_POLICIES["Lambda-SNS-Publish"] - {"sns:Publish"} == {
        "sns:GetTopicAttributes",
        "sns:ListTopics",
    }


def test_a_function_without_uses_may_only_read_its_own_source() -> None:
    app = App("minimal")
    jobs = app.queue("jobs")

    @app.on_queue(jobs)
    def work(event: Any, context: Any) -> None: ...

    role = template_for(app.graph, Code("m:app"))["Resources"]["WorkRole"]["Properties"]
    assert list(statements(role)) == [
        {
            "Sid": "QueueJobs",
            "Effect": "Allow",
            "Action": sorted(QUEUE_CONSUME_ACTIONS),
            "Resource": {"Fn::GetAtt": ["Jobs", "Arn"]},
        }
    ]


def test_a_failure_destination_topic_gets_only_publish() -> None:
    app = App("reports")
    table = app.table("events", partition_key="id", stream="NEW_IMAGE")
    failures = app.topic("failures")

    @app.on_stream(table, on_failure=failures)
    def work(event: Any, context: Any) -> None: ...

    role = template_for(app.graph, Code("m:app"))["Resources"]["WorkRole"]["Properties"]
    assert [s for s in statements(role) if s["Sid"] == "TopicFailures"] == [
        {
            "Sid": "TopicFailures",
            "Effect": "Allow",
            "Action": ["sns:Publish"],
            "Resource": {"Ref": "Failures"},
        }
    ]


def test_the_sms_grant_texts_a_number_but_publishes_to_no_topic_but_its_own() -> None:
    """The rendered role, evaluated as IAM evaluates it (`sluiceway.core.policies`): a
    function that texts and publishes to its one topic can do both, and nothing else."""
    from sluiceway.core.policies import role_policy

    app = App("texter")
    news = app.topic("news")

    @app.function(uses=[app.sms.sends, news.publishes], name="texter")
    def texter(event: Any, context: Any) -> None: ...

    template = template_for(app.graph, Code("m:app"))
    (role,) = roles(template).values()
    account = "arn:aws:sns:us-east-1:123456789012"

    def resolved(value: Any) -> Any:
        if isinstance(value, dict) and "Fn::Sub" in value:
            return value["Fn::Sub"].replace("${AWS::Partition}", "aws")
        if isinstance(value, dict) and "Ref" in value:
            return f"{account}:{value['Ref']}"
        if isinstance(value, list):
            return [resolved(v) for v in value]
        return value

    documents = [
        (
            policy["PolicyName"],
            {
                "Statement": [
                    {k: resolved(v) for k, v in statement.items()}
                    for statement in policy["PolicyDocument"]["Statement"]
                ]
            },
        )
        for policy in role["Policies"]
    ]
    policy = role_policy("texter", documents)
    assert policy.allows("sns:Publish", "*")  # a text: SNS authorizes it against "*"
    assert policy.allows("sns:Publish", f"{account}:{names.resource_id('news')}")
    assert not policy.allows("sns:Publish", f"{account}:Billing")
    assert not policy.allows("sns:Publish", "arn:aws:sns:eu-west-1:999999999999:Other")
    assert not policy.allows("sns:CreateTopic", "*")
