"""`RuntimeApp`: the ASGI application `sluiceway run` serves. The runtime's own pages (the
metrics, ``/_sluiceway/``, the live events, the console) come first, outside the app's web
ACL; every other request goes to the app's API (`apigateway.gateway.Gateway`). Each request
is counted and told to the live events (`metrics.observe_request`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable

from sluiceway.apigateway.asgi import Message, Receive, Scope, Send, answer_json
from sluiceway.apigateway.gateway import Gateway
from sluiceway.core.wire import protocols
from sluiceway.local import event_stream, metrics, runtime_pages
from sluiceway.local.aws_api import AwsApi
from sluiceway.local.console import Console
from sluiceway.local.engine import LocalEngine

log = logging.getLogger("sluiceway.gateway")


class RuntimeApp:
    """The app's gateway behind the runtime's own pages."""

    def __init__(self, engine: LocalEngine) -> None:
        self.engine = engine
        self.gateway = Gateway(engine)
        # The web console (the runtime's own, like /_sluiceway/; not behind the app's ACL).
        self.console = Console(engine) if engine.settings.console else None
        self.aws = AwsApi(engine, engine.keyring)
        engine.aws_integration = self.aws.integrate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == event_stream.PATH:  # a stream, not a request to count or time
            await event_stream.serve(self.engine.bus, scope, receive, send)
            return
        started = time.perf_counter()
        status, headers = 0, []

        async def noted(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status, headers = message["status"], message["headers"]
            await send(message)

        try:
            await self._dispatch(scope, receive, noted)
        finally:
            elapsed = time.perf_counter() - started
            metrics.observe_request(self.engine, self.gateway, scope, status, elapsed, headers)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        page: Awaitable[None]
        if path == metrics.PATH and scope["method"] == "GET":
            # The runtime's own (apps may not declare it), not behind the app's web ACL.
            page = metrics.serve(self.engine, self.gateway, send)
        elif path.startswith("/_sluiceway/"):
            page = runtime_pages.serve(self.engine, self.gateway.firewall, scope, send)
        elif self.console is not None and self.console.owns(path):
            page = self.console(scope, receive, send)
        elif _is_aws(scope):
            page = self.aws(scope, receive, send)
        else:
            await self.gateway(scope, receive, send)
            return
        try:
            await page
        except Exception:
            # Never a stack trace in an answer: the log has it, the client gets a 500.
            log.exception("%s %s failed", scope["method"], path)
            with contextlib.suppress(Exception):  # the answer may have started already
                await answer_json(send, 500, {"message": "internal error", "code": "InternalError"})


def _is_aws(scope: Scope) -> bool:
    """`protocols.is_aws` on the two headers it reads, found in one pass."""
    seen: dict[str, str] = {}
    for name, value in scope["headers"]:
        lowered = name.lower()
        if lowered in (b"x-amz-target", b"authorization"):
            seen[lowered.decode()] = value.decode("latin-1")
    return protocols.is_aws(seen)
