"""The HTTP edge: what a request must get right before the gateway sees it.

uvicorn with httptools parses HTTP; this protocol adds what an edge facing the network needs
and uvicorn leaves to a proxy in front of it:

* a header deadline: a client has `HEADER_SECONDS` from connecting (or from the previous
  answer, on a kept-alive connection) to finish its request headers, however it trickles
  them (slowloris); then 408 and the connection is closed;
* a body deadline: `BODY_SECONDS` from the end of the headers to the end of the body;
* size limits on the request line (`MAX_URL_BYTES`, 414) and the header block
  (`MAX_HEADER_BYTES`, 431), checked as bytes arrive, so a huge header is never buffered;
* malformed framing (a bad request line, `Content-Length` with `Transfer-Encoding`, two
  lengths) is refused by the parser with 400, in the gateway's JSON shape, never with a
  stack trace.

HTTPS: `tls_files` returns the certificate and key to serve, generating a self-signed pair
for ``localhost`` into the data directory with ``--tls self-signed``.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_SECONDS = 10.0
BODY_SECONDS = 30.0
MAX_URL_BYTES = 8192  # API Gateway's limit on a request line's URL
MAX_HEADER_BYTES = 16384


def _answer(status: int, reason: str, message: str, code: str) -> bytes:
    body = json.dumps({"message": message, "code": code}).encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nx-content-type-options: nosniff\r\n"
        "cache-control: no-store\r\nconnection: close\r\n\r\n"
    ).encode() + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with deadlines and size limits (see the module).

    A connection the front door process handed over (`front_door.py`) comes with the bytes
    it had already read from it, `adopted`: they are parsed first, as if just received."""

    adopted = b""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_bytes = 0
        self._tail = b""
        self._in_headers = True
        self._deadline: asyncio.TimerHandle | None = None
        self._arm(HEADER_SECONDS, 408, "Request Timeout", "the request headers came too slowly")
        if self.adopted:
            data, self.adopted = self.adopted, b""
            self.data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_headers:
            self._count_header_bytes(data)
            if self._header_bytes > MAX_HEADER_BYTES + MAX_URL_BYTES:
                self._refuse(
                    431,
                    "Request Header Fields Too Large",
                    "the request headers are too large",
                    "HeadersTooLarge",
                )
                return
        super().data_received(data)

    def _count_header_bytes(self, data: bytes) -> None:
        """Count what arrives up to the blank line that ends the headers (a body sent in
        the same packet is not theirs)."""
        seen = self._tail + data
        end = seen.find(b"\r\n\r\n")
        if end < 0:
            self._header_bytes += len(data)
            self._tail = seen[-3:]
        else:
            self._header_bytes += max(0, end + 4 - len(self._tail))
            self._tail = b""
            self._in_headers = False

    def send_400_response(self, msg: str) -> None:
        self._refuse(400, "Bad Request", "the request is not valid HTTP", "MalformedRequest")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True
        self._header_bytes = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > MAX_URL_BYTES:
            self._refuse(414, "URI Too Long", "the URL is too long", "UriTooLong")

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._disarm()
        if self.transport.is_closing():
            return
        super().on_headers_complete()
        if self._has_body():
            self._arm(BODY_SECONDS, 408, "Request Timeout", "the request body came too slowly")

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            # The next request on this connection gets its own header deadline.
            self._arm(HEADER_SECONDS, 408, "Request Timeout", "the request headers came too slowly")

    def _has_body(self) -> bool:
        for name, value in self.headers:
            if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
                return True
        return False

    def _arm(self, seconds: float, status: int, reason: str, message: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expire, status, reason, message)

    def _disarm(self) -> None:
        if getattr(self, "_deadline", None) is not None:
            assert self._deadline is not None
            self._deadline.cancel()
            self._deadline = None

    def _expire(self, status: int, reason: str, message: str) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        busy = cycle is not None and cycle.response_started and not cycle.response_complete
        if busy and not self._in_headers:
            self.transport.close()  # an answer is already going out: just hang up
            return
        self._refuse(status, reason, message, "RequestTimeout")

    def _refuse(self, status: int, reason: str, message: str, code: str) -> None:
        self._disarm()
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True  # the app's receive() sees the client gone
            self.cycle.message_event.set()
        if not self.transport.is_closing():
            self.transport.write(_answer(status, reason, message, code))
            self.transport.close()


# -- HTTPS ----------------------------------------------------------------------------------

HSTS = (b"strict-transport-security", b"max-age=31536000")

ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]


def with_hsts(app: ASGIApp) -> ASGIApp:
    """Served over HTTPS, every answer tells browsers to come back only over HTTPS."""

    async def secured(scope: Any, receive: Any, send: Any) -> None:
        async def send_with_hsts(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), HSTS]
            await send(message)

        await app(scope, receive, send_with_hsts)

    return secured


def tls_files(data_dir: Path, cert: str | None, key: str | None) -> tuple[str, str] | None:
    """The certificate and key to serve: given, or ``cert == "self-signed"`` for a pair in
    ``<data dir>/tls/`` (made once, renewed when it has less than a week left)."""
    if cert is None:
        return None
    if cert != "self-signed":
        if key is None:
            raise ValueError("--tls-cert needs --tls-key")
        return cert, key
    folder = Path(data_dir) / "tls"
    cert_path, key_path = folder / "localhost.pem", folder / "localhost-key.pem"
    if not _still_valid(cert_path):
        folder.mkdir(parents=True, exist_ok=True)
        cert_pem, key_pem = self_signed("localhost")
        key_path.write_bytes(key_pem)
        key_path.chmod(0o600)
        cert_path.write_bytes(cert_pem)
    return str(cert_path), str(key_path)


def _still_valid(path: Path) -> bool:
    if not path.exists():
        return False
    certificate = x509.load_pem_x509_certificate(path.read_bytes())
    left = certificate.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    return left > datetime.timedelta(days=7)


def self_signed(host: str) -> tuple[bytes, bytes]:
    """A one-year certificate for `host`, 127.0.0.1 and ::1 (ECDSA P-256), and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    names: list[Any] = [
        x509.DNSName(host),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem
