"""Pipes on AWS: each pipe is an ``AWS::Pipes::Pipe`` and a role only Pipes of the account
may assume, allowed exactly what the pipe does.

What moto can do with a pipe, and so what is checked here: moto's Pipes API creates,
describes and lists pipes, storing what it is given (botocore first checks the request
against the real Pipes API model), so each rendered pipe is created through boto3 and
described back as rendered. moto's CloudFormation knows no ``AWS::Pipes::Pipe``, and moto
never runs a pipe (no polling, filtering or invoking), so the pipes are played by the tests'
`FakeLambda` from what the Pipes API describes: the source read through moto's SQS and
DynamoDB Streams, the records filtered by the local engine's pattern matcher in the Pipes
dialect, the enrichment and a function target invoked through the real shim, a queue target
sent to with moto's SQS. Played that way, the registrations blueprint (each sign-up written
by the route's played UpdateItem template) texts the same users as the local engine (the
texts read from moto's record of what SNS was asked to send), and a queue pipe delivers the
same messages. Not checked against AWS: how Pipes itself retries, bisects and dead-letters
(the rendered parameters are checked instead), and what it sends to a topic target (not
played).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import aws_pipes_app as relay
import boto3
import httpx
import pytest
from aws_support import (
    ACCOUNT,
    REGION,
    FakeLambda,
    Stack,
    fake_aws,
    findings,
    sam_transform,
    write_through_the_template,
)
from moto.sns.models import sns_backends

from conftest import EngineFactory
from sluiceway import App
from sluiceway.app.graph import AppGraph
from sluiceway.aws import Code, RenderError, _yaml, template_for
from sluiceway.blueprints.registrations import app as registrations
from sluiceway.local import LocalEngine
from support import gateway

REGISTRATIONS = Code("sluiceway.blueprints.registrations:app")
RELAY = Code("aws_pipes_app:app")
APPS = {"registrations": (registrations, REGISTRATIONS), "relay": (relay.app, RELAY)}
INDIA = "+919876543210"


def resources(app: App, code: Code) -> dict[str, Any]:
    return template_for(app.graph, code)["Resources"]  # type: ignore[no-any-return]


def pipe_roles(app: App, code: Code) -> dict[str, dict[str, Any]]:
    """The properties of each pipe's role, by the role's logical ID."""
    rendered = resources(app, code)
    pipes = [r["Properties"] for r in rendered.values() if r["Type"] == "AWS::Pipes::Pipe"]
    roles = [pipe["RoleArn"]["Fn::GetAtt"][0] for pipe in pipes]
    return {role: rendered[role]["Properties"] for role in roles}


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    (policy,) = role["Policies"]
    return policy["PolicyDocument"]["Statement"]  # type: ignore[no-any-return]


# -- what is rendered -------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(APPS))
def test_a_pipe_app_passes_cfn_lint_and_the_sam_translator(name: str) -> None:
    app, code = APPS[name]
    template = template_for(app.graph, code)
    assert findings(_yaml.dump(template)) == []
    kinds = [r["Type"] for r in sam_transform(template)["Resources"].values()]
    assert kinds.count("AWS::Pipes::Pipe") == len(app.graph.pipes)


def test_a_stream_pipe_to_a_function_reads_with_its_filter_retries_and_dead_letter_queue() -> None:
    assert resources(registrations, REGISTRATIONS)["UsersToSMS"] == {
        "Type": "AWS::Pipes::Pipe",
        "Properties": {
            "Name": "Users-to-SMS",
            "RoleArn": {"Fn::GetAtt": ["UsersToSMSRole", "Arn"]},
            "Source": {"Fn::GetAtt": ["Users", "StreamArn"]},
            "SourceParameters": {
                "FilterCriteria": {
                    "Filters": [
                        {
                            "Pattern": '{"dynamodb":{"NewImage":{"phone":{"S":[{"prefix":"+91"}]}},'
                            '"OldImage":{"id":{"S":[{"exists":false}]}}}}'
                        }
                    ]
                },
                "DynamoDBStreamParameters": {
                    "StartingPosition": "TRIM_HORIZON",
                    "BatchSize": 10,
                    "MaximumBatchingWindowInSeconds": 0,
                    "MaximumRetryAttempts": 3,
                    "MaximumRecordAgeInSeconds": -1,
                    "ParallelizationFactor": 1,
                    "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["RegistrationsDLQ", "Arn"]}},
                },
            },
            "Target": {"Fn::GetAtt": ["RegistrationSMS", "Arn"]},
            # Synchronous, so the function's batchItemFailures are read, as locally.
            "TargetParameters": {
                "LambdaFunctionParameters": {"InvocationType": "REQUEST_RESPONSE"}
            },
        },
    }


def test_a_queue_pipe_is_filtered_and_enriched_on_its_way_to_a_queue() -> None:
    assert resources(relay.app, RELAY)["IntakeToOrders"]["Properties"] == {
        "Name": "intake-to-orders",
        "RoleArn": {"Fn::GetAtt": ["IntakeToOrdersRole", "Arn"]},
        "Source": {"Fn::GetAtt": ["RelayIntake", "Arn"]},
        "SourceParameters": {
            "FilterCriteria": {"Filters": [{"Pattern": '{"body":{"kind":["order"]}}'}]},
            # No retries or dead letter: the queue's own redrive policy applies.
            "SqsQueueParameters": {"BatchSize": 5, "MaximumBatchingWindowInSeconds": 2},
        },
        "Enrichment": {"Fn::GetAtt": ["Shape", "Arn"]},
        "Target": {"Fn::GetAtt": ["RelayOrders", "Arn"]},
    }


def test_a_stream_pipe_to_a_topic_renders_every_stream_option_and_a_dead_letter_topic() -> None:
    assert resources(relay.app, RELAY)["LedgerToEvents"]["Properties"] == {
        "Name": "ledger-to-events",
        "RoleArn": {"Fn::GetAtt": ["LedgerToEventsRole", "Arn"]},
        "Source": {"Fn::GetAtt": ["RelayLedger", "StreamArn"]},
        "SourceParameters": {
            "DynamoDBStreamParameters": {
                "StartingPosition": "TRIM_HORIZON",
                "BatchSize": 50,
                "MaximumBatchingWindowInSeconds": 0,
                "MaximumRetryAttempts": -1,  # AWS's "until the record expires", as locally
                "MaximumRecordAgeInSeconds": 3600,
                "ParallelizationFactor": 2,
                "OnPartialBatchItemFailure": "AUTOMATIC_BISECT",
                "DeadLetterConfig": {"Arn": {"Ref": "RelayLedgerFailures"}},
            }
        },
        "Target": {"Ref": "RelayLedgerEvents"},
    }


def test_a_pipe_invokes_with_its_role_so_its_functions_need_no_resource_policy() -> None:
    kinds = [r["Type"] for r in resources(relay.app, RELAY).values()]
    assert "AWS::Lambda::Permission" not in kinds


# -- the pipe's role ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(APPS))
def test_a_pipe_role_may_be_assumed_by_pipes_of_this_account_only(name: str) -> None:
    for role in pipe_roles(*APPS[name]).values():
        assert role["AssumeRolePolicyDocument"] == {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "pipes.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
                }
            ],
        }
        assert "ManagedPolicyArns" not in role


def test_the_registrations_pipe_may_read_its_stream_text_through_its_function_and_dead_letter() -> (
    None
):
    (role,) = pipe_roles(registrations, REGISTRATIONS).values()
    assert statements(role) == [
        {
            "Sid": "QueueRegistrationsDLQ",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"],
            "Resource": {"Fn::GetAtt": ["RegistrationsDLQ", "Arn"]},
        },
        {
            "Sid": "StreamUsers",
            "Effect": "Allow",
            "Action": [
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
            ],
            "Resource": {"Fn::GetAtt": ["Users", "StreamArn"]},
        },
        {
            # ListStreams is evaluated against the table's streams (see iam).
            "Sid": "StreamUsersListing",
            "Effect": "Allow",
            "Action": ["dynamodb:ListStreams"],
            "Resource": {"Fn::Sub": "${Users.Arn}/stream/*"},
        },
        {
            "Sid": "FunctionRegistrationSMS",
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": {"Fn::GetAtt": ["RegistrationSMS", "Arn"]},
        },
    ]


def test_the_relay_pipes_may_consume_invoke_send_and_publish_exactly_where_they_do() -> None:
    roles = pipe_roles(relay.app, RELAY)
    assert {
        role: [(s["Action"], s["Resource"]) for s in statements(properties)]
        for role, properties in roles.items()
    } == {
        "IntakeToOrdersRole": [
            (
                ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
                {"Fn::GetAtt": ["RelayIntake", "Arn"]},
            ),
            (["sqs:SendMessage"], {"Fn::GetAtt": ["RelayOrders", "Arn"]}),
            (["lambda:InvokeFunction"], {"Fn::GetAtt": ["Shape", "Arn"]}),
        ],
        "LedgerToEventsRole": [
            (
                ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
                {"Fn::GetAtt": ["RelayLedger", "StreamArn"]},
            ),
            (["dynamodb:ListStreams"], {"Fn::Sub": "${RelayLedger.Arn}/stream/*"}),
            (["sns:Publish"], {"Ref": "RelayLedgerEvents"}),
            (["sns:Publish"], {"Ref": "RelayLedgerFailures"}),
        ],
    }


def test_a_function_both_enriching_and_receiving_is_allowed_once() -> None:
    app = App("echo")
    inbox = app.queue("inbox")

    @app.function(name="twice")
    def twice(event: Any, context: Any) -> Any:
        return event

    app.pipe("inbox-to-twice", source=inbox, target=twice, enrichment=twice)
    (role,) = pipe_roles(app, Code("m:app")).values()
    invokes = [s for s in statements(role) if s["Action"] == ["lambda:InvokeFunction"]]
    assert invokes == [
        {
            "Sid": "FunctionTwice",
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": {"Fn::GetAtt": ["Twice", "Arn"]},
        }
    ]


# -- what is refused ----------------------------------------------------------------------------


def with_source(graph: AppGraph, **changes: Any) -> AppGraph:
    """The graph with its one pipe's source changed (what `App.pipe` never declares)."""
    (pipe,) = graph.pipes
    source = dataclasses.replace(pipe.source, **changes)
    return dataclasses.replace(graph, pipes=(dataclasses.replace(pipe, source=source),))


@pytest.mark.parametrize(
    "changes",
    [
        {"tumbling_window_in_seconds": 60},
        {"report_batch_item_failures": False},
    ],
)
def test_a_stream_option_pipes_do_not_have_fails_the_render(changes: dict[str, Any]) -> None:
    graph = with_source(registrations.graph, **changes)
    (option,) = changes
    with pytest.raises(RenderError, match=f"pipe 'Users-to-SMS': {option}=.* is not rendered"):
        template_for(graph, REGISTRATIONS)


def test_a_queue_option_pipes_do_not_have_fails_the_render() -> None:
    app = App("busy")
    jobs = app.queue("jobs")
    app.pipe("jobs-to-done", source=jobs, target=app.queue("done"))
    graph = with_source(app.graph, maximum_concurrency=5)
    with pytest.raises(RenderError, match="pipe 'jobs-to-done': maximum_concurrency=5"):
        template_for(graph, Code("m:app"))


def test_a_pipe_named_like_another_resource_is_refused() -> None:
    app = App("clash")
    jobs = app.queue("jobs")
    app.pipe("Jobs", source=jobs, target=app.queue("done"))
    with pytest.raises(RenderError, match=r"queue 'jobs' and pipe 'Jobs' both become .*'Jobs'"):
        template_for(app.graph, Code("m:app"))


def test_an_unknown_pipe_target_kind_is_a_loud_error() -> None:
    (pipe,) = registrations.graph.pipes
    odd = dataclasses.replace(pipe, target=dataclasses.replace(pipe.target, kind="bus"))  # type: ignore[arg-type]
    graph = dataclasses.replace(registrations.graph, pipes=(odd,))
    with pytest.raises(AssertionError):
        template_for(graph, REGISTRATIONS)


# -- against moto -------------------------------------------------------------------------------


@pytest.fixture
def moto_stack() -> Iterator[None]:
    with fake_aws():
        yield
    registrations.bind(None)
    relay.app.bind(None)


@pytest.mark.parametrize("name", list(APPS))
def test_each_rendered_pipe_is_created_and_described_by_the_pipes_api(
    moto_stack: None, name: str
) -> None:
    app, code = APPS[name]
    stack = Stack.deploy(sam_transform(template_for(app.graph, code)))
    described = {p["Name"]: p for p in stack.create_pipes()}
    rendered = {
        r["Properties"]["Name"]: r["Properties"]
        for r in stack.template["Resources"].values()
        if r["Type"] == "AWS::Pipes::Pipe"
    }

    assert sorted(described) == sorted(rendered) == sorted(p.name for p in app.graph.pipes)
    for name_, pipe in described.items():
        properties = rendered[name_]
        for field in ("Source", "SourceParameters", "Enrichment", "Target", "TargetParameters"):
            assert pipe.get(field) == stack.resolve_all(properties.get(field)), field
        (role, _) = properties["RoleArn"]["Fn::GetAtt"]
        assert pipe["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/{role}"
        assert pipe["Arn"] == f"arn:aws:pipes:{REGION}:{ACCOUNT}:pipe/{name_}"


def on_aws(sign_ups: list[dict[str, str]]) -> tuple[list[Any], list[tuple[str, str]]]:
    """Sign-ups through the route's UpdateItem integration (its templates played), the pipe
    played after each: what the client was answered, and the texts SNS was asked to send."""
    stack = Stack.deploy(sam_transform(template_for(registrations.graph, REGISTRATIONS)))
    stack.create_pipes()
    lam = FakeLambda(stack)
    answers = []
    for body in sign_ups:
        answers.append(write_through_the_template(stack, registrations, body))
        lam.drain()
    return answers, list(sns_backends[ACCOUNT][REGION].sms_messages.values())


SIGN_UPS = [
    {"id": "u1", "roll": "7", "name": "Asha", "phone": INDIA},
    {"id": "u2", "roll": "8", "name": "Bob", "phone": "+14155550100"},
    {"id": "u1", "roll": "7", "name": "Asha K", "phone": INDIA},  # a MODIFY: not texted
    {"id": "u3", "roll": "9", "name": "Carol", "phone": "+919800000003"},
]


def test_the_registrations_blueprint_texts_the_same_new_users_locally_and_on_aws(
    make_engine: EngineFactory, moto_stack: None
) -> None:
    engine = make_engine(registrations)
    local_answers = []
    with gateway(engine) as url:
        for body in SIGN_UPS:
            local_answers.append(httpx.post(f"{url}/users", json=body).json())
            engine.drain()
    outbox = (engine.settings.data_dir / "sms" / "outbox.jsonl").read_text().splitlines()
    local_texts = [(t["phone"], t["text"]) for t in map(json.loads, outbox)]

    answers, texts = on_aws(SIGN_UPS)

    assert answers == local_answers
    assert (
        texts
        == local_texts
        == [
            (INDIA, "Hi Asha, welcome! Your registration 7 is confirmed."),
            ("+919800000003", "Hi Carol, welcome! Your registration 9 is confirmed."),
        ]
    )


ORDERS = [
    [{"kind": "order", "item": "test kit", "test": True}],  # enriched to nothing
    [{"kind": "order", "item": "mask"}, {"kind": "refund", "item": "gown"}, "not json"],
    [{"kind": "order", "item": "gloves", "qty": 3}],
]


def body_of(message: Any) -> str:
    return message if isinstance(message, str) else json.dumps(message)


def test_a_queue_pipe_delivers_the_same_messages_locally_and_on_aws(
    make_engine: EngineFactory, moto_stack: None
) -> None:
    engine = make_engine(relay.app)
    for batch in ORDERS:
        for message in batch:
            relay.intake.send_message(body_of(message))
        engine.drain()
    local = [json.loads(body) for body in waiting(engine, "relay-orders")]

    stack = Stack.deploy(sam_transform(template_for(relay.app.graph, RELAY)))
    stack.create_pipes()
    lam = FakeLambda(stack)
    sqs = boto3.client("sqs")
    for batch in ORDERS:
        for message in batch:
            sqs.send_message(QueueUrl=stack.physical["RelayIntake"], MessageBody=body_of(message))
        lam.drain()
    delivered = [json.loads(body) for body in drained(stack.physical["RelayOrders"])]

    assert (
        delivered
        == local
        == [
            {"order": {"kind": "order", "item": "mask"}, "via": "relay"},
            {"order": {"kind": "order", "item": "gloves", "qty": 3}, "via": "relay"},
        ]
    )
    assert drained(stack.physical["RelayIntake"]) == []  # what the filter dropped is deleted
    # The enrichment saw only what the filter kept, one batch at a time.
    assert [[json.loads(r["body"]) for r in event] for _, event, _ in lam.invocations] == [
        [{"kind": "order", "item": "test kit", "test": True}],
        [{"kind": "order", "item": "mask"}],
        [{"kind": "order", "item": "gloves", "qty": 3}],
    ]


def waiting(engine: LocalEngine, queue: str) -> list[str]:
    """The bodies of the messages waiting on a local queue, oldest first."""
    rows = engine.store.query(
        "SELECT m.body FROM messages m JOIN queues q ON q.id = m.queue_id "
        "WHERE q.name = ? ORDER BY m.seq",
        (queue,),
    )
    return [row["body"] for row in rows]


def drained(url: str) -> list[str]:
    """Every message body waiting on a queue, oldest first (moto keeps a standard queue's
    order), received and deleted."""
    sqs = boto3.client("sqs")
    bodies: list[str] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in batch:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies
