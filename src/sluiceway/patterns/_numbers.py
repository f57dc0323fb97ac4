"""Numbers as EventBridge sees them: by JSON text for exact matches, by value for ranges.

Events arrive as Python objects, so the JSON text of a number is rebuilt from the object:

* ``int`` -> its decimal digits (``300``);
* ``Decimal`` -> ``str(d)``, which keeps the digits and the exponent, so ``Decimal("300.0")``
  and ``Decimal("3.0e2")`` stay different from ``300``. Parse JSON with
  ``parse_float=Decimal`` (as :func:`esm_view_of_sqs_record` does) to keep this fidelity;
* ``float`` -> ``str(Decimal(repr(f)))``: ``repr`` is the shortest text that round-trips, which
  is what ``json.dumps`` writes, so ``300.0`` stays ``300.0`` (a float cannot remember that its
  JSON said ``3.0e2``).

Two texts with the same coefficient and exponent (``301.8`` and ``3.018e2``) share a key; that
is the one place this differs from comparing raw JSON text.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any

Number = int | float | Decimal


def is_number(value: Any) -> bool:
    """True for JSON numbers: ints, floats and Decimals, but not bools."""
    t = type(value)
    if t is int or t is float or t is Decimal:
        return True
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def number_key(value: Number) -> str:
    """The canonical JSON text of a number (see the module docstring)."""
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return str(Decimal(repr(value)))
    return str(value)


def number_text(value: Number) -> str:
    """Readable JSON text for a number: ``3.0e2`` rather than Decimal's ``3.0E+2``."""
    if isinstance(value, int):
        return str(int(value))
    text = repr(value) if isinstance(value, float) else str(value)
    return text.replace("E", "e").replace("e+", "e")


def to_float(value: Number) -> float:
    """The IEEE-754 double a number rounds to; huge ints saturate to +-inf."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def is_finite(value: Number) -> bool:
    """False for NaN and infinities, which JSON cannot write."""
    if isinstance(value, Decimal):
        return value.is_finite()
    return isinstance(value, int) or math.isfinite(value)


def decimal_places(value: Number) -> int:
    """Digits after the decimal point once trailing zeros are dropped (``1.50`` -> 1)."""
    if isinstance(value, int):
        return 0
    try:
        d = Decimal(repr(value)) if isinstance(value, float) else value
        exponent = d.normalize().as_tuple().exponent
    except InvalidOperation:  # pragma: no cover - non-finite values are rejected earlier
        return 0
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0
