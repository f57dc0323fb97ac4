"""IoT Core on AWS: a publishing function may publish to exactly the declared topics (one ARN per
name or filter), the shim publishes through the Region's default data endpoint or the one the
deployment names, and the iot-router blueprint routes the same messages to the same topics,
and the same unroutable ones to its dead-letter queue, under the local engine and under the
shim against moto (SQS, DynamoDB, the IoT data plane)."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

import aws_edge_app as edge
import boto3
import pytest
from aws_support import ACCOUNT, REGION, FakeLambda, Stack, fake_aws, sam_transform
from moto.iotdata.models import iotdata_backends

from conftest import EngineFactory
from sluiceway import App, ValidationError
from sluiceway.aws import Boto3Backend, Code, RenderError, ResourceNames, template_for
from sluiceway.blueprints import iot_router
from sluiceway.core.render import roles
from sluiceway.iot.render import resource_patterns
from sluiceway.iot.spec import IotSpec
from sluiceway.local import Admin

ROUTER = Code("sluiceway.blueprints.iot_router:app")
TOPIC = "arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:topic/"

SEED_MESSAGE = {
    "ClientID": "DemoClient",
    "QRCode": "vwWT)Np=+6-vGzTiopED",
    "Time": "20231201T231010",
    "STATE": "ACTIVE",
    "LOCATION": "LT100LN200",
    "TEST": "demo message 26-09 - message 1",
}
CLIENTS = [
    {"ClientID": "DemoClient", "Topic": "MyTopic"},
    {"ClientID": "Truck7", "Topic": "devices/truck7/inbox"},
    {"ClientID": "Rogue", "Topic": "admin/reboot"},
]


def policy_of(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    (policy,) = template["Resources"][role]["Properties"]["Policies"]
    return policy["PolicyDocument"]["Statement"]  # type: ignore[no-any-return]


# -- the policy -----------------------------------------------------------------------------


def test_the_router_may_publish_to_my_topic_and_under_devices_and_nowhere_else() -> None:
    template = template_for(iot_router.app.graph, ROUTER)
    (iot,) = [s for s in policy_of(template, "DeviceRouterRole") if s["Sid"] == "IotTopics"]
    assert iot == {
        "Sid": "IotTopics",
        "Effect": "Allow",
        "Action": ["iot:Publish"],
        "Resource": [
            {"Fn::Sub": TOPIC + "MyTopic"},
            {"Fn::Sub": TOPIC + "devices"},
            {"Fn::Sub": TOPIC + "devices/*"},
        ],
    }


@pytest.mark.parametrize(
    ("topics", "patterns"),
    [
        (["MyTopic"], ["MyTopic"]),
        (["devices/+/inbox"], ["devices/*/inbox"]),
        (["fleet/#"], ["fleet", "fleet/*"]),
        (["#"], ["*"]),
        (["+"], ["*"]),
        (["a/+/#"], ["a/*", "a/*/*"]),
        (["x/#", "x"], ["x", "x/*"]),
        (["odd*?$name"], ["odd${*}${?}${$}name"]),
    ],
    ids=[
        "name",
        "plus",
        "hash-and-parent",
        "everything",
        "one-level",
        "plus-hash",
        "dedup",
        "iam-literals",
    ],
)
def test_each_declared_name_or_filter_becomes_the_tightest_iam_pattern(
    topics: list[str], patterns: list[str]
) -> None:
    assert resource_patterns(IotSpec(tuple(topics))) == patterns


def test_characters_iam_and_fn_sub_read_as_syntax_match_only_themselves() -> None:
    template = template_for(edge.app.graph, Code("m:app"))
    (iot,) = [s for s in policy_of(template, "RelayRole") if s["Sid"] == "IotTopics"]
    assert iot["Resource"][-1] == {"Fn::Sub": TOPIC + "odd${!*}${!?}${!$}name"}
    # What CloudFormation hands IAM: IAM's own escapes for a literal *, ? and $.
    resolved = Stack({"Resources": {}}).resolve(iot["Resource"][-1])
    assert resolved == f"arn:aws:iot:{REGION}:{ACCOUNT}:topic/odd${{*}}${{?}}${{$}}name"


def test_a_function_that_does_not_publish_gets_no_iot_statement() -> None:
    app = App("quiet")
    app.iot(topics=["MyTopic"])
    jobs = app.queue("jobs")

    @app.on_queue(jobs, name="worker")
    def work(event: Any, context: Any) -> None: ...

    template = template_for(app.graph, Code("m:app"))
    assert [s["Sid"] for s in policy_of(template, "WorkerRole")] == ["QueueJobs"]
    assert (
        "SLUICEWAY_IOT_ENDPOINT"
        not in (template["Resources"]["Worker"]["Properties"]["Environment"]["Variables"])
    )


def test_iot_topics_have_no_single_arn() -> None:
    with pytest.raises(RenderError, match="no single ARN"):
        roles.arn("iot", "*")


# -- the endpoint ---------------------------------------------------------------------------


def test_the_endpoint_is_a_parameter_each_publishing_function_reads() -> None:
    template = template_for(iot_router.app.graph, ROUTER)
    parameter = template["Parameters"]["IotDataEndpoint"]
    assert (parameter["Type"], parameter["Default"]) == ("String", "")
    variables = template["Resources"]["DeviceRouter"]["Properties"]["Environment"]["Variables"]
    assert variables["SLUICEWAY_IOT_ENDPOINT"] == {"Ref": "IotDataEndpoint"}


def test_without_an_endpoint_the_client_is_the_region_s_default_data_ats_one() -> None:
    with fake_aws():
        client = Boto3Backend(ResourceNames()).client("iot-data")
    assert client.meta.endpoint_url == f"https://data-ats.iot.{REGION}.amazonaws.com"


def test_a_named_endpoint_is_where_the_client_publishes() -> None:
    host = f"a1b2c3d4e5f6g7-ats.iot.{REGION}.amazonaws.com"
    with fake_aws():
        env = {"SLUICEWAY_IOT_ENDPOINT": host}
        names = ResourceNames.from_env(iot_router.app.graph, env)
        client = Boto3Backend(names).client("iot-data")
    assert client.meta.endpoint_url == f"https://{host}"


# -- the shim against moto ------------------------------------------------------------------


def published() -> list[tuple[str, str]]:
    """What moto's IoT data plane was asked to publish, in order."""
    return [
        (topic, payload.decode())
        for topic, payload in iotdata_backends[ACCOUNT][REGION].published_payloads
    ]


def test_the_shim_publishes_through_the_default_endpoint_only_where_the_allowlist_says() -> None:
    with fake_aws():
        stack = Stack.deploy(sam_transform(template_for(edge.app.graph, Code("aws_edge_app:app"))))
        lam = FakeLambda(stack)
        result = lam.invoke("Relay", {"Records": [{"body": '{"n": 1}'}]})
        sent = published()
    edge.app.bind(None)
    assert result is None
    assert sent == [("MyTopic", '{"n": 1}')]


# -- the iot-router blueprint, locally and on AWS --------------------------------------------


@dataclass(frozen=True)
class Outcome:
    published: list[tuple[str, str]]  # (topic, payload), sorted
    dead_letters: list[str]  # bodies, sorted
    waiting: int  # messages left on DeviceMessages


SCENARIOS: dict[str, list[dict[str, Any]]] = {
    "the seed's message": [SEED_MESSAGE],
    "a device's own topic": [{**SEED_MESSAGE, "ClientID": "Truck7"}],
    "unroutable messages beside a routable one": [
        {**SEED_MESSAGE, "ClientID": "Nobody"},
        {"QRCode": "no client id"},
        {**SEED_MESSAGE, "ClientID": "Rogue"},
        SEED_MESSAGE,
    ],
}


def on_the_local_engine(make_engine: EngineFactory, messages: list[dict[str, Any]]) -> Outcome:
    engine = make_engine(iot_router.app)
    with Admin(engine.settings.data_dir, clock=engine.clock) as admin:
        for client in CLIENTS:
            admin.put_item("clients", client)
        for message in messages:
            admin.send("/messages", json.dumps(message).encode())
    engine.drain(advance_time=True)
    with Admin(engine.settings.data_dir) as admin:
        sent = [(d.destination, d.text or "") for d in admin.deliveries() if d.protocol == "mqtt"]
        waiting = {s.name: s.visible + s.in_flight for s in admin.queue_stats()}
    rows = engine.store.query(
        "SELECT m.body FROM messages m JOIN queues q ON q.id = m.queue_id WHERE q.name = ?",
        ["DeviceMessages-DLQ"],
    )
    engine.close()
    return Outcome(sorted(sent), sorted(r["body"] for r in rows), waiting["DeviceMessages"])


def on_aws(messages: list[dict[str, Any]]) -> Outcome:
    with fake_aws():
        template = copy.deepcopy(sam_transform(template_for(iot_router.app.graph, ROUTER)))
        # A failed message comes back at once instead of after 30 s (no test sleeps); its
        # receives are still counted, so the redrive policy moves it after the third.
        template["Resources"]["DeviceMessages"]["Properties"]["VisibilityTimeout"] = 0
        stack = Stack.deploy(template)
        lam = FakeLambda(stack)
        table = stack.physical["Clients"]
        for client in CLIENTS:
            boto3.client("dynamodb").put_item(
                TableName=table, Item={k: {"S": v} for k, v in client.items()}
            )
        sqs = boto3.client("sqs")
        for message in messages:  # what the route's SQS integration sends
            sqs.send_message(
                QueueUrl=stack.physical["DeviceMessages"], MessageBody=json.dumps(message)
            )
        lam.drain()
        sent = published()
        dead = drain_bodies(stack.physical["DeviceMessagesDLQ"])
        attributes = sqs.get_queue_attributes(
            QueueUrl=stack.physical["DeviceMessages"], AttributeNames=["All"]
        )["Attributes"]
    iot_router.app.bind(None)
    waiting = int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )
    return Outcome(sorted(sent), sorted(dead), waiting)


def drain_bodies(queue_url: str) -> list[str]:
    sqs = boto3.client("sqs")
    bodies: list[str] = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        for message in batch:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_iot_router_has_the_same_outcome_locally_and_on_aws(
    make_engine: EngineFactory, scenario: str
) -> None:
    messages = SCENARIOS[scenario]
    local = on_the_local_engine(make_engine, messages)
    assert on_aws(messages) == local
    assert local.published


def test_on_aws_the_seed_s_message_reaches_my_topic_and_the_unroutable_wait_in_the_dlq(
    capsys: pytest.CaptureFixture[str],
) -> None:
    outcome = on_aws(SCENARIOS["unroutable messages beside a routable one"])
    assert outcome.published == [("MyTopic", json.dumps(SEED_MESSAGE))]
    assert len(outcome.dead_letters) == 3
    assert outcome.waiting == 0
    reasons = [line for line in capsys.readouterr().out.splitlines() if "not routed" in line]
    assert len(reasons) == 3 * 3  # each of the three, on each of its three receives
    assert any("'Nobody' is not in the clients table" in r for r in reasons)
    assert any("matches none of the declared topics" in r for r in reasons)


def test_a_topic_outside_the_allowlist_is_refused_in_lambda_before_reaching_iot_core() -> None:
    with fake_aws():
        stack = Stack.deploy(sam_transform(template_for(iot_router.app.graph, ROUTER)))
        FakeLambda(stack).invoke("DeviceRouter", {"Records": []})  # binds the app to boto3
        with pytest.raises(ValidationError, match="matches none of the declared topics"):
            iot_router.iot.publish("admin/reboot", b"{}")
        sent = published()
    iot_router.app.bind(None)
    assert sent == []
