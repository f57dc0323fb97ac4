"""Checks every declaration goes through; each failure names the resource and the fix."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from sluiceway.core.errors import DeclarationError

E164 = re.compile(r"\+[1-9][0-9]{1,14}")  # ITU-T E.164: + country code, at most 15 digits


def in_range(where: str, option: str, value: Any, low: int, high: int, unit: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DeclarationError(
            where,
            f"{option}={value!r} is outside {low}..{high}{unit}",
            f"choose an integer {option} between {low} and {high}",
        )


def filter_patterns(
    where: str,
    filter: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
    context: Literal["esm", "pipes"] = "esm",
) -> tuple[str, ...]:
    from sluiceway.patterns import PatternError, compile_filters

    if filter is None:
        return ()
    patterns = [filter] if isinstance(filter, Mapping) else list(filter)
    try:
        compiled = compile_filters(patterns, context=context)
    except PatternError as error:
        raise DeclarationError(
            where, f"invalid filter: {error}", "fix the event pattern (see `sluiceway match`)"
        ) from None
    return tuple(p.source for p in compiled.patterns)


# -- Cognito ----------------------------------------------------------------------------------


# -- a function's runtime: timeout, memory, environment, concurrency ------------------------
