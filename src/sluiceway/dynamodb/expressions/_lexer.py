"""Tokens of DynamoDB's expression language, with their place in the text for error messages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, cast

TokenKind = Literal["name", "alias", "value", "number", "op", "bad", "eof"]

# One alternative per kind; anything else becomes a one-character "bad" token, which the
# parser reports as a syntax error where it meets it (DynamoDB names the character).
_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<name>[A-Za-z][A-Za-z0-9_]*)"
    r"|(?P<alias>\#[A-Za-z0-9_]+)"
    r"|(?P<value>:[A-Za-z0-9_]+)"
    r"|(?P<number>[0-9]+)"
    r"|(?P<op><>|<=|>=|[=<>()\[\],.+\-])"
)


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str
    start: int
    end: int

    def is_word(self, word: str) -> bool:
        """Whether this is the keyword `word` (keywords are case-insensitive)."""
        return self.kind == "name" and self.text.upper() == word


def tokenize(text: str) -> list[Token]:
    """The tokens of `text`, whitespace dropped, ending with one "eof" token."""
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            tokens.append(Token("bad", text[position], position, position + 1))
            position += 1
            continue
        kind = match.lastgroup
        assert kind is not None
        if kind != "space":
            tokens.append(Token(cast(TokenKind, kind), match.group(), match.start(), match.end()))
        position = match.end()
    tokens.append(Token("eof", "<EOF>", len(text), len(text)))
    return tokens
