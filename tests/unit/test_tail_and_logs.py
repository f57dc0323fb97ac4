"""How `sluiceway tail` reads --since and shows events, and how pretty logs look."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from sluiceway.core.logs import PrettyFormatter
from sluiceway.local.tail import line, parse_since

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("text", "seconds_ago"),
    [("30s", 30), ("5m", 300), ("1h30m", 5400), ("2d", 172800), ("250ms", 0.25)],
)
def test_since_takes_a_duration_back_from_now(text: str, seconds_ago: float) -> None:
    assert parse_since(text, NOW) == pytest.approx(NOW - seconds_ago)


def test_since_takes_a_moment_utc_unless_it_says_otherwise() -> None:
    assert parse_since("2025-03-01T11:00:00", NOW) == NOW - 3600
    assert parse_since("2025-03-01T13:00:00+02:00", NOW) == NOW - 3600
    with pytest.raises(ValueError, match="neither a duration"):
        parse_since("yesterday", NOW)


def test_an_event_is_one_line_coloured_only_when_asked() -> None:
    event = {"kind": "request", "ts": NOW, "method": "POST", "path": "/orders", "status": 503}
    event["duration_ms"] = 2.25
    plain = line(event, colour=False)
    assert plain.split("  ", 1)[1] == "request     POST /orders 503  2.2 ms"
    assert "\x1b[" not in plain
    assert "\x1b[1;31m503\x1b[0m" in line(event, colour=True)


def test_a_failed_invocation_shows_its_error() -> None:
    event = {"kind": "invocation", "ts": NOW, "function": "POC-Lambda-1", "ok": False}
    event |= {"duration_ms": 1.0, "request_id": "3f2a9c1e-0000", "error": "ValueError('x')"}
    assert line(event, colour=False).endswith(
        "POC-Lambda-1 error  1.0 ms  3f2a9c1e  ValueError('x')"
    )


def test_pretty_logs_name_the_function_and_colour_the_level() -> None:
    record = logging.makeLogRecord(
        {
            "name": "sluiceway.function",
            "levelno": logging.WARNING,
            "levelname": "WARNING",
            "msg": "low stock",
            "function": "POC-Lambda-1",
            "request_id": "3f2a9c1e-1111",
            "correlation_id": "4bf92f3577b34da6",
        }
    )
    plain = PrettyFormatter(colour=False).format(record)
    assert plain.endswith("WARNING POC-Lambda-1 3f2a9c1e: low stock  trace=4bf92f35")
    assert "\x1b[33mWARNING\x1b[0m" in PrettyFormatter(colour=True).format(record)
