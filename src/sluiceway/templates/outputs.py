"""A template's Outputs with their local values: printed at start, kept for `sluiceway
outputs` in ``<data dir>/outputs.json`` (written when the runtime is ready, since the API's URL
holds its port)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sluiceway.templates.stack import Stack

FILE = "outputs.json"


def save_outputs(data_dir: Path, stack: Stack, url: str) -> None:
    values = stack.local_outputs(url)
    document = {
        "template": str(stack.path),
        "url": url,
        "outputs": [
            {"OutputKey": key, "OutputValue": values[key], "Description": text}
            for key, (_, text) in stack.outputs.items()
        ],
        "api_keys": stack.api_keys,
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    temporary = data_dir / f".{FILE}.tmp"
    temporary.write_text(json.dumps(document, indent=2) + "\n")
    os.replace(temporary, data_dir / FILE)


def read_outputs(data_dir: Path) -> dict[str, Any] | None:
    path = data_dir / FILE
    if not path.is_file():
        return None
    loaded = json.loads(path.read_text())
    return loaded if isinstance(loaded, dict) else None


def outputs_lines(values: dict[str, str], api_keys: dict[str, str] | None = None) -> list[str]:
    """The start's listing: the Outputs, then the API keys (send one as ``x-api-key``)."""
    lines = []
    for title, pairs in (("outputs", values), ("api keys (x-api-key)", api_keys or {})):
        if pairs:
            width = max(len(key) for key in pairs)
            lines.append(f"  {title}:")
            lines.extend(f"    {key.ljust(width)}  {value}" for key, value in pairs.items())
    return lines
