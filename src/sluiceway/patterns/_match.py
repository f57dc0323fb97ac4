"""Compile a parsed pattern into closures, once, so matching an event is only dict lookups.

Semantics, following event-ruler's JSON-event matching (``rulesForJSONEvent``):

* ``$or`` is expanded first into plain combinations (sub-rules), each matched on its own; the
  pattern matches when one does. Inside a combination a path tested twice keeps the last test;
* fields AND, the alternatives of a leaf OR;
* an event array matches a leaf when any of its (flattened) scalar elements matches;
* an array of objects is matched element by element: every field of one pattern object must
  be satisfied by the **same** element (``{"a": {"x": [1], "y": [2]}}`` does not match
  ``{"a": [{"x": 1}, {"y": 2}]}``);
* ``exists: false`` holds when no scalar value sits at the path (missing key, an object, an
  empty array). Inside an array it is judged in the element the other fields of its object
  picked; when its object has nothing else that pins an element, no element may have a value.

That last rule is why every compiled node carries three predicates: ``pos`` (matched using at
least one condition that needs a value, so it can pin an array element), ``neg`` (matched by
``exists: false`` conditions alone) and ``full`` (either). A node whose conditions all need a
value gets the short path, ``full == pos``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from sluiceway.patterns._model import MISSING, PIPES_CONTEXTS, SNS_CONTEXTS, Context
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
from sluiceway.patterns._tree import LeafSpec, ObjSpec, Trie, expand

Pred = Callable[[Any], bool]

# Record keys whose content Pipes / Lambda decode from JSON before filtering. A pattern that
# expects JSON there drops a plain-text record, and the other way round.
DATA_KEYS: Final = frozenset({"body", "data", "dynamodb"})


def never(_value: Any) -> bool:
    return False


def always(_value: Any) -> bool:
    return True


def is_mapping(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)


def is_sequence(value: Any) -> bool:
    return type(value) is list or isinstance(value, (list, tuple))


def is_structured(value: Any) -> bool:
    return is_mapping(value) or is_sequence(value)


def is_plain(value: Any) -> bool:
    return value is not MISSING and not is_mapping(value) and not is_sequence(value)


def scalars(value: Any) -> list[Any]:
    """The scalar values at a path: the value itself, or the flattened scalars of an array."""
    if value is MISSING or is_mapping(value):
        return []
    if is_sequence(value):
        out: list[Any] = []
        for element in value:
            out.extend(scalars(element))
        return out
    return [value]


def elements(value: Any) -> list[Any]:
    """The non-array elements of a (nested) array."""
    out: list[Any] = []
    for element in value:
        if is_sequence(element):
            out.extend(elements(element))
        else:
            out.append(element)
    return out


def _any_scalar(seq: Any, scalar: Pred) -> bool:
    for element in seq:
        t = type(element)
        if t is dict:
            continue
        if t is list or t is tuple:
            if _any_scalar(element, scalar):
                return True
        elif isinstance(element, Mapping):
            continue
        elif isinstance(element, (list, tuple)):
            if _any_scalar(element, scalar):
                return True
        elif scalar(element):
            return True
    return False


def _any_element(seq: Any, pred: Pred) -> bool:
    for element in seq:
        if type(element) is list or isinstance(element, (list, tuple)):
            if _any_element(element, pred):
                return True
        elif pred(element):
            return True
    return False


def _all_elements(seq: Any, pred: Pred) -> bool:
    for element in seq:
        if type(element) is list or isinstance(element, (list, tuple)):
            if not _all_elements(element, pred):
                return False
        elif not pred(element):
            return False
    return True


# -- compiled nodes ------------------------------------------------------------------------


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


@dataclass(frozen=True, slots=True, eq=False)
class ConjM:
    """The fields of one object, AND-ed, judged against one object (or one array element)."""

    path: tuple[str, ...]
    items: tuple[tuple[str, LeafM | NodeM], ...]
    self_leaf: LeafM | None  # a test on the value here itself (see Trie)
    pos: Pred
    neg: Pred
    full: Pred
    can_pos: bool
    can_neg: bool


@dataclass(frozen=True, slots=True, eq=False)
class NodeM:
    """An object pattern at a path: its fields, plus how arrays at that path are searched."""

    conj: ConjM
    pos: Pred
    neg: Pred
    full: Pred
    can_pos: bool
    can_neg: bool
    guard: str = ""  # "structured": Pipes drops records whose data is plain text here


# -- leaves --------------------------------------------------------------------------------


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
            return _any_scalar(v, scalar)
        return scalar(v)

    if string_fast:

        def pos_str(v: Any) -> bool:
            if type(v) is str:
                return scalar(v)
            if type(v) is list:
                return _any_scalar(v, scalar)
            return slow(v)

        return pos_str

    def pos(v: Any) -> bool:
        t = type(v)
        if t is str or t is int or t is float or t is bool or v is None:
            return scalar(v)
        if t is list:
            return _any_scalar(v, scalar)
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


# -- objects -------------------------------------------------------------------------------


def compile_trie(trie: Trie, context: Context, *, top: bool = False) -> LeafM | NodeM:
    if not trie.children:
        assert trie.leaf is not None
        return compile_leaf(trie.leaf, context)
    items: list[tuple[str, LeafM | NodeM]] = []
    for key, child in trie.children.items():
        compiled = compile_trie(child, context)
        if top and context in PIPES_CONTEXTS and key in DATA_KEYS:
            compiled = _guarded(compiled)
        items.append((key, compiled))
    self_leaf = compile_leaf(trie.leaf, context) if trie.leaf is not None else None
    return compile_node(compile_conj(trie.path, tuple(items), self_leaf))


def compile_node(conj: ConjM) -> NodeM:
    cfull, cpos, cneg = conj.full, conj.pos, conj.neg

    def slow(v: Any) -> bool:
        if is_sequence(v):
            return _any_element(v, cfull)
        return cfull(v)

    if not conj.can_neg:
        # Every test needs a value: an array matches when one element does.
        if len(conj.items) == 1 and conj.self_leaf is None:
            key, child = conj.items[0]
            child_full = child.full

            def full_one(v: Any) -> bool:
                if type(v) is dict:
                    return child_full(v.get(key, MISSING))
                return slow(v)

            return NodeM(conj, full_one, never, full_one, conj.can_pos, False)

        def full_many(v: Any) -> bool:
            if type(v) is dict:
                return cfull(v)
            return slow(v)

        return NodeM(conj, full_many, never, full_many, conj.can_pos, False)

    def pos(v: Any) -> bool:
        return _any_element(v, cpos) if is_sequence(v) else cpos(v)

    def neg(v: Any) -> bool:
        return _all_elements(v, cneg) if is_sequence(v) else cneg(v)

    def full(v: Any) -> bool:
        if is_sequence(v):
            # A value-needing test pins one element; exists:false alone must hold in all.
            return _any_element(v, cpos) or _all_elements(v, cneg)
        return cfull(v)

    return NodeM(conj, pos, neg, full, conj.can_pos, True)


def compile_conj(
    path: tuple[str, ...], items: tuple[tuple[str, LeafM | NodeM], ...], self_leaf: LeafM | None
) -> ConjM:
    parts: list[LeafM | NodeM] = [m for _, m in items]
    if self_leaf is not None:
        parts.append(self_leaf)
    can_neg = all(m.can_neg for m in parts)
    can_pos = any(m.can_pos for m in parts)
    fulls = tuple((key, m.full) for key, m in items)
    self_full = self_leaf.full if self_leaf is not None else always
    on_missing = all(f(MISSING) for _, f in fulls)

    def full(d: Any) -> bool:
        if type(d) is dict or isinstance(d, Mapping):
            for key, f in fulls:
                if not f(d.get(key, MISSING)):
                    return False
            return self_full(d)
        return on_missing and self_full(d)

    if not can_neg:
        return ConjM(path, items, self_leaf, full, never, full, can_pos, False)
    poss = tuple((key, m.pos) for key, m in items if m.can_pos)
    negs = tuple((key, m.neg) for key, m in items)
    self_pos = self_leaf.pos if self_leaf is not None else never
    self_neg = self_leaf.neg if self_leaf is not None else always

    def pos(d: Any) -> bool:
        if not full(d):
            return False
        get = d.get if is_mapping(d) else _missing_get
        return any(p(get(key, MISSING)) for key, p in poss) or self_pos(d)

    def neg(d: Any) -> bool:
        get = d.get if is_mapping(d) else _missing_get
        return all(n(get(key, MISSING)) for key, n in negs) and self_neg(d)

    return ConjM(path, items, self_leaf, pos, neg, full, can_pos, True)


def _missing_get(_key: str, default: Any) -> Any:
    return default


def _guarded(compiled: LeafM | NodeM) -> LeafM | NodeM:
    if isinstance(compiled, NodeM):
        bad: Pred = is_plain
        kind = "structured"
    else:
        bad = is_structured
        kind = "plain"

    def wrap(pred: Pred) -> Pred:
        return lambda v: not bad(v) and pred(v)

    return dataclasses.replace(
        compiled,
        pos=wrap(compiled.pos),
        neg=wrap(compiled.neg),
        full=wrap(compiled.full),
        guard=kind,
    )


@dataclass(frozen=True, slots=True, eq=False)
class Program:
    """A compiled pattern: one tree per ``$or`` combination, and the match predicate."""

    rules: tuple[NodeM, ...]  # empty for an empty SNS policy
    labels: tuple[str, ...]
    match: Pred


def compile_program(root: ObjSpec, context: Context) -> Program:
    sub_rules = [r for r in expand(root) if r.trie.children]
    if not sub_rules:
        return Program((), (), always)
    nodes = tuple(_as_node(compile_trie(r.trie, context, top=True)) for r in sub_rules)
    labels = tuple(r.label for r in sub_rules)
    if len(nodes) == 1:
        full = nodes[0].full
    else:
        fulls = tuple(n.full for n in nodes)

        def full(event: Any) -> bool:
            return any(f(event) for f in fulls)

    if context == "sns-attributes":
        # SNS: a message without attributes matches no attribute policy, not even exists:false.
        return Program(
            nodes, labels, lambda event: is_mapping(event) and len(event) > 0 and full(event)
        )
    if context == "sns-body":
        return Program(nodes, labels, lambda event: is_mapping(event) and full(event))
    return Program(nodes, labels, full)


def _as_node(compiled: LeafM | NodeM) -> NodeM:
    assert isinstance(compiled, NodeM)  # the root trie always has children
    return compiled
