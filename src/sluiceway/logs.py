"""Logging: JSON lines (one object per line) for machines, or short lines in a terminal."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Literal

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


def configure(fmt: Literal["auto", "json", "pretty"] = "auto", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    pretty = fmt == "pretty" or (fmt == "auto" and sys.stderr.isatty())
    if pretty:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    else:
        handler.setFormatter(JsonFormatter())
    root = logging.getLogger("sluiceway")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
