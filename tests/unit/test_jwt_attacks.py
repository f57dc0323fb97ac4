"""The authorizer against forged, tampered and malformed tokens: each one refused, rightly."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Literal

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from sluiceway.cognito.authorizer import (
    DEFAULT_LEEWAY,
    MAX_TOKEN_BYTES,
    bearer_token,
    verify_access_token,
)
from sluiceway.cognito.errors import AuthError
from sluiceway.cognito.keys import SigningKeys
from sluiceway.cognito.token_endpoint import issue_access_token

NOW = 1_700_000_000.0
ISSUER = "http://localhost:4566/local_pool"
CLIENT = "3n4b5urk1ft4fl3mg5e62d9ado"
SCOPE = "devices/send"
B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: Mapping[str, object] | bytes) -> str:
    return b64url(value if isinstance(value, bytes) else json.dumps(value).encode())


@dataclass(frozen=True)
class Forge:
    """The keys of the API under attack, and an attacker's."""

    keys: SigningKeys
    attacker: rsa.RSAPrivateKey

    @property
    def kid(self) -> str:
        return self.keys.active.kid

    def header(self, **changes: object) -> dict[str, object]:
        return {"kid": self.kid, "alg": "RS256", **changes}

    def claims(self, **changes: object) -> dict[str, object]:
        claims: dict[str, object] = {
            "sub": CLIENT,
            "token_use": "access",
            "scope": f"{SCOPE} devices/read",
            "auth_time": int(NOW),
            "iss": ISSUER,
            "exp": int(NOW) + 3600,
            "iat": int(NOW),
            "version": 2,
            "jti": "8f5a3d5e-5d9c-4a55-9d43-5c1f1e0c7b8e",
            "client_id": CLIENT,
        }
        claims.update(changes)
        return {name: value for name, value in claims.items() if value is not None}

    def rs256(
        self,
        header: Mapping[str, object] | bytes | None = None,
        payload: Mapping[str, object] | bytes | None = None,
        *,
        key: rsa.RSAPrivateKey | None = None,
    ) -> str:
        """A token signed with RS256 by the API's own key (or ``key``)."""
        return self.signed(
            segment(header or self.header()), segment(payload or self.claims()), key=key
        )

    def signed(self, header: str, payload: str, *, key: rsa.RSAPrivateKey | None = None) -> str:
        """Segments as given, with a valid RS256 signature over them."""
        signer = key or self.keys.active.private_key
        signature = signer.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{header}.{payload}.{b64url(signature)}"

    def public_pem(self) -> bytes:
        return self.keys.active.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@pytest.fixture(scope="module")
def forge(tmp_path_factory: pytest.TempPathFactory) -> Forge:
    keys = SigningKeys(tmp_path_factory.mktemp("oauth") / "keys")
    return Forge(keys, rsa.generate_private_key(public_exponent=65537, key_size=2048))


def verify(
    token: str,
    forge: Forge,
    *,
    now: float = NOW,
    leeway: float = DEFAULT_LEEWAY,
    allowed_client_ids: Collection[str] | None = (CLIENT,),
    required_scopes: Collection[str] = (SCOPE,),
    scope_match: Literal["all", "any"] = "all",
) -> dict[str, object]:
    return verify_access_token(
        token,
        forge.keys,
        issuer=ISSUER,
        allowed_client_ids=allowed_client_ids,
        required_scopes=required_scopes,
        now=now,
        leeway=leeway,
        scope_match=scope_match,
    )


# --- the forgeries ------------------------------------------------------------------------


def alg_none_unsigned(f: Forge) -> str:
    return f"{segment(f.header(alg='none'))}.{segment(f.claims())}."


def alg_none_with_a_valid_signature(f: Forge) -> str:
    signature = f.rs256().split(".")[2]
    return f"{segment(f.header(alg='none'))}.{segment(f.claims())}.{signature}"


def alg_none_capitalised(f: Forge) -> str:
    return f"{segment(f.header(alg='None'))}.{segment(f.claims())}."


def alg_missing(f: Forge) -> str:
    return f.rs256({"kid": f.kid})


def alg_rs256_lowercase(f: Forge) -> str:
    return f.rs256(f.header(alg="rs256"))


def hs256_keyed_with_the_public_key_pem(f: Forge) -> str:
    """Alg confusion: a verifier that takes "alg" from the token would HMAC with the PEM."""
    signing_input = f"{segment(f.header(alg='HS256'))}.{segment(f.claims())}"
    signature = hmac.new(f.public_pem(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def rs512_by_the_right_key(f: Forge) -> str:
    signing_input = f"{segment(f.header(alg='RS512'))}.{segment(f.claims())}"
    key = f.keys.active.private_key
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA512())
    return f"{signing_input}.{b64url(signature)}"


def ps256_by_the_right_key(f: Forge) -> str:
    signing_input = f"{segment(f.header(alg='PS256'))}.{segment(f.claims())}"
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    signature = f.keys.active.private_key.sign(signing_input.encode(), pss, hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def unknown_kid(f: Forge) -> str:
    return f.rs256(f.header(kid="cognito-kid-that-does-not-exist"))


def missing_kid(f: Forge) -> str:
    return f.rs256({"alg": "RS256"})


def kid_not_a_string(f: Forge) -> str:
    return f.rs256(f.header(kid=1))


def embedded_jwk_of_the_attacker(f: Forge) -> str:
    numbers = f.attacker.public_key().public_numbers()
    jwk = {"kty": "RSA", "n": b64url(numbers.n.to_bytes(256)), "e": "AQAB"}
    return f.rs256(f.header(kid="attacker", jwk=jwk), key=f.attacker)


def another_keys_signature_under_a_known_kid(f: Forge) -> str:
    return f.rs256(key=f.attacker)


def critical_header_extension(f: Forge) -> str:
    return f.rs256(f.header(crit=["exp"], exp=0))


def expired_beyond_the_leeway(f: Forge) -> str:
    return f.rs256(payload=f.claims(exp=int(NOW - DEFAULT_LEEWAY)))


def not_yet_valid_beyond_the_leeway(f: Forge) -> str:
    return f.rs256(payload=f.claims(nbf=int(NOW + DEFAULT_LEEWAY + 1)))


def issued_in_the_future_beyond_the_leeway(f: Forge) -> str:
    return f.rs256(payload=f.claims(iat=int(NOW + DEFAULT_LEEWAY + 1)))


def exp_as_a_string(f: Forge) -> str:
    return f.rs256(payload=f.claims(exp=str(int(NOW) + 3600)))


def exp_as_a_boolean(f: Forge) -> str:
    return f.rs256(payload=f.claims(exp=True))


def exp_nan(f: Forge) -> str:
    payload = json.dumps(f.claims()).replace(f'"exp": {int(NOW) + 3600}', '"exp": NaN')
    return f.rs256(payload=payload.encode())


def exp_missing(f: Forge) -> str:
    claims = f.claims()
    del claims["exp"]
    return f.rs256(payload=claims)


def iat_missing(f: Forge) -> str:
    claims = f.claims()
    del claims["iat"]
    return f.rs256(payload=claims)


def wrong_issuer(f: Forge) -> str:
    return f.rs256(payload=f.claims(iss="https://cognito-idp.us-east-1.amazonaws.com/other"))


def issuer_with_a_trailing_slash(f: Forge) -> str:
    return f.rs256(payload=f.claims(iss=ISSUER + "/"))


def an_id_token(f: Forge) -> str:
    return f.rs256(payload=f.claims(token_use="id", aud=CLIENT))


def token_use_missing(f: Forge) -> str:
    claims = f.claims()
    del claims["token_use"]
    return f.rs256(payload=claims)


def client_not_allowed(f: Forge) -> str:
    other = "1example23456789abcdefghij"
    return f.rs256(payload=f.claims(client_id=other, sub=other))


def client_id_missing(f: Forge) -> str:
    claims = f.claims()
    del claims["client_id"]
    return f.rs256(payload=claims)


def scope_not_a_string(f: Forge) -> str:
    return f.rs256(payload=f.claims(scope=[SCOPE]))


def tampered_payload_with_the_original_signature(f: Forge) -> str:
    header, _, signature = f.rs256(payload=f.claims(scope="devices/read")).split(".")
    return f"{header}.{segment(f.claims(scope=SCOPE))}.{signature}"


def tampered_header_with_the_original_signature(f: Forge) -> str:
    _, payload, signature = f.rs256().split(".")
    return f"{segment(f.header(typ='JWT'))}.{payload}.{signature}"


def truncated_signature(f: Forge) -> str:
    signing_input, signature = f.rs256().rsplit(".", 1)
    return f"{signing_input}.{b64url(base64.urlsafe_b64decode(signature + '==')[:-1])}"


def signature_cut_mid_character(f: Forge) -> str:
    # 342 characters (256 bytes) cut to 341: a length base64 cannot have.
    return f.rs256()[:-1]


def empty_signature(f: Forge) -> str:
    return f.rs256().rsplit(".", 1)[0] + "."


def padded_signature(f: Forge) -> str:
    token = f.rs256()
    while len(token.rsplit(".", 1)[1]) % 4:
        token += "="
    return token


def oversized_but_validly_signed(f: Forge) -> str:
    return f.rs256(payload=f.claims(padding="x" * MAX_TOKEN_BYTES))


def duplicate_alg_in_the_header(f: Forge) -> str:
    header = f'{{"kid": "{f.kid}", "alg": "none", "alg": "RS256"}}'.encode()
    return f.rs256(header)


def duplicate_scope_in_the_payload(f: Forge) -> str:
    claims = json.dumps(f.claims(scope="devices/read"))
    return f.rs256(payload=f'{claims[:-1]}, "scope": "{SCOPE}"}}'.encode())


def header_not_an_object(f: Forge) -> str:
    return f.rs256(b'["RS256"]')


def payload_not_an_object(f: Forge) -> str:
    return f.rs256(payload=b'"admin"')


def payload_not_json(f: Forge) -> str:
    return f.rs256(payload=b"{sub: admin}")


def payload_not_utf8(f: Forge) -> str:
    return f.rs256(payload=json.dumps(f.claims(sub="é")).encode("utf-16"))


def payload_nested_too_deep(f: Forge) -> str:
    return f.rs256(payload=b"[" * 2000 + b"]" * 2000)


def header_with_base64_padding(f: Forge) -> str:
    header = segment(f.header(x="a"))
    assert len(header) % 4  # so that padding is due
    return f.signed(header + "=" * (-len(header) % 4), segment(f.claims()))


def header_in_standard_base64(f: Forge) -> str:
    # Five "?" in a row hold an aligned "???", which standard base64 spells "Pz8/".
    header = base64.b64encode(json.dumps(f.header(x="?????")).encode()).decode().rstrip("=")
    assert "/" in header
    return f.signed(header, segment(f.claims()))


def payload_with_non_canonical_base64(f: Forge) -> str:
    # An unpadded segment's last character carries spare low bits, zero when canonical;
    # setting one spells the same bytes another way.
    payload = next(p for p in (segment(f.claims(x="a" * n)) for n in range(3)) if len(p) % 4)
    last = B64URL_ALPHABET.index(payload[-1])
    return f.signed(segment(f.header()), payload[:-1] + B64URL_ALPHABET[last | 1])


def constant(token: str) -> Callable[[Forge], str]:
    return lambda _: token


UNAUTHORIZED: list[tuple[str, Callable[[Forge], str], str]] = [
    ("alg none, unsigned", alg_none_unsigned, "RS256"),
    ("alg none, with a signature", alg_none_with_a_valid_signature, "RS256"),
    ("alg None", alg_none_capitalised, "RS256"),
    ("alg missing", alg_missing, "RS256"),
    ("alg rs256 in lowercase", alg_rs256_lowercase, "RS256"),
    ("HS256 keyed with the public key PEM", hs256_keyed_with_the_public_key_pem, "RS256"),
    ("RS512 by the right key", rs512_by_the_right_key, "RS256"),
    ("PS256 by the right key", ps256_by_the_right_key, "RS256"),
    ("unknown kid", unknown_kid, "unknown key"),
    ("missing kid", missing_kid, "names no signing key"),
    ("kid not a string", kid_not_a_string, "names no signing key"),
    ("embedded jwk of the attacker", embedded_jwk_of_the_attacker, "unknown key"),
    (
        "another key's signature under a known kid",
        another_keys_signature_under_a_known_kid,
        "signature does not verify",
    ),
    ("critical header extension", critical_header_extension, "header extensions"),
    ("expired beyond the leeway", expired_beyond_the_leeway, "expired"),
    ("nbf in the future beyond the leeway", not_yet_valid_beyond_the_leeway, "not valid yet"),
    ("iat in the future beyond the leeway", issued_in_the_future_beyond_the_leeway, "issue time"),
    ("exp as a string", exp_as_a_string, "exp claim is not a number"),
    ("exp as a boolean", exp_as_a_boolean, "exp claim is not a number"),
    ("exp NaN", exp_nan, "payload is not"),
    ("exp missing", exp_missing, "no expiry"),
    ("iat missing", iat_missing, "issue time"),
    ("wrong issuer", wrong_issuer, "another issuer"),
    ("issuer with a trailing slash", issuer_with_a_trailing_slash, "another issuer"),
    ("an ID token", an_id_token, "not an access token"),
    ("token_use missing", token_use_missing, "not an access token"),
    ("client not in the allowed list", client_not_allowed, "does not accept"),
    ("client_id missing", client_id_missing, "names no client"),
    ("scope not a string", scope_not_a_string, "scope claim is not a string"),
    (
        "tampered payload, original signature",
        tampered_payload_with_the_original_signature,
        "signature does not verify",
    ),
    (
        "tampered header, original signature",
        tampered_header_with_the_original_signature,
        "signature does not verify",
    ),
    ("truncated signature", truncated_signature, "signature does not verify"),
    ("signature cut mid-character", signature_cut_mid_character, "signature is not base64url"),
    ("empty signature", empty_signature, "signature does not verify"),
    ("padded signature", padded_signature, "signature is not base64url"),
    ("oversized, validly signed", oversized_but_validly_signed, "longer than 8192"),
    ("duplicate alg in the header", duplicate_alg_in_the_header, "header is not"),
    ("duplicate scope in the payload", duplicate_scope_in_the_payload, "payload is not"),
    ("header not an object", header_not_an_object, "header is not"),
    ("payload not an object", payload_not_an_object, "payload is not"),
    ("payload not JSON", payload_not_json, "payload is not"),
    ("payload not UTF-8", payload_not_utf8, "payload is not"),
    ("payload nested too deep", payload_nested_too_deep, "payload is not"),
    ("header with base64 padding", header_with_base64_padding, "header is not base64url"),
    ("header in standard base64", header_in_standard_base64, "header is not base64url"),
    (
        "payload in non-canonical base64",
        payload_with_non_canonical_base64,
        "payload is not base64url",
    ),
    ("garbage", constant("not-a-token-at-all"), "three"),
    ("empty", constant(""), "three"),
    ("two parts", constant("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0"), "three"),
    ("four parts", constant("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln.c2ln"), "three"),
    ("bad base64", constant("!!!.eyJzdWIiOiJ4In0.c2ln"), "header is not base64url"),
    ("non-ASCII", constant("eyJhbGciOiJSUzI1NiJ9.é.c2ln"), "three"),
]


@pytest.mark.parametrize(
    ("make", "reason"), [pytest.param(make, reason, id=name) for name, make, reason in UNAUTHORIZED]
)
def test_a_bad_token_is_a_401_invalid_token(
    forge: Forge, make: Callable[[Forge], str], reason: str
) -> None:
    token = make(forge)

    with pytest.raises(AuthError) as refused:
        verify(token, forge)

    assert (refused.value.status, refused.value.error) == (401, "invalid_token")
    assert reason in refused.value.description
    challenge = refused.value.www_authenticate
    assert challenge.startswith(
        'Bearer realm="sluiceway", error="invalid_token", error_description="'
    )
    if len(token) > 16:
        for part in token.split("."):
            assert len(part) < 8 or part not in challenge + refused.value.description


FORBIDDEN: list[tuple[str, str]] = [
    ("no scope claim", ""),
    ("another scope only", "devices/read"),
    ("a scope that contains the required one", "devices/sendx"),
    ("a scope the required one ends", "xdevices/send"),
    ("the required one in other case", "Devices/Send"),
    ("the required one joined by a comma", "devices/read,devices/send"),
]


@pytest.mark.parametrize("scope", [pytest.param(scope, id=name) for name, scope in FORBIDDEN])
def test_a_valid_token_without_the_scope_is_a_403_insufficient_scope(
    forge: Forge, scope: str
) -> None:
    token = forge.rs256(payload=forge.claims(scope=scope or None))

    with pytest.raises(AuthError) as refused:
        verify(token, forge)

    assert (refused.value.status, refused.value.error) == (403, "insufficient_scope")
    assert refused.value.www_authenticate == (
        'Bearer realm="sluiceway", error="insufficient_scope", '
        'error_description="the token lacks the scope this API requires", scope="devices/send"'
    )


def test_all_required_scopes_must_be_granted_unless_any_one_will_do(forge: Forge) -> None:
    token = forge.rs256(payload=forge.claims(scope="devices/send"))
    required = ("devices/send", "devices/admin")

    with pytest.raises(AuthError) as refused:
        verify(token, forge, required_scopes=required)

    assert refused.value.status == 403
    assert refused.value.scope == "devices/send devices/admin"
    assert verify(token, forge, required_scopes=required, scope_match="any")["scope"] == SCOPE


# --- what passes --------------------------------------------------------------------------


def test_an_issued_token_verifies_and_yields_its_claims(forge: Forge) -> None:
    token, _ = issue_access_token(
        forge.keys, issuer=ISSUER, client_id=CLIENT, scopes=[SCOPE], now=NOW
    )

    claims = verify(token, forge, now=NOW + 3599)

    assert claims["client_id"] == claims["sub"] == CLIENT
    assert claims["scope"] == SCOPE


def test_a_forged_but_well_formed_token_is_the_control_case(forge: Forge) -> None:
    assert verify(forge.rs256(), forge)["jti"] == "8f5a3d5e-5d9c-4a55-9d43-5c1f1e0c7b8e"


def test_clock_skew_within_the_leeway_is_forgiven(forge: Forge) -> None:
    skewed = forge.claims(
        exp=int(NOW - DEFAULT_LEEWAY + 1),
        iat=int(NOW + DEFAULT_LEEWAY),
        nbf=int(NOW + DEFAULT_LEEWAY),
    )

    assert verify(forge.rs256(payload=skewed), forge)["exp"] == skewed["exp"]


def test_an_expired_token_fails_at_exp_plus_leeway_exactly(forge: Forge) -> None:
    token = forge.rs256()
    expires = NOW + 3600

    verify(token, forge, now=expires + DEFAULT_LEEWAY - 0.001)
    with pytest.raises(AuthError, match="expired"):
        verify(token, forge, now=expires + DEFAULT_LEEWAY)
    with pytest.raises(AuthError, match="expired"):
        verify(token, forge, now=expires, leeway=0)


def test_the_required_scope_may_be_anywhere_among_the_granted_ones(forge: Forge) -> None:
    token = forge.rs256(payload=forge.claims(scope=f"devices/read {SCOPE} devices/admin"))

    assert verify(token, forge)["client_id"] == CLIENT


def test_any_client_is_accepted_when_no_list_is_given(forge: Forge) -> None:
    token = forge.rs256(payload=forge.claims(client_id="someone-else"))

    assert verify(token, forge, allowed_client_ids=None)["client_id"] == "someone-else"


def test_no_required_scopes_means_no_scope_check(forge: Forge) -> None:
    token = forge.rs256(payload=forge.claims(scope=None))

    assert "scope" not in verify(token, forge, required_scopes=())


def test_a_token_at_the_size_limit_is_read(forge: Forge) -> None:
    def padded(n: int) -> str:
        return segment(forge.claims(padding="x" * n))

    overhead = len(forge.rs256()) - len(segment(forge.claims()))
    n = 0
    while overhead + len(padded(n + 100)) <= MAX_TOKEN_BYTES:
        n += 100
    while overhead + len(padded(n + 1)) <= MAX_TOKEN_BYTES:
        n += 1
    token = forge.rs256(payload=forge.claims(padding="x" * n))

    assert MAX_TOKEN_BYTES - 2 <= len(token) <= MAX_TOKEN_BYTES
    assert verify(token, forge)["client_id"] == CLIENT


# --- the Authorization header -------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_the_bearer_scheme_is_case_insensitive(forge: Forge, scheme: str) -> None:
    token = forge.rs256()

    assert bearer_token(f"{scheme} {token}") == token
    assert verify(bearer_token(f"  {scheme}   {token} "), forge)["client_id"] == CLIENT


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("Bearer", id="scheme only"),
        pytest.param("Bearer   ", id="scheme and spaces"),
        pytest.param("Basic YzE6cHc=", id="basic"),
        pytest.param("Token abc.def.ghi", id="token scheme"),
        pytest.param("Bearerabc.def.ghi", id="no space"),
        pytest.param("abc.def.ghi", id="raw token"),
    ],
)
def test_no_bearer_token_is_a_401_without_an_error_code(authorization: str | None) -> None:
    with pytest.raises(AuthError) as refused:
        bearer_token(authorization)

    assert (refused.value.status, refused.value.error) == (401, None)
    assert refused.value.www_authenticate == 'Bearer realm="sluiceway"'


def test_a_raw_token_is_taken_only_when_allowed(forge: Forge) -> None:
    token = forge.rs256()

    assert bearer_token(token, allow_raw=True) == token
    assert bearer_token(f"Bearer {token}", allow_raw=True) == token
    with pytest.raises(AuthError):
        bearer_token("Basic YzE6cHc=", allow_raw=True)


def test_a_challenge_never_carries_a_quote_or_backslash() -> None:
    error = AuthError(403, "insufficient_scope", 'say "hi"\\', scope='a"b')

    assert error.www_authenticate == (
        'Bearer realm="sluiceway", error="insufficient_scope", '
        'error_description="say ?hi??", scope="a?b"'
    )
