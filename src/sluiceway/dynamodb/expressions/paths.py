"""Document paths: ``a.b[0].c`` as ``("a", "b", 0, "c")``, read from items as stored."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NoReturn

from sluiceway.core.attrvalue import AttributeValue
from sluiceway.core.errors import ValidationError

Path = tuple[str | int, ...]
"""A resolved document path: map keys as ``str``, list indexes as ``int``; never empty."""


def value_of(item: Mapping[str, AttributeValue] | None, path: Path) -> AttributeValue | None:
    """The value at `path` in `item`, or None when any step of the path is missing.

    >>> value_of({"a": {"L": [{"S": "x"}]}}, ("a", 0))
    {'S': 'x'}
    """
    if item is None:
        return None
    head, *rest = path
    value = item.get(head) if isinstance(head, str) else None
    for step in rest:
        if value is None:
            return None
        value = child(value, step)
    return value


def child(value: AttributeValue, step: str | int) -> AttributeValue | None:
    """One step into a map (by key) or a list (by index); None when there is no such child."""
    if isinstance(step, str):
        members = value.get("M")
        return members.get(step) if isinstance(members, dict) else None
    elements = value.get("L")
    if isinstance(elements, list) and step < len(elements):
        element: AttributeValue = elements[step]
        return element
    return None


def format_path(path: Path) -> str:
    """A path as DynamoDB's messages print it: ``[a, b, [0]]``."""
    return "[" + ", ".join(f"[{step}]" if isinstance(step, int) else step for step in path) + "]"


class _Node:
    __slots__ = ("children", "first", "terminal")

    def __init__(self, first: Path) -> None:
        self.children: dict[str | int, _Node] = {}
        self.first = first  # the first path that went through this node, for messages
        self.terminal = False


def check_disjoint(paths: Iterable[Path], kind: str) -> None:
    """Raise DynamoDB's error when one path lies inside another or two treat a node differently.

    ``a`` and ``a.b`` overlap; ``a[0]`` and ``a.b`` conflict (a list for one, a map for the
    other). A trie keeps this linear in the total length of the paths.
    """
    root = _Node(())
    for path in paths:
        node = root
        for step in path:
            if node.terminal:
                _raise("overlap", node.first, path, kind)
            for sibling in node.children:
                if isinstance(sibling, int) != isinstance(step, int):
                    _raise("conflict", node.children[sibling].first, path, kind)
                break
            if step not in node.children:
                node.children[step] = _Node(path)
            node = node.children[step]
        if node.terminal or node.children:
            _raise("overlap", node.first, path, kind)
        node.terminal = True


def _raise(problem: str, one: Path, two: Path, kind: str) -> NoReturn:
    raise ValidationError(
        f"Invalid {kind}: Two document paths {problem} with each other; must remove or rewrite "
        f"one of these paths; path one: {format_path(one)}, path two: {format_path(two)}"
    )
