"""The parsed form of a pattern, and the size limits the services put on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from sluiceway.patterns._model import SNS_CONTEXTS, Context, PatternError
from sluiceway.patterns._ops import Alt, quote

MAX_OR_COMBINATIONS: Final = 1000
MAX_SNS_KEYS: Final = 5
MAX_SNS_COMBINATIONS: Final = 150


@dataclass(frozen=True, slots=True)
class LeafSpec:
    """An array of alternatives at an event path (OR)."""

    path: tuple[str, ...]
    alts: tuple[Alt, ...]


@dataclass(frozen=True, slots=True)
class OrSpec:
    """A ``$or`` array: the object it sits in matches if any branch matches with it."""

    branches: tuple[ObjSpec, ...]


@dataclass(frozen=True, slots=True)
class ObjSpec:
    """A pattern object: its fields (AND) and ``$or`` groups, in document order."""

    path: tuple[str, ...]
    items: tuple[tuple[str, LeafSpec | ObjSpec | OrSpec], ...]


# -- sub-rules -----------------------------------------------------------------------------


@dataclass(slots=True)
class Trie:
    """One ``$or``-free combination, rebuilt as a tree of paths.

    A path may carry a leaf and children at once when one branch tests ``a`` and another
    ``a.b``; the leaf then applies to the value at ``a`` itself.
    """

    path: tuple[str, ...]
    leaf: LeafSpec | None = None
    children: dict[str, Trie] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SubRule:
    trie: Trie
    label: str  # the $or branches it took, e.g. "$or[1] + $or[1].detail.$or[0]"


_Paths = dict[tuple[str, ...], LeafSpec]


def expand(root: ObjSpec) -> list[SubRule]:
    """Expand ``$or`` into plain combinations, as event-ruler does before matching.

    Within one combination a path tested twice (in an object and in one of its ``$or``
    branches) keeps the test written last, as event-ruler's rule maps overwrite it.
    """
    rules = _expand(root, [({}, ())], "")
    return [SubRule(_trie(paths), " + ".join(labels)) for paths, labels in rules]


def _expand(
    obj: ObjSpec, rules: list[tuple[_Paths, tuple[str, ...]]], jpath: str
) -> list[tuple[_Paths, tuple[str, ...]]]:
    for key, item in obj.items:
        if isinstance(item, LeafSpec):
            for paths, _ in rules:
                paths[item.path] = item
        elif isinstance(item, ObjSpec):
            rules = _expand(item, rules, f"{jpath}.{key}" if jpath else key)
        else:
            here = f"{jpath}.$or" if jpath else "$or"
            expanded: list[tuple[_Paths, tuple[str, ...]]] = []
            for j, branch in enumerate(item.branches):
                label = f"{here}[{j}]"
                copies = [(dict(paths), (*labels, label)) for paths, labels in rules]
                expanded.extend(_expand(branch, copies, label))
            rules = expanded
    return rules


def _trie(paths: _Paths) -> Trie:
    root = Trie(())
    for path, leaf in paths.items():
        node = root
        for depth, key in enumerate(path):
            node = node.children.setdefault(key, Trie(path[: depth + 1]))
        node.leaf = leaf
    return root


# -- limits --------------------------------------------------------------------------------


def or_combinations(obj: ObjSpec) -> int:
    """How many plain patterns the ``$or`` groups expand into."""
    count = 1
    for _, item in obj.items:
        if isinstance(item, ObjSpec):
            count *= or_combinations(item)
        elif isinstance(item, OrSpec):
            count *= sum(or_combinations(branch) for branch in item.branches)
    return count


def sns_combinations(obj: ObjSpec, depth: int = 1) -> int:
    """SNS policy complexity: the product of (nesting depth x values) per key, $or adds up."""
    count = 1
    for _, item in obj.items:
        if isinstance(item, LeafSpec):
            count *= depth * len(item.alts)
        elif isinstance(item, ObjSpec):
            count *= sns_combinations(item, depth + 1)
        else:
            count *= sum(sns_combinations(branch, depth) for branch in item.branches)
    return count


def top_level_keys(obj: ObjSpec) -> set[str]:
    keys: set[str] = set()
    for key, item in obj.items:
        if isinstance(item, OrSpec):
            for branch in item.branches:
                keys |= top_level_keys(branch)
        else:
            keys.add(key)
    return keys


def check_limits(root: ObjSpec, context: Context) -> None:
    if context in SNS_CONTEXTS:
        keys = top_level_keys(root)
        if len(keys) > MAX_SNS_KEYS:
            names = ", ".join(sorted(quote(k) for k in keys))
            raise PatternError(
                f"a filter policy may have at most {MAX_SNS_KEYS} keys, this one has "
                f"{len(keys)} ({names})",
                context=context,
            )
        combinations = sns_combinations(root)
        if combinations > MAX_SNS_COMBINATIONS:
            raise PatternError(
                f"the filter policy has {combinations} value combinations; the limit is "
                f"{MAX_SNS_COMBINATIONS}",
                context=context,
            )
        return
    combinations = or_combinations(root)
    if combinations > MAX_OR_COMBINATIONS:
        raise PatternError(
            f"the pattern expands to {combinations} combinations through $or; the limit is "
            f"{MAX_OR_COMBINATIONS}",
            context=context,
        )
