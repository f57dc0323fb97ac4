"""Compile one leaf of a pattern (a field's list of alternatives) into its predicates:
``pos``, ``neg`` and ``full``, as ``_match`` explains."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sluiceway.patterns._model import MISSING, SNS_CONTEXTS, Context
from sluiceway.patterns._numbers import is_number, number_key, to_float
from sluiceway.patterns._ops import (
    Alt,
    AnythingBut,
    Cidr,
    EqualsIgnoreCase,
    Exact,
    Exists,
    NumberLit,
    Numeric,
    Prefix,
    Suffix,
    Wildcard,
    parse_ip,
    wildcard_match,
    wildcard_segments,
)
from sluiceway.patterns._tree import LeafSpec
from sluiceway.patterns._values import Pred, always, any_scalar, never, scalars


@dataclass(frozen=True, slots=True, eq=False)
class LeafM:
    spec: LeafSpec
    scalar: Pred  # does one scalar satisfy a value-needing alternative
    pos: Pred
    neg: Pred
    full: Pred
    can_pos: bool
    can_neg: bool
    guard: str = ""  # "plain": Pipes drops records whose data is JSON here


class _ScalarParts:
    """Alternatives sorted by the type of value they can accept."""

    def __init__(self, context: Context) -> None:
        self.sns = context in SNS_CONTEXTS
        self.strings: set[str] = set()
        self.string_preds: list[Pred] = []
        self.number_keys: set[str] = set()
        self.number_values: set[float] = set()
        self.number_preds: list[Callable[[float], bool]] = []
        self.true_ok = self.false_ok = self.null_ok = False
        self.any_preds: list[Pred] = []

    def add(self, alt: Alt) -> None:
        match alt:
            case Exact(value=str() as text):
                self.strings.add(text)
                ip = None if self.sns else parse_ip(text)
                if ip is not None:  # event-ruler matches IP literals as addresses
                    self.string_preds.append(_same_ip(ip))
            case Exact(value=NumberLit() as lit):
                if self.sns:
                    self.number_values.add(lit.value)
                else:
                    self.number_keys.add(lit.key)
            case Exact(value=bool() as flag):
                if flag:
                    self.true_ok = True
                else:
                    self.false_ok = True
            case Exact(value=None):
                self.null_ok = True
            case Prefix() | Suffix() | EqualsIgnoreCase() | Wildcard() | Cidr():
                self.string_preds.append(string_pred(alt))
            case Numeric():
                self.number_preds.append(_numeric_pred(alt))
            case AnythingBut():
                self.any_preds.append(_anything_but_pred(alt))
            case Exists(present=True):
                self.any_preds.append(_present_sns if self.sns else always)
            case Exists(present=False):
                pass

    def strings_only(self) -> bool:
        return not (
            self.number_keys
            or self.number_values
            or self.number_preds
            or self.true_ok
            or self.false_ok
            or self.null_ok
            or self.any_preds
        )


def _present_sns(value: Any) -> bool:
    # SNS: "exists": true needs a non-null, non-empty value.
    return value is not None and value != ""


def _same_ip(ip: tuple[int, int]) -> Pred:
    def pred(text: str) -> bool:
        return parse_ip(text) == ip

    return pred


def string_pred(alt: Alt) -> Pred:
    """A predicate over one ``str`` for the string operators."""
    match alt:
        case Prefix(text=text, ignore_case=False):
            return lambda s: s.startswith(text)
        case Prefix(text=text, ignore_case=True):
            low = text.lower()
            return lambda s: s.lower().startswith(low)
        case Suffix(text=text, ignore_case=False):
            return lambda s: s.endswith(text)
        case Suffix(text=text, ignore_case=True):
            low = text.lower()
            return lambda s: s.lower().endswith(low)
        case EqualsIgnoreCase(text=text):
            low = text.lower()
            return lambda s: s.lower() == low
        case Wildcard(text=text):
            segments = wildcard_segments(text)
            return lambda s: wildcard_match(segments, s)
        case Cidr(version=version, low=low_ip, high=high_ip):

            def in_range(s: str) -> bool:
                ip = parse_ip(s)
                return ip is not None and ip[0] == version and low_ip <= ip[1] <= high_ip

            return in_range
    raise AssertionError(f"not a string operator: {alt!r}")  # pragma: no cover


def _numeric_pred(alt: Numeric) -> Callable[[float], bool]:
    low, low_in, high, high_in = alt.lower, alt.lower_inclusive, alt.upper, alt.upper_inclusive

    def pred(x: float) -> bool:
        if x != x:  # NaN compares false with everything
            return False
        if low is not None and (x < low or (x == low and not low_in)):
            return False
        return not (high is not None and (x > high or (x == high and not high_in)))

    return pred


def _anything_but_pred(alt: AnythingBut) -> Pred:
    """True for any present scalar the anything-but does not exclude (null and bools too)."""
    if alt.form == "values" and alt.numbers:
        excluded = frozenset(n.value for n in alt.numbers)
        return lambda v: not (is_number(v) and to_float(v) in excluded)
    if alt.form == "values":
        words = frozenset(alt.strings)
        return lambda v: not (isinstance(v, str) and v in words)
    if alt.form == "equals-ignore-case":
        lowered = frozenset(s.lower() for s in alt.strings)
        return lambda v: not (isinstance(v, str) and v.lower() in lowered)
    kind = {"prefix": Prefix, "suffix": Suffix, "wildcard": Wildcard}[alt.form]
    preds = tuple(string_pred(kind(s)) for s in alt.strings)
    return lambda v: not (isinstance(v, str) and any(p(v) for p in preds))


def _scalar_pred(parts: _ScalarParts) -> Pred:
    strings = frozenset(parts.strings)
    string_preds = tuple(parts.string_preds)
    if parts.strings_only():
        if not string_preds:
            return lambda v: isinstance(v, str) and v in strings
        if not strings and len(string_preds) == 1:
            only = string_preds[0]
            return lambda v: isinstance(v, str) and only(v)

        def strings_pred(v: Any) -> bool:
            if not isinstance(v, str):
                return False
            return v in strings or any(p(v) for p in string_preds)

        return strings_pred
    number_keys = frozenset(parts.number_keys)
    number_values = frozenset(parts.number_values)
    number_preds = tuple(parts.number_preds)
    true_ok, false_ok, null_ok = parts.true_ok, parts.false_ok, parts.null_ok
    any_preds = tuple(parts.any_preds)

    def scalar(v: Any) -> bool:
        if isinstance(v, str):
            if v in strings or any(p(v) for p in string_preds):
                return True
        elif v is True or v is False:
            if true_ok if v else false_ok:
                return True
        elif v is None:
            if null_ok:
                return True
        elif isinstance(v, (int, float, Decimal)):
            if number_keys and number_key(v) in number_keys:
                return True
            if number_values or number_preds:
                x = to_float(v)
                if x in number_values or any(p(x) for p in number_preds):
                    return True
        return any(p(v) for p in any_preds)

    return scalar


def _leaf_pos(scalar: Pred, string_fast: bool) -> Pred:
    def slow(v: Any) -> bool:
        if v is MISSING or isinstance(v, Mapping):
            return False
        if isinstance(v, (list, tuple)):
            return any_scalar(v, scalar)
        return scalar(v)

    if string_fast:

        def pos_str(v: Any) -> bool:
            if type(v) is str:
                return scalar(v)
            if type(v) is list:
                return any_scalar(v, scalar)
            return slow(v)

        return pos_str

    def pos(v: Any) -> bool:
        t = type(v)
        if t is str or t is int or t is float or t is bool or v is None:
            return scalar(v)
        if t is list:
            return any_scalar(v, scalar)
        if t is dict:
            return False
        return slow(v)

    return pos


def compile_leaf(spec: LeafSpec, context: Context) -> LeafM:
    parts = _ScalarParts(context)
    for alt in spec.alts:
        parts.add(alt)
    can_pos = any(not (isinstance(a, Exists) and not a.present) for a in spec.alts)
    can_neg = any(isinstance(a, Exists) and not a.present for a in spec.alts)
    scalar = _scalar_pred(parts) if can_pos else never
    pos = _leaf_pos(scalar, parts.strings_only()) if can_pos else never
    neg = _absent(_present_sns if context in SNS_CONTEXTS else always) if can_neg else never

    full = pos if not can_neg else neg if not can_pos else _either(pos, neg)
    return LeafM(spec, scalar, pos, neg, full, can_pos, can_neg)


def _absent(present: Pred) -> Pred:
    def absent(v: Any) -> bool:
        return not any(present(s) for s in scalars(v))

    return absent


def _either(first: Pred, second: Pred) -> Pred:
    return lambda v: first(v) or second(v)
