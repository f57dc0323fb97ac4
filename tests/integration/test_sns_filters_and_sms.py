"""SNS subscription filter policies, MessageStructure per protocol, and SMS: through topics and
straight to a number, to the local outbox or a webhook, with the opt-out list honoured."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import EngineFactory
from sluiceway import AccessDenied, App, DeclarationError, ValidationError
from sluiceway.cli import main
from sluiceway.core.clock import VirtualClock
from sluiceway.local import Admin, LocalEngine

INDIA = "+919876543210"
US = "+14155550100"


def outbox(data_dir: Path) -> list[dict[str, Any]]:
    path = data_dir / "sms" / "outbox.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def deliveries(engine: LocalEngine) -> list[dict[str, Any]]:
    with Admin(engine.settings.data_dir) as admin:
        return [
            {
                "protocol": v.protocol,
                "destination": v.destination,
                "status": v.status,
                "text": v.text,
                "error": v.last_error,
            }
            for v in admin.deliveries()
        ]


# -- filter policies ------------------------------------------------------------------------


def test_an_attribute_policy_passes_only_matching_messages_and_says_why_not(
    make_engine: EngineFactory, data_dir: Path
) -> None:
    app = App("filters")
    topic = app.topic("events")
    topic.subscribe(
        "sms",
        INDIA,
        filter_policy={"store": ["example_corp"], "price": [{"numeric": [">", 100]}]},
    )
    engine = make_engine(app)
    topic.publish(
        "big order",
        message_attributes={
            "store": {"DataType": "String", "StringValue": "example_corp"},
            "price": {"DataType": "Number", "StringValue": "3.015e2"},  # 301.5, by value
        },
    )
    topic.publish(
        "small order",
        message_attributes={
            "store": {"DataType": "String", "StringValue": "example_corp"},
            "price": {"DataType": "Number", "StringValue": "99"},
        },
    )
    topic.publish("no attributes at all")
    engine.drain()

    assert [m["text"] for m in outbox(data_dir)] == ["big order"]
    rows = deliveries(engine)
    assert [r["status"] for r in rows] == ["delivered", "filtered", "filtered"]
    assert "price is 99" in rows[1]["error"]
    assert "has no message attributes" in rows[2]["error"]


def test_a_body_policy_matches_nested_fields_of_a_json_message(
    make_engine: EngineFactory, data_dir: Path
) -> None:
    app = App("filters")
    topic = app.topic("events")
    topic.subscribe(
        "sms",
        INDIA,
        filter_policy={"order": {"country": ["IN"]}},
        filter_policy_scope="MessageBody",
    )
    engine = make_engine(app)
    topic.publish({"order": {"country": "IN", "id": 1}})
    topic.publish({"order": {"country": "US", "id": 2}})
    topic.publish("plain text")
    engine.drain()

    assert [json.loads(m["text"])["order"]["id"] for m in outbox(data_dir)] == [1]
    errors = [r["error"] for r in deliveries(engine) if r["status"] == "filtered"]
    assert 'order.country is "US"' in errors[0]
    assert errors[1] == "filter policy (MessageBody): the message body is not JSON"


def test_a_function_on_a_topic_gets_only_what_its_policy_passes(
    make_engine: EngineFactory,
) -> None:
    app = App("filters")
    topic = app.topic("events")
    seen: list[str] = []

    @app.on_topic(topic, filter_policy={"kind": [{"anything-but": ["noise"]}]})
    def listen(event: dict[str, Any], context: Any) -> None:
        seen.append(event["Records"][0]["Sns"]["Message"])

    engine = make_engine(app)
    for kind in ("signal", "noise", "other"):
        topic.publish(
            kind, message_attributes={"kind": {"DataType": "String", "StringValue": kind}}
        )
    engine.drain()
    assert seen == ["signal", "other"]


@pytest.mark.parametrize(
    ("policy", "scope", "reason"),
    [
        ({"a": {"b": ["x"]}}, "MessageAttributes", "nested policies need FilterPolicyScope"),
        ({"a": [{"wildcard": "x*"}]}, "MessageAttributes", "wildcard"),
        ({"a": ["x"]}, "Attributes", "not a scope SNS knows"),
    ],
)
def test_a_policy_sns_would_refuse_is_refused_at_declaration(
    policy: dict[str, Any], scope: str, reason: str
) -> None:
    app = App("filters")
    topic = app.topic("events")
    with pytest.raises(DeclarationError, match=reason):
        topic.subscribe("sms", INDIA, filter_policy=policy, filter_policy_scope=scope)


# -- SMS ------------------------------------------------------------------------------------


def test_message_structure_gives_sms_its_own_text(
    make_engine: EngineFactory, data_dir: Path
) -> None:
    app = App("texts")
    topic = app.topic("events")
    topic.subscribe("sms", INDIA)
    engine = make_engine(app)
    topic.publish(
        json.dumps({"default": "the long version", "sms": "short"}), message_structure="json"
    )
    engine.drain()
    (sms,) = outbox(data_dir)
    assert (sms["phone"], sms["text"], sms["parts"]) == (INDIA, "short", 1)
    (row,) = deliveries(engine)
    assert row == {
        "protocol": "sms",
        "destination": INDIA,
        "status": "delivered",
        "text": "short",
        "error": None,
    }


def test_a_handler_texts_a_number_it_may_text_and_no_other_handler_may(
    make_engine: EngineFactory, data_dir: Path
) -> None:
    app = App("texts")
    queue = app.queue("signups")

    @app.on_queue(queue, uses=[app.sms.sends])
    def welcome(event: dict[str, Any], context: Any) -> None:
        for record in event["Records"]:
            app.sms.publish(record["body"], "Welcome!", sender_id="Sluice", sms_type="Promotional")

    refused: list[BaseException] = []

    @app.on_queue(app.queue("other"))
    def sneaky(event: dict[str, Any], context: Any) -> None:
        try:
            app.sms.publish(INDIA, "hi")
        except AccessDenied as error:
            refused.append(error)

    engine = make_engine(app)
    queue.send_message(INDIA)
    app._queues["other"].send_message("x")
    engine.drain()

    (sms,) = outbox(data_dir)
    assert sms["phone"] == INDIA
    assert (sms["text"], sms["sender_id"], sms["sms_type"]) == ("Welcome!", "Sluice", "Promotional")
    assert "sns:Publish" in str(refused[0])
    assert "add app.sms.sends to uses=[...]" in str(refused[0])


@pytest.mark.parametrize(
    ("phone", "text", "problem"),
    [
        ("9876543210", "hi", r"E\.164"),
        ("+91 98765 43210", "hi", r"E\.164"),
        (INDIA, "", "non-empty"),
        (INDIA, "x" * 1601, "at most 1600 characters"),
    ],
)
def test_a_bad_number_or_text_is_refused_and_nothing_is_queued(
    make_engine: EngineFactory, phone: str, text: str, problem: str
) -> None:
    app = App("texts")
    engine = make_engine(app)
    with pytest.raises(ValidationError, match=problem):
        app.sms.publish(phone, text)
    assert deliveries(engine) == []


def test_a_subscription_to_a_number_not_in_e164_is_refused() -> None:
    app = App("texts")
    with pytest.raises(DeclarationError, match=r"E\.164"):
        app.topic("t").subscribe("sms", "98765-43210")


def test_long_texts_count_their_parts_as_gsm_or_unicode(
    make_engine: EngineFactory, data_dir: Path
) -> None:
    app = App("texts")
    make_engine(app)
    app.sms.publish(INDIA, "a" * 160)
    app.sms.publish(INDIA, "a" * 161)
    app.sms.publish(INDIA, "नमस्ते " * 10)  # 70 UCS-2 characters: one part
    app.sms.publish(INDIA, "नमस्ते " * 11)
    app._backend.drain()  # type: ignore[union-attr]
    assert [m["parts"] for m in outbox(data_dir)] == [1, 2, 1, 2]


def test_an_opted_out_number_gets_nothing_until_it_opts_back_in(
    make_engine: EngineFactory, data_dir: Path
) -> None:
    app = App("texts")
    topic = app.topic("events")
    topic.subscribe("sms", INDIA)
    topic.subscribe("sms", US)
    engine = make_engine(app)
    topic.publish("first")  # waiting when INDIA opts out: skipped
    cli = CliRunner()
    said = cli.invoke(main, ["sms", "opt-out", INDIA, "--data-dir", str(data_dir)])
    assert said.exit_code == 0, said.output
    assert "1 waiting text skipped" in said.output
    topic.publish("second")
    app.sms.publish(INDIA, "direct")
    engine.drain()
    assert [(m["phone"], m["text"]) for m in outbox(data_dir)] == [(US, "first"), (US, "second")]
    statuses = {(r["destination"], r["text"]): r["status"] for r in deliveries(engine)}
    assert statuses[(INDIA, "second")] == "opted-out"
    assert statuses[(INDIA, "direct")] == "opted-out"
    listed = cli.invoke(main, ["sms", "opted-out", "--json", "--data-dir", str(data_dir)])
    assert [entry["phone"] for entry in json.loads(listed.output)] == [INDIA]

    assert cli.invoke(main, ["sms", "opt-in", INDIA, "--data-dir", str(data_dir)]).exit_code == 0
    topic.publish("third")
    engine.drain()
    assert (INDIA, "third") in [(m["phone"], m["text"]) for m in outbox(data_dir)]


def test_deliveries_json_shows_protocol_destination_text_and_status(
    make_engine: EngineFactory, data_dir: Path
) -> None:
    app = App("texts")
    make_engine(app)
    app.sms.publish(INDIA, "hello there")
    result = CliRunner().invoke(main, ["deliveries", "--json", "--data-dir", str(data_dir)])
    (row,) = json.loads(result.output)
    assert {k: row[k] for k in ("protocol", "destination", "text", "status", "topic")} == {
        "protocol": "sms",
        "destination": INDIA,
        "text": "hello there",
        "status": "pending",
        "topic": None,
    }


# -- a webhook provider ---------------------------------------------------------------------


class Gateway:
    """An SMS gateway double over real HTTP: records each text, answers with `status`."""

    def __init__(self) -> None:
        self.texts: list[dict[str, Any]] = []
        self.status = 200
        self.arrived = threading.Condition()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.arrived:
                    outer.texts.append(body)
                    outer.arrived.notify_all()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps({"id": f"gw-{len(outer.texts)}"}).encode())

            def log_message(self, *args: Any) -> None:
                return None

        return Handler


@pytest.fixture
def sms_gateway() -> Iterator[tuple[Gateway, str]]:
    gateway = Gateway()
    server = ThreadingHTTPServer(("127.0.0.1", 0), gateway.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield gateway, f"http://127.0.0.1:{server.server_address[1]}/sms"
    finally:
        server.shutdown()
        server.server_close()


def test_a_webhook_provider_gets_each_text_and_its_failures_are_retried_or_final(
    make_engine: EngineFactory, sms_gateway: tuple[Gateway, str], clock: VirtualClock
) -> None:
    gateway, url = sms_gateway
    app = App("texts")
    engine = make_engine(app, sms=url)
    app.sms.publish(INDIA, "one")
    engine.drain()
    assert [(t["phone"], t["text"], t["smsType"]) for t in gateway.texts] == [
        (INDIA, "one", "Transactional")
    ]

    gateway.status = 503  # the gateway is down: the text waits and goes out later
    app.sms.publish(INDIA, "two")
    engine.drain()
    assert [r["status"] for r in deliveries(engine)] == ["delivered", "pending"]
    gateway.status = 200
    engine.drain(advance_time=True)
    assert [t["text"] for t in gateway.texts] == ["one", "two", "two"]
    assert [r["status"] for r in deliveries(engine)] == ["delivered", "delivered"]

    gateway.status = 400  # refused for good: not retried
    app.sms.publish(INDIA, "three")
    engine.drain(advance_time=True)
    assert deliveries(engine)[-1]["status"] == "failed"
    assert "400" in deliveries(engine)[-1]["error"]


def test_an_unreachable_webhook_keeps_the_text_waiting(
    make_engine: EngineFactory, data_dir: Path
) -> None:
    app = App("texts")
    engine = make_engine(app, sms="http://127.0.0.1:9/nowhere")
    app.sms.publish(INDIA, "hello")
    engine.drain()
    (row,) = deliveries(engine)
    assert row["status"] == "pending"
    assert "unreachable" in row["error"]


def test_a_python_provider_plugs_in(
    make_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "my_provider.py").write_text(
        "SENT = []\n"
        "class Provider:\n"
        "    def send(self, sms):\n"
        "        SENT.append((sms.phone, sms.text))\n"
        "        return 'p-1'\n"
        "    def close(self):\n"
        "        pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    app = App("texts")
    engine = make_engine(app, sms="python:my_provider:Provider")
    app.sms.publish(INDIA, "plugged")
    engine.drain()
    import my_provider  # type: ignore[import-not-found]

    assert my_provider.SENT == [(INDIA, "plugged")]
