"""EventBridge Pipes: a table's stream or a queue, filtered, enriched, to a function, queue or
topic; retries, partial failures by eventID and the dead-letter queue; and the registrations
blueprint of seed 003 end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import EngineFactory
from sluiceway import App, DeclarationError, deserialize_item
from sluiceway.local import LocalEngine
from sluiceway.testing.plugin import Launcher

INDIA = "+919876543210"


def outbox(data_dir: Path) -> list[dict[str, Any]]:
    path = data_dir / "sms" / "outbox.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def visible(engine: LocalEngine, queue: str) -> list[dict[str, Any]]:
    """The messages waiting on `queue`, oldest first (bodies parsed)."""
    cx = engine.store.reader()
    rows = cx.execute(
        "SELECT m.body FROM messages m JOIN queues q ON q.id = m.queue_id "
        "WHERE q.name = ? ORDER BY m.seq",
        (queue,),
    )
    return [json.loads(row[0]) for row in rows]


# -- the registrations blueprint -------------------------------------------------------------


def test_only_new_indian_users_are_texted_once(sluiceway: Launcher) -> None:
    app = sluiceway.run("registrations")
    asha = {"id": "u1", "roll": "7", "name": "Asha", "phone": INDIA}
    bob = {"id": "u2", "roll": "8", "name": "Bob", "phone": "+14155550100"}
    assert app.http.post("/users", json=asha).status_code == 200
    assert app.http.post("/users", json=bob).status_code == 200
    app.drain()
    # The +91 user changes their name: a MODIFY, dropped by the pipe's filter.
    assert app.http.post("/users", json={**asha, "name": "Asha K"}).status_code == 200
    app.drain()

    (sms,) = app.texts
    assert sms.phone == INDIA
    assert sms.text == "Hi Asha, welcome! Your registration 7 is confirmed."
    rows = [(v.protocol, v.destination, v.status) for v in app.deliveries()]
    assert rows == [("sms", INDIA, "delivered")]


def test_a_bad_sign_up_is_refused_at_the_door(sluiceway: Launcher) -> None:
    app = sluiceway.run("registrations")
    answer = app.http.post("/users", json={"id": "u1", "roll": "7", "phone": "98765"})
    assert answer.status_code == 400
    assert answer.json()["errors"] == [
        "$.name: required",
        "$.phone: does not match ^\\+[1-9][0-9]{1,14}$",
    ]
    app.drain()
    assert app.items("Users") == []
    assert app.texts == []


# -- a pipe's delivery -----------------------------------------------------------------------


def test_a_function_target_gets_the_bare_array_of_filtered_records(
    make_engine: EngineFactory,
) -> None:
    app = App("pipes")
    things = app.table("Things", partition_key="id", stream="NEW_AND_OLD_IMAGES")
    batches: list[Any] = []

    @app.function()
    def target(event: Any, context: Any) -> None:
        batches.append(event)

    app.pipe(
        "p",
        source=things,
        target=target,
        filter={"dynamodb": {"NewImage": {"keep": {"BOOL": [True]}}}},
    )
    engine = make_engine(app)
    things.put_item({"id": "a", "keep": True})
    things.put_item({"id": "b", "keep": False})
    things.put_item({"id": "c", "keep": True})
    engine.drain()

    (batch,) = batches
    assert isinstance(batch, list)
    assert [deserialize_item(r["dynamodb"]["NewImage"])["id"] for r in batch] == ["a", "c"]
    assert {r["eventName"] for r in batch} == {"INSERT"}
    assert all(r["eventSource"] == "aws:dynamodb" for r in batch)


def test_partial_failures_by_event_id_retry_only_from_the_first_failed_record(
    make_engine: EngineFactory,
) -> None:
    app = App("pipes")
    things = app.table("Things", partition_key="id", stream="NEW_IMAGE")
    seen: list[list[str]] = []
    failing = {"b"}

    @app.function()
    def target(event: list[dict[str, Any]], context: Any) -> dict[str, Any]:
        ids = [deserialize_item(r["dynamodb"]["NewImage"])["id"] for r in event]
        seen.append(ids)
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["eventID"]}
                for r, i in zip(event, ids, strict=True)
                if i in failing
            ]
        }

    app.pipe("p", source=things, target=target)
    engine = make_engine(app)
    for key in "abc":
        things.put_item({"id": key})
    engine.drain()
    failing.clear()
    engine.drain(advance_time=True)
    assert seen == [["a", "b", "c"], ["b", "c"]]


def test_a_failing_target_is_retried_then_reported_to_the_dead_letter_queue(
    make_engine: EngineFactory,
) -> None:
    app = App("pipes")
    things = app.table("Things", partition_key="id", stream="NEW_IMAGE")
    dlq = app.queue("pipe-dlq")
    attempts: list[int] = []

    @app.function()
    def target(event: Any, context: Any) -> None:
        attempts.append(len(event))
        raise RuntimeError("the target is broken")

    app.pipe("p", source=things, target=target, maximum_retry_attempts=2, dead_letter=dlq)
    engine = make_engine(app)
    things.put_item({"id": "a"})
    engine.drain(advance_time=True)

    assert attempts == [1, 1, 1]  # the first try and 2 retries
    (notice,) = visible(engine, "pipe-dlq")
    assert notice["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert notice["requestContext"]["pipeArn"].endswith(":pipe/p")
    assert notice["DDBStreamBatchInfo"]["batchSize"] == 1
    things.put_item({"id": "b"})  # the stream moved on past the discarded record
    engine.drain(advance_time=True)
    assert attempts == [1] * 6


def test_enrichment_shapes_what_the_target_gets_and_can_drop_a_batch(
    make_engine: EngineFactory,
) -> None:
    app = App("pipes")
    things = app.table("Things", partition_key="id", stream="NEW_IMAGE")
    delivered: list[Any] = []

    @app.function()
    def enrich(event: list[dict[str, Any]], context: Any) -> list[dict[str, Any]]:
        ids = [deserialize_item(r["dynamodb"]["NewImage"])["id"] for r in event]
        return [{"id": i, "shout": i.upper()} for i in ids if i != "skip"]

    @app.function()
    def target(event: Any, context: Any) -> None:
        delivered.append(event)

    app.pipe("p", source=things, target=target, enrichment=enrich)
    engine = make_engine(app)
    things.put_item({"id": "a"})
    engine.drain()
    things.put_item({"id": "skip"})  # the enrichment returns []: the target is not invoked
    engine.drain()
    assert delivered == [[{"id": "a", "shout": "A"}]]


def test_a_queue_target_gets_one_message_per_record(make_engine: EngineFactory) -> None:
    app = App("pipes")
    things = app.table("Things", partition_key="id", stream="KEYS_ONLY")
    out = app.queue("changes")
    app.pipe("p", source=things, target=out)
    engine = make_engine(app)
    things.put_item({"id": "a"})
    things.put_item({"id": "b"})
    engine.drain()
    assert [m["dynamodb"]["Keys"] for m in visible(engine, "changes")] == [
        {"id": {"S": "a"}},
        {"id": {"S": "b"}},
    ]


def test_a_topic_target_publishes_each_record(make_engine: EngineFactory, data_dir: Path) -> None:
    app = App("pipes")
    things = app.table("Things", partition_key="id", stream="NEW_IMAGE")
    topic = app.topic("changes")
    topic.subscribe("sms", INDIA)
    app.pipe("p", source=things, target=topic)
    engine = make_engine(app)
    things.put_item({"id": "a"})
    engine.drain()
    (sms,) = outbox(data_dir)
    assert json.loads(sms["text"])["dynamodb"]["NewImage"] == {"id": {"S": "a"}}


def test_a_queue_source_deletes_what_its_filter_drops(make_engine: EngineFactory) -> None:
    app = App("pipes")
    jobs = app.queue("jobs")
    got: list[Any] = []

    @app.function()
    def target(event: list[dict[str, Any]], context: Any) -> None:
        got.extend(json.loads(r["body"])["n"] for r in event)

    app.pipe("p", source=jobs, target=target, filter={"body": {"n": [{"numeric": [">", 1]}]}})
    engine = make_engine(app)
    for n in range(4):
        jobs.send_message(json.dumps({"n": n}))
    engine.drain()
    assert sorted(got) == [2, 3]
    assert visible(engine, "jobs") == []


# -- what a pipe refuses at declaration --------------------------------------------------------


def refused(reason: str, **options: Any) -> None:
    app = App("pipes")
    things = app.table("Things", partition_key="id", stream="NEW_IMAGE")
    queue = app.queue("q")

    @app.function()
    def target(event: Any, context: Any) -> None:
        return None

    source = queue if options.pop("from_queue", False) else things
    options.setdefault("target", target)
    with pytest.raises(DeclarationError, match=reason):
        app.pipe("p", source=source, **options)


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"filter": {"eventName": ["INSERT"]}}, "the poller adds"),
        ({"filter": {"dynamodb": {"Keys": {"id": {"S": [{"wildcard": "a*"}]}}}}}, "wildcard"),
        (
            {"filter": [{"dynamodb": {"Keys": {"id": {"S": [str(n)]}}}} for n in range(6)]},
            "at most 5",
        ),
        ({"from_queue": True, "maximum_retry_attempts": 3}, "apply to a stream source"),
        (
            {"from_queue": True, "dead_letter": None, "starting_position": "TRIM_HORIZON"},
            "apply to a stream source",
        ),
        ({"target": print}, "not a function declared"),
        ({"batch_size": 10_001}, "batch_size"),
        ({"on_partial_batch_item_failure": "SPLIT"}, "AUTOMATIC_BISECT"),
    ],
)
def test_what_pipes_would_refuse_is_refused_naming_the_reason(
    options: dict[str, Any], reason: str
) -> None:
    refused(reason, **options)


def test_a_table_without_a_stream_cannot_feed_a_pipe() -> None:
    app = App("pipes")
    plain = app.table("Plain", partition_key="id")
    with pytest.raises(DeclarationError, match="has no stream"):
        app.pipe("p", source=plain, target=app.queue("q"))
