"""JOSE encodings shared by the keys and the tokens: RS256 and strict base64url."""

from __future__ import annotations

import base64
import re

__all__ = ["ALGORITHM", "b64url", "int_bytes", "unb64url"]

ALGORITHM = "RS256"
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    """Strict base64url (RFC 7515 §2): URL alphabet, no padding, and canonical, so each
    value has exactly one spelling."""
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url(data) != text:
        raise ValueError("not canonical base64url")
    return data


def int_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")
