"""`sluiceway tail`: follow a running runtime's live events (`event_stream.py`) and show
them one line each, or as JSON lines."""

from __future__ import annotations

import json
import re
import ssl
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sluiceway.local.event_stream import HEARTBEAT, PATH

KINDS = ("request", "invocation", "delivery", "mapping")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str, now: float) -> float:
    """``--since``: a duration back from `now` (``90s``, ``5m``, ``1h30m``) or a moment
    (ISO 8601; without a zone, UTC); epoch seconds."""
    spec = text.strip().lower()
    parts = _DURATION.findall(spec)
    if parts and "".join(f"{n}{u}" for n, u in parts) == spec.replace(" ", ""):
        return now - sum(float(n) * _SECONDS[u] for n, u in parts)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is neither a duration (30s, 5m, 1h) nor a time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def follow(url: str, since: float | None = None) -> Iterator[dict[str, Any]]:
    """The events of the runtime at `url` as they come, until it stops (or goes silent
    for three heartbeats)."""
    query = "" if since is None else f"?since={since:.3f}"
    request = urllib.request.Request(f"{url}{PATH}{query}", headers={"accept": "text/event-stream"})
    # The runtime's own, possibly self-signed, certificate: this is the same machine.
    context = ssl._create_unverified_context() if url.startswith("https:") else None
    with urllib.request.urlopen(request, timeout=3 * HEARTBEAT, context=context) as stream:
        data: list[str] = []
        for raw in stream:
            line = raw.decode("utf-8").rstrip("\r\n")
            if line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
            elif not line and data:
                yield json.loads("\n".join(data))
                data = []


_KIND_COLOURS = {
    "request": "blue",
    "invocation": "magenta",
    "delivery": "cyan",
    "mapping": "yellow",
}
_SGR = {"red": "31", "green": "32", "yellow": "33", "blue": "34", "magenta": "35", "cyan": "36"}


def line(event: dict[str, Any], *, colour: bool) -> str:
    """One event as a line of text: time, kind, what happened."""

    def paint(text: str, fg: str | None = None, *, bold: bool = False, dim: bool = False) -> str:
        codes = [c for c, on in (("1", bold), ("2", dim), (_SGR.get(fg or ""), fg)) if on and c]
        return f"\x1b[{';'.join(codes)}m{text}\x1b[0m" if colour and codes else text

    at = datetime.fromtimestamp(float(event.get("ts", 0))).strftime("%H:%M:%S.%f")[:-3]
    kind = str(event.get("kind", "?"))
    head = f"{paint(at, dim=True)}  {paint(f'{kind:<10}', _KIND_COLOURS.get(kind), bold=True)}"
    match kind:
        case "request":
            status = int(event.get("status", 0))
            fg = "green" if status < 400 else "yellow" if status < 500 else "red"
            body = (
                f"{event.get('method')} {event.get('path')} "
                f"{paint(str(status), fg, bold=True)}  {_ms(event.get('duration_ms'))}"
            )
            if event.get("trace_id"):
                body += f"  {paint('trace ' + str(event['trace_id']), dim=True)}"
        case "invocation":
            ok = bool(event.get("ok"))
            outcome = paint("ok", "green") if ok else paint("error", "red")
            request = paint(str(event.get("request_id", ""))[:8], dim=True)
            body = f"{event.get('function')} {outcome}  {_ms(event.get('duration_ms'))}  {request}"
            if not ok and event.get("error"):
                body += f"  {paint(str(event['error']), 'red')}"
        case "delivery":
            state = str(event.get("status"))
            fg = {"delivered": "green", "retrying": "yellow"}.get(state, "red")
            body = (
                f"{event.get('protocol')} to {event.get('endpoint')} {paint(state, fg)}"
                f" (attempt {event.get('attempts')})"
            )
            if event.get("error"):
                body += f"  {paint(str(event['error']), fg)}"
        case "mapping":
            body = f"{event.get('name')} {paint(str(event.get('state')), 'yellow')}"
        case _:
            shown = {k: v for k, v in event.items() if k not in ("seq", "ts", "kind")}
            body = json.dumps(shown, default=str)
    return f"{head}  {body}"


def _ms(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1f} ms"
