"""Hostile requests, class by class: each is answered with a 4xx, stores nothing, and leaves
the server serving. Sent as raw bytes over TCP, so nothing in a client library tidies them."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sluiceway.blueprints.orders import app
from sluiceway.core import edge
from sluiceway.local import LocalEngine
from support import gateway, raw_exchange

HEAD = b"POST /orders HTTP/1.1\r\nHost: x\r\n"
JSON = b"Content-Type: application/json\r\n"


def post(body: bytes, *, headers: bytes = JSON, target: bytes = b"/orders") -> bytes:
    line = b"POST " + target + b" HTTP/1.1\r\nHost: x\r\n"
    return line + headers + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body


def chunked(*chunks: bytes, headers: bytes = JSON) -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    return HEAD + headers + b"Transfer-Encoding: chunked\r\n\r\n" + body


NESTED = b"[" * 100_000 + b"]" * 100_000
HOSTILE: dict[str, bytes] = {
    # -- bodies that are not one JSON object ----------------------------------------------
    "empty body": post(b""),
    "whitespace only": post(b"   \n\t "),
    "not JSON": post(b"hello"),
    "XML": post(b"<order><item>x</item></order>"),
    "a JSON array": post(b"[1, 2]"),
    "a JSON string": post(b'"order"'),
    "a JSON number": post(b"42"),
    "JSON null": post(b"null"),
    "JSON true": post(b"true"),
    "NaN": post(b'{"a": NaN}'),
    "Infinity": post(b'{"a": Infinity}'),
    "-Infinity": post(b'{"a": -Infinity}'),
    "a number beyond float": post(b'{"a": 1e999999}'),
    "a negative number beyond float": post(b'{"a": -1e400}'),
    "an integer of 5,000 digits": post(b'{"a": ' + b"9" * 5000 + b"}"),
    "arrays nested 100,000 deep": post(NESTED),
    "objects nested 100,000 deep": post(b'{"a":' * 100_000 + b"1" + b"}" * 100_000),
    "trailing garbage": post(b'{"a": 1} junk'),
    "two objects": post(b'{"a": 1}{"b": 2}'),
    "a truncated object": post(b'{"a": '),
    "single quotes": post(b"{'a': 1}"),
    "a trailing comma": post(b'{"a": 1,}'),
    "a comment": post(b'{"a": 1 /* hi */}'),
    "an unquoted key": post(b"{a: 1}"),
    "a raw control character": post(b'{"a": "x\x01y"}'),
    "a raw NUL": post(b'{"a": "x\x00y"}'),
    "invalid UTF-8": post(b'{"a": "\xff\xfe"}'),
    "overlong UTF-8": post(b'{"a": "\xc0\xaf"}'),
    "a UTF-8 BOM": post(b'\xef\xbb\xbf{"a": 1}'),
    "UTF-16 with a BOM": post('{"a": 1}'.encode("utf-16")),
    "a lone surrogate escape": post(b'{"a": "\\ud800"}'),
    "a character SQS refuses": post(b'{"a": "\xef\xbf\xbe"}'),  # U+FFFE, raw
    "over the size limit": post(b'{"a": "' + b"x" * 300_000 + b'"}'),
    "chunked over the size limit": chunked(b'{"a": "', b"x" * 300_000, b'"}'),
    # -- content types ----------------------------------------------------------------------
    "no content type": post(b'{"a": 1}', headers=b""),
    "text/plain": post(b'{"a": 1}', headers=b"Content-Type: text/plain\r\n"),
    "form encoded": post(b"a=1", headers=b"Content-Type: application/x-www-form-urlencoded\r\n"),
    "multipart": post(b"--b--", headers=b"Content-Type: multipart/form-data; boundary=b\r\n"),
    "a latin-1 charset": post(
        b'{"a": 1}', headers=b"Content-Type: application/json; charset=latin-1\r\n"
    ),
    "two content types": post(b'{"a": 1}', headers=JSON + b"Content-Type: text/plain\r\n"),
    # -- framing and smuggling --------------------------------------------------------------
    "Content-Length and Transfer-Encoding": HEAD + JSON + b"Content-Length: 4\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "two different Content-Lengths": HEAD + JSON + b"Content-Length: 8\r\nContent-Length: 9\r\n\r\n"
    b'{"a": 1}',
    "a non-numeric Content-Length": HEAD + JSON + b"Content-Length: 8a\r\n\r\n" + b'{"a": 1}',
    "a negative Content-Length": HEAD + JSON + b"Content-Length: -8\r\n\r\n" + b'{"a": 1}',
    "a Content-Length beyond the limit, no body": HEAD + JSON + b"Content-Length: 99999999\r\n\r\n",
    "a bad chunk size": HEAD + JSON + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    "an obfuscated Transfer-Encoding": HEAD + JSON + b"Transfer-Encoding : chunked\r\n"
    b"Content-Length: 8\r\n\r\n" + b'{"a": 1}',
    "a folded header": HEAD
    + JSON
    + b"X-A: 1\r\n folded\r\nContent-Length: 8\r\n\r\n"
    + b'{"a": 1}',
    "a bare CR in a header": HEAD + JSON + b"X-A: 1\r2\r\nContent-Length: 8\r\n\r\n" + b'{"a": 1}',
    "a space in a header name": HEAD + JSON + b"X A: 1\r\nContent-Length: 8\r\n\r\n" + b'{"a": 1}',
    "an unknown method": b"FOO /orders HTTP/1.1\r\nHost: x\r\n\r\n",
    "an unknown HTTP version": b"POST /orders HTTP/7.0\r\nHost: x\r\n\r\n",
    "not HTTP at all": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64 + b"\r\n\r\n",
    # -- sizes --------------------------------------------------------------------------------
    "a 40 KB header": HEAD + JSON + b"X-Big: " + b"b" * 40_000 + b"\r\n\r\n",
    "3,000 headers": HEAD + JSON + b"".join(b"X-%d: v\r\n" % n for n in range(3000)) + b"\r\n",
    "a 9 KB URL": b"POST /orders?" + b"q" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    # -- paths and methods ----------------------------------------------------------------------
    "GET on the route": b"GET /orders HTTP/1.1\r\nHost: x\r\n\r\n",
    "DELETE on the route": b"DELETE /orders HTTP/1.1\r\nHost: x\r\n\r\n",
    "a traversal": post(b'{"a": 1}', target=b"/../orders"),
    "an encoded traversal": post(b'{"a": 1}', target=b"/%2e%2e/orders"),
    "a NUL in the path": post(b'{"a": 1}', target=b"/orders%00"),
    "a double slash": post(b'{"a": 1}', target=b"//orders"),
    "a trailing slash": post(b'{"a": 1}', target=b"/orders/"),
    "an absolute URL to another host": post(b'{"a": 1}', target=b"http://evil.example/x"),
    "a runtime page with a body": post(b'{"a": 1}', target=b"/_sluiceway/nope"),
    # -- forwarded headers --------------------------------------------------------------------
    "a non-ASCII Idempotency-Key": post(
        b'{"a": 1}', headers=JSON + b"Idempotency-Key: \xc3\xa9\r\n"
    ),
    "an Idempotency-Key of 2,000 characters": post(
        b'{"a": 1}', headers=JSON + b"Idempotency-Key: " + b"k" * 2000 + b"\r\n"
    ),
    "two Idempotency-Keys": post(
        b'{"a": 1}', headers=JSON + b"Idempotency-Key: a\r\nIdempotency-Key: b\r\n"
    ),
}


@pytest.fixture(scope="module", params=[False, True], ids=["inline", "front-door-process"])
def served(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple[LocalEngine, str]]:
    """The gateway alone, and behind the front door process: each refuses every request."""
    from sluiceway.local import Settings

    edge_header, edge_body = edge.HEADER_SECONDS, edge.BODY_SECONDS
    edge.HEADER_SECONDS = edge.BODY_SECONDS = 1.0
    engine = LocalEngine(app, Settings(data_dir=tmp_path_factory.mktemp("hostile")), env={})
    engine.open()
    try:
        with gateway(engine, front_door=request.param) as url:
            yield engine, url
    finally:
        engine.close()
        edge.HEADER_SECONDS, edge.BODY_SECONDS = edge_header, edge_body


def stored(engine: LocalEngine) -> int:
    if engine.front_door is not None:  # what its inbox acknowledged, taken in
        engine.front_door.importer.drain()
    return int(engine.store.query("SELECT COUNT(*) AS n FROM messages")[0]["n"])


def test_the_list_is_long_enough() -> None:
    assert len(HOSTILE) >= 50


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_request_gets_a_4xx_stores_nothing_and_the_server_serves_on(
    served: tuple[LocalEngine, str], name: str
) -> None:
    engine, url = served
    before = stored(engine)
    answer = raw_exchange(url, HOSTILE[name], timeout=5)
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0
    assert 400 <= status < 500, f"{name}: {answer[:300]!r}"
    assert b"Traceback" not in answer
    assert b'"code"' in answer  # every refusal is the gateway's JSON
    assert stored(engine) == before
    check = httpx.post(f"{url}/orders", json={"still": "serving"}, timeout=5)
    assert check.status_code == 200
    assert stored(engine) == before + 1
