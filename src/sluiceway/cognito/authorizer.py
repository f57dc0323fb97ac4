"""The authorizer of an API Gateway ``COGNITO_USER_POOLS`` route: `bearer_token` reads the
header and `verify_access_token` checks the token, failing with `AuthError` (401 or 403 with
an RFC 6750 ``WWW-Authenticate`` challenge).

Issuing, then checking, a token::

    keys = SigningKeys(data_dir / "oauth" / "keys")
    token, expires_in = issue_access_token(
        keys, issuer=issuer, client_id=client.client_id, scopes=scopes, now=clock.now()
    )
    claims = verify_access_token(
        bearer_token(headers.get("authorization")),
        keys,
        issuer=issuer,
        allowed_client_ids=None,
        required_scopes=("devices/send",),
        now=clock.now(),
    )
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping
from typing import Literal, NoReturn

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from sluiceway.cognito.errors import AuthError
from sluiceway.cognito.jose import ALGORITHM, unb64url
from sluiceway.cognito.keys import KeySet, PublicKeys

__all__ = ["DEFAULT_LEEWAY", "MAX_TOKEN_BYTES", "bearer_token", "verify_access_token"]

# Tokens are issued and checked on one machine here; 30 s absorbs the drift of a client in
# a container or VM without keeping an expired token usable for long.
DEFAULT_LEEWAY = 30.0
# A Cognito access token is about 1 KiB; refusing longer ones before any decoding bounds
# the work an unauthenticated caller can cause.
MAX_TOKEN_BYTES = 8 * 1024


def bearer_token(authorization: str | None, *, allow_raw: bool = False) -> str:
    """The token of an ``Authorization: Bearer <token>`` header (the scheme is
    case-insensitive, RFC 6750 §2.1). Anything else is a 401 without an error code
    (RFC 6750 §3.1). ``allow_raw`` also takes a bare JWT as the whole header value: API
    Gateway's Cognito authorizer reads it so, and AWS's own examples send it so."""
    value = (authorization or "").strip()
    scheme, _, token = value.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    if allow_raw and not token and value.count(".") == 2:
        return value
    raise AuthError(401, None, "a bearer token is required")


def verify_access_token(
    token: str,
    keys: KeySet | Mapping[str, object],
    *,
    issuer: str,
    allowed_client_ids: Collection[str] | None,
    required_scopes: Collection[str],
    now: float,
    leeway: float = DEFAULT_LEEWAY,
    scope_match: Literal["all", "any"] = "all",
) -> dict[str, object]:
    """The claims of a valid access token, following AWS's verification steps; raises
    `AuthError`.

    In order: size, three base64url segments, header ``alg`` exactly RS256 (never ``none``,
    never an HMAC keyed with the public key), a known ``kid``, the signature, and only then
    the payload: ``iss``, ``token_use == "access"``, ``exp``/``nbf``/``iat`` within
    ``leeway`` seconds, ``client_id`` (when ``allowed_client_ids`` is given) and scopes,
    each an exact space-separated word of ``scope``. ``scope_match="all"`` requires every
    one of ``required_scopes``; ``"any"`` is API Gateway's rule for a method's
    ``AuthorizationScopes``. Descriptions are fixed text: nothing from the token is echoed.
    ``keys`` may be a JWKS document (parsed on each call: build `PublicKeys` once instead
    when verifying many tokens).
    """
    key_set = PublicKeys.from_jwks(keys) if isinstance(keys, Mapping) else keys
    header_segment, payload_segment, signature_segment = _segments(token)
    kid = _check_header(_json_object(header_segment, "header"))
    public_key = key_set.public_key(kid)
    if public_key is None:
        raise _invalid_token("the token is signed with an unknown key")
    signing_input = f"{header_segment}.{payload_segment}".encode("ascii")
    _check_signature(public_key, signing_input, _decode_segment(signature_segment, "signature"))
    claims = _json_object(payload_segment, "payload")
    _check_claims(claims, issuer=issuer, now=now, leeway=leeway)
    _check_client(claims, allowed_client_ids)
    _check_scopes(claims, required_scopes, scope_match)
    return claims


def _segments(token: str) -> tuple[str, str, str]:
    if len(token) > MAX_TOKEN_BYTES:
        raise _invalid_token(f"the token is longer than {MAX_TOKEN_BYTES} bytes")
    parts = token.split(".")
    if len(parts) != 3 or not token.isascii():
        raise _invalid_token("the token is not a signed JWT (three base64url segments)")
    return parts[0], parts[1], parts[2]


def _check_header(header: Mapping[str, object]) -> str:
    # Only RS256 is ever verified, with an RSA key: an "alg" of none, HS256 (the public key
    # used as an HMAC secret) or any other algorithm stops here, before a key is chosen.
    if header.get("alg") != ALGORITHM:
        raise _invalid_token("the token is not signed with RS256")
    if "crit" in header:
        raise _invalid_token("the token requires header extensions this API does not know")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise _invalid_token("the token names no signing key")
    return kid


def _check_signature(public_key: rsa.RSAPublicKey, signing_input: bytes, signature: bytes) -> None:
    try:
        public_key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise _invalid_token("the token's signature does not verify") from None


def _check_claims(claims: Mapping[str, object], *, issuer: str, now: float, leeway: float) -> None:
    if claims.get("iss") != issuer:
        raise _invalid_token("the token was issued by another issuer")
    if claims.get("token_use") != "access":
        raise _invalid_token("the token is not an access token")
    expires = _numeric_date(claims, "exp")
    if expires is None:
        raise _invalid_token("the token has no expiry")
    if now >= expires + leeway:
        raise _invalid_token("the token has expired")
    issued = _numeric_date(claims, "iat")
    if issued is None or issued > now + leeway:
        raise _invalid_token("the token's issue time is missing or in the future")
    not_before = _numeric_date(claims, "nbf")
    if not_before is not None and not_before > now + leeway:
        raise _invalid_token("the token is not valid yet")


def _numeric_date(claims: Mapping[str, object], name: str) -> float | None:
    """A NumericDate claim (RFC 7519 §2), or None when absent; a string, boolean or
    non-finite number makes the token invalid rather than being coerced."""
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _invalid_token(f"the token's {name} claim is not a number of seconds")
    return float(value)


def _check_client(claims: Mapping[str, object], allowed: Collection[str] | None) -> None:
    client_id = claims.get("client_id")
    if not isinstance(client_id, str):
        raise _invalid_token("the token names no client")
    if allowed is not None and client_id not in allowed:
        raise _invalid_token("the token was issued to a client this API does not accept")


def _check_scopes(
    claims: Mapping[str, object], required: Collection[str], match: Literal["all", "any"]
) -> None:
    if not required:
        return
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        raise _invalid_token("the token's scope claim is not a string")
    granted = {name for name in scope.split(" ") if name}
    found = [name in granted for name in required]
    if not (all(found) if match == "all" else any(found)):
        raise AuthError(
            403,
            "insufficient_scope",
            "the token lacks the scope this API requires",
            scope=" ".join(required),
        )


def _json_object(segment: str, what: str) -> dict[str, object]:
    """A JOSE header or claims set: UTF-8 JSON, an object, no member twice (RFC 7515 §5.2
    lets a parser refuse duplicates; refusing them means no two parsers can disagree on
    which value counts), no NaN or Infinity."""
    try:
        value = json.loads(
            _decode_segment(segment, what).decode("utf-8"),
            object_pairs_hook=_unique_members,
            parse_constant=_no_constant,
        )
    except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError included
        raise _invalid_token(f"the token's {what} is not a well-formed JSON object") from None
    if not isinstance(value, dict):
        raise _invalid_token(f"the token's {what} is not a well-formed JSON object")
    return value


def _unique_members(pairs: list[tuple[str, object]]) -> dict[str, object]:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise ValueError("a member is given twice")
    return members


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _decode_segment(segment: str, what: str) -> bytes:
    try:
        return unb64url(segment)
    except ValueError:
        raise _invalid_token(f"the token's {what} is not base64url") from None


def _invalid_token(description: str) -> AuthError:
    return AuthError(401, "invalid_token", description)
