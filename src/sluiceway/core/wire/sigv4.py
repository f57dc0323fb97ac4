"""Signature Version 4, checked as AWS checks it: the credential scope names a key the
runtime issued, the request is no more than 15 minutes old, and the signature is the one
botocore's own signer computes over the headers the client signed.

What is checked: the access key (issued by this runtime's `Keyring`), the session token
when the key has one, the signature over method, path, query, the signed headers and the
body's SHA-256, and the date. What is not: the scope's region (any region is accepted, as a
single-region runtime answers them all) and the service name (a request's service is the one
its target or path names).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

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


class _Verifier(SigV4Auth):  # type: ignore[misc]
    """botocore's signer, at the request's own time and over its signed headers only."""

    def __init__(
        self, credentials: Credentials, service: str, region: str, signed: tuple[str, ...]
    ):
        super().__init__(credentials, service, region)
        self._signed = signed

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        chosen = HTTPHeaders()
        for name in self._signed:
            chosen[name] = request.headers.get(name, "")
        return chosen


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
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    request.context["timestamp"] = stamp
    signer = _Verifier(
        Credentials(signature.access_key, secret_key, session_token),
        signature.service,
        signature.region,
        signature.signed_headers,
    )
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, signature.signature):
        raise WireError(
            code,
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.",
        )
