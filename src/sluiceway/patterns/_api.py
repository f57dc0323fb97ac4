"""The compiled objects handed out by the package: :class:`Pattern` and :class:`FilterSet`."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Final

from sluiceway.patterns._explain import explain_program
from sluiceway.patterns._match import Program, compile_program
from sluiceway.patterns._model import PIPES_CONTEXTS, Context, Explanation, Miss, PatternError
from sluiceway.patterns._parse import parse
from sluiceway.patterns._values import Pred

MAX_PIPES_FILTERS: Final = 5  # Lambda ESM default quota (raisable to 10); Pipes allows 5


class Pattern:
    """A compiled event pattern (or SNS filter policy), ready to match events fast.

    Example::

        pattern = compile_pattern(
            {"dynamodb": {"NewImage": {"phone": {"S": [{"prefix": "+91"}]}}}}, context="esm"
        )
        pattern.matches(record)            # True for "+919876543210"
        pattern.explain(record).describe() # why not, in plain English
    """

    __slots__ = ("_match", "_program", "context", "source")

    def __init__(self, source: str, context: Context, program: Program) -> None:
        self.source = source
        self.context: Context = context
        self._program = program
        self._match: Pred = program.match

    def matches(self, event: Any) -> bool:
        return self._match(event)

    def explain(self, event: Any) -> Explanation:
        misses = explain_program(self._program, event, self.context)
        return Explanation(matched=not misses, misses=misses)

    def __repr__(self) -> str:
        return f"Pattern({self.source!r}, context={self.context!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pattern):
            return NotImplemented
        return (self.source, self.context) == (other.source, other.context)

    def __hash__(self) -> int:
        return hash((self.source, self.context))


class FilterSet:
    """Filters OR-ed together, as in ``FilterCriteria``; no filters lets every event through.

    Example::

        filters = compile_filters(['{"body": {"type": ["order"]}}'], context="esm")
        filters.matches(esm_view_of_sqs_record(record))
    """

    __slots__ = ("_matchers", "context", "patterns")

    def __init__(self, patterns: tuple[Pattern, ...], context: Context) -> None:
        self.patterns = patterns
        self.context: Context = context
        self._matchers = tuple(p._match for p in patterns)

    def matches(self, event: Any) -> bool:
        if not self._matchers:
            return True
        return any(match(event) for match in self._matchers)

    def explain(self, event: Any) -> Explanation:
        if not self.patterns or self.matches(event):
            return Explanation(matched=True)
        if len(self.patterns) == 1:
            return self.patterns[0].explain(event)
        misses: list[Miss] = []
        for i, pattern in enumerate(self.patterns, start=1):
            for miss in pattern.explain(event).misses:
                label = f"filter {i} > {miss.branch}" if miss.branch else f"filter {i}"
                misses.append(dataclasses.replace(miss, branch=label))
        return Explanation(matched=False, misses=tuple(misses))

    def __repr__(self) -> str:
        return f"FilterSet({[p.source for p in self.patterns]!r}, context={self.context!r})"


def compile_pattern(
    pattern: str | Mapping[str, Any] | Pattern, *, context: Context = "eventbridge"
) -> Pattern:
    """Validate ``pattern`` for ``context`` and compile it; PatternError says what is wrong."""
    if isinstance(pattern, Pattern):
        if pattern.context == context:
            return pattern
        pattern = pattern.source
    parsed = parse(pattern, context)
    return Pattern(parsed.source, context, compile_program(parsed.root, context))


def compile_filters(
    patterns: Sequence[str | Mapping[str, Any] | Pattern], *, context: Context
) -> FilterSet:
    """Compile the filters of a ``FilterCriteria`` (OR-ed; an empty list matches everything)."""
    if isinstance(patterns, (str, Mapping)):
        raise TypeError("compile_filters takes a sequence of patterns; wrap a single one in [...]")
    if context in PIPES_CONTEXTS and len(patterns) > MAX_PIPES_FILTERS:
        raise PatternError(
            f"at most {MAX_PIPES_FILTERS} filters are allowed, got {len(patterns)}",
            context=context,
            message=f"at most {MAX_PIPES_FILTERS} filters are allowed, got {len(patterns)}",
        )
    return FilterSet(tuple(compile_pattern(p, context=context) for p in patterns), context)
