"""The credentials this runtime issues: one set per function (as Lambda gives each function
its execution role's temporary credentials) and one for the runtime's admin (what
``sluiceway env`` prints for the AWS CLI). All are derived from one secret kept in the data
directory, so they hold across restarts and the CLI can print them without the runtime.

Access key ids look like AWS's: ``ASIA...`` (temporary, with a session token) for functions,
``AKIA...`` for the admin.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sluiceway.core.wire.operations import ADMIN

SECRET_FILE = "aws-credentials.key"


@dataclass(frozen=True)
class Credentials:
    principal: str
    access_key: str
    secret_key: str
    session_token: str | None

    def variables(self) -> dict[str, str]:
        """The environment variables an SDK reads them from."""
        out = {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}
        if self.session_token is not None:
            out["AWS_SESSION_TOKEN"] = self.session_token
        return out


class Keyring:
    def __init__(self, secret: bytes, principals: Iterable[str] = ()) -> None:
        self._secret = secret
        self._by_key: dict[str, Credentials] = {}
        for principal in (ADMIN, *principals):
            self.add(principal)

    @classmethod
    def load(cls, keys_dir: Path, principals: Iterable[str] = ()) -> Keyring:
        """The keyring of a data directory (its secret made on first use, mode 0600)."""
        path = keys_dir / SECRET_FILE
        try:
            secret = path.read_bytes()
        except FileNotFoundError:
            keys_dir.mkdir(parents=True, exist_ok=True)
            secret = secrets.token_bytes(32)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, secret)
            finally:
                os.close(fd)
        return cls(secret, principals)

    def _derive(self, *parts: str) -> bytes:
        return hmac.new(self._secret, "\0".join(parts).encode(), hashlib.sha256).digest()

    def add(self, principal: str) -> Credentials:
        admin = principal == ADMIN
        ident = base64.b32encode(self._derive("key", principal)).decode()[:16]
        access_key = ("AKIA" if admin else "ASIA") + ident
        secret_key = base64.b64encode(self._derive("secret", access_key)).decode()[:40]
        token = None if admin else base64.b64encode(self._derive("token", access_key)).decode()
        credentials = Credentials(principal, access_key, secret_key, token)
        self._by_key[access_key] = credentials
        return credentials

    def for_principal(self, principal: str) -> Credentials:
        return self.add(principal)

    @property
    def admin(self) -> Credentials:
        return self.add(ADMIN)

    def lookup(self, access_key: str) -> Credentials | None:
        return self._by_key.get(access_key)
