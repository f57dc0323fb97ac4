"""The parts every expression parser shares: tokens, document paths, placeholders and errors."""

from __future__ import annotations

from sluiceway.core.attrvalue import AttributeValue, validate_attribute_value
from sluiceway.core.errors import ValidationError
from sluiceway.dynamodb.expressions._lexer import Token, tokenize
from sluiceway.dynamodb.expressions._reserved import RESERVED_WORDS
from sluiceway.dynamodb.expressions.paths import Path
from sluiceway.dynamodb.expressions.usage import Names, Usage, Values

MAX_EXPRESSION_BYTES = 4096
MAX_PATH_DEPTH = 32
# Parentheses and nested function calls recurse; DynamoDB's limit of 300 operators keeps real
# expressions far below this, and it keeps hostile ones from exhausting Python's stack.
MAX_NESTING = 64


class Parser:
    """A cursor over the tokens of one expression of kind `kind` (``"ConditionExpression"``)."""

    def __init__(
        self,
        text: str,
        names: Names | None,
        values: Values | None,
        usage: Usage | None,
        kind: str,
    ) -> None:
        if not isinstance(text, str):
            raise ValidationError(f"Invalid {kind}: the expression must be a string")
        if len(text.encode("utf-8", "surrogatepass")) > MAX_EXPRESSION_BYTES:
            raise ValidationError(
                f"Invalid {kind}: Expression size has exceeded the maximum allowed size"
            )
        if not text.strip():
            raise ValidationError(f"Invalid {kind}: The expression can not be empty;")
        self.text = text
        self.kind = kind
        self.names = names or {}
        self.values = values or {}
        self.usage = usage if usage is not None else Usage()
        self.tokens = tokenize(text)
        self.position = 0
        self.depth = 0

    # -- the cursor -----------------------------------------------------------------------

    def peek(self, ahead: int = 0) -> Token:
        index = min(self.position + ahead, len(self.tokens) - 1)
        return self.tokens[index]

    def advance(self) -> Token:
        token = self.tokens[self.position]
        if token.kind != "eof":
            self.position += 1
        return token

    def at(self, text: str) -> bool:
        """Whether the next token is the operator `text` or the keyword `text`."""
        token = self.peek()
        return (token.kind == "op" and token.text == text) or token.is_word(text)

    def expect(self, text: str) -> Token:
        if not self.at(text):
            raise self.syntax_error()
        return self.advance()

    def at_call(self) -> bool:
        """Whether a function call starts here: a bare name followed by ``(``."""
        following = self.peek(1)
        return self.peek().kind == "name" and following.kind == "op" and following.text == "("

    def finish(self) -> None:
        if self.peek().kind != "eof":
            raise self.syntax_error()

    def enter(self) -> None:
        """Count one level of nesting (a parenthesis or a function call)."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ValidationError(
                f"Invalid {self.kind}: The expression is nested more than {MAX_NESTING} levels deep"
            )

    def leave(self) -> None:
        self.depth -= 1

    # -- errors -----------------------------------------------------------------------------

    def error(self, detail: str) -> ValidationError:
        return ValidationError(f"Invalid {self.kind}: {detail}")

    def syntax_error(self) -> ValidationError:
        """DynamoDB's syntax error at the next token, quoting the text around it."""
        token = self.peek()
        index = min(self.position, len(self.tokens) - 1)
        start = self.tokens[index - 1].start if index > 0 else token.start
        if token.kind == "eof":
            near = self.text[start:].strip() if index > 0 else ""
        else:
            end = self.tokens[index + 1].end if index + 1 < len(self.tokens) else token.end
            near = self.text[start:end]
        return self.error(f'Syntax error; token: "{token.text}", near: "{near}"')

    # -- operands -----------------------------------------------------------------------

    def path(self) -> Path:
        """A document path: ``a``, ``#n``, ``a.b[0]``, ``#n[2].c``."""
        steps: list[str | int] = [self._path_name()]
        while True:
            if self.at("."):
                self.advance()
                steps.append(self._path_name())
            elif self.at("["):
                self.advance()
                token = self.peek()
                if token.kind != "number":
                    raise self.syntax_error()
                self.advance()
                steps.append(int(token.text))
                self.expect("]")
            else:
                break
            if len(steps) > MAX_PATH_DEPTH:
                raise self.error(
                    f"The document path has too many nesting levels; nesting levels: {len(steps)}"
                )
        return tuple(steps)

    def _path_name(self) -> str:
        token = self.peek()
        if token.kind == "alias":
            self.advance()
            name = self.names.get(token.text)
            if name is None:
                raise ValidationError(
                    f"Invalid {self.kind}: An expression attribute name used in the document "
                    f"path is not defined; attribute name: {token.text}"
                )
            self.usage.names.add(token.text)
            if not isinstance(name, str):
                raise ValidationError(
                    f"ExpressionAttributeNames: the name for {token.text} must be a string"
                )
            return name
        if token.kind != "name":
            raise self.syntax_error()
        if token.text.upper() in RESERVED_WORDS:
            raise self.error(
                f"Attribute name is a reserved keyword; reserved keyword: {token.text}"
            )
        self.advance()
        return token.text

    def at_path(self) -> bool:
        return self.peek().kind in ("name", "alias") and not self.at_call()

    def value(self) -> AttributeValue:
        """The AttributeValue a ``:placeholder`` stands for."""
        token = self.peek()
        if token.kind != "value":
            raise self.syntax_error()
        self.advance()
        if token.text not in self.values:
            raise ValidationError(
                f"Invalid {self.kind}: An expression attribute value used in expression is not "
                f"defined; attribute value: {token.text}"
            )
        self.usage.values.add(token.text)
        return validate_attribute_value(self.values[token.text], where=token.text)

    def call_name(self) -> str:
        """The function name of a call and its opening parenthesis."""
        name = self.advance().text
        self.expect("(")
        return name
