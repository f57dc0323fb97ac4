"""SNS message signatures, made with a key of the data directory's own.

Real SNS signs every envelope (SignatureVersion "1": SHA1withRSA; "2": SHA256withRSA) and
publishes its certificate at ``SigningCertURL``; code that verifies SNS messages (as the
AWS SDKs' validators do) then works here too. The key and a self-signed certificate are
created on first use in ``<data-dir>/keys/`` and the runtime serves the certificate.
"""

from __future__ import annotations

import base64
import datetime
import threading
from collections.abc import Mapping
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

CERT_PATH = "/_sluiceway/sns/SimpleNotificationService.pem"

# The fields each envelope type signs, in this order (SNS's documented canonical form).
_SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
    "UnsubscribeConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}


def canonical(envelope: Mapping[str, object]) -> bytes:
    """The string SNS signs: "Name\\nvalue\\n" for each signed field present."""
    parts = []
    for name in _SIGNED[str(envelope["Type"])]:
        value = envelope.get(name)
        if value is not None:
            parts.append(f"{name}\n{value}\n")
    return "".join(parts).encode()


class Signer:
    """Signs envelopes with the data directory's SNS key (created once, then reused)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._key: rsa.RSAPrivateKey | None = None
        self._certificate = b""
        self._lock = threading.Lock()

    def _load(self) -> rsa.RSAPrivateKey:
        with self._lock:
            if self._key is not None:
                return self._key
            key_file = self.directory / "sns-signing.key"
            cert_file = self.directory / "sns-signing.pem"
            if key_file.exists() and cert_file.exists():
                key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
                assert isinstance(key, rsa.RSAPrivateKey)
                self._certificate = cert_file.read_bytes()
            else:
                key, self._certificate = _new_key()
                self.directory.mkdir(parents=True, exist_ok=True)
                key_file.write_bytes(
                    key.private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption(),
                    )
                )
                key_file.chmod(0o600)
                cert_file.write_bytes(self._certificate)
            self._key = key
            return key

    def certificate(self) -> bytes:
        self._load()
        return self._certificate

    def sign(self, envelope: Mapping[str, object]) -> str:
        """The envelope's Signature for its SignatureVersion ("1" or "2")."""
        algorithm: hashes.HashAlgorithm = (
            hashes.SHA256() if envelope.get("SignatureVersion") == "2" else hashes.SHA1()
        )
        signature = self._load().sign(canonical(envelope), padding.PKCS1v15(), algorithm)
        return base64.b64encode(signature).decode()


def verify(certificate: bytes, envelope: Mapping[str, object]) -> bool:
    """Check an envelope's signature against a certificate (what an SNS subscriber does)."""
    public_key = x509.load_pem_x509_certificate(certificate).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    algorithm: hashes.HashAlgorithm = (
        hashes.SHA256() if envelope.get("SignatureVersion") == "2" else hashes.SHA1()
    )
    try:
        public_key.verify(
            base64.b64decode(str(envelope["Signature"])),
            canonical(envelope),
            padding.PKCS1v15(),
            algorithm,
        )
    except Exception:
        return False
    return True


def _new_key() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.sluiceway.localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return key, certificate.public_bytes(serialization.Encoding.PEM)
