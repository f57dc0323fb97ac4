"""Cognito-like OAuth2 client credentials: keys, secrets, the token endpoint and the authorizer.

The pure core behind ``POST /oauth2/token`` and an API Gateway ``COGNITO_USER_POOLS``
authorizer: no server, no database. The caller reads HTTP requests and stores app clients;
this module decides.

- `SigningKeys`: RSA 2048 keys in a directory, one active for signing, older ones kept
  for verification until retired, published as a JWKS.
- `hash_secret` / `verify_secret`: client secrets at rest (scrypt).
- `parse_token_request` + `grant`: RFC 6749 §4.4 client credentials, failing with
  `OAuthError` (the RFC 6749 §5.2 error codes).
- `issue_access_token`: an RS256 JWT with exactly Cognito's client-credentials claims.
- `bearer_token` + `verify_access_token`: the authorizer, failing with `AuthError`
  (401 or 403 with an RFC 6750 ``WWW-Authenticate`` challenge).

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

import base64
import binascii
import functools
import hashlib
import hmac
import json
import math
import os
import re
import secrets
import string
import tempfile
import threading
import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NoReturn, Protocol, TypedDict
from urllib.parse import parse_qsl, unquote_plus

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = [
    "ACCESS_TOKEN_LIFETIME",
    "DEFAULT_LEEWAY",
    "MAX_TOKEN_BYTES",
    "MAX_TOKEN_REQUEST_BYTES",
    "NO_STORE_HEADERS",
    "REALM",
    "AuthError",
    "Jwk",
    "KeySet",
    "OAuthClient",
    "OAuthError",
    "PublicKeys",
    "SigningKey",
    "SigningKeys",
    "TokenRequest",
    "bearer_token",
    "grant",
    "hash_secret",
    "issue_access_token",
    "jwk_thumbprint",
    "new_client_id",
    "new_client_secret",
    "parse_token_request",
    "token_response",
    "verify_access_token",
    "verify_secret",
]

REALM = "sluiceway"
ALGORITHM = "RS256"
KEY_SIZE = 2048
# Cognito's default access-token validity, and the range it lets an app client choose.
ACCESS_TOKEN_LIFETIME = 3600
MIN_LIFETIME = 5 * 60
MAX_LIFETIME = 24 * 3600
# Tokens are issued and checked on one machine here; 30 s absorbs the drift of a client in
# a container or VM without keeping an expired token usable for long.
DEFAULT_LEEWAY = 30.0
# A Cognito access token is about 1 KiB; refusing longer ones before any decoding bounds
# the work an unauthenticated caller can cause.
MAX_TOKEN_BYTES = 8 * 1024
MAX_TOKEN_REQUEST_BYTES = 16 * 1024
# RFC 6749 §5.1: token responses, and their errors, must not be cached.
NO_STORE_HEADERS = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))

_CLIENT_ALPHABET = string.ascii_lowercase + string.digits
_CLIENT_ID_LENGTH = 26
_CLIENT_SECRET_LENGTH = 51
# scrypt at n=2**14, r=8, p=1: 16 MiB and ~50 ms a verification, paid once per token request.
_SCRYPT_LOG2_N = 14
_SCRYPT_R = 8
_SCRYPT_P = 1
_SALT_BYTES = 16
_HASH_BYTES = 32
_HASH_FORMAT = re.compile(
    r"\$scrypt\$ln=(?P<ln>\d{1,2}),r=(?P<r>\d{1,2}),p=(?P<p>\d)"
    r"\$(?P<salt>[A-Za-z0-9+/]+)\$(?P<hash>[A-Za-z0-9+/]+)"
)

_KEY_FILE = re.compile(r"(?P<serial>\d{6,})-(?P<kid>[A-Za-z0-9_-]{43})\.pem")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
# RFC 6750 §3: what may stand inside a quoted error_description or scope.
_QUOTABLE = frozenset(chr(c) for c in (0x20, 0x21, *range(0x23, 0x5C), *range(0x5D, 0x7F)))
_TOKEN_PARAMETERS = frozenset({"grant_type", "scope", "client_id", "client_secret"})
_MAX_FORM_FIELDS = 32


# --- errors -------------------------------------------------------------------------------


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


def _invalid_token(description: str) -> AuthError:
    return AuthError(401, "invalid_token", description)


# --- signing keys -------------------------------------------------------------------------


class Jwk(TypedDict):
    kty: str
    kid: str
    use: str
    alg: str
    n: str
    e: str


class KeySet(Protocol):
    """Where the authorizer finds a token's verification key by its ``kid``."""

    def public_key(self, kid: str) -> rsa.RSAPublicKey | None: ...


def jwk_thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """The RFC 7638 SHA-256 thumbprint, used as the ``kid``: derived from the key itself,
    so it is the same after a reload and cannot drift from the key it names."""
    numbers = public_key.public_numbers()
    members = {
        "e": _b64url(_int_bytes(numbers.e)),
        "kty": "RSA",
        "n": _b64url(_int_bytes(numbers.n)),
    }
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One RSA key of the directory; ``serial`` orders them, the highest one signs. Keys
    compare by ``kid`` and ``serial`` (two loads of one file are equal)."""

    kid: str
    serial: int
    private_key: rsa.RSAPrivateKey = field(repr=False, compare=False)

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    @property
    def filename(self) -> str:
        return f"{self.serial:06d}-{self.kid}.pem"

    def jwk(self) -> Jwk:
        numbers = self.public_key.public_numbers()
        return {
            "kty": "RSA",
            "kid": self.kid,
            "use": "sig",
            "alg": ALGORITHM,
            "n": _b64url(_int_bytes(numbers.n)),
            "e": _b64url(_int_bytes(numbers.e)),
        }

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())


class SigningKeys:
    """The token signing keys, as PEM files in one directory (``<serial>-<kid>.pem``).

    The directory is the truth: every call rescans it (a listing; PEMs are parsed once), so
    a rotation or retirement made by another process, such as a CLI command beside the
    running gateway, takes effect at once. Files are written to a temporary name and
    renamed, so a reader never sees half a key.

    Usage::

        keys = SigningKeys(data_dir / "oauth" / "keys")
        keys.active  # made on first use
        keys.rotate()  # new tokens use the new key; the old one still verifies
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._loaded: dict[str, SigningKey] = {}
        self._lock = threading.Lock()

    @property
    def active(self) -> SigningKey:
        """The key that signs new tokens (made now if the directory has none)."""
        with self._lock:
            keys = self._scan()
            return keys[-1] if keys else self._create(1)

    def rotate(self) -> SigningKey:
        """Make a new active key; the previous ones keep verifying until retired, so
        tokens issued before the rotation stay valid until they expire."""
        with self._lock:
            keys = self._scan()
            return self._create(keys[-1].serial + 1 if keys else 1)

    def retire(self, kid: str) -> None:
        """Delete a key: it leaves the JWKS and tokens it signed no longer verify."""
        with self._lock:
            keys = self._scan()
            found = [key for key in keys if key.kid == kid]
            if not found:
                raise KeyError(kid)
            if found[0] is keys[-1]:
                raise ValueError(f"key {kid} is the active key; rotate() before retiring it")
            (self.directory / found[0].filename).unlink()
            _fsync_directory(self.directory)
            del self._loaded[found[0].filename]

    def public_key(self, kid: str) -> rsa.RSAPublicKey | None:
        with self._lock:
            for key in self._scan():
                if key.kid == kid:
                    return key.public_key
        return None

    def jwks(self) -> dict[str, list[Jwk]]:
        """The ``.well-known/jwks.json`` document: every key not retired, newest first."""
        with self._lock:
            keys = self._scan() or [self._create(1)]
            return {"keys": [key.jwk() for key in reversed(keys)]}

    def _scan(self) -> list[SigningKey]:
        self._loaded = dict(self._read())
        return sorted(self._loaded.values(), key=lambda key: (key.serial, key.kid))

    def _read(self) -> Iterator[tuple[str, SigningKey]]:
        """The key files present; temporary files (dot-names) and others are skipped."""
        try:
            names = [entry.name for entry in os.scandir(self.directory)]
        except FileNotFoundError:
            return
        for name in names:
            match = _KEY_FILE.fullmatch(name)
            if match is None:
                continue
            if name in self._loaded:
                yield name, self._loaded[name]
                continue
            try:
                data = (self.directory / name).read_bytes()
            except FileNotFoundError:  # retired by another process since the listing
                continue
            yield name, _load_key(name, data, int(match["serial"]), match["kid"])

    def _create(self, serial: int) -> SigningKey:
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
        key = SigningKey(jwk_thumbprint(private_key.public_key()), serial, private_key)
        pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_private(self.directory / key.filename, pem)
        self._loaded[key.filename] = key
        return key


def _load_key(name: str, data: bytes, serial: int, kid: str) -> SigningKey:
    private_key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(private_key, rsa.RSAPrivateKey) or private_key.key_size < KEY_SIZE:
        raise ValueError(f"{name} is not an RSA key of at least {KEY_SIZE} bits")
    if jwk_thumbprint(private_key.public_key()) != kid:
        raise ValueError(f"{name} holds a key whose thumbprint is not {kid}")
    return SigningKey(kid, serial, private_key)


def _write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only, all at once: mkstemp creates it 0600, and
    the rename makes it appear complete or not at all."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make a rename or unlink durable. Windows cannot open a directory to sync it."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class PublicKeys:
    """Verification keys from a JWKS document: this directory's `SigningKeys.jwks()` as
    another process sees it, or a real pool's ``.well-known/jwks.json``."""

    def __init__(self, keys: Mapping[str, rsa.RSAPublicKey]) -> None:
        self._keys = dict(keys)

    @classmethod
    def from_jwks(cls, document: Mapping[str, object]) -> PublicKeys:
        """Keep the RSA signing keys; other kinds (EC, encryption keys) are skipped, a
        malformed document is a ValueError."""
        entries = document.get("keys")
        if not isinstance(entries, list):
            raise ValueError("a JWKS document has a 'keys' array")
        keys: dict[str, rsa.RSAPublicKey] = {}
        for entry in entries:
            if not isinstance(entry, dict):
                raise ValueError("each JWKS key is an object")
            if entry.get("kty") != "RSA" or entry.get("use", "sig") != "sig":
                continue
            if entry.get("alg", ALGORITHM) != ALGORITHM:
                continue
            kid = entry.get("kid")
            if not isinstance(kid, str) or kid in keys:
                raise ValueError("each JWKS key has a kid of its own")
            keys[kid] = _rsa_public_key(entry.get("n"), entry.get("e"))
        return cls(keys)

    def public_key(self, kid: str) -> rsa.RSAPublicKey | None:
        return self._keys.get(kid)


def _rsa_public_key(n: object, e: object) -> rsa.RSAPublicKey:
    if not isinstance(n, str) or not isinstance(e, str):
        raise ValueError("an RSA JWK has base64url 'n' and 'e'")
    public_key = rsa.RSAPublicNumbers(_unb64url_int(e), _unb64url_int(n)).public_key()
    if public_key.key_size < KEY_SIZE:
        raise ValueError(f"RSA keys shorter than {KEY_SIZE} bits are refused")
    return public_key


def _unb64url_int(value: str) -> int:
    return int.from_bytes(_unb64url(value), "big")


# --- client secrets -----------------------------------------------------------------------


def new_client_id() -> str:
    """26 lowercase letters and digits, the shape of a Cognito app client ID."""
    return "".join(secrets.choice(_CLIENT_ALPHABET) for _ in range(_CLIENT_ID_LENGTH))


def new_client_secret() -> str:
    """51 lowercase letters and digits (~263 bits), the shape of a Cognito client secret."""
    return "".join(secrets.choice(_CLIENT_ALPHABET) for _ in range(_CLIENT_SECRET_LENGTH))


def hash_secret(secret: str) -> str:
    """A client secret for storage, as a PHC string (``$scrypt$ln=14,r=8,p=1$salt$hash``):
    salted, and slow enough that a leaked table does not give the secrets back; the
    parameters travel with the hash so they can be raised later."""
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(secret, salt, _SCRYPT_LOG2_N, _SCRYPT_R, _SCRYPT_P)
    return f"$scrypt$ln={_SCRYPT_LOG2_N},r={_SCRYPT_R},p={_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_secret(secret: str, stored: str) -> bool:
    """Whether ``secret`` is the one ``stored`` was made from, compared in constant time.
    A stored value that is not a `hash_secret` string is a ValueError (corrupt data, not a
    wrong secret)."""
    match = _HASH_FORMAT.fullmatch(stored)
    if match is None:
        raise ValueError("not a hash made by hash_secret")
    log2_n, r, p = int(match["ln"]), int(match["r"]), int(match["p"])
    if not (10 <= log2_n <= 18 and 1 <= r <= 16 and 1 <= p <= 4):
        raise ValueError("scrypt parameters out of range")
    expected = _unb64(match["hash"])
    return hmac.compare_digest(_scrypt(secret, _unb64(match["salt"]), log2_n, r, p), expected)


def _scrypt(secret: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    n = 1 << log2_n
    return hashlib.scrypt(
        secret.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=256 * r * (n + p),
        dklen=_HASH_BYTES,
    )


@functools.cache
def _decoy_hash() -> str:
    """Checked when the client is unknown, so that costs what a wrong secret costs and the
    response time does not tell which client IDs exist."""
    return hash_secret(new_client_secret())


# --- the token endpoint -------------------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class OAuthClient:
    """An app client as stored; field names follow ``AWS::Cognito::UserPoolClient``."""

    client_id: str
    secret_hash: str = field(repr=False)
    allowed_oauth_scopes: tuple[str, ...]
    allowed_oauth_flows: tuple[str, ...] = ("client_credentials",)


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


# --- issuing ------------------------------------------------------------------------------


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
    return f"{signing_input}.{_b64url(signature)}", lifetime


def token_response(access_token: str, expires_in: int) -> dict[str, str | int]:
    """The token endpoint's success body (no refresh or ID token for this grant)."""
    return {"access_token": access_token, "expires_in": expires_in, "token_type": "Bearer"}


def _json_segment(value: Mapping[str, object]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode("utf-8"))


# --- the authorizer -----------------------------------------------------------------------


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


# --- encodings ----------------------------------------------------------------------------


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
        return _unb64url(segment)
    except ValueError:
        raise _invalid_token(f"the token's {what} is not base64url") from None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    """Strict base64url (RFC 7515 §2): URL alphabet, no padding, and canonical, so each
    value has exactly one spelling."""
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64url(data) != text:
        raise ValueError("not canonical base64url")
    return data


def _b64(data: bytes) -> str:
    return base64.b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _int_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")
