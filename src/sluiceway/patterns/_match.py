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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from sluiceway.patterns._leaves import LeafM, compile_leaf
from sluiceway.patterns._model import MISSING, PIPES_CONTEXTS, Context
from sluiceway.patterns._tree import ObjSpec, Trie, expand
from sluiceway.patterns._values import (
    Pred,
    all_elements,
    always,
    any_element,
    is_mapping,
    is_plain,
    is_sequence,
    is_structured,
    never,
)

# Record keys whose content Pipes / Lambda decode from JSON before filtering. A pattern that
# expects JSON there drops a plain-text record, and the other way round.
DATA_KEYS: Final = frozenset({"body", "data", "dynamodb"})


# -- compiled nodes ------------------------------------------------------------------------


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
            return any_element(v, cfull)
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
        return any_element(v, cpos) if is_sequence(v) else cpos(v)

    def neg(v: Any) -> bool:
        return all_elements(v, cneg) if is_sequence(v) else cneg(v)

    def full(v: Any) -> bool:
        if is_sequence(v):
            # A value-needing test pins one element; exists:false alone must hold in all.
            return any_element(v, cpos) or all_elements(v, cneg)
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
