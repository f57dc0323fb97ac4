"""What the gateway's answers and the runtime's own pages share, over raw ASGI: a request's
headers, its body read within a limit, and JSON or HTML answers with the common headers.
"""

from __future__ import annotations

import html
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from sluiceway.apigateway import ingest

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON = b"application/json"
HTML = b"text/html; charset=utf-8"
# On every answer of the runtime's own: nothing sniffs, caches, frames or runs it.
COMMON_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
]


class ClientGone(Exception):
    pass


def replay(body: bytes) -> Receive:
    """A `receive` that hands over a body already read."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def title_case(name: str) -> str:
    """ASGI lower-cases header names; API Gateway passes them as clients commonly send
    them ("Content-Type")."""
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


_SINGLE = frozenset({"content-length", "content-type", "transfer-encoding"})


def request_headers(scope: Scope, single: frozenset[str] = _SINGLE) -> dict[str, str]:
    """The request's headers by lower-case name; repeated ones joined with ", ", except
    those in `single`, which may come once (which of two would count is ambiguous)."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name in headers:
            if name in single:
                ingest.reject(400, "AmbiguousHeaders", f"the {name} header is given more than once")
            headers[name] = f"{headers[name]}, {value}"
        else:
            headers[name] = value
    return headers


async def read_body(receive: Receive, headers: dict[str, str], limit: int) -> bytes:
    declared = headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            ingest.reject(400, "InvalidContentLength", "Content-Length is not a number")
        if int(declared) > limit:
            # Refused before reading a byte of it.
            ingest.reject(413, "PayloadTooLarge", f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            ingest.reject(413, "PayloadTooLarge", f"the body is larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def answer_json(
    send: Send, status: int, payload: Any, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    await respond(send, status, json.dumps(payload).encode(), JSON, extra)


async def answer_page(send: Send, status: int, title: str, text: str) -> None:
    body = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"</head><body><h1>{html.escape(title)}</h1><pre>{html.escape(text)}</pre></body></html>"
    )
    await respond(send, status, body.encode(), HTML, None)


async def respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    extra: list[tuple[bytes, bytes]] | None,
) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        *COMMON_HEADERS,
    ]
    if extra:
        headers += extra
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
