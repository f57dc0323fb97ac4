"""ConditionExpression and FilterExpression: parsed once, evaluated against items."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from sluiceway.core.attrvalue import AttributeValue, Item
from sluiceway.dynamodb.expressions import _values
from sluiceway.dynamodb.expressions._parser import Parser
from sluiceway.dynamodb.expressions.paths import Path, format_path, value_of
from sluiceway.dynamodb.expressions.usage import Names, Usage, Values

MAX_IN_OPERANDS = 100
COMPARATORS = ("=", "<>", "<", "<=", ">", ">=")
CONDITION_FUNCTIONS = (
    "attribute_exists",
    "attribute_not_exists",
    "attribute_type",
    "begins_with",
    "contains",
)
UPDATE_FUNCTIONS = ("if_not_exists", "list_append")

# -- operands ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathOperand:
    path: Path

    def resolve(self, item: Item | None) -> AttributeValue | None:
        return value_of(item, self.path)


@dataclass(frozen=True)
class ValueOperand:
    value: AttributeValue

    def resolve(self, item: Item | None) -> AttributeValue | None:
        return self.value


@dataclass(frozen=True)
class SizeOperand:
    path: Path

    def resolve(self, item: Item | None) -> AttributeValue | None:
        return _values.size_of(value_of(item, self.path))


Operand: TypeAlias = PathOperand | ValueOperand | SizeOperand

# -- conditions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Compare:
    op: str
    left: Operand
    right: Operand

    def evaluate(self, item: Item | None) -> bool:
        return _values.compare(self.op, self.left.resolve(item), self.right.resolve(item))


@dataclass(frozen=True)
class Between:
    subject: Operand
    low: Operand
    high: Operand

    def evaluate(self, item: Item | None) -> bool:
        value = self.subject.resolve(item)
        return _values.compare(">=", value, self.low.resolve(item)) and _values.compare(
            "<=", value, self.high.resolve(item)
        )


@dataclass(frozen=True)
class In:
    subject: Operand
    options: tuple[Operand, ...]

    def evaluate(self, item: Item | None) -> bool:
        value = self.subject.resolve(item)
        return any(_values.equal(value, option.resolve(item)) for option in self.options)


@dataclass(frozen=True)
class Exists:
    path: Path
    negated: bool

    def evaluate(self, item: Item | None) -> bool:
        return (value_of(item, self.path) is None) == self.negated


@dataclass(frozen=True)
class TypeIs:
    path: Path
    type_name: Operand

    def evaluate(self, item: Item | None) -> bool:
        value, wanted = value_of(item, self.path), self.type_name.resolve(item)
        return value is not None and wanted is not None and wanted == {"S": _values.type_of(value)}


@dataclass(frozen=True)
class BeginsWith:
    subject: Operand
    prefix: Operand

    def evaluate(self, item: Item | None) -> bool:
        return _values.begins_with(self.subject.resolve(item), self.prefix.resolve(item))


@dataclass(frozen=True)
class Contains:
    subject: Operand
    operand: Operand

    def evaluate(self, item: Item | None) -> bool:
        return _values.contains(self.subject.resolve(item), self.operand.resolve(item))


@dataclass(frozen=True)
class Logical:
    """Operands joined by one of AND or OR (flat, so a long chain does not nest deeply)."""

    op: Literal["AND", "OR"]
    operands: tuple[Node, ...]

    def evaluate(self, item: Item | None) -> bool:
        if self.op == "AND":
            return all(operand.evaluate(item) for operand in self.operands)
        return any(operand.evaluate(item) for operand in self.operands)


@dataclass(frozen=True)
class Not:
    operand: Node

    def evaluate(self, item: Item | None) -> bool:
        return not self.operand.evaluate(item)


Node: TypeAlias = Compare | Between | In | Exists | TypeIs | BeginsWith | Contains | Logical | Not


@dataclass(frozen=True)
class Condition:
    """A parsed ConditionExpression or FilterExpression.

    >>> parse_condition("attribute_not_exists(id)", None, None).evaluate(None)
    True
    """

    root: Node

    def evaluate(self, item: Item | None) -> bool:
        """Whether `item` (None: no item, every attribute missing) satisfies the condition."""
        return self.root.evaluate(item)

    def attributes(self) -> frozenset[str]:
        """The top-level attributes the condition reads (a Query's filter may not read the
        key attributes)."""
        found: set[str] = set()

        def walk(node: object) -> None:
            if isinstance(node, tuple):
                for part in node:
                    walk(part)
                return
            path = getattr(node, "path", None)
            if isinstance(path, tuple) and path and isinstance(path[0], str):
                found.add(path[0])
            for name in getattr(node, "__dataclass_fields__", ()):
                if name != "path":
                    walk(getattr(node, name))

        walk(self.root)
        return frozenset(found)


def parse_condition(
    text: str,
    names: Names | None,
    values: Values | None,
    usage: Usage | None = None,
    *,
    kind: str = "ConditionExpression",
) -> Condition:
    """Parse a condition; raise ValidationError with DynamoDB's message when it is invalid."""
    parser = _ConditionParser(text, names, values, usage, kind)
    root = parser.disjunction()
    parser.finish()
    return Condition(root)


def parse_filter(
    text: str, names: Names | None, values: Values | None, usage: Usage | None = None
) -> Condition:
    """Parse a FilterExpression (the grammar of a condition, its own error messages)."""
    return parse_condition(text, names, values, usage, kind="FilterExpression")


class _ConditionParser(Parser):
    def disjunction(self) -> Node:
        operands = [self.conjunction()]
        while self.at("OR"):
            self.advance()
            operands.append(self.conjunction())
        return operands[0] if len(operands) == 1 else Logical("OR", tuple(operands))

    def conjunction(self) -> Node:
        operands = [self.negation()]
        while self.at("AND"):
            self.advance()
            operands.append(self.negation())
        return operands[0] if len(operands) == 1 else Logical("AND", tuple(operands))

    def negation(self) -> Node:
        # A loop, not recursion, and NOT NOT cancels: a long run of NOTs must not nest deeply.
        count = 0
        while self.at("NOT"):
            self.advance()
            count += 1
        node = self.primary()
        return Not(node) if count % 2 else node

    def primary(self) -> Node:
        if self.at("("):
            self.advance()
            self.enter()
            node = self.disjunction()
            self.expect(")")
            self.leave()
            return node
        if self.at_call() and self.peek().text in CONDITION_FUNCTIONS:
            name = self.peek().text
            node = self.function()
            token = self.peek()
            if token.text in COMPARATORS or token.is_word("BETWEEN") or token.is_word("IN"):
                raise self.error(
                    "The function is not allowed to be used this way in an expression; "
                    f"function: {name}"
                )
            return node
        left = self.operand()
        token = self.peek()
        if token.kind == "op" and token.text in COMPARATORS:
            self.advance()
            right = self.operand()
            if token.text not in ("=", "<>"):
                self.check_ordered(token.text, left, right)
            self.check_distinct(token.text, left, (right,))
            return Compare(token.text, left, right)
        if token.is_word("BETWEEN"):
            self.advance()
            low = self.operand()
            self.expect("AND")
            high = self.operand()
            self.check_ordered("BETWEEN", left, low, high)
            self.check_bounds(low, high)
            self.check_distinct("BETWEEN", left, (low, high))
            return Between(left, low, high)
        if token.is_word("IN"):
            self.advance()
            return self.membership(left)
        if isinstance(left, SizeOperand):
            raise self.error(
                "The function is not allowed to be used this way in an expression; function: size"
            )
        raise self.syntax_error()

    def membership(self, subject: Operand) -> In:
        self.expect("(")
        options = [self.operand()]
        while self.at(","):
            self.advance()
            options.append(self.operand())
        self.expect(")")
        if len(options) > MAX_IN_OPERANDS:
            raise self.error(
                "The IN operator is provided with too many operands; "
                f"number of operands: {len(options)}"
            )
        self.check_distinct("IN", subject, tuple(options))
        return In(subject, tuple(options))

    def operand(self) -> Operand:
        token = self.peek()
        if token.kind == "value":
            return ValueOperand(self.value())
        if self.at_call():
            name = token.text
            if name == "size":
                (path,) = self.arguments(name, 1, paths=1)
                assert isinstance(path, PathOperand)
                return SizeOperand(path.path)
            if name in CONDITION_FUNCTIONS or name in UPDATE_FUNCTIONS:
                raise self.error(
                    "The function is not allowed to be used this way in an expression; "
                    f"function: {name}"
                )
            raise self.error(f"Invalid function name; function: {name}")
        return PathOperand(self.path())

    def function(self) -> Node:
        name = self.peek().text
        if name in ("attribute_exists", "attribute_not_exists"):
            (path,) = self.arguments(name, 1, paths=1)
            assert isinstance(path, PathOperand)
            return Exists(path.path, negated=name == "attribute_not_exists")
        if name == "attribute_type":
            path, type_name = self.arguments(name, 2, paths=1)
            assert isinstance(path, PathOperand)
            if isinstance(type_name, ValueOperand):
                self.check_type_name(type_name.value)
            return TypeIs(path.path, type_name)
        subject, other = self.arguments(name, 2, paths=0)
        if name == "begins_with":
            for operand in (subject, other):
                if isinstance(operand, ValueOperand):
                    self.check_operand_type(name, operand.value, ("S", "B"))
            return BeginsWith(subject, other)
        self.check_distinct(name, subject, (other,))
        return Contains(subject, other)

    def arguments(self, name: str, count: int, *, paths: int) -> list[Operand]:
        """The arguments of a call to `name`; the first `paths` of them must be paths."""
        self.advance()
        self.expect("(")
        self.enter()
        found = [self.operand()]
        while self.at(","):
            self.advance()
            found.append(self.operand())
        self.expect(")")
        self.leave()
        if len(found) != count:
            raise self.error(
                "Incorrect number of operands for operator or function; "
                f"operator or function: {name}, number of operands: {len(found)}"
            )
        if not all(isinstance(operand, PathOperand) for operand in found[:paths]):
            raise self.error(
                f"Operator or function requires a document path; operator or function: {name}"
            )
        return found

    # -- checks DynamoDB makes before evaluating ------------------------------------------

    def check_operand_type(self, op: str, value: AttributeValue, allowed: tuple[str, ...]) -> None:
        kind = _values.type_of(value)
        if kind not in allowed:
            raise self.error(
                "Incorrect operand type for operator or function; "
                f"operator or function: {op}, operand type: {kind}"
            )

    def check_ordered(self, op: str, *operands: Operand) -> None:
        for operand in operands:
            if isinstance(operand, ValueOperand):
                self.check_operand_type(op, operand.value, _values.ORDERED_TYPES)

    def check_bounds(self, low: Operand, high: Operand) -> None:
        if not (isinstance(low, ValueOperand) and isinstance(high, ValueOperand)):
            return
        bounds = (
            f"lower operand: {_values.describe(low.value)}, "
            f"upper operand: {_values.describe(high.value)}"
        )
        if _values.type_of(low.value) != _values.type_of(high.value):
            raise self.error(
                f"The BETWEEN operator requires same data type for lower and upper bounds; {bounds}"
            )
        if _values.compare(">", low.value, high.value):
            raise self.error(
                "The BETWEEN operator requires upper bound to be greater than or equal to "
                f"lower bound; {bounds}"
            )

    def check_distinct(self, op: str, first: Operand, others: tuple[Operand, ...]) -> None:
        if isinstance(first, PathOperand) and first in others:
            raise self.error(
                "The first operand must be distinct from the remaining operands for this "
                f"operator or function; operator: {op}, first operand: {format_path(first.path)}"
            )

    def check_type_name(self, value: AttributeValue) -> None:
        name = value.get("S")
        if name not in _values.TYPE_NAMES:
            shown = name if isinstance(name, str) else _values.describe(value)
            raise self.error(
                f"Invalid attribute type name found; type: {shown}, "
                "valid types: { B,NULL,SS,BOOL,L,BS,N,NS,S,M }"
            )
