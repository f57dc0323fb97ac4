"""Checks every declaration goes through; each failure names the resource and the fix."""

from __future__ import annotations

import re
from typing import Any

from sluiceway.core.errors import DeclarationError

E164 = re.compile(r"\+[1-9][0-9]{1,14}")  # ITU-T E.164: + country code, at most 15 digits


def in_range(where: str, option: str, value: Any, low: int, high: int, unit: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DeclarationError(
            where,
            f"{option}={value!r} is outside {low}..{high}{unit}",
            f"choose an integer {option} between {low} and {high}",
        )
