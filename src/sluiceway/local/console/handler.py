"""The console's ASGI handler: access control, routing, and answers.

Every request is checked first (`access.py`): the client's address, the Host header or the
token, and for a POST its CSRF token and origin. Pages and fragments are built in a worker
thread (they read SQLite), never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlencode

from sluiceway.local.console import access
from sluiceway.local.console.pages import Pages
from sluiceway.local.console.request import Request, Response

if TYPE_CHECKING:
    from sluiceway.local.engine import LocalEngine

log = logging.getLogger("sluiceway.console")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_FORM_BYTES = 2 * 1024 * 1024  # a test message may be as large as a queue allows (1 MiB)

# Scripts and styles from the console's own files only; nothing inline, nothing framed.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_SECURITY = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", _CSP.encode()),
]
_STATIC_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


Handler = Callable[[Request], Response]


class Console:
    """The ASGI app of ``/console`` (the gateway hands it those paths)."""

    def __init__(self, engine: LocalEngine) -> None:
        self.settings = engine.settings
        self.keys = access.Keys.of(engine.settings)
        self.allowed = access.networks(engine.settings.console_hosts)
        self.pages = Pages(engine, csrf=self.keys.csrf)
        self.static = _static_files()
        p = self.pages
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = [
            (method, re.compile(f"^/console{pattern}$"), handler)
            for method, pattern, handler in [
                ("GET", "/?", p.map_page),
                ("GET", "/_/map", p.map_fragment),
                ("GET", "/queues", p.queues_page),
                ("GET", "/_/queues", p.queues_fragment),
                ("GET", "/queues/([^/]+)", p.queue_page),
                ("GET", "/_/queues/([^/]+)", p.queue_fragment),
                ("GET", "/_/queues/([^/]+)/messages", p.messages_fragment),
                ("GET", "/queues/([^/]+)/messages/([0-9]+)", p.message_page),
                ("POST", "/queues/([^/]+)/send", p.send_message),
                ("POST", "/queues/([^/]+)/purge", p.purge),
                ("POST", "/queues/([^/]+)/redrive", p.redrive),
                ("POST", "/queues/([^/]+)/cancel-redrive", p.cancel_redrive),
                ("GET", "/tables", p.tables_page),
                ("GET", "/tables/([^/]+)", p.table_page),
                ("GET", "/_/tables/([^/]+)", p.items_fragment),
                ("GET", "/tables/([^/]+)/item", p.item_page),
                ("GET", "/mappings", p.mappings_page),
                ("GET", "/_/mappings", p.mappings_fragment),
                ("POST", "/mappings/(pause|resume)", p.pause_or_resume),
                ("GET", "/deliveries", p.deliveries_page),
                ("GET", "/_/deliveries", p.deliveries_fragment),
                ("GET", "/deliveries/([0-9]+)", p.delivery_page),
                ("GET", "/deliveries/([0-9]+)/raw", p.delivery_raw),
                ("POST", "/deliveries/([0-9]+)/retry", p.retry_delivery),
                ("GET", "/traces", p.traces_page),
                ("GET", "/_/traces", p.traces_fragment),
                ("GET", "/traces/([^/]+)", p.trace_page),
                ("GET", "/_/traces/([^/]+)", p.trace_fragment),
            ]
        ]

    @staticmethod
    def owns(path: str) -> bool:
        return path == "/console" or path.startswith("/console/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        request = Request(scope["method"], scope["path"], query, headers)
        refusal = self._refusal(scope, request)
        if refusal is not None:
            await _answer(send, refusal)
            return
        if self.keys.token is not None and "token" in query:
            # The banner's link: keep the token in a cookie, and take it out of the address
            # bar (a same-origin refresh, so the SameSite=Strict cookie goes with it).
            others = urlencode({k: v for k, v in query.items() if k != "token"})
            await _answer(
                send,
                self.pages.enter(
                    request.path + (f"?{others}" if others else ""), self._cookie(scope)
                ),
            )
            return
        if request.path.startswith("/console/static/") and request.method == "GET":
            await _answer(send, self._static(request.path.removeprefix("/console/static/")))
            return
        if request.method == "POST":
            form = await _read_form(receive, headers)
            if form is None:
                await _answer(send, Response.text(413, "the form is too large"))
                return
            request.form = form
            if not self._csrf_ok(request, scope):
                await _answer(
                    send,
                    Response.text(
                        403, "refused: the request did not come from the console's page (CSRF)"
                    ),
                )
                return
        found = self._route(request)
        if found is None:
            await _answer(send, self.pages.not_found(request))
            return
        loop = asyncio.get_running_loop()
        try:
            response = await loop.run_in_executor(None, found)
        except Exception:
            log.exception("console: %s %s failed", request.method, request.path)
            response = Response.text(500, "internal error (the runtime's log has it)")
        await _answer(send, response)

    def _refusal(self, scope: Scope, request: Request) -> Response | None:
        client = scope.get("client")
        if not access.client_allowed(None if client is None else client[0], self.allowed):
            return Response.text(
                403,
                "the console answers this machine only; start the runtime with "
                "--console-host ADDRESS to open it to others",
            )
        if self.keys.token is None:
            if not access.host_allowed(request.headers.get("host"), self.settings):
                return Response.text(
                    403, "the console answers requests to this machine's name only"
                )
            return None
        if self.keys.token_ok(request.query.get("token")):
            return None
        cookie = access.cookies(request.headers.get("cookie")).get(access.COOKIE)
        if self.keys.token_ok(cookie):
            return None
        return self.pages.locked()

    def _csrf_ok(self, request: Request, scope: Scope) -> bool:
        given = request.headers.get(access.CSRF_HEADER) or request.form.get(access.CSRF_FIELD)
        return self.keys.csrf_ok(given) and access.same_origin(
            request.headers, scope.get("scheme", "http")
        )

    def _cookie(self, scope: Scope) -> str:
        assert self.keys.token is not None
        return access.session_cookie(self.keys.token, secure=scope.get("scheme") == "https")

    def _route(self, request: Request) -> Callable[[], Response] | None:
        allowed = False
        for method, pattern, handler in self.routes:
            match = pattern.match(request.path)
            if match is None:
                continue
            if method != request.method:
                allowed = True
                continue
            request.params = tuple(unquote(g) for g in match.groups())
            return lambda: handler(request)
        if allowed:
            return lambda: Response.text(405, f"{request.method} is not allowed here")
        return None

    def _static(self, name: str) -> Response:
        found = self.static.get(name)
        if found is None:
            return Response.text(404, "no such file")
        body, content_type = found
        return Response(200, body, content_type, [(b"cache-control", b"max-age=300")])


def _static_files() -> dict[str, tuple[bytes, str]]:
    files: dict[str, tuple[bytes, str]] = {}
    folder = resources.files("sluiceway.local.console").joinpath("static")
    for entry in folder.iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if suffix in _STATIC_TYPES:
            files[entry.name] = (entry.read_bytes(), _STATIC_TYPES[suffix])
    return files


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers[name] = (
            f"{headers[name]}, {value}" if name in headers and name != "cookie" else value
        )
    return headers


async def _read_form(receive: Receive, headers: dict[str, str]) -> dict[str, str] | None:
    """The urlencoded form of a POST (htmx and plain forms both send one); None if larger
    than `MAX_FORM_BYTES`."""
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return {}
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    if not headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    body = b"".join(chunks).decode("utf-8", "replace")
    return dict(parse_qsl(body, keep_blank_values=True))


async def _answer(send: Send, response: Response) -> None:
    headers = [
        (b"content-type", response.content_type.encode()),
        (b"content-length", str(len(response.body)).encode()),
        *_SECURITY,
        *response.headers,
    ]
    if not any(name == b"cache-control" for name, _ in response.headers):
        headers.append((b"cache-control", b"no-store"))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
