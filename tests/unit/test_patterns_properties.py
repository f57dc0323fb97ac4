"""Property tests: the compiled matcher agrees with a brute-force model of event-ruler.

The model flattens the event into (path, value, array membership) fields, expands ``$or``
into plain sub-patterns and searches every choice of fields, the way event-ruler's
``rulesForJSONEvent`` defines a match: fields chosen for one sub-pattern may not come from
different elements of the same array, and ``exists: false`` means no field at that path is
consistent with the elements chosen.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import re
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sluiceway.patterns import compile_pattern

KEYS = st.sampled_from(["a", "b", "c"])
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["", "x", "xy", "y"])
)
ALTERNATIVES = st.one_of(
    SCALARS,
    st.sampled_from(["x", "y"]).map(lambda s: {"prefix": s}),
    st.booleans().map(lambda b: {"exists": b}),
    st.just({"exists": False}),
    st.integers(-3, 3).map(lambda n: {"numeric": [">", n]}),
    st.sampled_from(["x", "y"]).map(lambda s: {"anything-but": [s]}),
)
LEAVES = st.lists(ALTERNATIVES, min_size=1, max_size=3)


def _with_or(children: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    fields = st.dictionaries(KEYS, st.one_of(LEAVES, children), min_size=1, max_size=3)
    branches = st.lists(children, min_size=2, max_size=3)
    return st.one_of(fields, st.tuples(fields, branches).map(lambda fb: {**fb[0], "$or": fb[1]}))


PATTERNS = st.recursive(
    st.dictionaries(KEYS, LEAVES, min_size=1, max_size=3), _with_or, max_leaves=6
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(KEYS, children, max_size=3)
    ),
    max_leaves=12,
)
EVENTS = st.dictionaries(KEYS, VALUES, max_size=3)


def _near(draw: st.DrawFn, alt: Any) -> Any:
    """A value that satisfies ``alt`` about half the time."""
    if not isinstance(alt, dict) or draw(st.booleans()):
        return alt if not isinstance(alt, dict) else draw(SCALARS)
    op, arg = next(iter(alt.items()))
    if op == "prefix":
        return arg + draw(st.sampled_from(["", "z"]))
    if op == "numeric":
        return arg[1] + draw(st.integers(0, 1))
    return draw(SCALARS) if op == "exists" else arg[0]


def _object_like(draw: st.DrawFn, node: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for key, child in node.items():
        if key == "$or":
            for index in draw(st.lists(st.integers(0, len(child) - 1), max_size=2)):
                value.update(_object_like(draw, child[index]))
        elif draw(st.integers(0, 4)):
            value[key] = _shaped(draw, child)
    return value


def _shaped(draw: st.DrawFn, node: Any) -> Any:
    if isinstance(node, list):
        value = _near(draw, node[draw(st.integers(0, len(node) - 1))])
    else:
        value = _object_like(draw, node)
    if draw(st.integers(0, 2)) == 0:  # bury it in an array among look-alikes
        others = [_shaped(draw, node) for _ in range(draw(st.integers(0, 2)))]
        value = draw(st.permutations([value, *others, *draw(st.lists(VALUES, max_size=1))]))
    return value


@st.composite
def patterns_and_events(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A pattern and an event shaped like it (arrays of similar objects included)."""
    pattern = draw(PATTERNS)
    event = draw(EVENTS) if draw(st.integers(0, 3)) == 0 else _object_like(draw, pattern)
    return pattern, event


# -- the model -----------------------------------------------------------------------------

Field = tuple[tuple[str, ...], Any, dict[int, int]]


def flatten(event: Any) -> list[Field]:
    fields: list[Field] = []
    arrays = itertools.count()

    def walk(value: Any, path: tuple[str, ...], membership: dict[int, int]) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, (*path, key), membership)
        elif isinstance(value, list):
            array = next(arrays)
            for index, item in enumerate(value):
                walk(item, path, {**membership, array: index})
        else:
            fields.append((path, value, membership))

    walk(event, (), {})
    return fields


def expand(pattern: dict[str, Any], rules: list[Any] | None = None, path: Any = ()) -> list[Any]:
    """Sub-patterns, one per $or choice: {path: alternatives}, a later test of a path winning."""
    rules = [{}] if rules is None else rules
    for key, value in pattern.items():
        if key == "$or":
            rules = [r for branch in value for r in expand(branch, [dict(x) for x in rules], path)]
        elif isinstance(value, dict):
            rules = expand(value, rules, (*path, key))
        else:
            for rule in rules:
                rule[(*path, key)] = value
    return rules


def is_num(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def accepts(alt: Any, value: Any) -> bool:
    if not isinstance(alt, dict):
        if isinstance(alt, bool) or alt is None:
            return value is alt
        return type(value) is type(alt) and value == alt
    op, arg = next(iter(alt.items()))
    if op == "prefix":
        return isinstance(value, str) and value.startswith(arg)
    if op == "exists":
        return True
    if op == "numeric":
        return is_num(value) and value > arg[1]
    return not (isinstance(value, str) and value in arg)  # anything-but


def consistent(a: dict[int, int], b: dict[int, int]) -> bool:
    return all(b.get(array, index) == index for array, index in a.items())


def model_matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    fields = flatten(event)
    for rule in expand(pattern):
        options = []
        for path, alts in rule.items():
            present = [a for a in alts if a != {"exists": False}]
            chosen = [
                ("value", f)
                for f in fields
                if f[0] == path and any(accepts(a, f[1]) for a in present)
            ]
            options.append(chosen + [("absent", path)] * (len(present) < len(alts)))
        for choice in itertools.product(*options):
            membership: dict[int, int] = {}
            if not all(_pin(membership, f[2]) for kind, f in choice if kind == "value"):
                continue
            if not any(
                f[0] == path and consistent(f[2], membership)
                for kind, path in choice
                if kind == "absent"
                for f in fields
            ):
                return True
    return False


def _pin(membership: dict[int, int], more: dict[int, int]) -> bool:
    if not consistent(more, membership):
        return False
    membership.update(more)
    return True


# -- properties ----------------------------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(patterns_and_events())
def test_matching_agrees_with_the_event_ruler_model(case: tuple[Any, Any]) -> None:
    pattern, event = case

    assert compile_pattern(pattern).matches(event) is model_matches(pattern, event)


@settings(max_examples=200, deadline=None)
@given(patterns_and_events())
def test_explain_agrees_with_matches(case: tuple[Any, Any]) -> None:
    pattern, event = case
    compiled = compile_pattern(pattern)

    explanation = compiled.explain(event)

    assert explanation.matched is compiled.matches(event)
    assert bool(explanation.misses) is not explanation.matched
    assert explanation.describe()


@given(PATTERNS)
def test_source_is_a_fixed_point(pattern: Any) -> None:
    source = compile_pattern(pattern).source

    assert compile_pattern(source).source == source
    assert json.loads(source) == json.loads(json.dumps(pattern))


@given(st.text(max_size=6), st.text(max_size=10))
def test_prefix_is_startswith(prefix: str, value: str) -> None:
    assert compile_pattern({"v": [{"prefix": prefix}]}).matches({"v": value}) is (
        value.startswith(prefix)
    )


def _wildcard_model(pattern: str, value: str) -> bool:
    if not pattern:
        return not value
    if pattern[0] == "*":
        return any(_wildcard_model(pattern[1:], value[i:]) for i in range(len(value) + 1))
    return bool(value) and value[0] == pattern[0] and _wildcard_model(pattern[1:], value[1:])


@given(st.text(alphabet="ab*", max_size=6), st.text(alphabet="ab", max_size=6))
def test_wildcard_star_matches_any_run_of_characters(pattern: str, value: str) -> None:
    if "**" in pattern:
        return
    compiled = compile_pattern({"v": [{"wildcard": pattern}]})

    assert compiled.matches({"v": value}) is _wildcard_model(pattern, value)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_float_matches_its_own_json_text(number: float) -> None:
    text = json.dumps(number)
    pattern = compile_pattern('{"n": [' + text + "]}")

    assert pattern.matches({"n": number})
    assert pattern.matches(json.loads('{"n": ' + text + "}", parse_float=Decimal))


@given(st.integers(0, 2**32 - 1), st.integers(0, 31), st.integers(0, 2**32 - 1))
def test_cidr_agrees_with_ipaddress(base: int, mask: int, address: int) -> None:
    network = ipaddress.ip_network((base, mask), strict=False)
    pattern = compile_pattern({"ip": [{"cidr": str(network)}]})
    ip = ipaddress.IPv4Address(address)

    assert pattern.matches({"ip": str(ip)}) is (ip in network)


@given(st.text(max_size=8))
def test_escaped_wildcards_match_literally(text: str) -> None:
    escaped = re.sub(r"([*\\])", r"\\\1", text)

    assert compile_pattern({"v": [{"wildcard": escaped}]}).matches({"v": text})
