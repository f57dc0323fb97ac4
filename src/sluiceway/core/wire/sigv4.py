"""Signature Version 4, checked as AWS checks it: the credential scope names a key the
runtime issued, the request is no more than 15 minutes old, and the signature is the one
botocore's own signer computes over the headers the client signed.

The signature is computed as botocore's signer computes it (`signature_of`; a test holds the
two equal). What is checked: the access key (issued by this runtime's `Keyring`), the session token
when the key has one, the signature over method, path, query, the signed headers and the
body's SHA-256, and the date. What is not: the scope's region (any region is accepted, as a
single-region runtime answers them all) and the service name (a request's service is the one
its target or path names).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit

from botocore.utils import normalize_url_path

from sluiceway.core.wire.errors import WireError

_AUTH = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/\s]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request,\s*SignedHeaders=(?P<headers>[^,\s]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})"
)
MAX_SKEW = timedelta(minutes=15)


@dataclass(frozen=True)
class Signature:
    access_key: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(header: str) -> Signature | None:
    found = _AUTH.match(header.strip())
    if found is None:
        return None
    return Signature(
        found["key"],
        found["date"],
        found["region"],
        found["service"],
        tuple(found["headers"].split(";")),
        found["signature"],
    )


def signing_service(headers: Mapping[str, str]) -> str | None:
    """The service name in a request's credential scope, if it is signed."""
    found = parse_authorization(headers.get("authorization", ""))
    return None if found is None else found.service


def _canonical_request(
    method: str, url: str, headers: Mapping[str, str], signed: tuple[str, ...], body: bytes
) -> str:
    """The canonical request as botocore's `SigV4Auth.canonical_request` builds it (its own
    URI normalisation; the query's raw pairs sorted; each signed header's value with its
    whitespace collapsed), written out here because building an `AWSRequest` for each
    request costs more than the rest of the request's handling."""
    parts = urlsplit(url)
    path = quote(normalize_url_path(parts.path), safe="/~")
    query = "&".join(
        f"{key}={value}"
        for key, value in sorted(
            pair.partition("=")[::2] for pair in parts.query.split("&") if pair
        )
    )
    names = sorted(signed)
    lines = "".join(f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in names)
    payload = headers.get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest()
    return "\n".join((method.upper(), path, query, lines, ";".join(names), payload))


@functools.lru_cache(maxsize=256)
def _signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret_key).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signature_of(
    signature: Signature,
    secret_key: str,
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    stamp: str,
) -> str:
    """The signature a client holding `secret_key` would have sent for this request."""
    canonical = _canonical_request(method, url, headers, signature.signed_headers, body)
    scope = f"{stamp[:8]}/{signature.region}/{signature.service}/aws4_request"
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{digest}"
    key = _signing_key(secret_key, stamp[:8], signature.region, signature.service)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def verify(
    signature: Signature,
    *,
    secret_key: str,
    session_token: str | None,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    code: str = "InvalidSignatureException",
) -> None:
    """Raise AWS's error unless the request carries `signature` made with `secret_key`."""
    if session_token is not None and headers.get("x-amz-security-token") != session_token:
        raise WireError(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    stamp = headers.get("x-amz-date", "")
    try:
        when = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise WireError(
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        ) from None
    if abs(now - when) > MAX_SKEW:
        raise WireError(
            code,
            f"Signature expired: {stamp} is now earlier than "
            f"{(now - MAX_SKEW).strftime('%Y%m%dT%H%M%SZ')}",
        )
    expected = signature_of(
        signature, secret_key, method=method, url=url, headers=headers, body=body, stamp=stamp
    )
    if not hmac.compare_digest(expected, signature.signature):
        raise WireError(
            code,
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.",
        )
