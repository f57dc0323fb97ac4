"""Tables and their change streams: DynamoDB and DynamoDB Streams semantics locally."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from conftest import EngineFactory
from sluiceway import App, ConditionalCheckFailed, SortKey, ValidationError
from sluiceway.core.clock import VirtualClock
from sluiceway.local import Admin


class Seen:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.failing = False

    def __call__(self, event: dict[str, Any], context: Any) -> None:
        if self.failing:
            raise RuntimeError("downstream is down")
        self.records.extend(event["Records"])


def stream_app(seen: Seen, view: str = "NEW_AND_OLD_IMAGES", **mapping: Any) -> tuple[App, Any]:
    app = App("t")
    table = app.table("Users", partition_key="id", sort_key="roll", stream=view)
    app.on_stream(table, **mapping)(seen)
    return app, table


def test_items_are_written_read_queried_and_deleted(make_engine: EngineFactory) -> None:
    app = App("t")
    table = app.table("Users", partition_key="id", sort_key=("roll", "N"))
    make_engine(app)
    for roll in (10, 2, 33):
        table.put_item({"id": "u1", "roll": roll, "name": f"n{roll}"})
    table.put_item({"id": "u2", "roll": 1})
    assert table.get_item({"id": "u1", "roll": 2}) == {"id": "u1", "roll": Decimal(2), "name": "n2"}
    assert [i["roll"] for i in table.query("u1")] == [2, 10, 33]
    assert [i["roll"] for i in table.query("u1", scan_forward=False, limit=2)] == [33, 10]
    assert [i["roll"] for i in table.query("u1", sort_key=SortKey.between(3, 40))] == [10, 33]
    assert [i["roll"] for i in table.query("u1", sort_key=SortKey.gt(10))] == [33]
    assert len(table.scan()) == 4
    assert table.delete_item({"id": "u1", "roll": 2}) == {"id": "u1", "roll": 2, "name": "n2"}
    assert table.get_item({"id": "u1", "roll": 2}) is None
    assert table.delete_item({"id": "u1", "roll": 2}) is None


def test_begins_with_selects_a_prefix_of_string_sort_keys(make_engine: EngineFactory) -> None:
    app = App("t")
    table = app.table("Events", partition_key="pk", sort_key="sk")
    make_engine(app)
    for sk in ("2024-01-01", "2024-01-31", "2024-02-01", "2023-12-31"):
        table.put_item({"pk": "a", "sk": sk})
    assert [i["sk"] for i in table.query("a", sort_key=SortKey.begins_with("2024-01"))] == [
        "2024-01-01",
        "2024-01-31",
    ]


def test_a_conditional_put_refuses_an_existing_key(make_engine: EngineFactory) -> None:
    app = App("t")
    table = app.table("orders", partition_key="orderID")
    make_engine(app)
    table.put_item({"orderID": "o1", "v": 1}, if_not_exists=True)
    with pytest.raises(ConditionalCheckFailed):
        table.put_item({"orderID": "o1", "v": 2}, if_not_exists=True)
    assert table.get_item({"orderID": "o1"}) == {"orderID": "o1", "v": 1}


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"roll": "1"}, "no key attribute 'id'"),
        ({"id": 5, "roll": "1"}, "must be of type S, got N"),
        ({"id": "", "roll": "1"}, "must not be empty"),
        ({"id": "a", "roll": "1", "big": "x" * 500_000}, "exceeds DynamoDB's 400 KB limit"),
    ],
)
def test_bad_items_are_refused_and_nothing_is_stored(
    make_engine: EngineFactory, item: dict[str, Any], message: str
) -> None:
    app = App("t")
    table = app.table("Users", partition_key="id", sort_key="roll", stream="NEW_IMAGE")
    engine = make_engine(app)
    with pytest.raises(ValidationError, match=message):
        table.put_item(item)
    assert table.scan() == []
    assert engine.store.query("SELECT COUNT(*) AS n FROM stream_records")[0]["n"] == 0


def test_each_change_reaches_the_stream_once_in_order(make_engine: EngineFactory) -> None:
    seen = Seen()
    app, table = stream_app(seen)
    engine = make_engine(app)
    table.put_item({"id": "u1", "roll": "1", "phone": "+911"})
    table.put_item({"id": "u1", "roll": "1", "phone": "+912"})
    table.put_item({"id": "u1", "roll": "1", "phone": "+912"})  # no change, no record
    table.delete_item({"id": "u1", "roll": "1"})
    engine.drain()
    assert [r["eventName"] for r in seen.records] == ["INSERT", "MODIFY", "REMOVE"]
    insert, modify, remove = seen.records
    assert insert["dynamodb"]["NewImage"]["phone"] == {"S": "+911"}
    assert "OldImage" not in insert["dynamodb"]
    assert modify["dynamodb"]["OldImage"]["phone"] == {"S": "+911"}
    assert modify["dynamodb"]["NewImage"]["phone"] == {"S": "+912"}
    assert remove["dynamodb"]["Keys"] == {"id": {"S": "u1"}, "roll": {"S": "1"}}
    assert "NewImage" not in remove["dynamodb"]
    numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in seen.records]
    assert numbers == sorted(numbers)
    assert all(isinstance(r["dynamodb"]["SequenceNumber"], str) for r in seen.records)
    assert insert["eventSourceARN"].startswith(
        "arn:aws:dynamodb:us-east-1:000000000000:table/Users/stream/"
    )
    assert insert["eventVersion"] == "1.1"
    assert len(insert["eventID"]) == 32


def test_keys_only_streams_carry_no_images(make_engine: EngineFactory) -> None:
    seen = Seen()
    app, table = stream_app(seen, view="KEYS_ONLY")
    engine = make_engine(app)
    table.put_item({"id": "u1", "roll": "1", "secret": "x"})
    engine.drain()
    assert set(seen.records[0]["dynamodb"]) == {
        "ApproximateCreationDateTime",
        "Keys",
        "SequenceNumber",
        "SizeBytes",
        "StreamViewType",
    }


def test_latest_skips_what_was_written_before_the_mapping_existed(
    make_engine: EngineFactory,
) -> None:
    first = App("t")
    table = first.table("Users", partition_key="id", sort_key="roll", stream="NEW_IMAGE")
    engine = make_engine(first)
    table.put_item({"id": "before", "roll": "1"})
    engine.close()

    seen = Seen()
    app, table = stream_app(seen, view="NEW_IMAGE", starting_position="LATEST")
    engine = make_engine(app)
    table.put_item({"id": "after", "roll": "1"})
    engine.drain()
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in seen.records] == ["after"]


def test_trim_horizon_starts_from_the_oldest_record(make_engine: EngineFactory) -> None:
    first = App("t")
    table = first.table("Users", partition_key="id", sort_key="roll", stream="NEW_IMAGE")
    engine = make_engine(first)
    table.put_item({"id": "before", "roll": "1"})
    engine.close()

    seen = Seen()
    app, table = stream_app(seen, view="NEW_IMAGE", starting_position="TRIM_HORIZON")
    engine = make_engine(app)
    engine.drain()
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in seen.records] == ["before"]


def test_a_restart_resumes_at_the_checkpoint(make_engine: EngineFactory) -> None:
    seen = Seen()
    app, table = stream_app(seen)
    engine = make_engine(app)
    table.put_item({"id": "a", "roll": "1"})
    engine.drain()
    table.put_item({"id": "b", "roll": "1"})
    engine.close()
    engine = make_engine(app)
    engine.drain()
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in seen.records] == ["a", "b"]


def test_a_failing_batch_blocks_the_stream_and_is_retried(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    seen = Seen()
    seen.failing = True
    app, table = stream_app(seen)
    engine = make_engine(app)
    table.put_item({"id": "a", "roll": "1"})
    table.put_item({"id": "b", "roll": "1"})
    engine.drain()
    assert seen.records == []
    attempts = engine.store.query("SELECT attempts, last_error FROM mappings")[0]
    assert attempts["attempts"] == 1
    assert "downstream is down" in attempts["last_error"]
    seen.failing = False
    engine.drain(advance_time=True)
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in seen.records] == ["a", "b"]


def test_partial_failure_resumes_at_the_lowest_failed_sequence_number(
    make_engine: EngineFactory,
) -> None:
    calls: list[list[str]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        ids = [r["dynamodb"]["Keys"]["id"]["S"] for r in event["Records"]]
        calls.append(ids)
        if len(calls) == 1:
            failed = event["Records"][1]["dynamodb"]["SequenceNumber"]
            return {"batchItemFailures": [{"itemIdentifier": failed}]}
        return {"batchItemFailures": []}

    app = App("t")
    table = app.table("Users", partition_key="id", stream="NEW_IMAGE")
    app.on_stream(table, starting_position="TRIM_HORIZON")(handler)
    engine = make_engine(app)
    for key in "abc":
        table.put_item({"id": key})
    engine.drain(advance_time=True)
    assert calls == [["a", "b", "c"], ["b", "c"]]


def test_filtered_out_records_are_skipped_and_the_checkpoint_moves_past_them(
    make_engine: EngineFactory,
) -> None:
    seen = Seen()
    app, table = stream_app(seen, filter={"eventName": ["INSERT"]})
    engine = make_engine(app)
    table.put_item({"id": "a", "roll": "1"})
    table.put_item({"id": "a", "roll": "1", "x": 1})
    table.delete_item({"id": "a", "roll": "1"})
    engine.drain()
    assert [r["eventName"] for r in seen.records] == ["INSERT"]
    position = engine.store.query("SELECT position FROM mappings")[0]["position"]
    assert position == engine.store.query("SELECT MAX(seq) AS s FROM stream_records")[0]["s"]


def test_stream_records_older_than_24_hours_are_trimmed(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    app = App("t")
    table = app.table("Users", partition_key="id", stream="NEW_IMAGE")
    engine = make_engine(app)
    table.put_item({"id": "a"})
    clock.advance(24 * 3600 + 1)
    engine.sweep()
    assert engine.store.query("SELECT COUNT(*) AS n FROM stream_records")[0]["n"] == 0


def test_scan_gives_plain_json_items(make_engine: EngineFactory) -> None:
    app = App("t")
    table = app.table("orders", partition_key="orderID")
    engine = make_engine(app)
    table.put_item({"orderID": "o1", "qty": 2, "price": Decimal("1.5"), "tags": {"b", "a"}})
    with Admin(engine.settings.data_dir) as admin:
        assert list(admin.scan("orders")) == [
            {"orderID": "o1", "qty": 2, "price": 1.5, "tags": ["a", "b"]}
        ]


def test_a_table_keeps_its_key_schema_across_runs(make_engine: EngineFactory) -> None:
    first = App("t")
    first.table("orders", partition_key="orderID")
    make_engine(first).close()
    second = App("t")
    second.table("orders", partition_key="id")
    with pytest.raises(Exception, match="a table's keys cannot change"):
        make_engine(second)


def test_the_registry_keeps_every_declared_option(make_engine: EngineFactory) -> None:
    """What the engine works from (read back from the database) equals what was declared."""
    app = App("r")
    dlq = app.queue("dead.fifo", message_retention_period=1_209_600)
    app.queue(
        "work.fifo",
        visibility_timeout=45,
        delay_seconds=5,
        message_retention_period=600,
        maximum_message_size=2048,
        dead_letter=dlq,
        max_receive_count=3,
        content_based_deduplication=True,
    )
    app.table(
        "t_full",
        partition_key=("id", "N"),
        sort_key=("at", "B"),
        stream="NEW_AND_OLD_IMAGES",
        ttl_attribute="expiresAt",
    )
    engine = make_engine(app)
    registry = engine.registry
    assert registry is not None
    for queue in app.graph.queues:
        assert registry.queue(queue.name).spec == queue
    for table in app.graph.tables:
        assert registry.table(table.name).spec == table
