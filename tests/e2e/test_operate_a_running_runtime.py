"""Operating `sluiceway run` from outside, as an operator does: pausing a mapping from the
CLI, `sluiceway tail`, handlers' output as JSON log lines, `/metrics`."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from runtime import RuntimeProcess, cli

from support import wait_until

pytestmark = pytest.mark.slow

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def metric(url: str, name: str, **labels: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


def orders(data: Path) -> int:
    return len(cli("scan", "orders", data_dir=data).stdout.splitlines())


def test_a_pause_from_the_cli_holds_the_running_mapping_until_resumed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    runtime = RuntimeProcess(data, ["--auto-confirm"]).start()
    mapping = {"mapping": "POC-Lambda-1", "source": "queue:POC-Queue"}
    try:
        paused = cli("mappings", "pause", "POC-Lambda-1", data_dir=data)
        assert paused.returncode == 0, paused.stderr
        # The runtime hears of the other process's commit within a second.
        wait_until(lambda: metric(runtime.url, "sluiceway_mapping_paused", **mapping) == 1, 1.5)

        for n in range(3):
            answer = httpx.post(f"{runtime.url}/orders", json={"n": n}, timeout=10)
            assert answer.status_code == 200
        visible = {"queue": "POC-Queue", "state": "visible"}
        wait_until(lambda: metric(runtime.url, "sluiceway_queue_messages", **visible) == 3)
        assert orders(data) == 0
        listed = json.loads(cli("mappings", "--json", data_dir=data).stdout)
        assert (listed[0]["name"], listed[0]["state"], listed[0]["behind"]) == (
            "POC-Lambda-1",
            "paused",
            3,
        )

        assert cli("mappings", "resume", "POC-Lambda-1", data_dir=data).returncode == 0
        wait_until(lambda: orders(data) == 3)
        assert metric(runtime.url, "sluiceway_mapping_paused", **mapping) == 0
    finally:
        assert runtime.stop() == 0


class Tail:
    """`sluiceway tail --json` in its own process; `next()` waits for its next event."""

    def __init__(self, data: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sluiceway", "tail", "--json", *args, "--data-dir", str(data)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.events.put(json.loads(line))
        self.events.put(None)

    def finish(self) -> tuple[int, str]:
        """Wait for it to end; its exit code and what it said on stderr."""
        code = self.process.wait(10)
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        said = self.process.stderr.read()
        self._reader.join(10)
        self.process.stdout.close()
        self.process.stderr.close()
        return code, said

    def until(self, wanted: Any, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Events up to and including the first for which `wanted(event)` holds."""
        seen = []
        while True:
            event = self.events.get(timeout=timeout)
            assert event is not None, f"tail ended; saw {seen}"
            seen.append(event)
            if wanted(event):
                return seen


def test_tail_follows_requests_invocations_and_deliveries_and_ends_with_the_runtime(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    runtime = RuntimeProcess(data, ["--auto-confirm"]).start()
    tail: Tail | None = None
    try:
        first = httpx.post(f"{runtime.url}/orders", json={"item": "mop"}, timeout=10)
        assert first.status_code == 200
        # --since replays what happened before tail started.
        tail = Tail(data, "--since", "5m")
        seen = tail.until(lambda e: e["kind"] == "delivery")
        request = next(e for e in seen if e["kind"] == "request")
        assert (request["method"], request["path"], request["status"]) == ("POST", "/orders", 200)
        assert request["duration_ms"] > 0
        assert request["trace_id"] == first.headers["x-sluiceway-trace-id"]
        # Both, in either order: POC-Lambda-1's item is written early, so POC-Lambda-2 can
        # be done with it before POC-Lambda-1's own end is told.
        functions = [e["function"] for e in seen if e["kind"] == "invocation"]
        assert sorted(functions) == ["POC-Lambda-1", "POC-Lambda-2"]
        assert all(e["ok"] for e in seen if e["kind"] == "invocation")
        assert seen[-1]["protocol"] == "email"
        assert seen[-1]["status"] == "delivered"
        assert seen[-1]["attempts"] == 1

        # Live, from now on:
        httpx.post(f"{runtime.url}/orders", json={"item": "broom"}, timeout=10)
        live = tail.until(lambda e: e["kind"] == "delivery")
        # (the request is told once answered: its message may be taken before that)
        assert sorted(e["kind"] for e in live) == [
            "delivery",
            "invocation",
            "invocation",
            "request",
        ]
        assert live[0]["seq"] > seen[-1]["seq"]
        cli("mappings", "pause", "POC-Lambda-2", data_dir=data)
        (paused,) = tail.until(lambda e: e["kind"] == "mapping")
        assert (paused["name"], paused["state"]) == ("POC-Lambda-2", "paused")
    finally:
        code = runtime.stop()  # an open stream does not hold the shutdown up
        if tail is not None:
            ended, said = tail.finish()  # (its pipes closed whatever happened above)
    assert code == 0
    assert ended == 0
    assert "the runtime stopped" in said


def test_tail_without_a_runtime_says_how_to_start_one(tmp_path: Path) -> None:
    answer = cli("tail", data_dir=tmp_path / "data")
    assert answer.returncode == 1
    assert "no runtime is running" in answer.stderr


CHATTY_APP = """
import logging
import sys

from sluiceway import App

app = App("chatty")
inbox = app.queue("inbox")
app.route("POST", "/notes", to=inbox)
log = logging.getLogger("notes")
log.setLevel(logging.INFO)


@app.on_queue(inbox)
def take_note(event, context):
    for record in event["Records"]:
        print("got", record["body"])
        print("to stderr", end="", file=sys.stderr)
        print("", file=sys.stderr)
        log.info("noted %s", record["body"])
        logging.getLogger().warning("root warning")
        try:
            raise ValueError("kept going")
        except ValueError:
            log.exception("a handled error")
"""


def test_handler_output_becomes_json_log_lines_that_name_the_invocation(tmp_path: Path) -> None:
    app_file = tmp_path / "chatty.py"
    app_file.write_text(CHATTY_APP)
    data = tmp_path / "data"
    log_file = tmp_path / "runtime.log"
    runtime = RuntimeProcess(data, [str(app_file)]).start()
    try:
        answer = httpx.post(
            f"{runtime.url}/notes",
            content=b'{"n": 1}',
            headers={
                "content-type": "application/json",
                "traceparent": f"00-{TRACE}-00f067aa0ba902b7-01",
            },
            timeout=10,
        )
        assert answer.status_code == 200

        def handler_lines() -> list[dict[str, Any]]:
            lines = [json.loads(line) for line in log_file.read_text().splitlines()]
            return [line for line in lines if line["logger"] == "sluiceway.function"]

        wait_until(lambda: len(handler_lines()) >= 5)
    finally:
        runtime.stop()
    lines = handler_lines()
    assert [(line["level"], line["message"]) for line in lines] == [
        ("info", 'got {"n": 1}'),
        ("info", "to stderr"),
        ("info", 'noted {"n": 1}'),
        ("warning", "root warning"),
        ("error", "a handled error"),
    ]
    request_ids = {line["request_id"] for line in lines}
    assert len(request_ids) == 1
    assert None not in request_ids
    assert {line["function"] for line in lines} == {"take_note"}
    assert {line["correlation_id"] for line in lines} == {TRACE}
    assert [line.get("stream") for line in lines[:2]] == ["stdout", "stderr"]
    assert lines[2]["origin"] == "notes"
    assert "ValueError: kept going" in lines[4]["exception"]
    # What is printed outside handlers still reaches stdout as it was.
    assert runtime.output[0].startswith("sluiceway: app 'chatty' ready on ")
    assert not any(line.startswith("{") for line in runtime.output)
