"""The two refusals: the token endpoint's `OAuthError` and the authorizer's `AuthError`."""

from __future__ import annotations

__all__ = ["REALM", "AuthError", "OAuthError"]

REALM = "sluiceway"
# RFC 6750 §3: what may stand inside a quoted error_description or scope.
_QUOTABLE = frozenset(chr(c) for c in (0x20, 0x21, *range(0x23, 0x5C), *range(0x5D, 0x7F)))


class OAuthError(Exception):
    """A token-endpoint refusal: RFC 6749 §5.2 ``error`` code, HTTP status, extra headers.

    ``body()`` is the JSON object to answer with; send `NO_STORE_HEADERS` with it too.
    """

    def __init__(
        self,
        error: str,
        description: str,
        status: int = 400,
        *,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status
        self.headers = headers

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class AuthError(Exception):
    """An authorizer refusal: 401 (no or bad token) or 403 (good token, missing scope).

    ``error`` is None when the request carried no bearer token at all: RFC 6750 §3.1 says
    the challenge then names no error.
    """

    def __init__(
        self, status: int, error: str | None, description: str, *, scope: str | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.scope = scope

    @property
    def www_authenticate(self) -> str:
        """The RFC 6750 §3 challenge for the ``WWW-Authenticate`` header."""
        params = [f'realm="{REALM}"']
        if self.error is not None:
            params.append(f'error="{self.error}"')
            params.append(f'error_description="{_quotable(self.description)}"')
        if self.scope is not None:
            params.append(f'scope="{_quotable(self.scope)}"')
        return "Bearer " + ", ".join(params)


def _quotable(text: str) -> str:
    return "".join(c if c in _QUOTABLE else "?" for c in text)
