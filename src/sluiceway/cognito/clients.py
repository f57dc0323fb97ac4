"""App clients: their IDs, their secrets at rest (scrypt), and the record the token
endpoint checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass, field

__all__ = [
    "OAuthClient",
    "declared_client_id",
    "declared_client_secret",
    "hash_secret",
    "new_client_id",
    "new_client_secret",
    "verify_secret",
]

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


@dataclass(frozen=True, slots=True)
class OAuthClient:
    """An app client as stored; field names follow ``AWS::Cognito::UserPoolClient``."""

    client_id: str
    secret_hash: str = field(repr=False)
    allowed_oauth_scopes: tuple[str, ...]
    allowed_oauth_flows: tuple[str, ...] = ("client_credentials",)


def new_client_id() -> str:
    """26 lowercase letters and digits, the shape of a Cognito app client ID."""
    return "".join(secrets.choice(_CLIENT_ALPHABET) for _ in range(_CLIENT_ID_LENGTH))


def new_client_secret() -> str:
    """51 lowercase letters and digits (~263 bits), the shape of a Cognito client secret."""
    return "".join(secrets.choice(_CLIENT_ALPHABET) for _ in range(_CLIENT_SECRET_LENGTH))


def declared_client_id(*parts: str) -> str:
    """A declared client's id, of Cognito's shape, stable from what names it (the app, the
    pool and the client): the same on every start and in every process."""
    return _letters(hashlib.sha256("\0".join(parts).encode()).digest(), _CLIENT_ID_LENGTH)


def declared_client_secret(key: bytes, client_id: str) -> str:
    """A declared client's secret, of Cognito's shape: derived from the data directory's
    secret `key` and the client id, so it holds across restarts and the CLI can print it."""
    digest = hmac.new(key, f"client-secret\0{client_id}".encode(), hashlib.sha512).digest()
    return _letters(digest, _CLIENT_SECRET_LENGTH)


def _letters(digest: bytes, length: int) -> str:
    """`length` characters of the client alphabet from `digest` (about 5.2 bits each)."""
    number = int.from_bytes(digest, "big")
    out = []
    for _ in range(length):
        number, index = divmod(number, len(_CLIENT_ALPHABET))
        out.append(_CLIENT_ALPHABET[index])
    return "".join(out)


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


def _b64(data: bytes) -> str:
    return base64.b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))
