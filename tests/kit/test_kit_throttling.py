"""A function's reserved_concurrency, as Lambda applies it to synchronous invocations: past it,
API Gateway's invocation and the ``Invoke`` API's RequestResponse are throttled at once (no
handler runs) while the invocations in flight carry on; driven through the testing kit with
a handler held in flight."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sluiceway import App
from sluiceway.testing import RunningApp
from sluiceway.testing.plugin import Launcher


class Held:
    """A handler held in flight until `release()`."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.released = threading.Event()

    def hold(self) -> None:
        self.entered.set()
        assert self.released.wait(10), "never released"

    def release(self) -> None:
        self.released.set()


def busy_app(held: Held, payload_format_version: str) -> App:
    app = App("busy")

    @app.on_http(
        "GET",
        "/work",
        name="work",
        reserved_concurrency=1,
        timeout=15,
        payload_format_version=payload_format_version,
    )
    def work(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if event.get("queryStringParameters"):  # ?hold=1: the one held in flight
            held.hold()
        return {"statusCode": 200, "body": "done"}

    return app


@pytest.mark.parametrize(
    ("version", "refused"),
    [
        ("1.0", (500, {"message": "Internal server error"})),
        ("2.0", (500, {"message": "Internal Server Error"})),
    ],
)
def test_past_its_reserved_concurrency_an_api_request_is_answered_500_at_once(
    sluiceway: Launcher, version: str, refused: tuple[int, dict[str, str]]
) -> None:
    held = Held()
    app = sluiceway.run(busy_app(held, version))
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(app.http.get, "/work?hold=1")
        assert held.entered.wait(10)
        during = app.http.get("/work")
        assert (during.status_code, during.json()) == refused
        held.release()
        assert (first.result().status_code, first.result().text) == (200, "done")
    after = app.http.get("/work")
    assert (after.status_code, after.text) == (200, "done")
    throttled = [i for i in app.invocations if not i.ok]
    assert [type(i.error).__name__ for i in throttled] == ["Throttled"]


def test_past_its_reserved_concurrency_invoke_is_throttled_with_lambdas_error(
    sluiceway: Launcher,
) -> None:
    held = Held()
    app: RunningApp = sluiceway.run(busy_app(held, "1.0"))
    functions = app.client("lambda")
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(app.http.get, "/work?hold=1")
        assert held.entered.wait(10)
        with pytest.raises(ClientError) as refused:
            functions.invoke(FunctionName="work", Payload=b"{}")
        held.release()
        assert first.result().status_code == 200
    error = refused.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error["Error"] == {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."}
    assert error["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert error["Type"] == "User"
    answer = functions.invoke(FunctionName="work", Payload=b"{}")
    assert (answer["StatusCode"], "FunctionError" in answer) == (200, False)


def test_an_event_source_past_its_reserved_concurrency_waits_and_loses_nothing(
    sluiceway: Launcher,
) -> None:
    # Lambda's pollers retry a throttle: messages wait for the function, none is dropped.
    app = App("steady")
    jobs = app.queue("jobs")
    done: list[str] = []

    @app.on_queue(jobs, batch_size=1, reserved_concurrency=1)
    def take(event: dict[str, Any], context: Any) -> None:
        done.extend(record["body"] for record in event["Records"])

    running = sluiceway.run(app)
    for n in range(5):
        jobs.send_message(f"job-{n}")
    running.drain()
    assert sorted(done) == [f"job-{n}" for n in range(5)]
    assert all(i.ok for i in running.invocations)
