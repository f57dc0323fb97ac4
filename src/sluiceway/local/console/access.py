"""Who may open the console, and which of their requests may change anything.

- Clients: loopback only, unless ``--console-host`` names more addresses or networks.
- A runtime bound beyond loopback (``--host 0.0.0.0``) needs a token: printed in the start
  banner, given once as ``?token=``, then kept in an HttpOnly, SameSite=Strict cookie.
- Without a token, the Host header must name this machine (a page of another site whose
  name was rebound to 127.0.0.1 would otherwise read the console as its own origin).
- A POST changes state: it must carry the page's CSRF token and, when the browser says
  where it comes from (Origin, Sec-Fetch-Site), come from the console's own origin.

Pure functions of the settings and the request's headers, so each rule is tested alone.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from sluiceway.core.settings import Settings

COOKIE = "sluiceway_console"
CSRF_HEADER = "x-sluiceway-csrf"
CSRF_FIELD = "csrf"
ANY = ("*", "any")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def is_loopback(host: str) -> bool:
    """Is a listen address (or a client's address) this machine only?"""
    if host == "localhost":
        return True
    address = _address(host)
    return address is not None and address.is_loopback


def needs_token(settings: Settings) -> bool:
    return not is_loopback(settings.host)


def with_token(settings: Settings) -> Settings:
    """The settings `sluiceway run` serves with: a fresh console token when the runtime
    binds beyond loopback and none was given."""
    if settings.console and settings.console_token is None and needs_token(settings):
        return settings.replace(console_token=secrets.token_urlsafe(24))
    return settings


def networks(hosts: tuple[str, ...]) -> tuple[Network, ...] | None:
    """The client networks ``--console-host`` allows besides loopback; None: any client."""
    if any(h.lower() in ANY for h in hosts):
        return None
    return tuple(ipaddress.ip_network(h, strict=False) for h in hosts)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_allowed(client: str | None, allowed: tuple[Network, ...] | None) -> bool:
    if client is None:
        return False
    address = _address(client)
    if address is None:
        return False
    if address.is_loopback or allowed is None:
        return True
    return any(address in network for network in allowed)


def _hostname(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header[1:].split("]", 1)[0]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def host_allowed(host_header: str | None, settings: Settings) -> bool:
    """Does the request name this machine (not a rebound name of another site)?"""
    if not host_header:
        return False
    name = _hostname(host_header.strip().lower())
    if is_loopback(name) or name == settings.host.lower():
        return True
    public = urlsplit(settings.base_url).hostname
    return public is not None and name == public.lower()


@dataclass(frozen=True)
class Keys:
    """The secrets of one running console."""

    token: str | None  # None: no token needed (loopback)
    secret: bytes

    @classmethod
    def of(cls, settings: Settings) -> Keys:
        # Bound beyond loopback with no token given (settings not made by `with_token`):
        # locked by a token nobody knows rather than open.
        token = settings.console_token
        if token is None and needs_token(settings):
            token = secrets.token_urlsafe(24)
        return cls(token, secrets.token_bytes(32))

    @property
    def csrf(self) -> str:
        return hmac.new(self.secret, b"console csrf", hashlib.sha256).hexdigest()

    def token_ok(self, given: str | None) -> bool:
        if self.token is None:
            return True
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def csrf_ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.csrf.encode())


def cookies(header: str | None) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in (header or "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name not in found:
            found[name] = value
    return found


def session_cookie(token: str, *, secure: bool) -> str:
    return f"{COOKIE}={token}; Path=/console; HttpOnly; SameSite=Strict" + (
        "; Secure" if secure else ""
    )


def same_origin(headers: Mapping[str, str], scheme: str) -> bool:
    """Does a state-changing request come from the console's own pages? Browsers send
    Origin on every POST and Sec-Fetch-Site on every request; a client that sends neither
    (curl, a test) is judged by its CSRF token alone."""
    origin = headers.get("origin")
    if origin is not None:
        host = headers.get("host", "")
        return origin.lower() == f"{scheme}://{host}".lower()
    site = headers.get("sec-fetch-site")
    return site is None or site in ("same-origin", "none")
