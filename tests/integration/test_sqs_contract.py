"""The SQS half of the contract: what a handler sees and can do, and what the queue keeps."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from conftest import EngineFactory
from sluiceway import App, Queue, ValidationError
from sluiceway.awslambda.invoke import TaskTimedOut
from sluiceway.awslambda.queue_mapping import LOCAL_MAX_POLLERS, QueueMapping
from sluiceway.core.clock import VirtualClock
from sluiceway.local import Admin
from support import wait_until


def refuse(event: dict[str, Any], context: Any) -> None:
    raise RuntimeError("no")


def visible(engine: Any) -> dict[str, int]:
    with Admin(engine.settings.data_dir, clock=engine.clock) as admin:
        return {s.name: s.visible for s in admin.queue_stats()}


def in_flight(engine: Any) -> dict[str, int]:
    with Admin(engine.settings.data_dir, clock=engine.clock) as admin:
        return {s.name: s.in_flight for s in admin.queue_stats()}


# -- visibility -----------------------------------------------------------------------------


def test_a_handler_extends_its_message_and_it_stays_hidden_that_long(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    app = App("v")
    queue = app.queue("work", visibility_timeout=30)
    calls: list[str] = []

    @app.on_queue(queue)
    def slow(event: dict[str, Any], context: Any) -> None:
        record = event["Records"][0]
        calls.append(record["attributes"]["ApproximateReceiveCount"])
        if len(calls) == 1:
            queue.change_message_visibility(record["receiptHandle"], 300)
            raise RuntimeError("not done yet")

    engine = make_engine(app)
    queue.send_message("m")
    engine.drain()
    clock.advance(31)
    engine.drain()
    assert calls == ["1"]  # the default 30 s would have brought it back by now
    clock.advance(270)
    engine.drain()
    assert calls == ["1", "2"]


def test_a_handler_releases_its_message_for_an_immediate_retry(make_engine: EngineFactory) -> None:
    app = App("v")
    queue = app.queue("work", visibility_timeout=30)
    calls: list[int] = []

    @app.on_queue(queue, report_batch_item_failures=False)
    def release(event: dict[str, Any], context: Any) -> None:
        record = event["Records"][0]
        calls.append(int(record["attributes"]["ApproximateReceiveCount"]))
        if len(calls) == 1:
            queue.change_message_visibility(record["receiptHandle"], 0)
            raise RuntimeError("retry me now")

    engine = make_engine(app)
    queue.send_message("m")
    engine.drain()
    assert calls == [1, 2]


def test_visibility_cannot_be_extended_beyond_twelve_hours_from_the_receive(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    app = App("v")
    queue = app.queue("work", visibility_timeout=30)
    errors: list[str] = []

    @app.on_queue(queue, timeout=30)
    def greedy(event: dict[str, Any], context: Any) -> None:
        handle = event["Records"][0]["receiptHandle"]
        queue.change_message_visibility(handle, 43_200)  # 12 h from now: allowed
        try:
            queue.change_message_visibility(handle, 43_200)  # still within the same second
        except ValidationError as error:
            errors.append(str(error))
        clock.advance(3600)
        try:
            queue.change_message_visibility(handle, 43_200)  # 13 h after the receive
        except ValidationError as error:
            errors.append(str(error))

    engine = make_engine(app)
    queue.send_message("m")
    engine.drain()
    assert len(errors) == 1
    assert "beyond 12 hours from its receive; at most 39600s remain" in errors[0]


def test_a_receipt_handle_from_an_old_receive_changes_nothing(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    app = App("v")
    queue = app.queue("work", visibility_timeout=30)
    handles: list[str] = []

    @app.on_queue(queue)
    def keep(event: dict[str, Any], context: Any) -> None:
        handles.append(event["Records"][0]["receiptHandle"])
        raise RuntimeError("fail")

    engine = make_engine(app)
    queue.send_message("m")
    engine.drain()
    clock.advance(30)
    engine.drain()
    assert len(handles) == 2
    with pytest.raises(ValidationError, match="not in flight with this receipt handle"):
        queue.change_message_visibility(handles[0], 0)


# -- attributes, timestamps, retention ------------------------------------------------------


def test_system_attributes_keep_the_first_receive_and_the_send_times(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    app = App("v")
    queue = app.queue("work", visibility_timeout=30)
    seen: list[dict[str, str]] = []

    @app.on_queue(queue)
    def fail(event: dict[str, Any], context: Any) -> None:
        seen.append(event["Records"][0]["attributes"])
        raise RuntimeError("again")

    engine = make_engine(app)
    sent_at = int(clock.now() * 1000)
    queue.send_message("m")
    clock.advance(5)
    engine.drain()
    clock.advance(30)
    engine.drain()
    first, second = seen
    assert first["SentTimestamp"] == second["SentTimestamp"] == str(sent_at)
    assert first["ApproximateFirstReceiveTimestamp"] == str(sent_at + 5000)
    assert second["ApproximateFirstReceiveTimestamp"] == first["ApproximateFirstReceiveTimestamp"]
    assert (first["ApproximateReceiveCount"], second["ApproximateReceiveCount"]) == ("1", "2")
    assert first["SenderId"].endswith(":sluiceway-admin")


def test_a_dead_letter_keeps_its_first_enqueue_time_for_retention(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    app = App("v")
    dlq = app.queue("dlq", message_retention_period=120)
    queue = app.queue("work", visibility_timeout=30, dead_letter=dlq, max_receive_count=1)
    app.on_queue(queue)(refuse)
    engine = make_engine(app)
    queue.send_message("doomed")
    engine.drain()
    clock.advance(30)
    engine.drain()  # moved to the DLQ, 30 s after it was sent
    assert visible(engine)["dlq"] == 1
    clock.advance(89)
    engine.sweep()
    assert visible(engine)["dlq"] == 1
    clock.advance(2)  # 121 s after the original send
    engine.sweep()
    assert visible(engine)["dlq"] == 0


# -- redrive --------------------------------------------------------------------------------


def dlq_app() -> tuple[App, Queue]:
    """A DLQ serving queue 'work', and a queue 'other' to move things to."""
    app = App("r")
    dlq = app.queue("dlq")
    app.queue("work", dead_letter=dlq, max_receive_count=1)
    app.queue("other")
    return app, dlq


def fill_dlq(engine: Any, dlq: Queue, count: int) -> list[str]:
    ids = []
    for i in range(count):
        ids.append(dlq.send_message(f"m{i}")["MessageId"])
    return ids


def test_a_redrive_task_moves_dead_letters_as_new_messages_at_its_rate(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    app, dlq = dlq_app()
    engine = make_engine(app)
    old_ids = fill_dlq(engine, dlq, 6)
    with Admin(engine.settings.data_dir, clock=clock) as admin:
        handle = admin.start_redrive("dlq", to="other", rate=2)
        started = clock.now()
        engine.drain(advance_time=True)
        task = admin.move_task(handle)
        assert (task.status, task.moved, task.to_move) == ("COMPLETED", 6, 6)
        assert clock.now() - started == pytest.approx(3.0)  # 6 messages at 2 a second
    rows = engine.store.query(
        "SELECT m.message_id, m.body, m.receive_count FROM messages m JOIN queues q "
        "ON q.id = m.queue_id WHERE q.name = 'other' ORDER BY m.seq"
    )
    assert [r["body"] for r in rows] == [f"m{i}" for i in range(6)]
    assert not {r["message_id"] for r in rows} & set(old_ids)
    assert {r["receive_count"] for r in rows} == {0}


def test_one_move_task_runs_per_queue_and_can_be_cancelled(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    app, dlq = dlq_app()
    engine = make_engine(app)
    fill_dlq(engine, dlq, 3)
    with Admin(engine.settings.data_dir, clock=clock) as admin:
        first = admin.start_redrive("dlq", rate=1)
        with pytest.raises(ValidationError, match="already running on queue 'dlq'"):
            admin.start_redrive("dlq")
        engine.move_messages()  # one message this second
        assert admin.cancel_redrive("dlq") == first
        assert admin.move_task(first).status == "CANCELLED"
        assert admin.move_task(first).moved == 1
        engine.drain(advance_time=True)
        assert visible(engine) == {"dlq": 2, "other": 0, "work": 1}
        second = admin.start_redrive("dlq")
        engine.drain()
        assert admin.move_task(second).moved == 2
        assert [t.handle for t in admin.move_tasks("dlq")] == [second, first]


def test_a_redrive_needs_a_dead_letter_queue_or_a_destination(make_engine: EngineFactory) -> None:
    app, _ = dlq_app()
    engine = make_engine(app)
    with Admin(engine.settings.data_dir, clock=engine.clock) as admin:
        with pytest.raises(ValidationError, match="not the dead-letter queue of any queue"):
            admin.start_redrive("other")
        with pytest.raises(ValidationError, match="moved into itself"):
            admin.start_redrive("dlq", to="dlq")
        with pytest.raises(ValidationError, match=r"1\.\.500"):
            admin.start_redrive("dlq", rate=501)


def test_a_move_task_whose_runner_died_is_taken_over(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    from sluiceway.sqs import moves

    app, dlq = dlq_app()
    engine = make_engine(app)
    fill_dlq(engine, dlq, 3)
    registry = engine.registry
    assert registry is not None
    with Admin(engine.settings.data_dir, clock=clock) as admin:
        handle = admin.start_redrive("dlq", rate=1)
        # Another runner (a CLI that then died) took the task and moved one message.
        engine.store.write(lambda tx: moves.step(tx, registry, "cli-dead"))
        engine.drain()
        assert admin.move_task(handle).moved == 1  # its lease still holds
        clock.advance(31)
        engine.drain(advance_time=True)
        assert admin.move_task(handle).status == "COMPLETED"
        assert admin.move_task(handle).moved == 3


# -- purge ----------------------------------------------------------------------------------


def test_purge_empties_a_queue_in_flight_messages_too_once_a_minute(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    app = App("p")
    queue = app.queue("work")
    app.on_queue(queue)(refuse)
    engine = make_engine(app)
    for i in range(3):
        queue.send_message(f"m{i}")
    engine.drain()
    assert in_flight(engine)["work"] == 3
    with Admin(engine.settings.data_dir, clock=clock) as admin:
        assert admin.purge("work") == 3
        queue.send_message("after")
        with pytest.raises(ValidationError, match="purged less than 60 seconds ago"):
            admin.purge("work")
        clock.advance(60)
        assert admin.purge("work") == 1


# -- FIFO -----------------------------------------------------------------------------------


def fifo_app(
    record: list[tuple[str, str]], *, fail: set[str] | None = None, **queue: Any
) -> tuple[App, Queue]:
    app = App("f")
    dlq = app.queue("dead.fifo")
    fifo = app.queue("orders.fifo", dead_letter=dlq, max_receive_count=5, **queue)

    @app.on_queue(fifo, batch_size=10)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        failures = []
        for r in event["Records"]:
            record.append((r["attributes"]["MessageGroupId"], r["body"]))
            if fail and r["body"] in fail:
                failures.append({"itemIdentifier": r["messageId"]})
        return {"batchItemFailures": failures}

    return app, fifo


def test_fifo_delivers_each_group_in_order(make_engine: EngineFactory) -> None:
    seen: list[tuple[str, str]] = []
    app, fifo = fifo_app(seen, content_based_deduplication=True)
    engine = make_engine(app)
    for i in range(5):
        fifo.send_message(f"a{i}", message_group_id="A")
        fifo.send_message(f"b{i}", message_group_id="B")
    engine.drain()
    assert [b for g, b in seen if g == "A"] == [f"a{i}" for i in range(5)]
    assert [b for g, b in seen if g == "B"] == [f"b{i}" for i in range(5)]


def test_a_failed_fifo_message_holds_back_the_rest_of_its_group_only(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    seen: list[tuple[str, str]] = []
    app, fifo = fifo_app(seen, fail={"a1"}, content_based_deduplication=True)
    engine = make_engine(app)
    for body, group in [("a0", "A"), ("a1", "A"), ("a2", "A"), ("b0", "B"), ("b1", "B")]:
        fifo.send_message(body, message_group_id=group)
    engine.drain()
    # a1 failed; a2 came in the same batch and is held back too, without being reported.
    assert seen == [("A", "a0"), ("A", "a1"), ("A", "a2"), ("B", "b0"), ("B", "b1")]
    fifo.send_message("a3", message_group_id="A")
    fifo.send_message("b2", message_group_id="B")
    engine.drain()
    assert seen[-1] == ("B", "b2")  # group A waits while a1 and a2 are in flight
    clock.advance(30)
    engine.drain()
    assert seen[-3:] == [("A", "a1"), ("A", "a2"), ("A", "a3")]


def test_fifo_deduplicates_for_five_minutes(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    seen: list[tuple[str, str]] = []
    app, fifo = fifo_app(seen)
    engine = make_engine(app)
    first = fifo.send_message("x", message_group_id="A", message_deduplication_id="d1")
    again = fifo.send_message("x", message_group_id="A", message_deduplication_id="d1")
    assert again["MessageId"] == first["MessageId"]
    assert again["SequenceNumber"] == first["SequenceNumber"]
    engine.drain()
    assert seen == [("A", "x")]
    clock.advance(299)
    fifo.send_message("x", message_group_id="A", message_deduplication_id="d1")
    engine.drain()
    assert seen == [("A", "x")]
    clock.advance(2)
    fifo.send_message("x", message_group_id="A", message_deduplication_id="d1")
    engine.drain()
    assert seen == [("A", "x"), ("A", "x")]


def test_content_based_deduplication_hashes_the_body(make_engine: EngineFactory) -> None:
    seen: list[tuple[str, str]] = []
    app, fifo = fifo_app(seen, content_based_deduplication=True)
    engine = make_engine(app)
    fifo.send_message("same", message_group_id="A")
    fifo.send_message("same", message_group_id="B")
    fifo.send_message("other", message_group_id="A")
    engine.drain()
    assert [b for _, b in seen] == ["same", "other"]


@pytest.mark.parametrize(
    ("send", "message"),
    [
        ({"message_deduplication_id": "d"}, "every message needs a MessageGroupId"),
        ({"message_group_id": "A"}, "should either have content_based_deduplication enabled"),
        (
            {"message_group_id": "A", "message_deduplication_id": "d", "delay_seconds": 5},
            "per-message DelaySeconds is not allowed",
        ),
        (
            {"message_group_id": "A" * 129, "message_deduplication_id": "d"},
            "MessageGroupId must be",
        ),
    ],
)
def test_fifo_sends_are_checked_as_sqs_checks_them(
    make_engine: EngineFactory, send: dict[str, Any], message: str
) -> None:
    app, fifo = fifo_app([])
    make_engine(app)
    with pytest.raises(ValidationError, match=message):
        fifo.send_message("x", **send)


def test_fifo_records_carry_group_sequence_and_deduplication_ids(
    make_engine: EngineFactory,
) -> None:
    records: list[dict[str, Any]] = []
    app = App("f")
    fifo = app.queue("q.fifo", content_based_deduplication=True)
    app.on_queue(fifo, name="keep")(lambda event, context: records.extend(event["Records"]))
    engine = make_engine(app)
    sent = fifo.send_message("hello", message_group_id="G")
    engine.drain()
    attributes = records[0]["attributes"]
    assert attributes["MessageGroupId"] == "G"
    assert attributes["SequenceNumber"] == sent["SequenceNumber"]
    assert len(attributes["MessageDeduplicationId"]) == 64


def test_a_standard_queue_refuses_fifo_parameters(make_engine: EngineFactory) -> None:
    app = App("s")
    queue = app.queue("plain")
    make_engine(app)
    with pytest.raises(ValidationError, match="not FIFO"):
        queue.send_message("x", message_group_id="A")


# -- mapping options ------------------------------------------------------------------------


def test_messages_no_filter_matches_are_deleted_without_an_invocation(
    make_engine: EngineFactory,
) -> None:
    app = App("m")
    queue = app.queue("work")
    bodies: list[str] = []

    @app.on_queue(queue, filter=[{"body": {"type": ["order"]}}, {"body": [{"prefix": "urgent"}]}])
    def handler(event: dict[str, Any], context: Any) -> None:
        bodies.extend(r["body"] for r in event["Records"])

    engine = make_engine(app)
    for body in ('{"type": "order"}', '{"type": "refund"}', "urgent: call", "plain text"):
        queue.send_message(body)
    engine.drain()
    assert bodies == ['{"type": "order"}', "urgent: call"]
    assert visible(engine) == {"work": 0}
    assert in_flight(engine) == {"work": 0}


def test_a_large_batch_is_capped_by_the_six_megabyte_payload(make_engine: EngineFactory) -> None:
    app = App("m")
    queue = app.queue("work")
    sizes: list[int] = []
    app.on_queue(queue, batch_size=10_000, maximum_batching_window_in_seconds=1, name="big")(
        lambda event, context: sizes.append(len(event["Records"]))
    )
    engine = make_engine(app)
    for _ in range(10):
        queue.send_message("x" * 1_000_000)
    engine.drain(advance_time=True)
    assert sizes == [6, 4]


def _peak_concurrency(make_engine: EngineFactory, want: int, **options: Any) -> QueueMapping:
    """Run a mapping whose handler holds each batch until `want` batches are in flight at
    once; return the mapping once its backlog is gone."""
    app = App("m")
    queue = app.queue("work")
    lock = threading.Lock()
    inflight = [0]
    reached = threading.Event()
    release = threading.Event()

    @app.on_queue(queue, batch_size=1, name="hold", **options)
    def hold(event: dict[str, Any], context: Any) -> None:
        with lock:
            inflight[0] += 1
            if inflight[0] == want:
                reached.set()
        release.wait(10)
        with lock:
            inflight[0] -= 1

    engine = make_engine(app)
    for n in range(4 * want):
        queue.send_message(str(n))
    mapping = next(m for m in engine.mappings if isinstance(m, QueueMapping))
    assert mapping.active == 5  # where Lambda starts
    engine.start()
    try:
        assert reached.wait(10), f"never {want} batches at once (peak {mapping.peak_active})"
        release.set()
        wait_until(
            lambda: visible(engine)["work"] + in_flight(engine)["work"] == 0 and mapping.active == 5
        )
    finally:
        engine.stop()
    return mapping


def test_a_backlog_scales_a_mapping_up_to_its_maximum_concurrency(
    make_engine: EngineFactory,
) -> None:
    mapping = _peak_concurrency(make_engine, 7, maximum_concurrency=7)
    assert mapping.peak_active == 7  # more than the 5 it started with, never more than 7


def test_without_a_limit_a_backlog_scales_to_the_local_cap_and_back(
    make_engine: EngineFactory,
) -> None:
    mapping = _peak_concurrency(make_engine, LOCAL_MAX_POLLERS)
    assert mapping.peak_active == LOCAL_MAX_POLLERS
    assert mapping.active == 5  # the backlog gone, back to where Lambda starts


def test_a_limit_below_five_is_where_a_mapping_starts(make_engine: EngineFactory) -> None:
    app = App("m")
    app.on_queue(app.queue("work"), maximum_concurrency=2, name="two")(lambda event, context: None)
    engine = make_engine(app)
    mapping = next(m for m in engine.mappings if isinstance(m, QueueMapping))
    assert (mapping.active, mapping.pollers) == (2, 2)


def test_a_batch_that_runs_past_the_timeout_fails_and_its_handler_is_cut_off(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    app = App("t")
    queue = app.queue("work", visibility_timeout=30)
    table = app.table("things", partition_key="id")
    release = threading.Event()
    late: list[BaseException] = []

    @app.on_queue(queue, timeout=1, uses=[table.writes, queue.sends])
    def stuck(event: dict[str, Any], context: Any) -> None:
        queue.send_message("never committed")
        release.wait(10)
        try:
            table.put_item({"id": "late"})
        except TaskTimedOut as error:
            late.append(error)

    engine = make_engine(app)
    queue.send_message("m")
    engine.drain()
    assert in_flight(engine)["work"] == 1  # the batch failed: the message waits to come back
    release.set()
    engine.invoker.close()  # waits for nothing; the stuck thread finishes on its own
    for thread in threading.enumerate():
        if thread.name.startswith("sluiceway-handler"):
            thread.join(10)
    assert len(late) == 1
    assert "ran past its 1s timeout" in str(late[0])
    assert table.scan() == []
    assert visible(engine)["work"] == 0  # its deferred send never happened


def test_the_lambda_context_describes_the_invocation(make_engine: EngineFactory) -> None:
    app = App("c")
    queue = app.queue("work")
    contexts: list[dict[str, Any]] = []

    @app.on_queue(queue, timeout=7, memory_size=256, name="ctx-fn")
    def handler(event: dict[str, Any], context: Any) -> None:
        contexts.append(
            {
                "function_name": context.function_name,
                "function_version": context.function_version,
                "invoked_function_arn": context.invoked_function_arn,
                "memory_limit_in_mb": context.memory_limit_in_mb,
                "aws_request_id": context.aws_request_id,
                "log_group_name": context.log_group_name,
                "remaining": context.get_remaining_time_in_millis(),
            }
        )

    engine = make_engine(app)
    queue.send_message("m")
    engine.drain()
    (context,) = contexts
    assert context["function_name"] == "ctx-fn"
    assert context["function_version"] == "$LATEST"
    assert (
        context["invoked_function_arn"] == "arn:aws:lambda:us-east-1:000000000000:function:ctx-fn"
    )
    assert context["memory_limit_in_mb"] == "256"
    assert len(context["aws_request_id"]) == 36
    assert context["log_group_name"] == "/aws/lambda/ctx-fn"
    assert context["remaining"] == 7000  # the virtual clock has not moved
    assert json.dumps(context)
