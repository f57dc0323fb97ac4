"""Logging: JSON lines (one object per line) for machines, or short lines in a terminal.

What handlers print and log: on Lambda both land in CloudWatch, tagged with the request id.
`route_handler_output` (what `sluiceway run` does) gives the same locally: while a handler
runs, each line it writes to stdout or stderr and each `logging` record it makes becomes a
record of the ``sluiceway.function`` logger with ``function``, ``request_id`` and
``correlation_id`` (the trace of the record the handler is processing). Output from outside
handlers (the runtime's banner, the CLI's) reaches stdout and stderr unchanged.

As on Lambda, a handler's `logging` goes through the root logger, whose level stays
WARNING unless the handler sets it (``logging.getLogger().setLevel(logging.INFO)``).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal, TextIO, cast

FUNCTION_LOGGER = "sluiceway.function"

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


# SGR codes per level: dim, cyan, yellow, red, bold red.
_COLOURS = {
    logging.DEBUG: "2",
    logging.INFO: "36",
    logging.WARNING: "33",
    logging.ERROR: "31",
    logging.CRITICAL: "1;31",
}


class PrettyFormatter(logging.Formatter):
    """``12:00:01 INFO    POC-Lambda-1 3f2a9c1e: message  trace=4bf92f35`` — a handler's
    lines name its function and request; `colour` colours the level (for a terminal)."""

    def __init__(self, *, colour: bool) -> None:
        super().__init__()
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        level = f"{record.levelname:<7}"
        if self.colour:
            level = f"\x1b[{_COLOURS.get(record.levelno, '0')}m{level}\x1b[0m"
        function = getattr(record, "function", None)
        request = getattr(record, "request_id", None)
        who = record.name
        if function:
            who = f"{function} {str(request)[:8]}" if request else str(function)
        line = f"{self.formatTime(record, '%H:%M:%S')} {level} {who}: {record.getMessage()}"
        trace = getattr(record, "correlation_id", None)
        if trace:
            tag = f"trace={str(trace)[:8]}"
            line += f"  \x1b[2m{tag}\x1b[0m" if self.colour else f"  {tag}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        elif isinstance(getattr(record, "exception", None), str):  # from an environment
            line += "\n" + str(getattr(record, "exception", ""))
        return line


def configure(fmt: Literal["auto", "json", "pretty"] = "auto", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    pretty = fmt == "pretty" or (fmt == "auto" and sys.stderr.isatty())
    if pretty:
        colour = sys.stderr.isatty() and "NO_COLOR" not in os.environ
        handler.setFormatter(PrettyFormatter(colour=colour))
    else:
        handler.setFormatter(JsonFormatter())
    root = logging.getLogger("sluiceway")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


# -- handlers' own output -----------------------------------------------------------------

# Set while this thread emits a handler's line: what the log handler writes then (it may
# write to a stream we wrapped) passes through instead of coming back as a handler line.
_emitting = threading.local()


# What says which handler runs in this thread: the log fields of its invocation
# (``function``, ``request_id``, ``correlation_id``), or None outside one. The runtime gives
# it to `route_handler_output`; the core knows nothing of how handlers are invoked.
Fields = Callable[[], dict[str, Any] | None]


ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


def _emit(
    level: int,
    message: str,
    fields: dict[str, Any],
    exc_info: ExcInfo | None = None,
    **more: Any,
) -> None:
    _emitting.active = True
    try:
        logging.getLogger(FUNCTION_LOGGER).log(
            level, message, exc_info=exc_info, extra={**fields, **more}
        )
    finally:
        _emitting.active = False


def handler_record(
    level: int,
    message: str,
    *,
    function: str,
    request_id: str | None,
    correlation_id: str | None,
    **more: Any,
) -> None:
    """Log a line a handler wrote in its execution environment (told over its channel)."""
    fields = {"function": function, "request_id": request_id, "correlation_id": correlation_id}
    _emit(level, message, fields, **more)


class _HandlerStream:
    """sys.stdout or sys.stderr while the runtime runs: a handler's lines become log
    records; anything else goes to the real stream."""

    def __init__(self, stream: TextIO, name: str, fields: Fields) -> None:
        self._stream = stream
        self._name = name
        self._fields = fields
        self._local = threading.local()  # a handler's unfinished line: (fields, text)

    def write(self, text: str) -> int:
        if getattr(_emitting, "active", False):
            return self._stream.write(text)
        fields = self._fields()
        if fields is None:
            return self._stream.write(text)
        pending: tuple[dict[str, Any], str] | None = getattr(self._local, "pending", None)
        if pending is not None and pending[0]["request_id"] != fields["request_id"]:
            self._line(*pending)  # the rest of an earlier invocation's line
            pending = None
        *lines, rest = ((pending[1] if pending else "") + text).split("\n")
        for line in lines:
            self._line(fields, line)
        self._local.pending = (fields, rest) if rest else None
        return len(text)

    def _line(self, fields: dict[str, Any], text: str) -> None:
        text = text.rstrip("\r")
        if text.strip():
            _emit(logging.INFO, text, fields, stream=self._name)

    def flush(self) -> None:
        pending = getattr(self._local, "pending", None)
        if pending is not None:
            self._local.pending = None
            self._line(*pending)
        self._stream.flush()

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # encoding, fileno, isatty, buffer, ...
        return getattr(self._stream, name)


class _HandlerRecords(logging.Handler):
    """On the root logger: a handler's records go to ``sluiceway.function`` with its
    fields; others get what Python does without handlers (WARNING and up to stderr)."""

    def __init__(self, fields: Fields) -> None:
        super().__init__()
        self._fields = fields

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(_emitting, "active", False):
            return
        fields = self._fields()
        if fields is None:
            last = logging.lastResort
            if logging.getLogger().handlers == [self] and last and record.levelno >= last.level:
                last.handle(record)
            return
        _emit(record.levelno, record.getMessage(), fields, record.exc_info, origin=record.name)


def route_handler_output(fields: Fields) -> Callable[[], None]:
    """Make handlers' prints and log records log lines of ``sluiceway.function`` (call it
    after `configure`), tagged with what `fields` says of the handler running in the thread
    that writes; returns the function that undoes it."""
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout = cast(TextIO, _HandlerStream(stdout, "stdout", fields))
    sys.stderr = cast(TextIO, _HandlerStream(stderr, "stderr", fields))
    records = _HandlerRecords(fields)
    root = logging.getLogger()
    root.addHandler(records)

    def undo() -> None:
        root.removeHandler(records)
        for wrapped in (sys.stdout, sys.stderr):
            if isinstance(wrapped, _HandlerStream):
                wrapped.flush()
        sys.stdout, sys.stderr = stdout, stderr

    return undo
