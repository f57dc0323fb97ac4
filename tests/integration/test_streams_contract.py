"""The DynamoDB Streams half of the contract: retries, bisect, on-failure, lanes, windows, TTL."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest

from conftest import EngineFactory
from sluiceway import App, DeclarationError
from sluiceway.core.clock import VirtualClock
from sluiceway.core.events import TTL_IDENTITY


def ids(records: list[dict[str, Any]]) -> list[str]:
    return [r["dynamodb"]["Keys"]["id"]["S"] for r in records]


class Handler:
    """Fails every batch holding a poison id; records every batch it sees."""

    def __init__(self, poison: set[str] | None = None) -> None:
        self.batches: list[list[str]] = []
        self.poison = poison or set()

    def __call__(self, event: dict[str, Any], context: Any) -> None:
        batch = ids(event["Records"])
        self.batches.append(batch)
        if self.poison & set(batch):
            raise RuntimeError(f"poison in {batch}")

    @property
    def processed(self) -> list[str]:
        return [i for b in self.batches if not self.poison & set(b) for i in b]


def failures_in(engine: Any, queue: str) -> list[dict[str, Any]]:
    rows = engine.store.query(
        "SELECT m.body FROM messages m JOIN queues q ON q.id = m.queue_id WHERE q.name = ? "
        "ORDER BY m.seq",
        (queue,),
    )
    return [json.loads(r["body"]) for r in rows]


def stream_app(handler: Handler, **options: Any) -> tuple[App, Any]:
    app = App("s")
    table = app.table("items", partition_key="id", stream="NEW_IMAGE")
    options.setdefault("starting_position", "TRIM_HORIZON")
    failures = app.queue("failures")
    if options.pop("with_on_failure", True):
        options["on_failure"] = failures
    app.on_stream(table, name="fn", **options)(handler)
    return app, table


def test_a_batch_that_keeps_failing_is_reported_to_on_failure_and_passed(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    handler = Handler(poison={"b"})
    app, table = stream_app(handler, maximum_retry_attempts=2, batch_size=2)
    engine = make_engine(app)
    for key in "abcd":
        table.put_item({"id": key})
    engine.drain(advance_time=True)
    assert handler.batches == [["a", "b"]] * 3 + [["c", "d"]]  # one try and 2 retries
    (notice,) = failures_in(engine, "failures")
    assert notice["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert notice["requestContext"]["approximateInvokeCount"] == 3
    assert notice["requestContext"]["functionArn"].endswith(":function:fn")
    assert notice["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert notice["version"] == "1.0"
    info = notice["DDBStreamBatchInfo"]
    assert info["batchSize"] == 2
    assert info["shardId"].startswith("shardId-")
    assert info["streamArn"].startswith(
        "arn:aws:dynamodb:us-east-1:000000000000:table/items/stream/"
    )
    assert int(info["startSequenceNumber"]) < int(info["endSequenceNumber"])
    assert info["approximateArrivalOfFirstRecord"].endswith("Z")
    assert set(notice) == {
        "requestContext",
        "responseContext",
        "version",
        "timestamp",
        "DDBStreamBatchInfo",
    }


def test_bisect_isolates_the_poison_record_and_processes_the_rest(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    handler = Handler(poison={"c"})
    app, table = stream_app(
        handler, bisect_batch_on_function_error=True, maximum_retry_attempts=1, batch_size=8
    )
    engine = make_engine(app)
    for key in "abcdefgh":
        table.put_item({"id": key})
    engine.drain(advance_time=True)
    assert handler.batches[:3] == [list("abcdefgh"), list("abcd"), list("ab")]
    assert ["c"] in handler.batches
    assert sorted(handler.processed) == sorted("abdefgh")
    (notice,) = failures_in(engine, "failures")
    assert notice["DDBStreamBatchInfo"]["batchSize"] == 1


def test_records_older_than_the_maximum_age_are_discarded_unread(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    handler = Handler(poison={"a"})
    app, table = stream_app(handler, maximum_record_age_in_seconds=60)
    engine = make_engine(app)
    table.put_item({"id": "a"})
    engine.drain()  # fails: retried with backoff
    clock.advance(61)
    table.put_item({"id": "b"})
    engine.drain(advance_time=True)
    (notice,) = failures_in(engine, "failures")
    assert notice["requestContext"]["condition"] == "RecordAgeExceeded"
    assert "responseContext" not in notice
    assert handler.batches[-1] == ["b"]


def test_without_a_retry_limit_a_failing_batch_blocks_its_stream(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    handler = Handler(poison={"a"})
    app, table = stream_app(handler)
    engine = make_engine(app)
    table.put_item({"id": "a"})
    table.put_item({"id": "b"})
    for _ in range(20):
        engine.drain()
        clock.advance(60)
    assert all(batch == ["a", "b"] for batch in handler.batches)
    assert len(handler.batches) >= 20
    assert failures_in(engine, "failures") == []


def test_a_topic_can_receive_the_failure_records(make_engine: EngineFactory, smtp: Any) -> None:
    app = App("s")
    table = app.table("items", partition_key="id", stream="NEW_IMAGE")
    alarms = app.topic("alarms")
    alarms.subscribe("email", "oncall@example.com")
    handler = Handler(poison={"a"})
    app.on_stream(
        table,
        starting_position="TRIM_HORIZON",
        maximum_retry_attempts=0,
        on_failure=alarms,
        name="fn",
    )(handler)
    engine = make_engine(app, smtp=smtp.url, auto_confirm=True)
    table.put_item({"id": "a"})
    engine.drain(advance_time=True)
    (mail,) = smtp.mailbox.wait_for(1)
    assert '"condition": "RetryAttemptsExhausted"' in str(mail.get_content())


def test_parallel_lanes_keep_each_items_order_and_do_not_block_each_other(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    seen: dict[str, list[int]] = defaultdict(list)
    blocked = {"stuck"}

    def handler(event: dict[str, Any], context: Any) -> None:
        for record in event["Records"]:
            key = record["dynamodb"]["Keys"]["id"]["S"]
            if key in blocked:
                raise RuntimeError("this item's lane is stuck")
        for record in event["Records"]:
            image = record["dynamodb"]["NewImage"]
            seen[image["id"]["S"]].append(int(image["v"]["N"]))

    app = App("s")
    table = app.table("items", partition_key="id", stream="NEW_IMAGE")
    app.on_stream(
        table, starting_position="TRIM_HORIZON", parallelization_factor=4, batch_size=3, name="fn"
    )(handler)
    engine = make_engine(app)
    keys = [f"k{i}" for i in range(12)] + ["stuck"]
    for version in range(5):
        for key in keys:
            table.put_item({"id": key, "v": version})
    engine.drain()
    assert len(engine.work()) >= 4
    done = [k for k in keys if seen[k] == list(range(5))]
    # The stuck item's lane waits (its other items stop part-way); the other lanes' items all
    # got through. Every item's versions arrive in order.
    assert 0 < len(done) < 12
    assert all(seen[k] == list(range(len(seen[k]))) for k in keys)
    blocked.clear()
    engine.drain(advance_time=True)
    assert all(seen[k] == list(range(5)) for k in keys if k != "stuck")
    assert seen["stuck"] == list(range(5))


def test_a_tumbling_window_carries_state_and_ends_with_a_final_invocation(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    events: list[dict[str, Any]] = []

    def counter(event: dict[str, Any], context: Any) -> dict[str, Any]:
        events.append(event)
        total = event["state"].get("total", 0) + len(event["Records"])
        return {"state": {"total": total}}

    app = App("s")
    table = app.table("items", partition_key="id", stream="NEW_IMAGE")
    app.on_stream(
        table,
        starting_position="TRIM_HORIZON",
        tumbling_window_in_seconds=60,
        batch_size=2,
        name="fn",
    )(counter)
    engine = make_engine(app)
    clock.set(1_700_000_080)  # 40 s into the window 22:14:00-22:15:00
    for key in "abc":
        table.put_item({"id": key})
    engine.drain()
    assert [len(e["Records"]) for e in events] == [2, 1]
    assert [e["state"] for e in events] == [{}, {"total": 2}]
    assert events[0]["window"] == {"start": "2023-11-14T22:14:00Z", "end": "2023-11-14T22:15:00Z"}
    assert events[0]["shardId"].startswith("shardId-")
    assert events[0]["isFinalInvokeForWindow"] is False
    clock.advance(20)  # the window closes
    engine.drain()
    final = events[-1]
    assert final["isFinalInvokeForWindow"] is True
    assert final["Records"] == []
    assert final["state"] == {"total": 3}
    table.put_item({"id": "d"})
    engine.drain()
    assert events[-1]["state"] == {}  # a new window starts fresh
    assert events[-1]["window"]["start"] == "2023-11-14T22:15:00Z"


def test_a_window_invocation_without_state_has_failed(make_engine: EngineFactory) -> None:
    calls: list[int] = []

    def forgetful(event: dict[str, Any], context: Any) -> None:
        calls.append(len(event["Records"]))

    app = App("s")
    table = app.table("items", partition_key="id", stream="NEW_IMAGE")
    app.on_stream(
        table, starting_position="TRIM_HORIZON", tumbling_window_in_seconds=60, name="fn"
    )(forgetful)
    engine = make_engine(app)
    table.put_item({"id": "a"})
    engine.drain()
    lane = engine.store.query("SELECT attempts, last_error FROM mappings")[0]
    assert lane["attempts"] == 1
    assert "must return {'state'" in lane["last_error"]


def test_expired_items_are_deleted_with_the_ttl_identity(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    removed: list[dict[str, Any]] = []
    app = App("s")
    table = app.table("sessions", partition_key="id", stream="OLD_IMAGE", ttl_attribute="expiresAt")

    @app.on_stream(table, filter={"eventName": ["REMOVE"]}, name="fn")
    def on_remove(event: dict[str, Any], context: Any) -> None:
        removed.extend(event["Records"])

    engine = make_engine(app)
    now = int(clock.now())
    table.put_item({"id": "old", "expiresAt": now + 10})
    table.put_item({"id": "forever"})
    table.put_item({"id": "text-ttl", "expiresAt": "soon"})
    table.delete_item({"id": "forever"})
    clock.advance(11)
    engine.sweep()
    engine.drain()
    by_key = {r["dynamodb"]["Keys"]["id"]["S"]: r for r in removed}
    assert by_key["old"]["userIdentity"] == TTL_IDENTITY
    assert "userIdentity" not in by_key["forever"]
    assert table.get_item({"id": "text-ttl"}) is not None
    assert table.get_item({"id": "old"}) is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"maximum_retry_attempts": -2}, "maximum_retry_attempts=-2"),
        ({"maximum_record_age_in_seconds": 30}, "maximum_record_age_in_seconds=30"),
        ({"parallelization_factor": 11}, "parallelization_factor=11"),
        ({"tumbling_window_in_seconds": 901}, "tumbling_window_in_seconds=901"),
    ],
)
def test_stream_options_are_checked_against_lambdas_ranges(
    options: dict[str, Any], message: str
) -> None:
    app = App("s")
    table = app.table("items", partition_key="id", stream="NEW_IMAGE")
    with pytest.raises(DeclarationError, match=message):
        app.on_stream(table, name="fn", **options)(Handler())


def test_the_batching_window_waits_for_a_fuller_stream_batch(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    handler = Handler()
    app, table = stream_app(handler, batch_size=3, maximum_batching_window_in_seconds=10)
    engine = make_engine(app)
    table.put_item({"id": "a"})
    engine.drain()
    clock.advance(5)
    table.put_item({"id": "b"})
    engine.drain()
    assert handler.batches == []
    clock.advance(5)
    engine.drain()
    assert handler.batches == [["a", "b"]]
    for key in "cde":
        table.put_item({"id": key})
    engine.drain()
    assert handler.batches[-1] == ["c", "d", "e"]
