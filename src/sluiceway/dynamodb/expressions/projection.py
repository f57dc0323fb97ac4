"""ProjectionExpression: the attributes, map keys and list elements a read returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sluiceway.core.attrvalue import AttributeValue, Item
from sluiceway.dynamodb.expressions._parser import Parser
from sluiceway.dynamodb.expressions.paths import Path, check_disjoint
from sluiceway.dynamodb.expressions.usage import Names, Usage

# A selection tree: each step maps to the selection below it; None selects the whole value.
_Tree = dict[str | int, Any]


@dataclass(frozen=True)
class Projection:
    """A parsed ProjectionExpression.

    >>> Projection((("a", "b"), ("l", 1))).apply(item)                         # doctest: +SKIP
    {'a': {'M': {'b': ...}}, 'l': {'L': [<element 1>]}}
    """

    paths: tuple[Path, ...]

    def apply(self, item: Mapping[str, AttributeValue]) -> Item:
        """The parts of `item` the paths select, nested as they are in the item.

        Selected list elements keep their order and close up (``l[1], l[3]`` gives a list of
        two); paths that lead nowhere select nothing.
        """
        tree: _Tree = {}
        for path in self.paths:
            node = tree
            for step in path[:-1]:
                node = node.setdefault(step, {})
            node[path[-1]] = None
        return {
            str(name): picked
            for name, below in tree.items()
            if name in item and (picked := _pick(item[str(name)], below)) is not None
        }


def _pick(value: AttributeValue, tree: _Tree | None) -> AttributeValue | None:
    if tree is None:
        return value
    if all(isinstance(step, str) for step in tree):
        members = value.get("M")
        if not isinstance(members, dict):
            return None
        picked = {
            str(key): part
            for key, below in tree.items()
            if key in members and (part := _pick(members[str(key)], below)) is not None
        }
        return {"M": picked} if picked else None
    elements = value.get("L")
    if not isinstance(elements, list):
        return None
    chosen = []
    for index in sorted(step for step in tree if isinstance(step, int)):
        if index < len(elements):
            part = _pick(elements[index], tree[index])
            if part is not None:
                chosen.append(part)
    return {"L": chosen} if chosen else None


def parse_projection(text: str, names: Names | None, usage: Usage | None = None) -> Projection:
    """Parse a ProjectionExpression: document paths separated by commas."""
    parser = Parser(text, names, None, usage, "ProjectionExpression")
    paths = [parser.path()]
    while parser.at(","):
        parser.advance()
        paths.append(parser.path())
    parser.finish()
    check_disjoint(paths, "ProjectionExpression")
    return Projection(tuple(paths))
