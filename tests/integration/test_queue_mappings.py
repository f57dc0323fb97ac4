"""Queues feeding functions: SQS and Lambda semantics on the local engine, on a virtual clock."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import EngineFactory
from sluiceway import App, Queue, ValidationError
from sluiceway.core.clock import VirtualClock
from sluiceway.local import Admin


class Recorder:
    """A handler whose behaviour a test sets: which bodies fail, and how."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.fail_bodies: set[str] = set()
        self.raise_error = False
        self.answer: Any = None

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.events.append(event)
        if self.raise_error:
            raise RuntimeError("handler crashed")
        if self.answer is not None:
            return self.answer
        failures = [
            {"itemIdentifier": r["messageId"]}
            for r in event["Records"]
            if r["body"] in self.fail_bodies
        ]
        return {"batchItemFailures": failures}

    @property
    def bodies(self) -> list[str]:
        return [r["body"] for e in self.events for r in e["Records"]]


def queue_app(recorder: Recorder, **mapping: Any) -> tuple[App, Queue]:
    app = App("q")
    dlq = app.queue("dlq")
    queue = app.queue("work", visibility_timeout=30, dead_letter=dlq, max_receive_count=3)
    app.on_queue(queue, **mapping)(recorder)
    return app, queue


def stats(engine: Any) -> dict[str, tuple[int, int, int]]:
    with Admin(engine.settings.data_dir, clock=engine.clock) as admin:
        return {s.name: (s.visible, s.in_flight, s.delayed) for s in admin.queue_stats()}


def test_a_batch_is_delivered_as_the_aws_sqs_event(make_engine: EngineFactory) -> None:
    recorder = Recorder()
    app, queue = queue_app(recorder)
    engine = make_engine(app)
    sent = [queue.send_message(f"m{i}") for i in range(3)]
    engine.drain()
    (event,) = recorder.events
    assert [r["messageId"] for r in event["Records"]] == [s["MessageId"] for s in sent]
    record = event["Records"][0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == "arn:aws:sqs:us-east-1:000000000000:work"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["attributes"]["SenderId"].startswith("AROA")
    assert record["receiptHandle"].startswith("AQEB")
    assert stats(engine)["work"] == (0, 0, 0)


def test_only_the_failed_message_of_a_batch_comes_back(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    recorder = Recorder()
    recorder.fail_bodies = {"bad"}
    app, queue = queue_app(recorder)
    engine = make_engine(app)
    for body in ("ok-1", "bad", "ok-2"):
        queue.send_message(body)
    engine.drain()
    assert stats(engine)["work"] == (0, 1, 0)
    clock.advance(30)
    engine.drain()
    assert recorder.bodies == ["ok-1", "bad", "ok-2", "bad"]


def test_a_message_moves_to_the_dlq_after_max_receive_count(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    recorder = Recorder()
    recorder.fail_bodies = {"poison"}
    app, queue = queue_app(recorder)
    engine = make_engine(app)
    queue.send_message("poison")
    engine.drain(advance_time=True)
    assert recorder.bodies == ["poison"] * 3
    assert stats(engine) == {"dlq": (1, 0, 0), "work": (0, 0, 0)}
    dead = engine.store.query("SELECT receive_count FROM messages")
    assert dead[0]["receive_count"] == 3


def test_redrive_returns_dead_letters_and_a_fixed_handler_processes_them(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    recorder = Recorder()
    recorder.fail_bodies = {"poison"}
    app, queue = queue_app(recorder)
    engine = make_engine(app)
    first = queue.send_message("poison")
    engine.drain(advance_time=True)
    recorder.fail_bodies = set()
    with Admin(engine.settings.data_dir, clock=clock) as admin:
        assert admin.redrive("dlq") == 1
    engine.drain()
    assert recorder.bodies[-1] == "poison"
    redriven = recorder.events[-1]["Records"][0]
    assert redriven["messageId"] != first["MessageId"]
    assert redriven["attributes"]["ApproximateReceiveCount"] == "1"
    assert stats(engine) == {"dlq": (0, 0, 0), "work": (0, 0, 0)}


def test_a_raising_handler_fails_the_whole_batch(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    recorder = Recorder()
    recorder.raise_error = True
    app, queue = queue_app(recorder)
    engine = make_engine(app)
    for body in ("a", "b"):
        queue.send_message(body)
    engine.drain()
    assert stats(engine)["work"] == (0, 2, 0)
    clock.advance(29)
    engine.drain()
    assert len(recorder.events) == 1
    clock.advance(1)
    recorder.raise_error = False
    engine.drain()
    assert recorder.bodies == ["a", "b", "a", "b"]
    assert recorder.events[-1]["Records"][0]["attributes"]["ApproximateReceiveCount"] == "2"


@pytest.mark.parametrize(
    "answer",
    [
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"id": "x"}]},
        {"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]},
        {"batchItemFailures": "all"},
    ],
)
def test_a_malformed_partial_response_fails_the_whole_batch(
    make_engine: EngineFactory, answer: Any
) -> None:
    recorder = Recorder()
    recorder.answer = answer
    app, queue = queue_app(recorder)
    engine = make_engine(app)
    queue.send_message("a")
    queue.send_message("b")
    engine.drain()
    assert stats(engine)["work"] == (0, 2, 0)


@pytest.mark.parametrize(
    "answer", [{"batchItemFailures": []}, {"batchItemFailures": None}, {}, "done"]
)
def test_empty_or_absent_failures_mean_success(make_engine: EngineFactory, answer: Any) -> None:
    recorder = Recorder()
    recorder.answer = answer
    app, queue = queue_app(recorder)
    engine = make_engine(app)
    queue.send_message("a")
    engine.drain()
    assert stats(engine)["work"] == (0, 0, 0)


def test_without_reporting_item_failures_a_returned_list_is_ignored(
    make_engine: EngineFactory,
) -> None:
    recorder = Recorder()
    recorder.fail_bodies = {"a"}
    app, queue = queue_app(recorder, report_batch_item_failures=False)
    engine = make_engine(app)
    queue.send_message("a")
    engine.drain()
    assert stats(engine)["work"] == (0, 0, 0)


def test_batch_size_caps_each_invocation(make_engine: EngineFactory) -> None:
    recorder = Recorder()
    app, queue = queue_app(recorder, batch_size=2)
    engine = make_engine(app)
    for i in range(5):
        queue.send_message(f"m{i}")
    engine.drain()
    assert [len(e["Records"]) for e in recorder.events] == [2, 2, 1]


def test_the_batching_window_waits_for_a_fuller_batch(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    recorder = Recorder()
    app, queue = queue_app(recorder, batch_size=3, maximum_batching_window_in_seconds=5)
    engine = make_engine(app)
    queue.send_message("a")
    engine.drain()
    assert recorder.events == []
    clock.advance(2)
    queue.send_message("b")
    engine.drain()
    assert recorder.events == []
    clock.advance(3)
    engine.drain()
    assert [len(e["Records"]) for e in recorder.events] == [2]
    for body in ("c", "d", "e"):
        queue.send_message(body)
    engine.drain()
    assert [len(e["Records"]) for e in recorder.events] == [2, 3]


def test_delayed_messages_wait_their_delay(make_engine: EngineFactory, clock: VirtualClock) -> None:
    recorder = Recorder()
    app, queue = queue_app(recorder)
    engine = make_engine(app)
    queue.send_message("later", delay_seconds=60)
    engine.drain()
    assert stats(engine)["work"] == (0, 0, 1)
    clock.advance(60)
    engine.drain()
    assert recorder.bodies == ["later"]


def test_messages_past_retention_are_dropped(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    app = App("q")
    queue = app.queue("work", message_retention_period=60)
    engine = make_engine(app)
    queue.send_message("old")
    clock.advance(61)
    engine.sweep()
    assert stats(engine)["work"] == (0, 0, 0)


def test_sqs_limits_are_enforced_on_send(make_engine: EngineFactory) -> None:
    app = App("q")
    queue = app.queue("work", maximum_message_size=1024)
    make_engine(app)
    with pytest.raises(ValidationError, match="larger than queue 'work' allows"):
        queue.send_message("x" * 1025)
    with pytest.raises(ValidationError, match="U\\+0000"):
        queue.send_message("a\x00b")
    with pytest.raises(ValidationError, match="must not be empty"):
        queue.send_message("")
    with pytest.raises(ValidationError, match="attribute name"):
        queue.send_message(
            "x", message_attributes={"AWS.x": {"DataType": "String", "StringValue": "v"}}
        )


def test_send_returns_the_md5s_sqs_returns(make_engine: EngineFactory) -> None:
    app = App("q")
    queue = app.queue("work")
    make_engine(app)
    answer = queue.send_message(
        "Hello from SQS!", message_attributes={"a": {"DataType": "String", "StringValue": "x"}}
    )
    assert answer["MD5OfMessageBody"] == "7b270e59b47ff90a553787216d55d91d"
    assert len(answer["MD5OfMessageAttributes"]) == 32


def test_a_message_whose_invocation_a_crash_cut_short_is_retried_at_restart(
    make_engine: EngineFactory,
) -> None:
    from sluiceway.sqs import queues as local_queues

    recorder = Recorder()
    app, queue = queue_app(recorder)
    engine = make_engine(app)
    queue.send_message("interrupted")
    info = engine.registry.queue("work")  # type: ignore[union-attr]
    # What a mapping does before invoking; then the process "dies" (no acknowledgement).
    engine.store.write(lambda tx: local_queues.claim(tx, info, 10, invoking=True))
    engine.close()
    engine = make_engine(app)
    assert stats(engine)["work"] == (1, 0, 0)
    engine.drain()
    assert recorder.bodies == ["interrupted"]
    assert recorder.events[0]["Records"][0]["attributes"]["ApproximateReceiveCount"] == "2"


def test_a_message_whose_invocation_failed_still_waits_its_visibility_timeout_after_restart(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    recorder = Recorder()
    recorder.raise_error = True
    app, queue = queue_app(recorder)
    engine = make_engine(app)
    queue.send_message("failed")
    engine.drain()
    engine.close()
    engine = make_engine(app)
    assert stats(engine)["work"] == (0, 1, 0)
    clock.advance(30)
    assert stats(engine)["work"] == (1, 0, 0)
