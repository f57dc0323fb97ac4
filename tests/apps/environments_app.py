"""An app whose functions misbehave on request, to show what execution environments
contain: a queue worker told what to do by each message's body, HTTP functions that say
what their environment holds, and functions that cannot start."""

from __future__ import annotations

import ctypes
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from sluiceway import App

IN_ENVIRONMENT = "AWS_LAMBDA_FUNCTION_NAME" in os.environ
FUNCTION = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")

if FUNCTION == "broken-import":
    import a_module_only_the_laptop_has  # noqa: F401  (the init phase fails)

app = App("environments")

dead = app.queue("work-dlq")
work = app.queue("work", visibility_timeout=2, dead_letter=dead, max_receive_count=2)
results = app.table("results", partition_key="id")
app.route("POST", "/work", to=work)
done = app.queue("done")
# Module state: set in one environment, never seen by another function's.
STATE: dict[str, Any] = {"invocations": 0}


@app.on_queue(
    work,
    batch_size=1,
    uses=[results.writes, results.reads, done.sends],
    timeout=1,
    memory_size=128,
    name="worker",
)
def worker(event: dict[str, Any], context: Any) -> None:
    STATE["invocations"] += 1
    for record in event["Records"]:
        body = json.loads(record["body"])
        match body["do"]:
            case "spin":
                while True:
                    pass
            case "exit":
                os._exit(3)
            case "segv":
                ctypes.string_at(0)
            case "exhaust":
                hoard = bytearray(256 * 1024 * 1024)  # past memory_size=128
                hoard[0] = 1
            case "sys.exit":
                sys.exit(2)
            case "raise":
                raise ValueError("asked to fail")
            case "forbidden":
                dead.send_message("not in uses=")
            case "store":
                results.put_item(
                    {"id": body["id"], "pid": os.getpid(), "count": STATE["invocations"]}
                )
                # Read back an early write, then a deferred effect.
                assert results.get_item({"id": body["id"]}) is not None
                done.send_message(json.dumps({"id": body["id"]}))
                print(f"stored {body['id']}")
                logging.getLogger("worker").warning("warned about %s", body["id"])


def _environment(event: dict[str, Any], context: Any) -> dict[str, Any]:
    scratch = Path(tempfile.gettempdir()) / "scratch.txt"
    seen = scratch.read_text() if scratch.exists() else None
    scratch.write_text(context.function_name)
    STATE["invocations"] += 1
    names = [
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "_HANDLER",
        "LAMBDA_TASK_ROOT",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "COLOUR",
        "SHAPE",
        "LEAKED",
    ]
    os.environ["LEAKED"] = context.function_name  # must not reach the other function
    body = {
        "variables": {name: os.environ.get(name) for name in names},
        "tmp": tempfile.gettempdir(),
        "seen_in_tmp": seen,
        "pid": os.getpid(),
        "nice": os.nice(0),
        "invocations": STATE["invocations"],
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
    return {"statusCode": 200, "body": json.dumps(body)}


@app.on_http("GET", "/blue", environment={"COLOUR": "blue"}, name="blue", memory_size=256)
def blue(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _environment(event, context)


@app.on_http("GET", "/red", environment={"COLOUR": "red", "SHAPE": "square"}, name="red")
def red(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _environment(event, context)


@app.on_http("GET", "/slow", reserved_concurrency=1, timeout=5, name="slow")
def slow(event: dict[str, Any], context: Any) -> dict[str, Any]:
    import time

    time.sleep(float(event.get("queryStringParameters", {}).get("s", "0.5")))
    return {"statusCode": 200, "body": str(os.getpid())}


@app.on_http("GET", "/broken-import", name="broken-import")
def broken_import(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": "unreachable"}


if not IN_ENVIRONMENT:
    # Declared only where the runtime imports the app: its environment cannot find it.
    @app.on_http("GET", "/ghost", name="ghost")
    def ghost(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": "unreachable"}
