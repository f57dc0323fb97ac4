"""Every event the engine hands a function, checked against AWS Lambda Powertools: its parser
models (pydantic models of AWS's events) validate it, and every property of its data classes
reads without error, as a handler written for Lambda would read it."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from functools import cached_property
from typing import Any

import pytest
from aws_lambda_powertools.utilities import data_classes
from aws_lambda_powertools.utilities.data_classes.common import DictWrapper
from aws_lambda_powertools.utilities.parser import models

from sluiceway import App
from sluiceway.testing import RunningApp
from sluiceway.testing.plugin import Launcher


def every_kind() -> App:
    """One function per event source: a queue, a table's stream, a topic, a pipe, a
    schedule, a REST route behind a Cognito authorizer and an HTTP API route."""
    app = App("events")
    jobs = app.queue("jobs")
    items = app.table("items", partition_key="id", stream="NEW_AND_OLD_IMAGES")
    news = app.topic("news")
    pool = app.user_pool("people")
    pool.resource_server("api", scopes={"read": "Read"})

    def noop(event: Any, context: Any) -> None:
        return None

    def answer(event: Any, context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": "{}"}

    app.on_queue(jobs, name="on-queue")(noop)
    app.on_stream(items, name="on-stream")(noop)
    app.on_topic(news, name="on-topic")(noop)
    app.on_schedule("rate(1 minute)", name="on-schedule")(noop)
    app.on_http("POST", "/rest/{id}", auth=pool.requires("api/read"), name="on-rest")(answer)
    app.on_http("GET", "/v2/{id}", payload_format_version="2.0", name="on-http-api")(answer)
    app.function(name="pipe-target")(noop)
    app.pipe("items-pipe", source=items, target="pipe-target", starting_position="TRIM_HORIZON")
    return app


@pytest.fixture
def events(sluiceway: Launcher) -> dict[str, Any]:
    """The event each function got, from one request or message of each kind."""
    app = sluiceway.run(every_kind())
    token = app.token("api/read")
    answer = app.http.post(
        "/rest/i-1?x=1",
        json={"a": 1},
        headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": "203.0.113.7"},
    )
    assert answer.status_code == 200, answer.text
    assert app.http.get("/v2/i-1?q=a&q=b", headers={"Cookie": "c=1"}).status_code == 200
    sqs, dynamodb, sns = app.client("sqs"), app.client("dynamodb"), app.client("sns")
    sqs.send_message(
        QueueUrl=sqs.get_queue_url(QueueName="jobs")["QueueUrl"],
        MessageBody='{"job": 1}',
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "x"}},
    )
    dynamodb.put_item(TableName="items", Item={"id": {"S": "i-1"}, "n": {"N": "1"}})
    dynamodb.put_item(TableName="items", Item={"id": {"S": "i-1"}, "n": {"N": "2"}})
    topic = sns.list_topics()["Topics"][0]["TopicArn"]
    sns.publish(TopicArn=topic, Message='{"news": 1}', Subject="s")
    app.advance(60)
    return first_events(app)


def first_events(app: RunningApp) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for invocation in app.invocations:
        assert invocation.ok, invocation
        found.setdefault(invocation.function, invocation.event)
    return found


MODELS = {
    "on-queue": models.SqsModel,
    "on-stream": models.DynamoDBStreamModel,
    "on-topic": models.SnsModel,
    "on-schedule": models.EventBridgeModel,
    "on-rest": models.APIGatewayProxyEventModel,
    "on-http-api": models.APIGatewayProxyEventV2Model,
}
DATA_CLASSES = {
    "on-queue": data_classes.SQSEvent,
    "on-stream": data_classes.DynamoDBStreamEvent,
    "on-topic": data_classes.SNSEvent,
    "on-schedule": data_classes.EventBridgeEvent,
    "on-rest": data_classes.APIGatewayProxyEvent,
    "on-http-api": data_classes.APIGatewayProxyEventV2,
}


@pytest.mark.parametrize("function", sorted(MODELS))
def test_powertools_parser_models_validate_each_event(
    events: dict[str, Any], function: str
) -> None:
    MODELS[function].model_validate(events[function])


def test_a_pipes_records_are_the_streams_records(events: dict[str, Any]) -> None:
    records = events["pipe-target"]
    assert len(records) == 2
    for record in records:
        models.DynamoDBStreamRecordModel.model_validate(record)


# Properties a data class shares with another kind of event: a REST API's event has no
# `version` (only an HTTP API's events, of both payload formats, do); an SQS record's
# `decoded_nested_*` read its body as an S3 or SNS event that sent it there.
ELSEWHERE = {
    ("APIGatewayProxyEvent", "version"),
    ("SQSRecord", "decoded_nested_s3_event"),
    ("SQSRecord", "decoded_nested_sns_event"),
}


def properties(wrapper: DictWrapper, where: str) -> Iterator[tuple[str, Any]]:
    """Every property of a Powertools data class, read, and those of what it holds."""
    for name, member in inspect.getmembers(type(wrapper)):
        if name.startswith("_") or not isinstance(member, property | cached_property):
            continue
        if (type(wrapper).__name__, name) in ELSEWHERE:
            continue
        value = getattr(wrapper, name)
        yield f"{where}.{name}", value
        items = list(value) if isinstance(value, Iterator | list | tuple) else [value]
        for n, item in enumerate(items):
            if isinstance(item, DictWrapper):
                yield from properties(item, f"{where}.{name}[{n}]")


@pytest.mark.parametrize("function", sorted(DATA_CLASSES))
def test_every_property_of_powertools_data_classes_reads(
    events: dict[str, Any], function: str
) -> None:
    read = dict(properties(DATA_CLASSES[function](events[function]), function))
    assert read


def test_the_rest_event_has_what_api_gateway_adds(events: dict[str, Any]) -> None:
    event = data_classes.APIGatewayProxyEvent(events["on-rest"])
    context = event.request_context
    assert context.domain_name == "sluiceway.test"
    assert context.domain_prefix == "sluiceway"
    assert len(context.extended_request_id or "") == 16
    assert context.api_id is not None
    assert len(context.api_id) == 10
    assert context.api_id.isalnum()
    assert "principalOrgId" in events["on-rest"]["requestContext"]["identity"]
    assert event.headers["X-Forwarded-For"] == "203.0.113.7, 127.0.0.1"
    assert event.headers["X-Forwarded-Proto"] == "http"
    assert event.headers["X-Forwarded-Port"] == "80"
    assert event.headers["X-Amzn-Trace-Id"].startswith("Root=1-")
    claims = context.authorizer.claims
    assert claims["scope"] == "api/read"
    assert claims["token_use"] == "access"
    assert isinstance(claims["exp"], str)


def test_the_http_api_event_has_what_api_gateway_adds(events: dict[str, Any]) -> None:
    event = data_classes.APIGatewayProxyEventV2(events["on-http-api"])
    assert event.request_context.domain_name == "sluiceway.test"
    assert event.headers["x-forwarded-for"] == "127.0.0.1"
    assert event.headers["x-amzn-trace-id"].startswith("Root=1-")
    assert event.cookies == ["c=1"]
    assert event.query_string_parameters == {"q": "a,b"}
    assert len(event.request_context.api_id) == 10
