"""Execution environments: each function in worker processes of its own, as in Lambda.
Real processes throughout (the template and its forks), driven over real HTTP and through
the queue mapping; crashes fail one invocation, which is retried then dead-lettered."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from conftest import EngineFactory
from sluiceway.app import App
from sluiceway.app.loader import load_app
from sluiceway.cli import main
from sluiceway.core.clock import VirtualClock
from sluiceway.core.errors import SluicewayError
from sluiceway.local import Admin, LocalEngine
from support import gateway, wait_until

APP = Path(__file__).parent.parent / "apps" / "environments_app.py"


@pytest.fixture
def app() -> App:
    return load_app(str(APP))


@pytest.fixture
def engine(make_engine: EngineFactory, app: App) -> LocalEngine:
    return make_engine(app, isolation="process")


@pytest.fixture
def url(engine: LocalEngine) -> Iterator[str]:
    with gateway(engine) as base:
        yield base


def body_of(url: str, path: str) -> dict[str, Any]:
    answer = httpx.get(f"{url}{path}", timeout=15)
    assert answer.status_code == 200, answer.text
    return dict(json.loads(answer.text))


def queue_bodies(engine: LocalEngine, queue: str) -> list[str]:
    rows = engine.store.query(
        "SELECT m.body FROM messages m JOIN queues q ON q.id = m.queue_id WHERE q.name = ?",
        (queue,),
    )
    return sorted(r["body"] for r in rows)


def test_each_function_reads_only_its_own_environment(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    blue = body_of(url, "/blue")
    red = body_of(url, "/red")
    again = body_of(url, "/blue")

    assert blue["variables"] == {
        "AWS_LAMBDA_FUNCTION_NAME": "blue",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "_HANDLER": "sluiceway_app_environments_app.blue",
        "LAMBDA_TASK_ROOT": str(APP.parent.resolve()),
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/blue",
        "AWS_LAMBDA_LOG_STREAM_NAME": blue["variables"]["AWS_LAMBDA_LOG_STREAM_NAME"],
        "COLOUR": "blue",
        "SHAPE": None,
        "LEAKED": "blue",
    }
    assert "[$LATEST]" in blue["variables"]["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert red["variables"]["COLOUR"] == "red"
    assert red["variables"]["SHAPE"] == "square"
    assert red["variables"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    # What red set in its os.environ stayed in red's environment.
    assert again["variables"]["LEAKED"] == "blue"
    # Warm reuse: the same process, its module state and its /tmp kept between invocations.
    assert again["pid"] == blue["pid"] != red["pid"]
    assert (blue["invocations"], again["invocations"], red["invocations"]) == (1, 2, 1)
    assert again["seen_in_tmp"] == "blue"
    assert red["seen_in_tmp"] is None
    assert blue["tmp"] != red["tmp"]
    assert Path(blue["tmp"]).is_dir()
    assert 0 < blue["remaining_ms"] <= 3000
    assert os.getpid() not in (blue["pid"], red["pid"])
    # Below the runtime's priority: the front door and the writer come first.
    assert blue["nice"] == min(19, os.nice(0) + 10)


def test_the_runtimes_own_variables_are_not_a_functions(
    make_engine: EngineFactory, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLOUR", "the runtime's")
    monkeypatch.setenv("SHAPE", "the runtime's")
    engine = make_engine(app, isolation="process")
    with gateway(engine) as url:
        blue = body_of(url, "/blue")
    assert blue["variables"]["COLOUR"] == "blue"
    assert blue["variables"]["SHAPE"] is None


CRASHES = {
    "exit": "Runtime.ExitError: RequestId: {rid} Error: Runtime exited with error: exit status 3",
    "segv": "Runtime.ExitError: RequestId: {rid} Error: Runtime exited with error: signal: "
    "segmentation fault",
    "sys.exit": "Runtime.ExitError: RequestId: {rid} Error: Runtime exited with error: "
    "exit status 2",
    "exhaust": "Runtime.OutOfMemory: Runtime exited with error: out of memory",
    "spin": "TaskTimedOut: Task timed out after 1.00 seconds",
    "raise": "ValueError: asked to fail",
    "forbidden": "AccessDenied: function 'worker' is not authorized to perform sqs:SendMessage",
}


def test_crashes_fail_only_their_invocation_then_dead_letter(
    engine: LocalEngine, app: App, clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    work = sys.modules["sluiceway_app_environments_app"].work
    for do in CRASHES:
        work.send_message(json.dumps({"do": do, "id": do}))
    work.send_message(json.dumps({"do": "store", "id": "fine"}))
    for _ in range(3):  # max_receive_count=2: two receives each, then the dead-letter queue
        engine.drain()
        clock.advance(3)  # past the visibility timeout
    engine.drain()

    dead = [json.loads(b)["do"] for b in queue_bodies(engine, "work-dlq")]
    assert sorted(dead) == sorted(CRASHES)
    assert queue_bodies(engine, "work") == []
    # The good message went through: an early write read back, a deferred send committed.
    assert engine.store.query("SELECT COUNT(*) AS n FROM items")[0]["n"] >= 1
    assert queue_bodies(engine, "done") == [json.dumps({"id": "fine"})]

    failures = [r for r in caplog.records if r.name == "sluiceway.invoke"]
    for do, expected in CRASHES.items():
        matching = [
            r
            for r in failures
            if expected.format(rid=getattr(r, "request_id", ""))
            in r.getMessage().replace("sluiceway.awslambda.invoke.", "")
        ]
        assert len(matching) == 2, (do, [r.getMessage() for r in failures])
        assert all(getattr(r, "function", None) == "worker" for r in matching)
    # The handler's print and logging reached the runtime's log, with its ids.
    lines = [r for r in caplog.records if r.name == "sluiceway.function"]
    printed = next(r for r in lines if r.getMessage() == "stored fine")
    warned = next(r for r in lines if r.getMessage() == "warned about fine")
    assert getattr(printed, "function", None) == "worker"
    assert getattr(printed, "request_id", None) == getattr(warned, "request_id", None)
    assert warned.levelno == logging.WARNING
    # Metrics count each invocation and failure, as they did with handler threads.
    total, failed = engine.metrics.invocations["worker"]
    assert (total, failed) == (2 * len(CRASHES) + 1, 2 * len(CRASHES))


def test_init_failures_fail_the_invocation_and_the_runtime_carries_on(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    broken = httpx.get(f"{url}/broken-import", timeout=15)
    ghost = httpx.get(f"{url}/ghost", timeout=15)
    assert broken.status_code == ghost.status_code == 502
    messages = [r.getMessage() for r in caplog.records if r.name == "sluiceway.invoke"]
    assert any(
        "Runtime.ImportModuleError: Unable to import module 'sluiceway_app_environments_app': "
        "No module named 'a_module_only_the_laptop_has'" in m
        for m in messages
    ), messages
    assert any("Runtime.HandlerNotFound: Handler 'ghost' missing" in m for m in messages)
    assert body_of(url, "/blue")["variables"]["COLOUR"] == "blue"


def test_reserved_concurrency_caps_a_functions_environments(engine: LocalEngine, url: str) -> None:
    # A synchronous invocation past the function's reserved_concurrency (1) is throttled at
    # once, as Lambda throttles it, and API Gateway answers its 500; the one in flight is
    # served, and later ones find its environment warm.
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(httpx.get, f"{url}/slow?s=1.5", timeout=15)
        wait_until(lambda: engine.environments is not None and engine.environments.alive())
        during = list(pool.map(lambda _: httpx.get(f"{url}/slow?s=0", timeout=15), range(3)))
        served = first.result()
    assert served.status_code == 200
    assert [(a.status_code, a.json()) for a in during] == [
        (500, {"message": "Internal server error"})
    ] * 3
    after = httpx.get(f"{url}/slow?s=0", timeout=15)
    assert (after.status_code, after.text) == (200, served.text)  # the same environment
    assert engine.environments is not None
    assert engine.environments.alive()["slow"] == 1


def test_an_environment_killed_while_idle_is_replaced(engine: LocalEngine, url: str) -> None:
    first = body_of(url, "/red")["pid"]
    os.kill(first, signal.SIGKILL)
    assert engine.environments is not None
    wait_until(lambda: first not in engine.environments.pids())
    second = body_of(url, "/red")
    assert second["pid"] != first
    assert second["invocations"] == 1  # a cold start: a new init phase


def test_a_killed_template_is_started_again_with_new_environments(
    engine: LocalEngine, url: str
) -> None:
    assert engine.environments is not None
    first = body_of(url, "/blue")["pid"]
    template = engine.environments.template.pid
    assert template is not None
    os.kill(template, signal.SIGKILL)
    wait_until(lambda: not Path(f"/proc/{first}").exists() or _zombie(first))
    again = body_of(url, "/blue")
    assert again["pid"] != first
    assert engine.environments.template.pid != template


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_idle_environments_are_reaped(make_engine: EngineFactory, app: App) -> None:
    engine = make_engine(app, isolation="process", environment_idle_seconds=0.3)
    assert engine.environments is not None
    with gateway(engine) as url:
        pid = body_of(url, "/blue")["pid"]
    wait_until(lambda: not engine.environments.alive() if engine.environments else False)
    wait_until(lambda: not Path(f"/proc/{pid}").exists())


def test_process_isolation_needs_an_app_loaded_by_reference(
    make_engine: EngineFactory,
) -> None:
    inline = App("inline")
    with pytest.raises(SluicewayError, match="not loaded by reference"):
        make_engine(inline, isolation="process")


def test_a_crash_is_in_the_trace_of_the_request_that_caused_it(
    engine: LocalEngine, url: str
) -> None:
    answer = httpx.post(f"{url}/work", json={"do": "segv", "id": "traced"}, timeout=10)
    assert answer.status_code == 200
    trace_id = answer.headers["x-sluiceway-trace-id"]
    engine.drain()
    engine.store.traces.flush()
    with Admin(engine.settings.data_dir) as admin:
        hops = admin.trace(trace_id)
    invoke = next(h for h in hops if h.kind == "invoke")
    assert invoke.name == "worker"
    assert invoke.detail["ok"] is False
    assert invoke.detail["error"].startswith("Runtime.ExitError('RequestId: ")
    assert "signal: segmentation fault" in invoke.detail["error"]
    shown = CliRunner().invoke(
        main, ["traces", trace_id, "--data-dir", str(engine.settings.data_dir)]
    )
    assert shown.exit_code == 0, shown.output
    assert "invoke" in shown.output
