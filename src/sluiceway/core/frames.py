"""Frames between the runtime and its worker processes (function environments, the front
door): a 4-byte big-endian length, then a pickle. Both ends are sluiceway processes of one
runtime on one machine, so pickle is safe here and the cheapest encoding there is.

`send_frame` and `FrameReader` are for blocking sockets; `Frames` decodes what an asyncio
protocol receives, in whatever pieces it arrives.
"""

from __future__ import annotations

import contextlib
import ctypes
import pickle
import select
import signal
import socket
import struct
import time
from collections.abc import Iterator
from typing import Any

_LENGTH = struct.Struct("!I")
_PR_SET_PDEATHSIG = 1


def encode(frame: Any) -> bytes:
    data = pickle.dumps(frame, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(data)) + data


def send_frame(sock: socket.socket, frame: Any) -> None:
    sock.sendall(encode(frame))


class Frames:
    """An incremental decoder: `feed` what arrived, get the frames it completed."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[Any]:
        self._buffer += data
        return self.complete()

    def complete(self) -> Iterator[Any]:
        buffer = self._buffer
        while len(buffer) >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(buffer)
            end = _LENGTH.size + length
            if len(buffer) < end:
                return
            frame = pickle.loads(memoryview(buffer)[_LENGTH.size : end])
            del buffer[:end]
            yield frame


class FrameReader:
    """Reads length-prefixed frames from a blocking stream socket, optionally before a
    deadline."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._frames = Frames()

    def read(self, deadline: float | None = None) -> Any:
        """The next frame. Raises EOFError when the peer is gone, TimeoutError past
        `deadline` (a `time.monotonic()` instant)."""
        while True:
            for frame in self._frames.complete():
                return frame
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                readable, _, _ = select.select([self.sock], [], [], remaining)
                if not readable:
                    raise TimeoutError
            try:
                chunk = self.sock.recv(1 << 16)  # below malloc's mmap threshold: no mmap per read
            except (ConnectionResetError, OSError) as error:
                raise EOFError from error
            if not chunk:
                raise EOFError
            self._frames.feed(chunk)


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (nothing elsewhere)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
