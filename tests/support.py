"""What the tests share: a real SMTP server that records mail, a gateway served over real
HTTP in a thread, and a way to wait for things without sleeping."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from sluiceway.local.engine import LocalEngine
from sluiceway.local.runtime import http_server


class Mailbox:
    """An aiosmtpd handler that keeps every message and lets a test wait for them.

    It offers PIPELINING as Postfix, Exim and the big providers do (aiosmtpd reads commands
    line by line, so it takes pipelined ones), unless `pipelining` is False. `refuse` maps a
    recipient to the reply its RCPT gets instead of 250 (``"550 5.1.1 no such user"``)."""

    def __init__(self, *, pipelining: bool = True) -> None:
        self.pipelining = pipelining
        self.refuse: dict[str, str] = {}
        self.messages: list[EmailMessage] = []
        self._cond = threading.Condition()
        self._held: threading.Event | None = None
        self.holding = threading.Event()

    def hold(self) -> None:
        """Keep the next message's reply (the ``250``) back until `release()`: the instant a
        sender has handed over a message but not yet heard that it was accepted."""
        self._held = threading.Event()

    def release(self) -> None:
        assert self._held is not None
        self._held.set()

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.pipelining:
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        refusal = self.refuse.get(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self._cond:
            self.messages.append(message)
            self._cond.notify_all()
        held = self._held
        if held is not None:
            self.holding.set()
            await asyncio.get_running_loop().run_in_executor(None, held.wait)
            self._held = None
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 15.0) -> list[EmailMessage]:
        """Block until at least `count` messages arrived (or fail after `timeout`)."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.messages) >= count, timeout):
                raise AssertionError(f"expected {count} emails, got {len(self.messages)}")
            return list(self.messages)

    def bodies(self) -> list[str]:
        return [str(m.get_content()) for m in self.messages]

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]


class SmtpServer(Controller):  # type: ignore[misc]
    """aiosmtpd on a free port (port 0 is resolved once bound); restartable on that port."""

    def __init__(self, mailbox: Mailbox, port: int = 0, **options: Any) -> None:
        super().__init__(mailbox, hostname="127.0.0.1", port=port, **options)
        self.mailbox = mailbox

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


@contextmanager
def smtp_server(
    port: int = 0, mailbox: Mailbox | None = None, **options: Any
) -> Iterator[SmtpServer]:
    """aiosmtpd in a thread; `options` go to aiosmtpd (ssl_context, authenticator, ...)."""
    server = SmtpServer(mailbox or Mailbox(), port, **options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def gateway(
    engine: LocalEngine, tls: tuple[str, str] | None = None, *, front_door: bool = False
) -> Iterator[str]:
    """Serve `engine`'s gateway over real HTTP (HTTPS with `tls`: certificate, key) on a
    free port, behind a front door process with `front_door`; yields its base URL."""
    ready = threading.Event()
    port: list[int] = []

    def on_ready(bound: int) -> None:
        port.append(bound)
        ready.set()

    server = http_server(engine, "127.0.0.1", 0, on_ready, tls, front_door=front_door)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    if not ready.wait(10):
        raise AssertionError("the gateway did not start")
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port[0]}"
    finally:
        server.should_exit = True
        thread.join(10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    predicate: Callable[[], bool], timeout: float = 15.0, interval: float = 0.05
) -> None:
    """Wait on an event that has no notification hook (another process's state)."""
    done = threading.Event()
    deadline = timeout
    waited = 0.0
    while not predicate():
        if waited >= deadline:
            raise AssertionError("condition not reached in time")
        done.wait(interval)
        waited += interval


def raw_exchange(url: str, *chunks: bytes, timeout: float = 10.0) -> bytes:
    """Send `chunks` over one TCP connection to `url`'s host and port and return everything
    the server answers until it closes the connection (or `timeout`)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        for chunk in chunks:
            sock.sendall(chunk)
        received = b""
        while True:
            try:
                data = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                return received
            if not data:
                return received
            received += data


def aws_client(
    engine: LocalEngine, url: str, service: str, *, as_function: str | None = None
) -> Any:
    """A boto3 client of `service` against the runtime at `url`, signed with the admin's
    credentials (what `sluiceway env` prints) or those of function `as_function`."""
    import boto3
    from botocore.config import Config

    keys = engine.keyring.for_principal(as_function) if as_function else engine.keyring.admin
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=engine.settings.region,
        aws_access_key_id=keys.access_key,
        aws_secret_access_key=keys.secret_key,
        aws_session_token=keys.session_token,
        config=Config(retries={"max_attempts": 1}),
    )


@dataclass
class Wire:
    """An app's runtime on a real port, for boto3 and the AWS CLI."""

    engine: LocalEngine
    url: str

    def client(self, service: str, *, as_function: str | None = None) -> Any:
        return aws_client(self.engine, self.url, service, as_function=as_function)
