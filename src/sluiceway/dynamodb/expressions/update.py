"""UpdateExpression: SET, REMOVE, ADD and DELETE clauses, parsed once and applied to an item."""

from __future__ import annotations

import copy
from collections.abc import Collection
from dataclasses import dataclass
from typing import TypeAlias

from sluiceway.core.attrvalue import MAX_ITEM_BYTES, AttributeValue, Item, item_size
from sluiceway.core.errors import ValidationError
from sluiceway.dynamodb.expressions import _values
from sluiceway.dynamodb.expressions._parser import Parser
from sluiceway.dynamodb.expressions.paths import Path, check_disjoint, child, value_of
from sluiceway.dynamodb.expressions.usage import Names, Usage, Values

CLAUSES = ("SET", "REMOVE", "ADD", "DELETE")
_NOT_IN_UPDATES = (
    "attribute_exists",
    "attribute_not_exists",
    "attribute_type",
    "begins_with",
    "contains",
    "size",
)
_SETS = ("SS", "NS", "BS")

# -- operands of SET, evaluated against the item as it was before the update ---------------


def _invalid_path() -> ValidationError:
    return ValidationError(
        "The document path provided in the update expression is invalid for update"
    )


def _wrong_type() -> ValidationError:
    return ValidationError("An operand in the update expression has an incorrect data type")


@dataclass(frozen=True)
class PathValue:
    path: Path

    def resolve(self, item: Item) -> AttributeValue:
        value = value_of(item, self.path)
        if value is None:
            raise ValidationError(
                "The provided expression refers to an attribute that does not exist in the item"
            )
        return value


@dataclass(frozen=True)
class Literal:
    value: AttributeValue

    def resolve(self, item: Item) -> AttributeValue:
        return self.value


@dataclass(frozen=True)
class IfNotExists:
    path: Path
    fallback: Operand

    def resolve(self, item: Item) -> AttributeValue:
        value = value_of(item, self.path)
        return value if value is not None else self.fallback.resolve(item)


@dataclass(frozen=True)
class ListAppend:
    first: Operand
    second: Operand

    def resolve(self, item: Item) -> AttributeValue:
        first, second = self.first.resolve(item), self.second.resolve(item)
        if "L" not in first or "L" not in second:
            raise _wrong_type()
        return {"L": [*first["L"], *second["L"]]}


@dataclass(frozen=True)
class Arithmetic:
    op: str
    left: Operand
    right: Operand

    def resolve(self, item: Item) -> AttributeValue:
        left, right = self.left.resolve(item), self.right.resolve(item)
        if "N" not in left or "N" not in right:
            raise _wrong_type()
        if self.op == "+":
            return _values.add(left["N"], right["N"])
        return _values.subtract(left["N"], right["N"])


Operand: TypeAlias = PathValue | Literal | IfNotExists | ListAppend | Arithmetic

# -- actions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetAction:
    path: Path
    operand: Operand


@dataclass(frozen=True)
class RemoveAction:
    path: Path


@dataclass(frozen=True)
class AddAction:
    path: Path
    value: AttributeValue


@dataclass(frozen=True)
class DeleteAction:
    path: Path
    value: AttributeValue


Action: TypeAlias = SetAction | RemoveAction | AddAction | DeleteAction


@dataclass(frozen=True)
class Update:
    """A parsed UpdateExpression.

    >>> update = parse_update("SET n = if_not_exists(n, :zero) + :one", None, v)  # doctest: +SKIP
    >>> update.apply({"id": {"S": "a"}}, key_names=("id",))               # doctest: +SKIP
    {'id': {'S': 'a'}, 'n': {'N': '1'}}
    """

    actions: tuple[Action, ...]

    @property
    def updated(self) -> frozenset[str]:
        """The top-level attributes the update touches (for ReturnValues UPDATED_OLD/NEW)."""
        return frozenset(str(action.path[0]) for action in self.actions)

    @property
    def paths(self) -> tuple[Path, ...]:
        """The document paths the update writes or removes, in the order written."""
        return tuple(action.path for action in self.actions)

    def apply(self, item: Item | None, *, key_names: Collection[str] = ()) -> Item:
        """The item after the update (a new dict); `item` is left as it was."""
        for action in self.actions:
            if action.path[0] in key_names:
                raise ValidationError(
                    "One or more parameter values were invalid: Cannot update attribute "
                    f"{action.path[0]}. This attribute is part of the key"
                )
        old: Item = item or {}
        writes: list[tuple[Path, AttributeValue]] = []
        removals: list[Path] = []
        for action in self.actions:
            if isinstance(action, SetAction):
                writes.append((action.path, action.operand.resolve(old)))
            elif isinstance(action, AddAction):
                writes.append((action.path, _add(value_of(old, action.path), action.value)))
            elif isinstance(action, DeleteAction):
                current = value_of(old, action.path)
                if current is None:
                    continue
                rest = _delete(current, action.value)
                if rest is None:
                    removals.append(action.path)
                else:
                    writes.append((action.path, rest))
            else:
                removals.append(action.path)
        new = copy.deepcopy(old)
        for path, value in writes:
            _write(new, path, value)
        # Indexes name elements of the list as it was: remove the highest first.
        for path in sorted(removals, key=_removal_order, reverse=True):
            _remove(new, path)
        if item_size(new) > MAX_ITEM_BYTES:
            raise ValidationError("Item size to update has exceeded the maximum allowed size")
        return new


def _add(current: AttributeValue | None, value: AttributeValue) -> AttributeValue:
    if current is None:
        return value
    kind = _values.type_of(value)
    if _values.type_of(current) != kind:
        raise _wrong_type()
    if kind == "N":
        return _values.add(current["N"], value["N"])
    return _values.set_union(current, value)


def _delete(current: AttributeValue, value: AttributeValue) -> AttributeValue | None:
    if _values.type_of(current) != _values.type_of(value):
        raise _wrong_type()
    return _values.set_difference(current, value)


def _parent(item: Item, path: Path) -> AttributeValue:
    """The map or list that holds the last step of `path` (which has at least two steps)."""
    value = item.get(str(path[0]))
    for step in path[1:-1]:
        value = child(value, step) if value is not None else None
    if value is None:
        raise _invalid_path()
    return value


def _write(item: Item, path: Path, value: AttributeValue) -> None:
    last = path[-1]
    if len(path) == 1:
        item[str(last)] = value
        return
    parent = _parent(item, path)
    if isinstance(last, str):
        if "M" not in parent:
            raise _invalid_path()
        parent["M"][last] = value
        return
    if "L" not in parent:
        raise _invalid_path()
    elements = parent["L"]
    if last < len(elements):
        elements[last] = value
    else:
        elements.append(value)


def _remove(item: Item, path: Path) -> None:
    last = path[-1]
    if len(path) == 1:
        item.pop(str(last), None)
        return
    parent = _parent(item, path)
    if isinstance(last, str):
        if "M" not in parent:
            raise _invalid_path()
        parent["M"].pop(last, None)
        return
    if "L" not in parent:
        raise _invalid_path()
    if last < len(parent["L"]):
        del parent["L"][last]


def _removal_order(path: Path) -> tuple[tuple[int, int, str], ...]:
    return tuple((1, step, "") if isinstance(step, int) else (0, 0, step) for step in path)


# -- parsing ----------------------------------------------------------------------------------


def parse_update(
    text: str, names: Names | None, values: Values | None, usage: Usage | None = None
) -> Update:
    """Parse an UpdateExpression; raise ValidationError with DynamoDB's message if invalid."""
    parser = _UpdateParser(text, names, values, usage, "UpdateExpression")
    actions = parser.clauses()
    check_disjoint((action.path for action in actions), "UpdateExpression")
    return Update(tuple(actions))


class _UpdateParser(Parser):
    def clauses(self) -> list[Action]:
        actions: list[Action] = []
        seen: set[str] = set()
        while self.peek().kind != "eof":
            token = self.peek()
            clause = token.text.upper() if token.kind == "name" else ""
            if clause not in CLAUSES:
                raise self.syntax_error()
            if clause in seen:
                raise self.error(
                    f'The "{clause}" section can only be used once in an update expression;'
                )
            seen.add(clause)
            self.advance()
            actions.append(self.action(clause))
            while self.at(","):
                self.advance()
                actions.append(self.action(clause))
        return actions

    def action(self, clause: str) -> Action:
        path = self.path()
        if clause == "SET":
            self.expect("=")
            return SetAction(path, self.set_value())
        if clause == "REMOVE":
            return RemoveAction(path)
        value = self.value()
        kind = _values.type_of(value)
        allowed = ("N", *_SETS) if clause == "ADD" else _SETS
        if kind not in allowed:
            raise self.error(
                "Incorrect operand type for operator or function; "
                f"operator: {clause}, operand type: {_values.HUMAN_TYPES[kind]}"
            )
        if clause == "ADD":
            return AddAction(path, value)
        return DeleteAction(path, value)

    def set_value(self) -> Operand:
        value = self.operand()
        while self.at("+") or self.at("-"):
            op = self.advance().text
            right = self.operand()
            self.check_literals(op, "N", value, right)
            value = Arithmetic(op, value, right)
        return value

    def check_literals(self, op: str, kind: str, *operands: Operand) -> None:
        """DynamoDB checks the types of the values written into the expression up front."""
        for operand in operands:
            if isinstance(operand, Literal) and _values.type_of(operand.value) != kind:
                raise self.error(
                    "Incorrect operand type for operator or function; "
                    f"operator or function: {op}, operand type: {_values.type_of(operand.value)}"
                )

    def operand(self) -> Operand:
        token = self.peek()
        if token.kind == "value":
            return Literal(self.value())
        if not self.at_call():
            return PathValue(self.path())
        name = token.text
        if name in _NOT_IN_UPDATES:
            raise self.error(
                f"The function is not allowed in an update expression; function: {name}"
            )
        if name not in ("if_not_exists", "list_append"):
            raise self.error(f"Invalid function name; function: {name}")
        self.call_name()
        self.enter()
        arguments = [self.operand()]
        while self.at(","):
            self.advance()
            arguments.append(self.operand())
        self.expect(")")
        self.leave()
        if len(arguments) != 2:
            raise self.error(
                "Incorrect number of operands for operator or function; "
                f"operator or function: {name}, number of operands: {len(arguments)}"
            )
        first, second = arguments
        if name == "list_append":
            self.check_literals(name, "L", first, second)
            return ListAppend(first, second)
        if not isinstance(first, PathValue):
            raise self.error(
                "Operator or function requires a document path; operator or function: if_not_exists"
            )
        return IfNotExists(first.path, second)
