"""Say in words why an event missed a pattern. Slow path only: matching never comes here.

The walk mirrors ``_match`` and asks the compiled predicates which parts failed, so the
explanation cannot disagree with ``matches``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from sluiceway.patterns._leaves import LeafM
from sluiceway.patterns._match import ConjM, NodeM, Program
from sluiceway.patterns._model import MISSING, Context, Miss
from sluiceway.patterns._ops import Exact, quote
from sluiceway.patterns._tree import LeafSpec
from sluiceway.patterns._values import is_mapping, is_plain, is_sequence, is_structured, scalars

MAX_COMBINATIONS_SHOWN = 10


def explain_program(program: Program, event: Any, context: Context) -> tuple[Miss, ...]:
    """The misses of one compiled pattern against ``event``; empty when it matches."""
    if program.match(event) or not program.rules:
        return ()
    if context == "sns-attributes" and (not is_mapping(event) or not event):
        return (Miss("", "at least one message attribute", event, "has no message attributes"),)
    if context == "sns-body" and not is_mapping(event):
        return (Miss("", "a JSON object message body", event, "is not a JSON object"),)
    per_rule = [node_misses(node, event, "") for node in program.rules]
    if len(per_rule) == 1:
        return tuple(per_rule[0])
    # Misses every $or combination shares are said once; the rest under the branches taken.
    common = [m for m in per_rule[0] if all(m in misses for misses in per_rule[1:])]
    out = list(common)
    ranked = sorted(zip(program.labels, per_rule, strict=True), key=lambda lm: len(lm[1]))
    for label, misses in ranked[:MAX_COMBINATIONS_SHOWN]:
        out.extend(dataclasses.replace(m, branch=label) for m in misses if m not in common)
    return tuple(out)


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def leaf_condition(spec: LeafSpec) -> str:
    if all(isinstance(alt, Exact) for alt in spec.alts):
        return "one of " + ", ".join(alt.describe() for alt in spec.alts)
    return " or ".join(alt.describe() for alt in spec.alts)


def object_condition(conj: ConjM) -> str:
    return "an object with " + ", ".join(quote(key) for key, _ in conj.items)


def _indexed(seq: Any, path: str) -> Iterator[tuple[str, Any]]:
    for i, element in enumerate(seq):
        here = f"{path}[{i}]"
        if is_sequence(element):
            yield from _indexed(element, here)
        else:
            yield here, element


def node_misses(node: NodeM, value: Any, path: str) -> list[Miss]:
    if node.full(value):
        return []
    condition = object_condition(node.conj)
    if node.guard == "structured" and is_plain(value):
        return [Miss(path, condition, value, "is plain text, but the pattern filters inside JSON")]
    if not is_sequence(value):
        return conj_misses(node.conj, value, path)
    failing = [(here, e) for here, e in _indexed(value, path) if not node.conj.full(e)]
    if not failing:
        reason = "is an empty array" if not value else "has no element that matches"
        return [Miss(path, condition, value, reason)]
    objects = [(here, e) for here, e in failing if is_mapping(e)] or failing
    candidates = [conj_misses(node.conj, e, here) for here, e in objects]
    return min(candidates, key=len)


def conj_misses(conj: ConjM, value: Any, path: str) -> list[Miss]:
    plain = not is_mapping(value) and value is not MISSING
    if plain and conj.can_pos and conj.self_leaf is None:
        return [Miss(path, object_condition(conj), value, "is not an object")]
    get = value.get if is_mapping(value) else None
    out: list[Miss] = []
    for key, child in conj.items:
        item = get(key, MISSING) if get is not None else MISSING
        if child.full(item):
            continue
        here = join(path, key)
        if isinstance(child, LeafM):
            out.append(leaf_miss(child, item, here))
        else:
            out.extend(node_misses(child, item, here))
    if conj.self_leaf is not None and not conj.self_leaf.full(value):
        out.append(leaf_miss(conj.self_leaf, value, path))
    return out


def leaf_miss(leaf: LeafM, value: Any, path: str) -> Miss:
    condition = leaf_condition(leaf.spec)
    if leaf.guard == "plain" and is_structured(value):
        return Miss(path, condition, value, "is JSON, but the pattern expects plain text")
    if value is MISSING:
        return Miss(path, condition, MISSING)
    if is_mapping(value):
        return Miss(path, condition, value, "is an object, not a value")
    if is_sequence(value):
        if not scalars(value):
            return Miss(path, condition, value, "is an array with no values")
        if not leaf.can_pos:
            return Miss(path, condition, value, "has values, so it exists")
        return Miss(path, condition, value, "has no element that matches")
    alts = leaf.spec.alts
    if len(alts) == 1:
        reason = alts[0].reason(value)
    elif all(isinstance(alt, Exact) for alt in alts):
        reason = "is not one of them"
    else:
        reason = "matches none of them"
    return Miss(path, condition, value, reason)
