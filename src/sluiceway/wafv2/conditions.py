"""Matchers for the statements that inspect a request: IP sets and sizes (`matchers`), byte
matches on one part of it after WAF's text transformations, and the And, Or and Not of them.

A byte match compares text: the part as sent (a path or query still percent-encoded, a body's
first 8 KB as UTF-8), each transformation applied in order, then the search string, which WAF
does not transform, at its position. ``CONTAINS_WORD`` wants the string bounded on each side
by the text's end or a character other than a letter, a digit or ``_``, as WAF's."""

from __future__ import annotations

import base64
import binascii
import html
import re
from collections.abc import Callable
from typing import assert_never

from sluiceway.wafv2.matchers import ip_set_matcher, size_matcher
from sluiceway.wafv2.request import BODY_INSPECTION_LIMIT, Matcher, View
from sluiceway.wafv2.statements import (
    AndStatement,
    ByteMatchStatement,
    IPSetReferenceStatement,
    ManagedRuleGroupStatement,
    NotStatement,
    OrStatement,
    RateBasedStatement,
    SizeConstraintStatement,
    Statement,
)
from sluiceway.wafv2.transforms import url_decode

# The characters WAF's COMPRESS_WHITE_SPACE turns into a space (then one space of each run).
_WHITE = re.compile(r"[\t\n\x0b\x0c\r\xa0 ]+")


def _base64(text: str) -> str:
    try:
        return base64.b64decode(text, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return text  # not base64: WAF leaves it as it is


TRANSFORMS: dict[str, Callable[[str], str]] = {
    "NONE": lambda text: text,
    "LOWERCASE": str.lower,
    "URL_DECODE": lambda text: url_decode(text, form=False),
    "HTML_ENTITY_DECODE": html.unescape,
    "COMPRESS_WHITE_SPACE": lambda text: _WHITE.sub(" ", text),
    "BASE64_DECODE": _base64,
}


def statement_matcher(statement: Statement) -> tuple[Matcher, bool]:
    """The matcher of an inspecting statement, and whether it reads the body."""
    match statement:
        case IPSetReferenceStatement():
            return ip_set_matcher(statement), False
        case SizeConstraintStatement():
            return size_matcher(statement), statement.part == "body"
        case ByteMatchStatement():
            return byte_matcher(statement), statement.part == "body"
        case AndStatement() | OrStatement():
            parts = [statement_matcher(inner) for inner in statement.statements]
            tests = tuple(test for test, _ in parts)
            combine = all if isinstance(statement, AndStatement) else any
            return (lambda view: combine(test(view) for test in tests)), any(
                body for _, body in parts
            )
        case NotStatement():
            test, body = statement_matcher(statement.statement)
            return (lambda view: not test(view)), body
        case RateBasedStatement() | ManagedRuleGroupStatement():
            raise AssertionError(f"{type(statement).__name__} is a rule of its own, not a test")
        case _:
            assert_never(statement)


def byte_matcher(statement: ByteMatchStatement) -> Matcher:
    read = _part(statement.part)
    steps = [TRANSFORMS[name] for name in statement.transforms]
    found = _position(statement.position, statement.search)

    def matches(view: View) -> bool:
        text = read(view)
        if text is None:
            return False  # a header the request does not have
        for step in steps:
            text = step(text)
        return found(text)

    return matches


def _part(part: str) -> Callable[[View], str | None]:
    if part == "uri":
        return lambda view: view.request.path
    if part == "query":
        return lambda view: view.request.query
    if part == "method":
        return lambda view: view.request.method
    if part == "body":
        return lambda view: (view.body or b"")[:BODY_INSPECTION_LIMIT].decode("utf-8", "replace")
    header = part.removeprefix("header:").lower()
    return lambda view: view.headers().get(header)


def _position(position: str, search: str) -> Callable[[str], bool]:
    if position == "EXACTLY":
        return lambda text: text == search
    if position == "STARTS_WITH":
        return lambda text: text.startswith(search)
    if position == "ENDS_WITH":
        return lambda text: text.endswith(search)
    if position == "CONTAINS":
        return lambda text: search in text
    word = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(search)}(?![A-Za-z0-9_])")
    return lambda text: word.search(text) is not None
