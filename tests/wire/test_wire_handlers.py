"""Handlers written for Lambda with boto3 run unchanged in their execution environments:
the runtime gives each environment its endpoint, a region and the function's own
credentials, and checks each call against the function's grants."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import ServeFactory
from sluiceway.app.loader import load_app
from sluiceway.local import LocalEngine

APP = Path(__file__).parent.parent / "apps" / "lambda_style_app.py"


def bodies(engine: LocalEngine, queue: str) -> list[str]:
    rows = engine.store.query(
        "SELECT body FROM messages JOIN queues ON queues.id = messages.queue_id "
        "WHERE queues.name = ?",
        (queue,),
    )
    return [row[0] for row in rows]


def test_a_lambda_style_handler_module_calls_the_runtime_as_its_function(
    serve: ServeFactory,
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_ENDPOINT_URL"):
        assert name not in os.environ or name == "AWS_DEFAULT_REGION"
    wire = serve(load_app(str(APP)), isolation="process")
    sqs = wire.client("sqs")
    inbox = sqs.get_queue_url(QueueName="inbox")["QueueUrl"]
    sqs.send_message(QueueUrl=inbox, MessageBody='{"to": "outbox", "text": "hello"}')
    sqs.send_message(QueueUrl=inbox, MessageBody='{"to": "secret", "text": "psst"}')
    wire.engine.drain()
    assert sorted(bodies(wire.engine, "outbox")) == ["hello", "refused: AccessDenied"]
    assert bodies(wire.engine, "secret") == []
