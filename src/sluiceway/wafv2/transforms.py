"""WAF's text transformations, applied before the managed rules inspect a text: URL decode
(repeated), HTML-entity and JS-escape decode, lowercase, SQL comments replaced, whitespace
compressed."""

from __future__ import annotations

import html
import re

_DECODE_ROUNDS = 3  # %2527 -> %27 -> ' ; a third round catches one more layer, then stop
_IIS_UNICODE = re.compile(r"%u([0-9a-fA-F]{4})")
_OVERLONG_UTF8 = re.compile(r"%[cC]([01])%([89abAB][0-9a-fA-F])")  # %c0%af is '/'
# \uHHHH, \xHH and the escaped '/', quotes and backslash: JSON wraps an attack's quotes in
# backslashes ({"id": "1\" or \"\"=\""}), and SQL or HTML sees the bare quote.
_JS_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|([/\\\"']))")
_VERSIONED_COMMENT = re.compile(r"/\*!\d*(.*?)\*/", re.S)  # MySQL runs what is inside
_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_PERCENT = re.compile(r"%([0-9a-fA-F]{2})")


def transform(text: str, *, form: bool) -> str:
    """Apply WAF's text transformations so encoded attacks look like plain ones: URL decode
    (repeated; `form` also turns '+' into a space), HTML-entity and JS-escape decode, remove
    NULs, lowercase, replace SQL comments with a space, compress whitespace."""
    for _ in range(_DECODE_ROUNDS):
        decoded = _decode_once(text, form)
        if decoded == text:
            break
        text = decoded
    if "\x00" in text:
        text = text.replace("\x00", "")
    text = text.lower()
    if "/*" in text:
        text = _COMMENT.sub(" ", _VERSIONED_COMMENT.sub(r" \1 ", text))
    if "  " in text or "\n" in text or "\t" in text or "\r" in text or "\x0b" in text:
        text = " ".join(text.split())
    return text


def _decode_once(text: str, form: bool) -> str:
    if "%" in text:
        text = url_decode(text, form)
    elif form and "+" in text:
        text = text.replace("+", " ")
    if "&" in text:
        text = html.unescape(text)
    if "\\" in text:
        text = _JS_ESCAPE.sub(_js_char, text)
    return text


def url_decode(text: str, form: bool) -> str:
    if "%u" in text or "%U" in text:
        text = _IIS_UNICODE.sub(lambda m: chr(int(m.group(1), 16)), text)
    if "%c" in text or "%C" in text:
        text = _OVERLONG_UTF8.sub(
            lambda m: chr(int(m.group(1)) << 6 | (int(m.group(2), 16) & 0x3F)), text
        )
    if form:
        text = text.replace("+", " ")
    # Decode byte by byte (latin-1) then as UTF-8 where that is valid: unlike unquote(), a
    # stray invalid sequence does not turn its neighbours into U+FFFD.
    raw = _PERCENT.sub(lambda m: chr(int(m.group(1), 16)), text)
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return raw


def _js_char(match: re.Match[str]) -> str:
    code = match.group(1) or match.group(2)
    return chr(int(code, 16)) if code else match.group(3)
