"""A small app for the shim and adapter tests: each handler exercises one thing."""

from __future__ import annotations

from typing import Any

from sluiceway import App

app = App("sample")

inbox = app.queue("sample-inbox", visibility_timeout=30)
outbox = app.queue("sample-outbox")
entries = app.table("sample-entries", partition_key="stream", sort_key=("at", "N"))
secrets = app.table("sample-secrets", partition_key="id")
alerts = app.topic("sample-alerts")
PHONE = "+919876543210"

imports = 0  # how many times this module ran (the shim imports it once per container)
imports += 1


@app.on_queue(inbox, uses=[outbox.sends, entries.writes, entries.reads], name="echo")
def echo(event: dict[str, Any], context: Any) -> Any:
    """Returns what it was given, and the object itself, so a test can check identity."""
    return {"event": event, "context": context, "same": event}


@app.on_queue(inbox, uses=[entries.reads], name="snoop")
def snoop(event: dict[str, Any], context: Any) -> Any:
    """Reads a table its uses= does not name."""
    return secrets.get_item({"id": "root"})


@app.on_queue(inbox, uses=[app.sms.sends], name="texter")
def texter(event: dict[str, Any], context: Any) -> Any:
    """Texts a number straight away (no topic)."""
    return app.sms.publish(PHONE, "hi")


@app.on_queue(inbox, name="mute")
def mute(event: dict[str, Any], context: Any) -> Any:
    """Texts a number its uses= does not allow."""
    return app.sms.publish(PHONE, "hi")
