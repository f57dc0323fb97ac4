"""The front door process's state: its routes, its inbox, and the channels to the runtime
(ROWS for what the inbox committed and which requests it answered, HANDOVER for connections)."""

from __future__ import annotations

import array
import asyncio
import logging
import socket
import time
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, Protocol

from sluiceway.apigateway.front_door_config import HANDOVER_HEAD, HANDOVER_PIECE, FrontDoorConfig
from sluiceway.apigateway.inbox import Inbox
from sluiceway.core.frames import encode
from sluiceway.sqs import messages
from sluiceway.sqs.info import QueueInfo

log = logging.getLogger("sluiceway.front_door")

_COMMITTED = encode(("committed",))


class OpenConnection(Protocol):
    """What the door sees of a client connection (`front_door_http.Connection`) at shutdown."""

    busy: bool
    transport: asyncio.Transport | None


def _status_line(status: int) -> bytes:
    return f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode()


class _Date:
    """The `date` header, formatted once a second."""

    def __init__(self) -> None:
        self.second = 0
        self.header = b""

    def now(self) -> bytes:
        second = int(time.time())
        if second != self.second:
            self.second = second
            self.header = f"date: {formatdate(second, usegmt=True)}\r\n".encode()
        return self.header


class Door:
    """The process's state: its routes, its inbox, and the channels to the runtime."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        config: FrontDoorConfig,
        rows: asyncio.Transport,
        handover: socket.socket,
    ) -> None:
        self.loop = loop
        self.routes = config.routes
        self.config = config
        self.rows = rows
        self.handover = handover
        self.date = _Date()
        self.statuses: dict[int, bytes] = {}
        self.connections: set[OpenConnection] = set()
        self._seen: list[tuple[str, str, int, float, str | None, str]] = []
        self.closing = False
        self.inbox = Inbox(config.data_dir, config.durability, loop, self._committed)

    # -- to the inbox -------------------------------------------------------------------------
    def store(
        self, queue: QueueInfo, message: messages.Outgoing, route: str, parent: str | None
    ) -> asyncio.Future[dict[str, str]]:
        """Store `message` in the inbox with the next group commit; the future is its answer
        once that is on disk. (A route to a FIFO queue never gets here: the gateway's checks
        refuse a message without a MessageGroupId.)"""
        assert message.group_id is None
        detail: str | None = None
        if message.trace_id is not None:
            # As the gateway's SendBatcher writes it: no json.dumps needed for these values.
            detail = f'{{"queue": "{queue.name}", "message_id": "{message.message_id}"'
            detail += f', "parent_span_id": "{parent}"}}' if parent else "}"
        return self.inbox.add(queue.id, message, route, detail, message.response())

    def _committed(
        self, futures: list[tuple[asyncio.Future[Any], Any]], error: BaseException | None
    ) -> None:
        """The inbox committed a group (or could not): answer its requests, and tell the
        runtime there is something to import."""
        for future, answer in futures:
            if future.done():
                continue
            if error is None:
                future.set_result(answer)
            else:
                future.set_exception(error)
        if error is None and not self.rows.is_closing():
            self.rows.write(_COMMITTED)

    # -- to the runtime's gateway -------------------------------------------------------------
    def hand_over(self, sock: Any, data: bytes) -> bool:
        """Give the runtime the connection `sock` and the bytes read from it so far. False
        if the runtime did not take it (the caller drops the connection)."""
        header = HANDOVER_HEAD.pack(len(data))
        fds = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [sock.fileno()]))]
        try:
            self.handover.sendmsg([header + data[:HANDOVER_PIECE]], fds)
            for start in range(HANDOVER_PIECE, len(data), HANDOVER_PIECE):
                self.handover.sendall(data[start : start + HANDOVER_PIECE])
        except OSError as error:
            log.warning("could not hand a connection to the runtime: %s", error)
            return False
        return True

    def seen(
        self, method: str, path: str, status: int, seconds: float, trace: str | None, client: str
    ) -> None:
        """Report a finished request (for /metrics and the console), batched."""
        self._seen.append((method, path, status, seconds, trace, client))
        if len(self._seen) == 1:
            self.loop.call_soon(self.report)  # one frame for what this turn answered

    def report(self) -> None:
        """Send the runtime the finished requests reported so far."""
        seen, self._seen = self._seen, []
        if seen and not self.rows.is_closing():
            self.rows.write(encode(("seen", seen)))

    def status_line(self, status: int) -> bytes:
        line = self.statuses.get(status)
        if line is None:
            line = self.statuses[status] = _status_line(status)
        return line
