"""Scheduled functions (`app.on_schedule`): fired by the engine at their times as
asynchronous invocations, durably once per slot, and rendered as SAM's Schedule events."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from conftest import EngineFactory
from sluiceway import App, DeclarationError
from sluiceway.aws import Code, template_for
from sluiceway.core.clock import VirtualClock
from sluiceway.local import LocalEngine, Settings

START = 1_796_637_600.0  # 2026-12-07T10:00:00Z


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start=START)


def ticker(got: list[Any], expression: str = "rate(1 minute)", **options: Any) -> App:
    app = App("ticker")

    @app.on_schedule(expression, **options)
    def tick(event: Any, context: Any) -> None:
        got.append(event)

    return app


def times(got: list[Any]) -> list[str]:
    return [event["time"] for event in got]


def test_a_rate_schedule_invokes_its_function_with_the_scheduled_event(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    got: list[Any] = []
    engine = make_engine(ticker(got))
    engine.drain()
    assert got == []  # a rate first fires a period after it was created
    clock.advance(59)
    engine.drain()
    assert got == []
    clock.advance(1)
    engine.drain()
    [event] = got
    assert set(event) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert {k: v for k, v in event.items() if k != "id"} == {
        "version": "0",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": "2026-12-07T10:01:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:000000000000:rule/tick-schedule"],
        "detail": {},
    }
    assert len(event["id"]) == 36
    clock.advance(60)
    engine.drain()
    assert times(got) == ["2026-12-07T10:01:00Z", "2026-12-07T10:02:00Z"]
    assert got[0]["id"] != got[1]["id"]


def test_the_scheduler_waits_for_the_next_slot_and_says_when_it_is(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    engine = make_engine(ticker([], "cron(30 10 * * ? *)"))
    assert engine.scheduler is not None
    step = engine.scheduler.step()
    assert not step.did_work
    assert step.due == START + 30 * 60


def test_input_is_what_the_function_gets_verbatim(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    got: list[Any] = []
    engine = make_engine(ticker(got, "cron(0/5 * * * ? *)", input='{"job": "report", "n": 1}'))
    clock.advance(300)
    engine.drain()
    assert got == [{"job": "report", "n": 1}]


def test_a_failing_invocation_is_retried_as_an_asynchronous_one(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    calls: list[str] = []
    app = App("flaky")

    @app.on_schedule("at(2026-12-07T10:10:00)")
    def once(event: Any, context: Any) -> None:
        calls.append(event["time"])
        if len(calls) < 3:
            raise RuntimeError("not yet")

    engine = make_engine(app)
    clock.set(START + 600)
    engine.drain(advance_time=True)
    # the invocation and Lambda's two retries, each with the same event
    assert calls == ["2026-12-07T10:10:00Z"] * 3
    assert engine.scheduler is not None
    assert engine.scheduler.step().due is None  # a one-time schedule is done


def test_slots_missed_while_unable_to_fire_make_one_fire_for_the_latest(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    got: list[Any] = []
    engine = make_engine(ticker(got, "rate(5 minutes)"))
    clock.advance(3600 + 30)  # twelve slots passed while (say) the laptop slept
    engine.drain()
    assert times(got) == ["2026-12-07T11:00:00Z"]


def test_a_disabled_schedule_does_not_fire(make_engine: EngineFactory, clock: VirtualClock) -> None:
    got: list[Any] = []
    engine = make_engine(ticker(got, enabled=False))
    clock.advance(600)
    engine.drain()
    assert got == []


def test_a_restart_neither_fires_a_slot_again_nor_makes_up_missed_ones(
    data_dir: Path, clock: VirtualClock
) -> None:
    got: list[Any] = []
    app = ticker(got, "rate(10 minutes)")
    with LocalEngine(app, Settings(data_dir=data_dir), clock=clock, env={}) as engine:
        clock.advance(600)
        engine.drain()
    assert times(got) == ["2026-12-07T10:10:00Z"]
    # Back up at once: the slot just fired does not fire again.
    with LocalEngine(app, Settings(data_dir=data_dir), clock=clock, env={}) as engine:
        engine.drain()
        assert times(got) == ["2026-12-07T10:10:00Z"]
    # Down through 10:20 to 10:45: nothing is made up; the rate keeps its first anchor.
    clock.set(START + 45 * 60)
    with LocalEngine(app, Settings(data_dir=data_dir), clock=clock, env={}) as engine:
        engine.drain()
        assert times(got) == ["2026-12-07T10:10:00Z"]
        clock.set(START + 50 * 60)
        engine.drain()
    assert times(got) == ["2026-12-07T10:10:00Z", "2026-12-07T10:50:00Z"]


def test_a_clock_stepped_back_does_not_fire_a_recorded_slot_again(
    data_dir: Path, clock: VirtualClock
) -> None:
    got: list[Any] = []
    app = ticker(got, "cron(0 * * * ? *)")
    with LocalEngine(app, Settings(data_dir=data_dir), clock=clock, env={}) as engine:
        clock.set(START + 3600)
        engine.drain()
    assert times(got) == ["2026-12-07T11:00:00Z"]
    earlier = VirtualClock(start=START + 1800)  # the host's clock went back half an hour
    with LocalEngine(app, Settings(data_dir=data_dir), clock=earlier, env={}) as engine:
        earlier.set(START + 3600)
        engine.drain()
        assert times(got) == ["2026-12-07T11:00:00Z"]
        earlier.set(START + 7200)
        engine.drain()
    assert times(got) == ["2026-12-07T11:00:00Z", "2026-12-07T12:00:00Z"]


def test_the_fire_and_its_slot_commit_together(data_dir: Path, clock: VirtualClock) -> None:
    app = ticker([], "rate(1 hour)")
    with LocalEngine(app, Settings(data_dir=data_dir), clock=clock, env={}) as engine:
        clock.advance(3600)
        assert engine.scheduler is not None
        assert engine.scheduler.step().did_work  # fired; the delivery not run yet
    with sqlite3.connect(data_dir / "sluiceway.db") as cx:
        [(slot,)] = cx.execute("SELECT fired_slot FROM schedules WHERE function = 'tick'")
        [(kind, endpoint, status, message)] = cx.execute(
            "SELECT d.kind, d.endpoint, d.status, n.message FROM deliveries d "
            "JOIN notifications n ON n.id = d.notification_id"
        )
    assert slot == (START + 3600) * 1000
    assert (kind, endpoint, status) == ("invoke", "tick", "pending")
    assert json.loads(message)["time"] == "2026-12-07T11:00:00Z"


def test_changing_the_expression_restarts_the_schedule(data_dir: Path, clock: VirtualClock) -> None:
    got: list[Any] = []
    with LocalEngine(ticker(got, "rate(1 hour)"), Settings(data_dir=data_dir), clock=clock):
        pass
    clock.advance(1800)
    with LocalEngine(
        ticker(got, "rate(2 hours)"), Settings(data_dir=data_dir), clock=clock, env={}
    ) as engine:
        clock.advance(3600)
        engine.drain()
        assert got == []
        clock.advance(3600)
        engine.drain()
    assert times(got) == ["2026-12-07T12:30:00Z"]


# -- declaring ---------------------------------------------------------------------------


def test_a_bad_expression_is_refused_where_it_is_declared() -> None:
    with pytest.raises(DeclarationError) as raised:
        ticker([], "cron(0 12 * * * *)")
    error = raised.value
    assert error.resource == "function 'tick' (on_schedule cron(0 12 * * * *))"
    assert error.problem == (
        "cron expression 'cron(0 12 * * * *)': day-of-month and day-of-week cannot both be "
        "'*'; use '?' in one of them"
    )
    assert "rate(5 minutes)" in error.fix


@pytest.mark.parametrize(
    ("input", "problem"),
    [
        ("not json", "input= is not valid JSON"),
        (42, "input=42 is not JSON text"),
        ("x" * 9000, "input= is not valid JSON"),
        (json.dumps({"k": "v" * 9000}), "more than EventBridge's 8192"),
    ],
)
def test_a_bad_input_is_refused(input: Any, problem: str) -> None:
    with pytest.raises(DeclarationError, match=problem):
        ticker([], input=input)


def test_a_mapping_input_is_kept_as_json() -> None:
    app = ticker([], input={"job": "report"})
    [function] = app.graph.functions
    assert function.source.input == '{"job": "report"}'  # type: ignore[union-attr]


# -- rendering for AWS ---------------------------------------------------------------------


def rendered(app: App) -> dict[str, Any]:
    return template_for(app.graph, Code("m:app"))["Resources"]  # type: ignore[no-any-return]


def test_a_schedule_renders_as_sam_s_schedule_event() -> None:
    resources = rendered(ticker([], "rate(5 minutes)", input='{"job": "report"}'))
    assert resources["Tick"]["Properties"]["Events"] == {
        "Schedule": {
            "Type": "Schedule",
            "Properties": {"Schedule": "rate(5 minutes)", "Input": '{"job": "report"}'},
        }
    }
    # a schedule needs no grant of the function: EventBridge holds the right to invoke it
    [policy] = resources["TickRole"]["Properties"]["Policies"]
    assert policy["PolicyDocument"]["Statement"] == []


def test_a_disabled_schedule_renders_disabled() -> None:
    events = rendered(ticker([], "cron(0 12 ? * MON-FRI *)", enabled=False))["Tick"]
    assert events["Properties"]["Events"] == {
        "Schedule": {
            "Type": "Schedule",
            "Properties": {"Schedule": "cron(0 12 ? * MON-FRI *)", "Enabled": False},
        }
    }


def test_a_one_time_schedule_renders_as_scheduler_s_schedule_v2() -> None:
    events = rendered(ticker([], "at(2026-12-07T10:00:00)", enabled=False))["Tick"]
    assert events["Properties"]["Events"] == {
        "Schedule": {
            "Type": "ScheduleV2",
            "Properties": {"ScheduleExpression": "at(2026-12-07T10:00:00)", "State": "DISABLED"},
        }
    }
