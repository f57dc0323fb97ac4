"""The text each protocol receives of a publish (MessageStructure=json picks per protocol)."""

from __future__ import annotations

import json


def text_for(protocol: str, message: str, structure: str | None) -> str:
    """The text a protocol receives: with MessageStructure=json, its own key or 'default'."""
    if structure != "json":
        return message
    data = json.loads(message)
    chosen = data.get(protocol)
    return chosen if isinstance(chosen, str) else str(data["default"])
