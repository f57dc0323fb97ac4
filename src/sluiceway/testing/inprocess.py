"""The runtime's HTTP side in the test's process, without a socket.

`InProcess` runs the runtime's ASGI application (`RuntimeApp`: the app's gateway with its web
ACL, authorizers and models, the AWS APIs, the runtime's own pages) on an event loop of its
own thread, and answers requests made from any other thread:

* `Transport` is an httpx transport onto it, for the test's HTTP client;
* `route_aws` sends boto3's requests to it (botocore's `Endpoint._send`, patched while a
  test app runs), for the test's own clients and for handlers' clients alike: those made
  for ``AWS_ENDPOINT_URL`` (the kit's `BASE_URL`) and those named with an endpoint on AWS's
  domains, as an execution environment rewrites them (`local.aws_redirect`).

The loop runs on a thread of its own because a request's handler runs on another (the
gateway waits for it in an executor) and may itself call the AWS APIs through boto3.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any
from urllib.parse import urlsplit

import httpx

from sluiceway.local.aws_redirect import is_aws_endpoint

# Where the app under test answers: `.test` is reserved for testing (RFC 2606), so nothing
# meant for it can reach a real host by mistake.
BASE_URL = "http://sluiceway.test"
HOST = urlsplit(BASE_URL).hostname


Answer = tuple[int, list[tuple[bytes, bytes]], bytes]  # status, headers, raw body


class InProcess:
    """An ASGI application answering in this process (see the module's docstring)."""

    def __init__(
        self, app: Callable[..., Any], client: tuple[str, int] = ("127.0.0.1", 50000)
    ) -> None:
        """`client` is the address requests come from (``scope["client"]``)."""
        self._transport = httpx.ASGITransport(app=app, client=client)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="sluiceway-testing-http", daemon=True
        )
        self._thread.start()

    def submit(
        self, method: str, url: str, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> Future[Answer]:
        """One request, to be answered on the application's thread."""
        return asyncio.run_coroutine_threadsafe(
            self._answer(method, url, headers, body), self._loop
        )

    def send(
        self, method: str, url: str, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> Answer:
        """(status, headers, raw body) of one request, answered by the application."""
        if threading.current_thread() is self._thread:
            raise RuntimeError(
                "a request to the app under test from its own HTTP thread would wait for itself"
            )
        return self.submit(method, url, headers, body).result()

    async def _answer(
        self, method: str, url: str, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> Answer:
        request = httpx.Request(method, url, headers=headers, content=body)
        response = await self._transport.handle_async_request(request)
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
        await response.aclose()
        return response.status_code, response.headers.raw, raw

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


class Transport(httpx.BaseTransport):
    """httpx onto `InProcess`: ``httpx.Client(transport=Transport(served))``."""

    def __init__(self, served: InProcess) -> None:
        self.served = served

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        status, headers, raw = self.served.send(
            request.method, str(request.url), request.headers.raw, request.read()
        )
        return httpx.Response(status, headers=headers, content=raw, request=request)


class AsyncTransport(httpx.AsyncBaseTransport):
    """httpx's async client onto `InProcess`: the request is answered on its loop's thread
    (the caller's loop waits for it), as the sync `Transport` is."""

    def __init__(self, served: InProcess) -> None:
        self.served = served

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        submitted = self.served.submit(request.method, str(request.url), request.headers.raw, body)
        status, headers, raw = await asyncio.wrap_future(submitted)
        return httpx.Response(status, headers=headers, content=raw, request=request)


# -- boto3 ------------------------------------------------------------------------------

_routes: list[InProcess] = []  # the apps under test, the latest last (it answers)
_lock = threading.Lock()


def _ours(url: str) -> bool:
    return urlsplit(url).hostname == HOST or is_aws_endpoint(url)


def route_aws(served: InProcess) -> Callable[[], None]:
    """From now on, botocore's requests to `BASE_URL` or AWS's domains go to `served`;
    returns what undoes it."""
    import botocore.endpoint

    endpoint: Any = botocore.endpoint.Endpoint
    with _lock:
        if not hasattr(endpoint, "sluiceway_original_send"):
            endpoint.sluiceway_original_send = endpoint._send
            endpoint._send = _send
        _routes.append(served)

    def undo() -> None:
        with _lock:
            _routes.remove(served)
            if not _routes:
                endpoint._send = endpoint.sluiceway_original_send
                del endpoint.sluiceway_original_send

    return undo


def _send(self: Any, request: Any) -> Any:
    served = _routes[-1] if _routes else None
    if served is None or not _ours(request.url):
        return type(self).sluiceway_original_send(self, request)
    from botocore.awsrequest import AWSResponse
    from urllib3 import HTTPHeaderDict

    headers = [(str(k).encode(), _header_bytes(v)) for k, v in request.headers.items()]
    status, answer_headers, raw = served.send(
        request.method, request.url, headers, _body_bytes(request.body)
    )
    found = HTTPHeaderDict()
    for name, value in answer_headers:
        found.add(name.decode("latin-1"), value.decode("latin-1"))
    return AWSResponse(request.url, status, found, _Raw(raw))


def _header_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("latin-1")


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, bytearray):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    read = body.read()  # a file-like body (an upload)
    return read if isinstance(read, bytes) else str(read).encode()


class _Raw(io.BytesIO):
    """What botocore reads an answer from (urllib3's response, as far as it uses it)."""

    def stream(self, amt: int = 1024, decode_content: bool | None = None) -> Iterator[bytes]:
        while chunk := self.read(amt):
            yield chunk
