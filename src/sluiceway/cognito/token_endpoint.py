"""The token endpoint, ``POST /oauth2/token``: RFC 6749 §4.4 client credentials, and the
RS256 access token it issues with exactly Cognito's claims.

`parse_token_request` checks a request's shape and `grant` authenticates the client, both
failing with `OAuthError` (the RFC 6749 §5.2 error codes); `issue_access_token` signs the
token and `token_response` is the success body.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote_plus

from sluiceway.cognito.clients import OAuthClient, hash_secret, new_client_secret, verify_secret
from sluiceway.cognito.errors import REALM, OAuthError
from sluiceway.cognito.jose import ALGORITHM, b64url
from sluiceway.cognito.keys import SigningKeys

__all__ = [
    "ACCESS_TOKEN_LIFETIME",
    "MAX_TOKEN_REQUEST_BYTES",
    "NO_STORE_HEADERS",
    "TokenRequest",
    "grant",
    "issue_access_token",
    "parse_token_request",
    "token_response",
]

# Cognito's default access-token validity, and the range it lets an app client choose.
ACCESS_TOKEN_LIFETIME = 3600
MIN_LIFETIME = 5 * 60
MAX_LIFETIME = 24 * 3600
MAX_TOKEN_REQUEST_BYTES = 16 * 1024
# RFC 6749 §5.1: token responses, and their errors, must not be cached.
NO_STORE_HEADERS = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))

# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_TOKEN_PARAMETERS = frozenset({"grant_type", "scope", "client_id", "client_secret"})
_MAX_FORM_FIELDS = 32


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """A well-formed client-credentials request, before the client is looked up.

    ``scopes`` is None when the request named none (the client then gets all its scopes);
    ``basic`` records that the client authenticated with the Authorization header.
    """

    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...] | None
    basic: bool


def parse_token_request(
    method: str, headers: Mapping[str, str], body: bytes, *, query: bytes = b""
) -> TokenRequest:
    """Check a token request's shape (RFC 6749 §4.4.2, client authentication §2.3.1).

    Parameters come from the form body, and also from the query string, where the curl
    line of AWS's Cognito examples puts ``grant_type`` and ``scope``; ``client_secret`` is
    refused there, as §2.3.1 requires. Raises `OAuthError`.
    """
    if method != "POST":
        raise OAuthError(
            "invalid_request",
            "the token endpoint accepts only POST",
            405,
            headers=(("Allow", "POST"),),
        )
    lowered = {name.lower(): value for name, value in headers.items()}
    _check_form_content_type(lowered.get("content-type"))
    params = _token_parameters(body, query)
    basic = _basic_credentials(lowered.get("authorization"))
    grant_type = params.get("grant_type")
    if grant_type is None:
        raise _invalid_request("grant_type is required")
    if grant_type != "client_credentials":
        raise OAuthError("unsupported_grant_type", "only the client_credentials grant is supported")
    scopes = _requested_scopes(params.get("scope"))
    client_id, client_secret = _client_credentials(basic, params)
    return TokenRequest(client_id, client_secret, scopes, basic is not None)


def grant(request: TokenRequest, client: OAuthClient | None) -> tuple[str, ...]:
    """Authenticate the client (``client`` is the one stored under ``request.client_id``,
    None if there is none) and return the scopes to put in its token. Raises `OAuthError`.
    """
    stored = client.secret_hash if client is not None else _decoy_hash()
    if not verify_secret(request.client_secret, stored) or client is None:
        raise _invalid_client("unknown client or wrong client secret", challenge=request.basic)
    if "client_credentials" not in client.allowed_oauth_flows:
        raise OAuthError("unauthorized_client", "this client may not use client_credentials")
    if request.scopes is None:
        if not client.allowed_oauth_scopes:
            raise OAuthError("invalid_scope", "the client has no scopes to grant")
        return client.allowed_oauth_scopes
    refused = [scope for scope in request.scopes if scope not in client.allowed_oauth_scopes]
    if refused:
        raise OAuthError("invalid_scope", f"the client may not have {' '.join(refused)}")
    return request.scopes


def _check_form_content_type(value: str | None) -> None:
    media, _, params = (value or "").partition(";")
    if media.strip().lower() != "application/x-www-form-urlencoded":
        raise _invalid_request("Content-Type must be application/x-www-form-urlencoded")
    for param in params.split(";"):
        name, _, charset = param.partition("=")
        if name.strip().lower() == "charset" and charset.strip().strip('"').lower() != "utf-8":
            raise _invalid_request("only the UTF-8 charset is supported")


def _token_parameters(body: bytes, query: bytes) -> dict[str, str]:
    """The recognised parameters, each at most once (RFC 6749 §3.2); an empty one counts as
    omitted, unrecognised ones are ignored."""
    if len(body) > MAX_TOKEN_REQUEST_BYTES:
        raise _invalid_request(f"the request body is longer than {MAX_TOKEN_REQUEST_BYTES} bytes")
    params: dict[str, str] = {}
    seen: set[str] = set()
    fields = [*_form_fields(body, "request body"), *_form_fields(query, "query string")]
    for where, name, value in fields:
        if name not in _TOKEN_PARAMETERS:
            continue
        if name in seen:
            raise _invalid_request(f"{name} is given more than once")
        if name == "client_secret" and where == "query string":
            raise _invalid_request("client_secret must not be sent in the URL")
        seen.add(name)
        if value:
            params[name] = value
    return params


def _form_fields(data: bytes, where: str) -> list[tuple[str, str, str]]:
    try:
        pairs = parse_qsl(
            data.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=True,
            errors="strict",
            max_num_fields=_MAX_FORM_FIELDS,
        )
    except ValueError:  # UnicodeDecodeError included
        raise _invalid_request(f"the {where} is not form-urlencoded UTF-8") from None
    return [(where, name, value) for name, value in pairs]


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """The client ID and secret of an ``Authorization: Basic`` header, each form-urlencoded
    as RFC 6749 §2.3.1 requires (so a secret may hold ``:``)."""
    if authorization is None:
        return None
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        raise _invalid_client(
            "the token endpoint accepts Basic client authentication", challenge=True
        )
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _invalid_request("the Basic credentials are not base64 of UTF-8") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id:
        raise _invalid_request("the Basic credentials are not client_id:client_secret")
    try:
        return unquote_plus(client_id, errors="strict"), unquote_plus(secret, errors="strict")
    except UnicodeDecodeError:
        raise _invalid_request("the Basic credentials are not form-urlencoded UTF-8") from None


def _client_credentials(
    basic: tuple[str, str] | None, params: Mapping[str, str]
) -> tuple[str, str]:
    """One authentication method per request (RFC 6749 §2.3): Basic, or the form fields. A
    ``client_id`` field beside Basic is allowed when it names the same client."""
    form_id, form_secret = params.get("client_id"), params.get("client_secret")
    if basic is not None:
        if form_secret is not None:
            raise _invalid_request("the client authenticated both with Basic and in the body")
        if form_id is not None and form_id != basic[0]:
            raise _invalid_request("client_id differs from the Basic credentials")
        return basic
    if form_id is None and form_secret is None:
        raise _invalid_client("client authentication is required", challenge=True)
    if form_id is None or form_secret is None:
        raise _invalid_client("client_id and client_secret are both required", challenge=False)
    return form_id, form_secret


def _requested_scopes(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    scopes = [scope for scope in value.split(" ") if scope]
    if not scopes or not all(_SCOPE_TOKEN.fullmatch(scope) for scope in scopes):
        raise OAuthError("invalid_scope", "scope is a space-separated list of scope names")
    return tuple(dict.fromkeys(scopes))


def issue_access_token(
    keys: SigningKeys,
    *,
    issuer: str,
    client_id: str,
    scopes: Sequence[str],
    now: float,
    lifetime: int = ACCESS_TOKEN_LIFETIME,
) -> tuple[str, int]:
    """An access token as Cognito issues for client credentials, and its ``expires_in``.

    The header and claims are exactly Cognito's (``kid`` and ``alg``; ``sub`` equal to
    ``client_id``, no ``aud``), so code that reads real tokens reads these. ``lifetime``
    is the app client's access-token validity, 5 minutes to 1 day as in Cognito.
    """
    if not MIN_LIFETIME <= lifetime <= MAX_LIFETIME:
        raise ValueError(f"an access token lives {MIN_LIFETIME} to {MAX_LIFETIME} seconds")
    key = keys.active
    issued_at = int(now)
    claims: dict[str, object] = {
        "sub": client_id,
        "token_use": "access",
        "scope": " ".join(scopes),
        "auth_time": issued_at,
        "iss": issuer,
        "exp": issued_at + lifetime,
        "iat": issued_at,
        "version": 2,
        "jti": str(uuid.uuid4()),
        "client_id": client_id,
    }
    signing_input = f"{_json_segment({'kid': key.kid, 'alg': ALGORITHM})}.{_json_segment(claims)}"
    signature = key.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url(signature)}", lifetime


def token_response(access_token: str, expires_in: int) -> dict[str, str | int]:
    """The token endpoint's success body (no refresh or ID token for this grant)."""
    return {"access_token": access_token, "expires_in": expires_in, "token_type": "Bearer"}


def _json_segment(value: Mapping[str, object]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def _invalid_request(description: str) -> OAuthError:
    return OAuthError("invalid_request", description)


def _invalid_client(description: str, *, challenge: bool) -> OAuthError:
    """RFC 6749 §5.2: a client that tried the Authorization header gets 401 and a Basic
    challenge; one that authenticated in the body gets 400 (a 401 must carry a challenge,
    and Basic is not what it used)."""
    if challenge:
        return OAuthError(
            "invalid_client",
            description,
            401,
            headers=(("WWW-Authenticate", f'Basic realm="{REALM}"'),),
        )
    return OAuthError("invalid_client", description)


@functools.cache
def _decoy_hash() -> str:
    """Checked when the client is unknown, so that costs what a wrong secret costs and the
    response time does not tell which client IDs exist."""
    return hash_secret(new_client_secret())
