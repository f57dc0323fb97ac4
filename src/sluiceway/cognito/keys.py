"""Token signing keys: RSA 2048 keys in a directory, one active for signing, older ones kept
for verification until retired, published as a JWKS; `PublicKeys` reads a JWKS back."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypedDict

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from sluiceway.cognito.jose import ALGORITHM, b64url, int_bytes, unb64url

__all__ = ["KEY_SIZE", "Jwk", "KeySet", "PublicKeys", "SigningKey", "SigningKeys", "jwk_thumbprint"]

KEY_SIZE = 2048
_KEY_FILE = re.compile(r"(?P<serial>\d{6,})-(?P<kid>[A-Za-z0-9_-]{43})\.pem")


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
        "e": b64url(int_bytes(numbers.e)),
        "kty": "RSA",
        "n": b64url(int_bytes(numbers.n)),
    }
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode("ascii")).digest())


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
            "n": b64url(int_bytes(numbers.n)),
            "e": b64url(int_bytes(numbers.e)),
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
    return int.from_bytes(unb64url(value), "big")
