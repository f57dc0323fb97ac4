"""Secrets kept out of logs: a URL shown with its password hidden."""

from __future__ import annotations

from urllib.parse import quote, urlsplit


def redact(url: str) -> str:
    """An SMTP URL fit for logs: the password hidden."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{quote(parts.username or '')}:***@{parts.hostname}" + (
        f":{parts.port}" if parts.port else ""
    )
    return parts._replace(netloc=netloc).geturl()
