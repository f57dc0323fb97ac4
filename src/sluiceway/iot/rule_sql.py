"""AWS IoT SQL (version 2016-03-23), the subset topic rules in real templates use.

    query = parse("SELECT temperature, topic(2) AS device FROM 'sensors/+/data' "
                  "WHERE temperature > 30")
    query.topic_filter                     # 'sensors/+/data'
    query.evaluate(Message("sensors/7/data", b'{"temperature": 31}', timestamp_ms=...))
    # {'temperature': 31, 'device': '7'}; None when the WHERE clause does not hold

Supported: ``SELECT *`` and expressions with ``AS`` aliases (attributes, nested with ``.``
and ``[n]``, literals, ``topic()``, ``topic(n)``, ``timestamp()``, ``clientid()``);
``FROM 'filter'`` (an MQTT filter with ``+`` and ``#``); ``WHERE`` with ``= <> != < > <= >=``,
``AND``, ``OR``, ``NOT`` and parentheses. Values follow AWS's types: an attribute the payload
lacks is *Undefined* (left out of the result; a comparison with it is Undefined, so WHERE
does not hold), ``=`` between different types is Undefined, ``<`` compares numbers (a numeric
string counts as one) or strings, AND/OR/NOT take booleans or the strings "true"/"false".
Anything else (arithmetic, other functions, CASE, IN, LIKE, nested SELECT) raises
`ValidationError` naming the part, so a rule never silently means something else locally.

`substitute` expands the ``${expression}`` substitution templates of rule actions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sluiceway.core.errors import ValidationError
from sluiceway.iot import rules
from sluiceway.iot.rule_values import (
    UNDEFINED,
    Attribute,
    Compare,
    Function,
    Literal,
    Logic,
    Message,
    Not,
    boolean,
    evaluate,
)

__all__ = ["UNDEFINED", "Message", "Query", "check_template", "parse", "substitute"]

_CODE = "InvalidRequestException"


@dataclass(frozen=True)
class Item:
    """One SELECT item: ``*`` (expression None) or an expression and its output key."""

    expression: Any
    key: str | None


@dataclass(frozen=True)
class Query:
    sql: str
    items: tuple[Item, ...]
    topic_filter: str
    where: Any = None

    @property
    def selects_all_only(self) -> bool:
        return all(item.expression is None for item in self.items)

    def evaluate(self, message: Message) -> dict[str, Any] | bytes | None:
        """What the rule's actions get: the selected object, the raw payload for ``SELECT *``
        of a payload that is not JSON, or None when WHERE does not hold."""
        if self.where is not None and boolean(evaluate(self.where, message)) is not True:
            return None
        document = message.document
        if self.selects_all_only and not isinstance(document, dict):
            if document is UNDEFINED:
                return message.payload
            return {} if document is None else document
        result: dict[str, Any] = {}
        for item in self.items:
            if item.expression is None:
                if isinstance(document, dict):
                    result.update(document)
                continue
            value = evaluate(item.expression, message)
            if value is not UNDEFINED and item.key is not None:
                result[item.key] = value
        return result


# -- parsing -----------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
    r"|(?P<string>'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\")"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op><>|!=|<=|>=|=|<|>|\(|\)|,|\.|\*|\[|\]|-|\+|/|%|\S))"
)
_KEYWORDS = {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "AS", "TRUE", "FALSE", "NULL"}
_UNSUPPORTED_WORDS = {
    "CASE",
    "IN",
    "IS",
    "LIKE",
    "BETWEEN",
    "EXISTS",
    "DISTINCT",
    "GROUP",
    "ORDER",
    "LIMIT",
    "JOIN",
}
_COMPARISONS = {"=", "<>", "!=", "<", ">", "<=", ">="}
_FUNCTIONS = {"topic", "timestamp", "clientid"}


@dataclass
class _Token:
    kind: str  # number, string, name, op, end
    text: str
    at: int


def _tokens(sql: str) -> list[_Token]:
    found: list[_Token] = []
    position = 0
    while position < len(sql):
        if sql[position:].strip() == "":
            break
        match = _TOKEN.match(sql, position)
        if match is None:  # pragma: no cover - the last alternative takes any character
            raise _error(sql, position, "cannot read this")
        kind = match.lastgroup or "op"
        found.append(_Token(kind, match.group(kind), match.start(kind)))
        position = match.end()
    found.append(_Token("end", "", len(sql)))
    return found


def _error(sql: str, at: int, problem: str) -> ValidationError:
    return ValidationError(
        f"IoT SQL {sql!r} at character {at + 1}: {problem} (sluiceway runs the subset "
        "documented in sluiceway.iot.rule_sql)",
        code=_CODE,
    )


class _Parser:
    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.tokens = _tokens(sql)
        self.i = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.i]

    def fail(self, problem: str, token: _Token | None = None) -> ValidationError:
        return _error(self.sql, (token or self.token).at, problem)

    def word(self, *words: str) -> bool:
        token = self.token
        if token.kind == "name" and token.text.upper() in words:
            self.i += 1
            return True
        return False

    def op(self, *ops: str) -> bool:
        if self.token.kind == "op" and self.token.text in ops:
            self.i += 1
            return True
        return False

    def expect_op(self, op: str) -> None:
        if not self.op(op):
            raise self.fail(f"expected {op!r}, found {self._shown()}")

    def _shown(self) -> str:
        return "the end" if self.token.kind == "end" else repr(self.token.text)

    # query := SELECT items FROM 'filter' [WHERE expression]
    def query(self) -> Query:
        if not self.word("SELECT"):
            raise self.fail(f"a rule's SQL starts with SELECT, not {self._shown()}")
        if self.word("DISTINCT"):
            raise self.fail("SELECT DISTINCT is not supported")
        items = [self.item()]
        while self.op(","):
            items.append(self.item())
        if not self.word("FROM"):
            raise self.fail(f"expected FROM 'topic/filter', found {self._shown()}")
        token = self.token
        if token.kind != "string":
            raise self.fail("FROM takes a quoted topic filter ('sensors/+/data')")
        self.i += 1
        topic_filter = _check_rule_filter(self.sql, token, _unquote(token.text))
        where = None
        if self.word("WHERE"):
            where = self.expression()
        if self.token.kind != "end":
            raise self.fail(f"{self._shown()} is not supported here")
        return Query(self.sql, tuple(items), topic_filter, where)

    def item(self) -> Item:
        if self.op("*"):
            return Item(None, None)
        start = self.token
        expression = self.expression()
        if self.word("AS"):
            alias = self.token
            if alias.kind == "name" and alias.text.upper() not in _KEYWORDS:
                self.i += 1
                return Item(expression, alias.text)
            if alias.kind == "string":
                self.i += 1
                return Item(expression, _unquote(alias.text))
            raise self.fail("AS takes a name")
        if isinstance(expression, Attribute):
            last = next((p for p in reversed(expression.path) if isinstance(p, str)), None)
            return Item(expression, last)
        if isinstance(expression, Function):
            return Item(expression, expression.name)
        raise self.fail("give this SELECT expression a name with AS", start)

    # expression := and (OR and)*
    def expression(self) -> Any:
        left = self.conjunction()
        while self.word("OR"):
            left = Logic("OR", left, self.conjunction())
        return left

    def conjunction(self) -> Any:
        left = self.negation()
        while self.word("AND"):
            left = Logic("AND", left, self.negation())
        return left

    def negation(self) -> Any:
        if self.word("NOT"):
            return Not(self.negation())
        return self.comparison()

    def comparison(self) -> Any:
        left = self.primary()
        token = self.token
        if token.kind == "op" and token.text in _COMPARISONS:
            self.i += 1
            right = self.primary()
            op = "<>" if token.text == "!=" else token.text
            if self.token.kind == "op" and self.token.text in _COMPARISONS:
                raise self.fail("chained comparisons are not supported; join them with AND")
            return Compare(op, left, right)
        self._refuse_operator()
        return left

    def _refuse_operator(self) -> None:
        token = self.token
        if token.kind == "op" and token.text in ("+", "-", "*", "/", "%"):
            raise self.fail(f"arithmetic ({token.text!r}) is not supported")
        if token.kind == "name" and token.text.upper() in _UNSUPPORTED_WORDS:
            raise self.fail(f"{token.text.upper()} is not supported")

    def primary(self) -> Any:
        token = self.token
        if self.op("("):
            inner = self.expression()
            self.expect_op(")")
            return inner
        if self.op("-"):
            number = self.token
            if number.kind != "number":
                raise self.fail("arithmetic ('-') is not supported", token)
            self.i += 1
            return Literal(-_number(number.text))
        if token.kind == "number":
            self.i += 1
            return Literal(_number(token.text))
        if token.kind == "string":
            self.i += 1
            return Literal(_unquote(token.text))
        if token.kind != "name":
            raise self.fail(f"expected a value, found {self._shown()}")
        upper = token.text.upper()
        if upper in _UNSUPPORTED_WORDS:
            raise self.fail(f"{upper} is not supported")
        if upper in ("TRUE", "FALSE", "NULL"):
            self.i += 1
            return Literal({"TRUE": True, "FALSE": False, "NULL": None}[upper])
        if upper in _KEYWORDS:
            raise self.fail(f"expected a value, found {upper}")
        self.i += 1
        if self.op("("):
            return self.function(token)
        path: list[str | int] = [token.text]
        while True:
            if self.op("."):
                part = self.token
                if part.kind != "name":
                    raise self.fail("expected an attribute name after '.'")
                self.i += 1
                path.append(part.text)
            elif self.op("["):
                index = self.token
                if index.kind != "number" or not index.text.isdigit():
                    raise self.fail("only a whole number index ([0]) is supported")
                self.i += 1
                self.expect_op("]")
                path.append(int(index.text))
            else:
                return Attribute(tuple(path))

    def function(self, name: _Token) -> Function:
        lowered = name.text.lower()
        if lowered not in _FUNCTIONS:
            raise self.fail(
                f"function {name.text}() is not supported (supported: topic(), topic(n), "
                "timestamp(), clientid())",
                name,
            )
        args: list[Any] = []
        if not self.op(")"):
            args.append(self.primary())
            while self.op(","):
                args.append(self.primary())
            self.expect_op(")")
        if lowered == "topic":
            if len(args) > 1 or (
                args
                and not (
                    isinstance(args[0], Literal)
                    and isinstance(args[0].value, int)
                    and args[0].value >= 1
                )
            ):
                raise self.fail("topic() takes no argument or a level number from 1", name)
        elif args:
            raise self.fail(f"{lowered}() takes no argument", name)
        return Function(lowered, tuple(args))


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() and "e" not in text.lower() else value


def _unquote(text: str) -> str:
    quote = text[0]
    return text[1:-1].replace(quote * 2, quote)


def _check_rule_filter(sql: str, token: _Token, topic_filter: str) -> str:
    """A rule may listen on reserved ``$aws/...`` topics, which a publish allowlist may not."""
    try:
        rules.check_filter(topic_filter[1:] if topic_filter.startswith("$") else topic_filter)
        rules.topic_matches(topic_filter, "x")  # the wildcards are well placed
    except ValidationError as error:
        raise _error(sql, token.at, f"FROM {topic_filter!r}: {error}") from None
    return topic_filter


def parse(sql: str) -> Query:
    """The rule's query, or `ValidationError` naming the unsupported or malformed part."""
    if not isinstance(sql, str) or not sql.strip():
        raise ValidationError("a topic rule needs its SQL (SELECT ... FROM '...')", code=_CODE)
    return _Parser(sql).query()


def parse_expression(text: str) -> Any:
    """One expression (a substitution template's ``${...}``)."""
    parser = _Parser(text)
    expression = parser.expression()
    if parser.token.kind != "end":
        raise parser.fail(f"{parser._shown()} is not supported here")
    return expression


# -- substitution templates --------------------------------------------------------------

_TEMPLATE = re.compile(r"\$\{([^}]*)\}")


def check_template(text: str) -> str:
    """`text`, if each of its ``${...}`` holds a supported expression."""
    for match in _TEMPLATE.finditer(text):
        parse_expression(match.group(1))
    return text


def substitute(text: str, message: Message) -> str:
    """`text` with each ``${expression}`` replaced by its value on `message` (a string as
    is, another value as JSON, Undefined as nothing), as AWS's substitution templates."""

    def value(match: re.Match[str]) -> str:
        found = evaluate(parse_expression(match.group(1)), message)
        if found is UNDEFINED:
            return ""
        return found if isinstance(found, str) else json.dumps(found, separators=(",", ":"))

    return _TEMPLATE.sub(value, text)
