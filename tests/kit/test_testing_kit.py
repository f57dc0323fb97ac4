"""`sluiceway.testing`, driven as a user's test drives it: the blueprints, an app of the
user's own, a SAM template with boto3 handlers, each through the `sluiceway` fixture."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from sluiceway import App
from sluiceway.iot.spec import InvokeFunction, PutItem, Republish, SendToQueue
from sluiceway.testing import InjectedFailure, RunningApp
from sluiceway.testing.plugin import Launcher

APPS = Path(__file__).parent.parent / "apps"
TEMPLATES = Path(__file__).parent.parent / "data" / "templates"
ORDER = {"item": "latex gloves", "customerID": "12345"}
USER = {"id": "u1", "roll": "7", "name": "Asha", "phone": "+919876543210"}


def device_message(client: str = "DemoClient") -> dict[str, str]:
    return {"ClientID": client, "QRCode": "vwWT)Np=+6-vGzTiopED", "STATE": "ACTIVE"}


def router(sluiceway: Launcher) -> RunningApp:
    """The iot-router blueprint with its seed client (`DemoClient` -> `MyTopic`)."""
    app = sluiceway.run("iot-router")
    app.client("dynamodb").put_item(
        TableName="clients", Item={"ClientID": {"S": "DemoClient"}, "Topic": {"S": "MyTopic"}}
    )
    return app


# -- what it runs ------------------------------------------------------------------------


def test_an_app_object_runs_with_its_handlers_in_this_process(sluiceway: Launcher) -> None:
    app = App("echo")
    inbox = app.queue("inbox")
    seen: list[str] = []

    @app.on_queue(inbox)
    def take(event: dict[str, Any], context: Any) -> None:
        seen.extend(record["body"] for record in event["Records"])

    running = sluiceway.run(app)
    inbox.send_message("hello")  # a handle, bound to the app under test
    running.drain()
    assert seen == ["hello"]
    (invocation,) = running.invocations
    assert invocation.function == "take"
    assert invocation.ok
    assert invocation.event["Records"][0]["body"] == "hello"


def test_a_module_attr_and_a_path_load_as_sluiceway_run_loads_them(
    sluiceway: Launcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(APPS))
    by_name = sluiceway.run("lambda_style_app:app")
    assert by_name.app.name == "lambda-style"
    by_name.close()
    by_path = sluiceway.run(APPS / "lambda_style_app.py")
    assert by_path.app.name == "lambda-style"


def test_an_unknown_target_is_refused_clearly(sluiceway: Launcher) -> None:
    with pytest.raises(Exception, match="no-such-app"):
        sluiceway.run("no-such-app")


def test_a_template_runs_with_its_outputs_and_boto3_handlers(sluiceway: Launcher) -> None:
    app = sluiceway.run(TEMPLATES / "apigw-lambda-dynamodb" / "template.yaml")
    endpoint = app.outputs["EndpointUrl"]
    assert endpoint == "http://sluiceway.test/Prod"
    answer = app.http.post(endpoint)  # the README's test of the pattern: no body
    assert (answer.status_code, answer.text) == (200, "Successfully inserted data!")
    assert app.items("WeatherData") == [{"id": "1", "Weather": "Sunny"}]
    (invocation,) = app.invocations
    assert invocation.ok
    event = invocation.event
    assert (event["httpMethod"], event["path"], event["resource"]) == ("POST", "/", "/")
    assert (event["requestContext"]["stage"], event["requestContext"]["path"]) == ("Prod", "/Prod/")


def test_handlers_boto3_clients_made_at_import_reach_the_app(
    sluiceway: Launcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    # lambda_style_handlers makes `boto3.client("sqs")` as it is imported, with nothing set
    # but what the kit sets: no region, endpoint or credentials of the test's own.
    monkeypatch.delitem(sys.modules, "lambda_style_handlers", raising=False)
    monkeypatch.delitem(sys.modules, "lambda_style_app", raising=False)
    monkeypatch.syspath_prepend(str(APPS))
    app = sluiceway.run("lambda_style_app:app")
    sqs = app.client("sqs")
    inbox = sqs.get_queue_url(QueueName="inbox")["QueueUrl"]
    sqs.send_message(QueueUrl=inbox, MessageBody=json.dumps({"to": "outbox", "text": "hi"}))
    app.drain()
    assert [m.body for m in app.messages("outbox")] == ["hi"]
    # The module's client outlives this app: the next one answers it too (same admin keys).
    app.close()
    again = sluiceway.run("lambda_style_app:app")
    again.client("sqs").send_message(
        QueueUrl=inbox, MessageBody=json.dumps({"to": "outbox", "text": "again"})
    )
    again.drain()
    assert [m.body for m in again.messages("outbox")] == ["again"]


def test_the_aws_environment_is_the_apps_only_while_it_runs(
    sluiceway: Launcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    app = sluiceway.run("orders")
    import os

    assert "AWS_PROFILE" not in os.environ
    assert os.environ["AWS_ENDPOINT_URL"] == app.url
    # A client made here, even for AWS's own endpoint, reaches the app (never AWS).
    sqs = boto3.client("sqs", endpoint_url="https://sqs.us-east-1.amazonaws.com")
    assert "POC-Queue" in sqs.get_queue_url(QueueName="POC-Queue")["QueueUrl"]
    app.close()
    assert os.environ["AWS_PROFILE"] == "production"
    assert "AWS_ENDPOINT_URL" not in os.environ


# -- the HTTP client: the same gateway ---------------------------------------------------


def test_the_client_meets_the_routes_models(sluiceway: Launcher) -> None:
    app = sluiceway.run("registrations")
    refused = app.http.post("/users", json={**USER, "phone": "98765"})
    assert refused.status_code == 400
    app.drain()
    assert app.items("Users") == []
    assert app.http.post("/users", json=USER).status_code == 200
    assert app.items("Users") == [USER]


def test_a_token_for_the_pools_scopes_and_the_authorizer(sluiceway: Launcher) -> None:
    app = router(sluiceway)
    body = device_message()
    assert app.http.post("/messages", json=body).status_code == 401
    read_only = {"Authorization": f"Bearer {app.token('devices/read')}"}
    assert app.http.post("/messages", json=body, headers=read_only).status_code == 403
    sender = {"Authorization": f"Bearer {app.token('devices/send')}"}
    assert app.http.post("/messages", json=body, headers=sender).status_code == 200
    app.drain()
    (published,) = app.mqtt
    assert (published.topic, published.qos) == ("MyTopic", 1)
    assert published.json() == body


def test_a_token_for_a_scope_the_pool_lacks_is_refused(sluiceway: Launcher) -> None:
    app = sluiceway.run("iot-router")
    with pytest.raises(Exception, match="defines no scope devices/admin"):
        app.token("devices/admin")


def test_the_client_meets_the_web_acl(sluiceway: Launcher) -> None:
    app = router(sluiceway)
    sender = {"Authorization": f"Bearer {app.token('devices/send')}"}
    attack = {**device_message(), "QRCode": "1' OR '1'='1' --"}
    answer = app.http.post("/messages", json=attack, headers=sender)
    assert answer.status_code == 403
    app.drain()
    assert app.mqtt == []
    assert app.invocations == []


def test_serve_puts_the_app_on_a_real_port(sluiceway: Launcher) -> None:
    app = sluiceway.run("orders", serve=True)
    assert app.url.startswith("http://127.0.0.1:")
    assert httpx.post(f"{app.url}/orders", json=ORDER).status_code == 200
    app.drain()
    assert len(app.emails) == 1


# -- what went out -----------------------------------------------------------------------


def test_emails_are_parsed_messages(sluiceway: Launcher) -> None:
    app = sluiceway.run("orders", params={"notify_email": "me@shop.test"})
    answer = app.http.post("/orders", json=ORDER, headers={"Idempotency-Key": "order-7"})
    assert answer.status_code == 200
    app.drain()
    (mail,) = app.emails
    assert mail["To"] == "me@shop.test"
    assert mail["Subject"] == "New order order-7"
    assert "item: latex gloves" in mail.get_content()
    (delivery,) = app.deliveries()
    assert (delivery.protocol, delivery.destination, delivery.status) == (
        "email",
        "me@shop.test",
        "delivered",
    )


def test_without_auto_confirm_the_first_email_asks_for_confirmation(sluiceway: Launcher) -> None:
    app = sluiceway.run("orders", auto_confirm=False)
    app.drain()
    (request,) = app.emails
    assert request["Subject"] == "AWS Notification - Subscription Confirmation"
    link = next(
        line for line in request.get_content().splitlines() if "/sns/confirm?" in line
    ).strip()
    assert link.startswith(app.url)
    assert "Subscription confirmed!" in app.http.get(link).text
    app.http.post("/orders", json=ORDER)
    app.drain()
    assert len(app.emails) == 2


def test_texts_are_what_the_sms_provider_got(sluiceway: Launcher) -> None:
    app = sluiceway.run("registrations")
    app.http.post("/users", json=USER)
    app.http.post("/users", json={**USER, "id": "u2", "phone": "+14155550100"})  # filtered out
    app.drain()
    (text,) = app.texts
    assert text.phone == "+919876543210"
    assert text.text == "Hi Asha, welcome! Your registration 7 is confirmed."
    assert [i.function for i in app.invocations] == ["Registration-SMS"]


def test_an_sms_webhook_is_called_without_a_server(sluiceway: Launcher) -> None:
    app = sluiceway.run("registrations", sms="https://sms.example/hook")
    app.http.post("/users", json=USER)
    app.drain()
    assert app.texts == []
    (call,) = app.webhooks
    assert (call.method, call.url) == ("POST", "https://sms.example/hook")
    assert call.json()["phone"] == "+919876543210"
    assert call.json()["text"].startswith("Hi Asha")
    assert [d.status for d in app.deliveries()] == ["delivered"]


def test_invocations_keep_their_outcome(sluiceway: Launcher) -> None:
    # The route refuses a body that is not an object; SQS's API takes any.
    app = sluiceway.run("orders")
    sqs = app.client("sqs")
    queue = sqs.get_queue_url(QueueName="POC-Queue")["QueueUrl"]
    sent = sqs.send_message(QueueUrl=queue, MessageBody="[1, 2]")["MessageId"]
    app.drain()
    (stored,) = app.invocations
    assert stored.function == "POC-Lambda-1"
    assert stored.ok
    assert stored.result == {"batchItemFailures": [{"itemIdentifier": sent}]}
    assert stored.event["Records"][0]["body"] == "[1, 2]"


# -- time ----------------------------------------------------------------------------------


def test_advance_crosses_a_visibility_timeout(sluiceway: Launcher) -> None:
    app = sluiceway.run("orders")
    app.faults.fail("POC-Lambda-1", times=1)
    app.http.post("/orders", json=ORDER)
    app.drain()
    assert app.items("orders") == []
    assert app.emails == []
    (waiting,) = app.messages("POC-Queue")
    assert waiting.state == "in flight"
    app.advance(29)  # POC-Queue's visibility timeout is 30 s
    assert len(app.invocations) == 1
    app.advance(1)
    assert [i.ok for i in app.invocations][:2] == [False, True]
    (order,) = app.items("orders")
    assert json.loads(order["order"]) == ORDER
    assert len(app.emails) == 1
    assert app.messages("POC-Queue") == []


def test_advance_runs_everything_due_on_the_way(sluiceway: Launcher) -> None:
    # Five failing receives, 30 s apart: one advance of 150 s sees each of them in turn.
    app = sluiceway.run("orders")
    app.faults.fail("POC-Lambda-1", times=5)
    app.http.post("/orders", json=ORDER)
    app.advance(150)
    assert [i.ok for i in app.invocations] == [False] * 5
    (dead,) = app.dead_letters()
    assert json.loads(dead.body) == ORDER
    assert dead.receive_count == 5
    assert app.dead_letters("POC-DLQ") == [dead]


def test_advance_fires_schedules_at_each_slot(sluiceway: Launcher) -> None:
    app = App("ticker")
    ticks: list[str] = []

    @app.on_schedule("rate(5 minutes)")
    def tick(event: dict[str, Any], context: Any) -> None:
        ticks.append(event["time"])

    running = sluiceway.run(app)
    running.advance(30 * 60)
    assert len(ticks) == 6
    assert len(set(ticks)) == 6


def test_advance_lets_a_delayed_message_through_when_it_is_due(sluiceway: Launcher) -> None:
    app = App("delays")
    inbox = app.queue("inbox", delay_seconds=60)
    seen: list[str] = []

    @app.on_queue(inbox)
    def take(event: dict[str, Any], context: Any) -> None:
        seen.extend(record["body"] for record in event["Records"])

    running = sluiceway.run(app)
    inbox.send_message("later")
    running.drain()
    running.advance(59)
    assert seen == []
    running.advance(1)
    assert seen == ["later"]


def test_advance_expires_items_past_their_ttl(sluiceway: Launcher) -> None:
    app = App("sessions")
    sessions = app.table("sessions", partition_key="id", ttl_attribute="expires")
    running = sluiceway.run(app)
    now = int(running.clock.now())
    sessions.put_item({"id": "s1", "expires": now + 600})
    running.advance(300)
    assert len(running.items("sessions")) == 1
    running.advance(600)
    assert running.items("sessions") == []


def test_time_does_not_go_backwards(sluiceway: Launcher) -> None:
    app = sluiceway.run("orders")
    with pytest.raises(ValueError, match="backwards"):
        app.advance(-1)


# -- faults ----------------------------------------------------------------------------------


def test_smtp_down_delays_email_and_it_goes_out_once_back(sluiceway: Launcher) -> None:
    app = sluiceway.run("orders")
    app.faults.down("smtp")
    app.http.post("/orders", json=ORDER)
    app.drain()
    assert app.emails == []
    (waiting,) = app.deliveries()
    assert waiting.status == "pending"
    assert "unreachable (switched off by the test)" in (waiting.last_error or "")
    app.faults.up("smtp")
    app.drain()
    assert app.emails == []  # its retry is not due yet
    app.advance(120)
    assert len(app.emails) == 1
    assert [d.status for d in app.deliveries()] == ["delivered"]


def test_mqtt_down_as_a_context(sluiceway: Launcher) -> None:
    app = router(sluiceway)
    sender = {"Authorization": f"Bearer {app.token('devices/send')}"}
    with app.faults.down("mqtt"):
        app.http.post("/messages", json=device_message(), headers=sender)
        app.advance(60)
        assert app.mqtt == []
        assert [d.status for d in app.deliveries()] == ["pending"]
    app.advance(120)
    assert [m.topic for m in app.mqtt] == ["MyTopic"]
    assert [d.status for d in app.deliveries()] == ["delivered"]


def test_a_webhook_that_answers_500_is_retried(sluiceway: Launcher) -> None:
    app = sluiceway.run("registrations", sms="https://sms.example/hook")
    app.faults.webhook_answers(500)
    app.http.post("/users", json=USER)
    app.drain()
    assert [d.status for d in app.deliveries()] == ["pending"]
    app.faults.webhook_answers(200)
    app.advance(120)
    assert len(app.webhooks) == 2  # the refused call, then the one that got through
    assert [d.status for d in app.deliveries()] == ["delivered"]


def test_a_function_fails_with_the_error_given(sluiceway: Launcher) -> None:
    app = sluiceway.run("orders")
    app.faults.fail("POC-Lambda-1", error=TimeoutError("database unreachable"))
    app.http.post("/orders", json=ORDER)
    app.drain()
    (failed,) = app.invocations
    assert isinstance(failed.error, TimeoutError)
    app.faults.fail("POC-Lambda-1", times=2, error="boom")
    app.advance(30)
    assert isinstance(app.invocations[-1].error, InjectedFailure)
    assert str(app.invocations[-1].error) == "boom"


def test_fault_switches_refuse_what_is_not_there(sluiceway: Launcher) -> None:
    app = sluiceway.run("orders")
    with pytest.raises(ValueError, match="no function 'POC-Lambda-9'"):
        app.faults.fail("POC-Lambda-9")
    with pytest.raises(ValueError, match="smtp, sms, webhook, mqtt"):
        app.faults.down("ftp")
    with pytest.raises(ValueError, match="times is 1 or more"):
        app.faults.fail("POC-Lambda-1", times=0)


def test_topic_rules_see_what_devices_and_the_app_publish(sluiceway: Launcher) -> None:
    app = App("sensors")
    readings = app.table("readings", partition_key="device")
    seen: list[dict[str, Any]] = []

    @app.function()
    def record(event: dict[str, Any], context: Any) -> None:
        seen.append(event)

    app.topic_rule(
        "hot",
        "SELECT *, topic(2) AS device FROM 'sensors/+' WHERE temperature > 30",
        [InvokeFunction("record"), PutItem(readings.name), Republish("alerts/${topic(2)}")],
    )
    running = sluiceway.run(app)
    running.publish_mqtt("sensors/dev-1", {"temperature": 20})
    running.publish_mqtt("sensors/dev-2", {"temperature": 31})
    running.drain()
    assert seen == [{"temperature": 31, "device": "dev-2"}]
    assert running.items("readings") == [{"temperature": 31, "device": "dev-2"}]
    (alert,) = running.mqtt  # the rule's Republish: the app's own message
    assert alert.topic == "alerts/dev-2"
    assert alert.json() == {"temperature": 31, "device": "dev-2"}


def test_publish_mqtt_needs_an_app_that_reads_mqtt(sluiceway: Launcher) -> None:
    app = sluiceway.run("orders")
    with pytest.raises(ValueError, match="no topic rules"):
        app.publish_mqtt("sensors/dev-1", {"temperature": 20})


def test_process_isolation_serves_on_a_port_for_the_environments(sluiceway: Launcher) -> None:
    # Each function in execution environments of its own, as `sluiceway run` runs them;
    # their boto3 calls reach the app over HTTP, as the function (its role's grants).
    app = sluiceway.run(TEMPLATES / "apigw-lambda-dynamodb" / "template.yaml", isolation="process")
    assert app.url.startswith("http://127.0.0.1:")
    assert app.outputs["EndpointUrl"] == f"{app.url}/Prod"
    answer = app.http.post(app.outputs["EndpointUrl"])
    assert (answer.status_code, answer.text) == (200, "Successfully inserted data!")
    assert app.items("WeatherData") == [{"id": "1", "Weather": "Sunny"}]
    (invocation,) = app.invocations
    assert invocation.result == {"statusCode": 200, "body": "Successfully inserted data!"}


def test_handlers_of_different_folders_are_different_modules_in_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two templates' app.py, and a test's own module named app: three different modules.
    from types import ModuleType

    from sluiceway.awslambda.code import CodeHandler, CodeSource

    for name in ("one", "two"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "helpers.py").write_text(f"WHO = {name!r}\n")
        (folder / "app.py").write_text(
            "import helpers\n\ndef lambda_handler(event, context):\n    return helpers.WHO\n"
        )
    own = ModuleType("app")
    monkeypatch.setitem(sys.modules, "app", own)
    one = CodeHandler(CodeSource(str(tmp_path / "one"), "app.lambda_handler"))
    two = CodeHandler(CodeSource(str(tmp_path / "two"), "app.lambda_handler"))
    assert (one({}, None), two({}, None), one({}, None)) == ("one", "two", "one")
    assert sys.modules["app"] is own
    assert "helpers" not in sys.modules


def test_an_async_client_meets_the_same_gateway(sluiceway: Launcher) -> None:
    import asyncio

    app = sluiceway.run("orders")

    async def post_some() -> list[int]:
        async with app.async_http() as client:
            answers = await asyncio.gather(
                *(client.post("/orders", json={"n": n}) for n in range(5))
            )
            return [a.status_code for a in answers]

    assert asyncio.run(post_some()) == [200] * 5
    app.drain()
    assert len(app.emails) == 5


def test_one_app_object_runs_once_at_a_time(sluiceway: Launcher) -> None:
    sluiceway.run("orders")
    with pytest.raises(Exception, match="running already"):
        sluiceway.run("orders")


def test_a_rules_failed_action_runs_its_error_action_with_awss_message(
    sluiceway: Launcher,
) -> None:
    app = App("sensors-errors")
    readings = app.table("readings", partition_key="device")
    errors = app.queue("rule-errors")
    alerts = app.queue("alerts")
    app.topic_rule(
        "store",
        "SELECT * FROM 'sensors/+'",
        [PutItem(readings.name), SendToQueue(alerts.name)],
        error_action=SendToQueue(errors.name),
    )
    running = sluiceway.run(app)
    running.publish_mqtt("sensors/dev-1", {"device": "dev-1", "t": 20})  # stored
    running.publish_mqtt("sensors/dev-2", {"t": 31})  # no key: the PutItem fails
    running.drain()
    assert running.items("readings") == [{"device": "dev-1", "t": 20}]
    assert len(running.messages("alerts")) == 2  # the other action ran for both
    (error,) = running.messages("rule-errors")
    report = json.loads(error.body)
    assert report["ruleName"] == "store"
    assert report["topic"] == "sensors/dev-2"
    assert json.loads(base64.b64decode(report["base64OriginalPayload"])) == {"t": 31}
    (failure,) = report["failures"]
    assert (failure["failedAction"], failure["failedResource"]) == ("DynamoDBv2Action", "readings")
    assert "device" in failure["errorMessage"]
