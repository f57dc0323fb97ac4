"""The HTTP edge: deadlines for slow clients, size limits before buffering, malformed framing
refused, security headers, no stack traces, and HTTPS."""

from __future__ import annotations

import json
import socket
import ssl
import time
from pathlib import Path

import httpx
import pytest

from conftest import EngineFactory
from sluiceway.apigateway.gateway import Gateway
from sluiceway.blueprints.orders import app
from sluiceway.core import edge
from support import gateway, raw_exchange

POST = b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def body_of(answer: bytes) -> dict[str, str]:
    decoded: dict[str, str] = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    return decoded


def stored(engine: object) -> int:
    return int(engine.store.query("SELECT COUNT(*) AS n FROM messages")[0]["n"])  # type: ignore[attr-defined]


@pytest.fixture(params=[False, True], ids=["inline", "front-door-process"])
def front_door(request: pytest.FixtureRequest) -> bool:
    """Served by the runtime's gateway alone, or behind the front door process (which serves
    queue routes itself and hands the rest over): the edge's rules hold either way."""
    return bool(request.param)


@pytest.fixture
def quick_deadlines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(edge, "HEADER_SECONDS", 0.5)
    monkeypatch.setattr(edge, "BODY_SECONDS", 0.5)


def test_a_client_trickling_its_headers_is_cut_off(
    make_engine: EngineFactory, quick_deadlines: None, front_door: bool
) -> None:
    engine = make_engine(app)
    with gateway(engine, front_door=front_door) as url:
        host, port = url.removeprefix("http://").split(":")
        started = time.monotonic()
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(b"POST /orders HTTP/1.1\r\nHost: x\r\n")
            answer = b""
            while chunk := sock.recv(4096):  # keeps the connection open, never ends headers
                answer += chunk
        assert time.monotonic() - started < 3
        assert status_of(answer) == 408
        assert body_of(answer)["code"] == "RequestTimeout"
        assert httpx.post(f"{url}/orders", json={"a": 1}).status_code == 200  # still serving
    assert stored(engine) == 1


def test_a_client_trickling_its_body_is_cut_off_and_nothing_is_stored(
    make_engine: EngineFactory, quick_deadlines: None, front_door: bool
) -> None:
    engine = make_engine(app)
    with gateway(engine, front_door=front_door) as url:
        answer = raw_exchange(url, POST + b"Content-Length: 100\r\n\r\n" + b'{"a": ', timeout=5)
        assert status_of(answer) == 408
    assert stored(engine) == 0


def test_an_idle_kept_alive_connection_gets_a_deadline_for_its_next_request(
    make_engine: EngineFactory, quick_deadlines: None, front_door: bool
) -> None:
    engine = make_engine(app)
    with gateway(engine, front_door=front_door) as url:
        body = b"{}"
        first = POST + b"Content-Length: 2\r\n\r\n" + body
        answer = raw_exchange(url, first + b"POST /orders HTTP/1.1\r\n", timeout=5)
    assert answer.count(b"HTTP/1.1 200") == 1
    assert b"HTTP/1.1 408" in answer


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (b"POST /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "UriTooLong"),
        (POST + b"X-Big: " + b"b" * 40_000 + b"\r\n\r\n", 431, "HeadersTooLarge"),
        (
            POST + b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
            400,
            "MalformedRequest",
        ),
        (POST + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400, "MalformedRequest"),
        (b"GARBAGE\r\n\r\n", 400, "MalformedRequest"),
        (b"POST /orders HTTP/9.9\r\n\r\n", 400, "MalformedRequest"),
        (POST + b"Content-Length: -1\r\n\r\n", 400, "MalformedRequest"),
        (POST + b"Bad Header Name: x\r\n\r\n", 400, "MalformedRequest"),
    ],
)
def test_oversized_and_ambiguous_requests_are_refused_before_the_app(
    make_engine: EngineFactory, request_bytes: bytes, status: int, code: str, front_door: bool
) -> None:
    engine = make_engine(app)
    with gateway(engine, front_door=front_door) as url:
        answer = raw_exchange(url, request_bytes)
        assert status_of(answer) == status, answer[:200]
        assert body_of(answer)["code"] == code
        assert httpx.post(f"{url}/orders", json={"a": 1}).status_code == 200
    assert stored(engine) == 1


def test_answers_carry_security_headers(make_engine: EngineFactory, front_door: bool) -> None:
    engine = make_engine(app)
    with gateway(engine, front_door=front_door) as url:
        answer = httpx.post(f"{url}/orders", json={"a": 1})
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")
    assert "server" not in answer.headers
    assert "strict-transport-security" not in answer.headers  # only over HTTPS


def test_an_internal_error_is_a_bare_500(
    make_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(app)

    async def broken(*args: object) -> None:
        raise RuntimeError("secret internals at /home/me/app.py line 12")

    monkeypatch.setattr(Gateway, "_ingest", broken)
    with gateway(engine) as url:
        answer = httpx.post(f"{url}/orders", json={"a": 1})
    assert answer.status_code == 500
    assert answer.json() == {"message": "internal error", "code": "InternalError"}
    assert "secret" not in answer.text


def test_https_with_a_self_signed_certificate(make_engine: EngineFactory, data_dir: Path) -> None:
    engine = make_engine(app)
    tls = edge.tls_files(data_dir, "self-signed", None)
    assert tls is not None
    assert tls == edge.tls_files(data_dir, "self-signed", None)  # made once, then reused
    with gateway(engine, tls=tls) as url:
        assert url.startswith("https://")
        answer = httpx.post(
            f"{url}/orders", json={"a": 1}, verify=ssl.create_default_context(cafile=tls[0])
        )
        with pytest.raises(httpx.ConnectError):
            httpx.post(f"{url}/orders", json={"a": 1})  # an unknown issuer is refused
    assert answer.status_code == 200
    assert answer.headers["strict-transport-security"] == "max-age=31536000"
    assert (Path(tls[1]).stat().st_mode & 0o777) == 0o600
