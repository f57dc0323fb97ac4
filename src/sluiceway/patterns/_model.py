"""Value types shared by the pattern modules: contexts, the error, explanations, MISSING."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Literal

from sluiceway.core.errors import ValidationError
from sluiceway.patterns._numbers import number_text

Context = Literal["eventbridge", "pipes", "esm", "sns-attributes", "sns-body"]
CONTEXTS: Final[tuple[Context, ...]] = ("eventbridge", "pipes", "esm", "sns-attributes", "sns-body")
SNS_CONTEXTS: Final[frozenset[str]] = frozenset({"sns-attributes", "sns-body"})
PIPES_CONTEXTS: Final[frozenset[str]] = frozenset({"pipes", "esm"})

# The exception name each service answers an invalid pattern with.
_ERROR_CODES: Final[dict[str, str]] = {
    "eventbridge": "InvalidEventPatternException",
    "pipes": "ValidationException",
    "esm": "InvalidParameterValueException",
    "sns-attributes": "InvalidParameterException",
    "sns-body": "InvalidParameterException",
}


class _Missing(enum.Enum):
    MISSING = "MISSING"

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing.MISSING
"""Stands for "the event has no value here" in :class:`Miss.actual`."""


class PatternError(ValidationError):
    """A pattern or filter policy the service would reject; names the JSON path and reason.

    Example::

        try:
            compile_pattern({"detail": {"state": []}})
        except PatternError as e:
            e.path    # "detail.state"
            str(e)    # "invalid pattern at detail.state: empty arrays are not allowed"
    """

    def __init__(
        self,
        reason: str,
        *,
        path: str = "",
        context: Context = "eventbridge",
        message: str | None = None,
    ) -> None:
        self.path = path
        self.reason = reason
        self.context = context
        text = (
            message if message is not None else f"invalid pattern at {path or '(root)'}: {reason}"
        )
        super().__init__(text, code=_ERROR_CODES[context])


def show(value: Any, limit: int = 80) -> str:
    """Render an event value the way it would look in the event's JSON."""
    if value is MISSING:
        return "missing"
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float, Decimal)):
        return number_text(value)
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Miss:
    """One reason an event did not match: the event path, the condition, the event's value.

    ``reason`` says how the value failed (``'does not start with "+91"'``); ``branch`` names
    the alternative it belongs to (``"filter 2"``, ``"$or[1]"``) when there were several.

    Example::

        Miss(path="eventName", condition='one of "INSERT"', actual=MISSING).describe()
        # 'field eventName is missing (expected one of "INSERT")'
    """

    path: str
    condition: str
    actual: Any
    reason: str = ""
    branch: str = ""

    def describe(self) -> str:
        if not self.path:
            return f"the event {self.reason} (expected {self.condition})"
        if self.actual is MISSING:
            return f"field {self.path} is missing (expected {self.condition})"
        return f"{self.path} is {show(self.actual)}, which {self.reason} ({self.condition})"


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a pattern (or a set of filters) did or did not match one event.

    Example::

        pattern.explain(record).describe()
        # 'no match: dynamodb.NewImage.phone.S is "+14155550100", which does not start
        #  with "+91" (prefix "+91")'
    """

    matched: bool
    misses: tuple[Miss, ...] = ()

    def describe(self) -> str:
        if self.matched:
            return "match"
        if not self.misses:
            return "no match"
        parts = [f"{m.branch}: {m.describe()}" if m.branch else m.describe() for m in self.misses]
        return "no match: " + "; ".join(parts)
