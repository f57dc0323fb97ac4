"""The front door process: it serves the queue routes itself, hands every other request (with
the bytes it already read) to the runtime's gateway on the same connection, keeps the
gateway's answers, metrics and traces, and is started again when it dies."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import EngineFactory
from sluiceway import App
from sluiceway.apigateway import inbox
from sluiceway.apigateway.front_door import FrontDoor
from sluiceway.local import LocalEngine
from sluiceway.sqs import messages
from support import gateway, wait_until


def shop() -> App:
    app = App("front-door-shop")
    orders = app.queue("orders")
    app.route("POST", "/orders", to=orders, forward_headers=["Idempotency-Key"])

    @app.on_http("POST", "/echo", name="echo")
    def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": json.dumps({"length": len(event["body"] or "")})}

    return app


def stored(engine: LocalEngine) -> list[Any]:
    """The queue's messages, once the runtime took in what the front door's inbox holds."""
    engine.drain()
    rows = engine.store.query("SELECT body FROM messages ORDER BY seq")
    return [json.loads(row["body"]) for row in rows]


def front_door_of(engine: LocalEngine) -> FrontDoor:
    door = engine.front_door
    assert isinstance(door, FrontDoor)
    return door


def exchange(sock: socket.socket, request: bytes) -> bytes:
    """Send one request on a kept-alive connection and read exactly its answer."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def post(path: bytes, body: bytes, extra: bytes = b"") -> bytes:
    return (
        b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + extra
        + b"Content-Length: %d\r\n\r\n" % len(body)
        + body
    )  # fmt: skip


def test_one_connection_mixes_what_the_front_door_serves_and_what_it_hands_over(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(shop())
    with gateway(engine, front_door=True) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            first = exchange(sock, post(b"/orders", b'{"n": 1}'))
            health = exchange(sock, b"GET /_sluiceway/health HTTP/1.1\r\nHost: x\r\n\r\n")
            # The connection is the gateway's now; it goes on serving the queue route too.
            second = exchange(sock, post(b"/orders", b'{"n": 2}'))
        assert first.startswith(b"HTTP/1.1 200 ")
        assert b'"MessageId"' in first
        assert health.startswith(b"HTTP/1.1 200 ")
        assert second.startswith(b"HTTP/1.1 200 ")
    # Both stored, in either order (a standard queue's order is best-effort, as in SQS: the
    # first went through the front door's inbox, the second straight to the writer).
    assert sorted(stored(engine), key=str) == [{"n": 1}, {"n": 2}]


def test_a_large_body_for_a_handed_over_route_arrives_whole(make_engine: EngineFactory) -> None:
    """The bytes the front door had read go over in pieces; the function sees all of them."""
    engine = make_engine(shop())
    body = json.dumps({"pad": "x" * 700_000}).encode()
    with gateway(engine, front_door=True) as url:
        answer = httpx.post(f"{url}/echo", content=body, timeout=20)
        chunked = httpx.post(
            f"{url}/orders",  # chunked: the front door leaves the framing to the gateway
            content=iter([b'{"n": ', b"3}"]),
            headers={"content-type": "application/json"},
            timeout=10,
        )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"length": len(body)}
    assert chunked.status_code == 200, chunked.text
    assert stored(engine) == [{"n": 3}]


def test_refusals_are_the_gateways_and_store_nothing(make_engine: EngineFactory) -> None:
    engine = make_engine(shop())
    with gateway(engine, front_door=True) as url:
        not_json = httpx.post(
            f"{url}/orders", content=b"{nope", headers={"content-type": "application/json"}
        )
        form = httpx.post(f"{url}/orders", data={"a": "b"})
        too_big = httpx.post(
            f"{url}/orders",
            content=b'{"a": "' + b"x" * 1_100_000 + b'"}',
            headers={"content-type": "application/json"},
        )
        header = httpx.post(f"{url}/orders", json={"a": 1}, headers={"Idempotency-Key": "x" * 2000})
        wrong_method = httpx.get(f"{url}/orders")
    assert (not_json.status_code, not_json.json()["code"]) == (400, "InvalidJson")
    assert (form.status_code, form.json()["code"]) == (415, "UnsupportedMediaType")
    assert (too_big.status_code, too_big.json()["code"]) == (413, "PayloadTooLarge"), too_big.text
    assert (header.status_code, header.json()["code"]) == (400, "InvalidHeader")
    assert wrong_method.status_code == 403  # handed over: the gateway answers as API Gateway
    assert stored(engine) == []


def test_forwarded_headers_and_traces_are_kept(make_engine: EngineFactory) -> None:
    engine = make_engine(shop())
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    with gateway(engine, front_door=True) as url:
        answer = httpx.post(
            f"{url}/orders",
            json={"n": 4},
            headers={"Idempotency-Key": "order-4", "traceparent": traceparent},
        )
    assert answer.status_code == 200
    assert answer.headers["x-sluiceway-trace-id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    row = engine.store.query("SELECT attributes, trace_id FROM messages")[0]
    assert json.loads(row["attributes"])["Idempotency-Key"]["StringValue"] == "order-4"
    assert row["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    engine.store.traces.flush()
    hop = engine.store.traces.hops("4bf92f3577b34da6a3ce929d0e0e4736")[0]
    assert (hop.kind, hop.name) == ("http", "POST /orders")
    assert hop.detail["parent_span_id"] == "00f067aa0ba902b7"


def test_its_requests_count_in_the_runtimes_metrics(make_engine: EngineFactory) -> None:
    engine = make_engine(shop())
    with gateway(engine, front_door=True) as url:
        for n in range(3):
            assert httpx.post(f"{url}/orders", json={"n": n}).status_code == 200
        assert httpx.post(f"{url}/orders", json=[1]).status_code == 400

        def counted() -> bool:
            text = httpx.get(f"{url}/metrics").text
            return (
                'sluiceway_http_requests_total{route="/orders",method="POST",status="200"} 3'
                in text
                and 'route="/orders",method="POST",status="400"} 1' in text
            )

        wait_until(counted, timeout=5)


def test_a_killed_front_door_is_started_again_and_the_port_keeps_its_connections(
    make_engine: EngineFactory, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(shop())
    with gateway(engine, front_door=True) as url:
        door = front_door_of(engine)
        assert httpx.post(f"{url}/orders", json={"n": 1}).status_code == 200
        first = door.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        # Sent while no front door runs: the connection waits in the listening socket's
        # backlog (the runtime holds it) and is answered by the next front door.
        started = time.monotonic()
        answer = httpx.post(f"{url}/orders", json={"n": 2}, timeout=10)
        assert answer.status_code == 200
        assert time.monotonic() - started < 5
        assert door.pid != first
        assert door.restarts == 1
    assert stored(engine) == [{"n": 1}, {"n": 2}]
    assert any("front door" in r.message and "died" in r.message for r in caplog.records)


def test_the_front_door_answers_only_what_is_committed(
    make_engine: EngineFactory, data_dir: Path
) -> None:
    """A group its inbox could not commit (here: another process holds the file's write
    lock past the busy timeout) is a 503 for each of its requests, stored nowhere."""
    engine = make_engine(shop())
    with gateway(engine, front_door=True) as url:
        assert httpx.post(f"{url}/orders", json={"n": 1}).status_code == 200
        blocker = sqlite3.connect(data_dir / inbox.FILE, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        answer = httpx.post(f"{url}/orders", json={"n": 2}, timeout=10)
        blocker.execute("ROLLBACK")
        blocker.close()
        after = httpx.post(f"{url}/orders", json={"n": 3})
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    assert answer.json()["code"] == "Unavailable"
    assert after.status_code == 200
    assert stored(engine) == [{"n": 1}, {"n": 3}]


def test_what_the_inbox_acknowledged_is_imported_at_the_next_start(
    make_engine: EngineFactory, data_dir: Path
) -> None:
    """The front door answered 200 (its inbox committed) and its runtime died before taking
    the messages in: the next start finds them, each once."""
    first = make_engine(shop())
    queue = first.registry.queue("orders")  # type: ignore[union-attr]
    first.close()

    async def acknowledge() -> list[Any]:
        loop = asyncio.get_running_loop()

        def committed(futures: list[tuple[asyncio.Future[Any], Any]], error: Any) -> None:
            for future, answer in futures:
                future.set_result(answer) if error is None else future.set_exception(error)

        box = inbox.Inbox(data_dir, "full", loop, committed)
        try:
            sent = [
                messages.prepare(queue, json.dumps({"n": n}), sender_id="front-door")
                for n in range(5)
            ]
            return await asyncio.gather(
                *(box.add(queue.id, m, "POST /orders", None, m.response()) for m in sent)
            )
        finally:
            box.close()

    answers = asyncio.run(acknowledge())
    assert len(answers) == 5
    again = make_engine(shop())
    assert stored(again) == [{"n": n} for n in range(5)]
    again.close()
    third = make_engine(shop())
    assert stored(third) == [{"n": n} for n in range(5)]  # the mark moved with them
