"""OAuth2 client credentials: signing keys, client secrets, token requests, issuing."""

from __future__ import annotations

import base64
import json
import re
import stat
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from sluiceway.cognito.authorizer import verify_access_token
from sluiceway.cognito.clients import (
    OAuthClient,
    hash_secret,
    new_client_id,
    new_client_secret,
    verify_secret,
)
from sluiceway.cognito.errors import AuthError, OAuthError
from sluiceway.cognito.keys import PublicKeys, SigningKeys, jwk_thumbprint
from sluiceway.cognito.token_endpoint import (
    NO_STORE_HEADERS,
    TokenRequest,
    grant,
    issue_access_token,
    parse_token_request,
    token_response,
)

NOW = 1_700_000_000.0
ISSUER = "http://localhost:4566/local_pool"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
GRANT = b"grant_type=client_credentials"

# RFC 7638 §3.1: this key's thumbprint is NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs.
RFC_7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
    "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_F"
    "DW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
    "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
)


@pytest.fixture
def keys(tmp_path: Path) -> SigningKeys:
    return SigningKeys(tmp_path / "oauth" / "keys")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def issue(
    keys: SigningKeys, *, now: float = NOW, scopes: tuple[str, ...] = ("devices/send",)
) -> str:
    token, _ = issue_access_token(keys, issuer=ISSUER, client_id="c1", scopes=scopes, now=now)
    return token


def verify(token: str, keys: SigningKeys, *, now: float = NOW) -> dict[str, object]:
    return verify_access_token(
        token,
        keys,
        issuer=ISSUER,
        allowed_client_ids=None,
        required_scopes=("devices/send",),
        now=now,
    )


# --- signing keys -------------------------------------------------------------------------


def test_the_first_key_is_made_on_first_use_readable_by_its_owner_only(keys: SigningKeys) -> None:
    assert not keys.directory.exists()

    kid = keys.active.kid

    files = list(keys.directory.iterdir())
    assert [f.name for f in files] == [f"000001-{kid}.pem"]
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(keys.directory.stat().st_mode) & 0o077 == 0
    assert files[0].read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_kid_is_the_rfc_7638_thumbprint() -> None:
    public_key = rsa.RSAPublicNumbers(65537, int.from_bytes(unb64url(RFC_7638_N))).public_key()

    assert jwk_thumbprint(public_key) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_kid_and_jwks_are_the_same_after_a_reload(keys: SigningKeys) -> None:
    first = keys.jwks()

    reloaded = SigningKeys(keys.directory)

    assert reloaded.active.kid == keys.active.kid
    assert reloaded.jwks() == first


def test_jwks_describes_each_key_as_an_rs256_signing_jwk(keys: SigningKeys) -> None:
    (jwk,) = keys.jwks()["keys"]

    numbers = keys.active.public_key.public_numbers()
    assert set(jwk) == {"kty", "kid", "use", "alg", "n", "e"}
    assert (jwk["kty"], jwk["use"], jwk["alg"], jwk["kid"]) == (
        "RSA",
        "sig",
        "RS256",
        keys.active.kid,
    )
    assert jwk["e"] == "AQAB"
    assert re.fullmatch(r"[A-Za-z0-9_-]+", jwk["n"])  # base64url, no padding
    assert len(unb64url(jwk["n"])) == 256
    assert int.from_bytes(unb64url(jwk["n"])) == numbers.n


def test_rotate_makes_a_new_active_key_and_keeps_the_old_one_in_jwks(keys: SigningKeys) -> None:
    old = keys.active

    new = keys.rotate()

    assert keys.active == new
    assert new.kid != old.kid
    assert new.serial == old.serial + 1
    assert [jwk["kid"] for jwk in keys.jwks()["keys"]] == [new.kid, old.kid]


def test_a_token_signed_before_a_rotation_still_verifies(keys: SigningKeys) -> None:
    token = issue(keys)
    keys.rotate()

    assert verify(token, keys, now=NOW + 60)["client_id"] == "c1"
    assert json.loads(unb64url(issue(keys).split(".")[0]))["kid"] == keys.active.kid


def test_a_retired_key_leaves_jwks_and_its_tokens_are_refused(keys: SigningKeys) -> None:
    old = keys.active
    token = issue(keys)
    keys.rotate()

    keys.retire(old.kid)

    assert [jwk["kid"] for jwk in keys.jwks()["keys"]] == [keys.active.kid]
    assert len(list(keys.directory.iterdir())) == 1
    with pytest.raises(AuthError) as refused:
        verify(token, keys)
    assert refused.value.status == 401


def test_the_active_key_cannot_be_retired(keys: SigningKeys) -> None:
    with pytest.raises(ValueError, match="active key"):
        keys.retire(keys.active.kid)


def test_retiring_an_unknown_key_is_a_key_error(keys: SigningKeys) -> None:
    assert keys.active.kid != "no-such-kid"
    with pytest.raises(KeyError):
        keys.retire("no-such-kid")


def test_a_rotation_or_retirement_by_another_process_is_seen_at_once(keys: SigningKeys) -> None:
    other = SigningKeys(keys.directory)
    first = keys.active
    token = issue(keys)

    second = other.rotate()
    assert keys.active == second
    other.retire(first.kid)

    assert keys.public_key(first.kid) is None
    with pytest.raises(AuthError):
        verify(token, keys)


def test_a_half_written_temporary_file_is_ignored(keys: SigningKeys) -> None:
    kid = keys.active.kid
    (keys.directory / ".tmp-crashed.tmp").write_bytes(b"-----BEGIN PRIVATE KEY-----\nMIIE")

    reloaded = SigningKeys(keys.directory)

    assert [jwk["kid"] for jwk in reloaded.jwks()["keys"]] == [kid]


def test_a_key_file_named_for_another_kid_is_refused(keys: SigningKeys) -> None:
    kid = keys.active.kid
    (keys.directory / f"000001-{kid}.pem").rename(keys.directory / f"000001-{'A' * 43}.pem")

    with pytest.raises(ValueError, match="thumbprint"):
        SigningKeys(keys.directory).jwks()


def test_a_jwks_document_verifies_tokens_like_the_keys_themselves(keys: SigningKeys) -> None:
    token = issue(keys)
    document = json.loads(json.dumps(keys.jwks()))

    claims = verify_access_token(
        token, document, issuer=ISSUER, allowed_client_ids=["c1"], required_scopes=(), now=NOW
    )

    assert claims["sub"] == "c1"


def test_a_jwks_document_keeps_rsa_signing_keys_only(keys: SigningKeys) -> None:
    rsa_key = keys.jwks()["keys"][0]
    document = {
        "keys": [
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
            {**rsa_key, "kid": "enc", "use": "enc"},
            {**rsa_key, "kid": "rs512", "alg": "RS512"},
            rsa_key,
        ]
    }

    public_keys = PublicKeys.from_jwks(document)

    assert public_keys.public_key(rsa_key["kid"]) is not None
    assert [public_keys.public_key(kid) for kid in ("ec", "enc", "rs512")] == [None, None, None]


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        pytest.param({}, "'keys' array", id="no keys array"),
        pytest.param({"keys": ["x"]}, "object", id="key not an object"),
        pytest.param({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]}, "kid", id="no kid"),
        pytest.param(
            {"keys": [{"kty": "RSA", "kid": "k", "n": "A=", "e": "AQAB"}]}, "base64url", id="bad n"
        ),
    ],
)
def test_a_malformed_jwks_document_is_refused(document: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        PublicKeys.from_jwks(document)


def test_a_jwks_key_shorter_than_2048_bits_is_refused() -> None:
    short = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    n = base64.urlsafe_b64encode(short.public_numbers().n.to_bytes(128)).rstrip(b"=").decode()

    with pytest.raises(ValueError, match="2048"):
        PublicKeys.from_jwks({"keys": [{"kty": "RSA", "kid": "k", "n": n, "e": "AQAB"}]})


# --- client secrets -----------------------------------------------------------------------


def test_a_hashed_secret_verifies_only_with_the_same_secret() -> None:
    stored = hash_secret("s3cret")

    assert verify_secret("s3cret", stored)
    assert not verify_secret("s3cret ", stored)
    assert not verify_secret("", stored)


def test_hashes_are_salted_and_name_their_parameters() -> None:
    first, second = hash_secret("same"), hash_secret("same")

    assert first != second
    assert first.startswith("$scrypt$ln=14,r=8,p=1$")
    assert "same" not in first
    assert verify_secret("same", first)
    assert verify_secret("same", second)


@pytest.mark.parametrize(
    "stored",
    ["plain", "$pbkdf2$i=1$AAAA$AAAA", "$scrypt$ln=30,r=8,p=1$AAAA$AAAA", ""],
)
def test_a_stored_value_that_is_not_a_hash_is_an_error_not_a_mismatch(stored: str) -> None:
    with pytest.raises(ValueError, match=r"hash_secret|out of range"):
        verify_secret("x", stored)


def test_client_ids_and_secrets_have_cognitos_shape() -> None:
    ids = {new_client_id() for _ in range(50)}
    secrets = {new_client_secret() for _ in range(50)}

    assert len(ids) == len(secrets) == 50
    assert all(re.fullmatch(r"[a-z0-9]{26}", client_id) for client_id in ids)
    assert all(re.fullmatch(r"[a-z0-9]{51}", secret) for secret in secrets)


# --- token requests -----------------------------------------------------------------------


def test_a_basic_authenticated_request_parses() -> None:
    request = parse_token_request(
        "POST", {**FORM, "Authorization": basic("c1", "pw")}, GRANT + b"&scope=a/b+c/d"
    )

    assert request == TokenRequest("c1", "pw", ("a/b", "c/d"), basic=True)


def test_a_form_authenticated_request_parses() -> None:
    body = GRANT + b"&client_id=c1&client_secret=pw"

    request = parse_token_request("POST", FORM, body)

    assert request == TokenRequest("c1", "pw", None, basic=False)


def test_basic_credentials_are_form_urlencoded() -> None:
    # RFC 6749 §2.3.1: "a b" and "p:w%" travel as "a+b" and "p%3Aw%25".
    headers = {**FORM, "authorization": basic("a+b", "p%3Aw%25")}

    request = parse_token_request("POST", headers, GRANT)

    assert (request.client_id, request.client_secret) == ("a b", "p:w%")


def test_the_basic_scheme_name_is_case_insensitive() -> None:
    headers = {**FORM, "Authorization": basic("c1", "pw").replace("Basic", "bASIC")}

    assert parse_token_request("POST", headers, GRANT).client_id == "c1"


def test_parameters_may_come_in_the_query_string_as_in_the_cognito_examples() -> None:
    # The seed's curl: POST /oauth2/token?grant_type=client_credentials&scope=... with --user.
    query = b"grant_type=client_credentials&scope=sibesg/sendqrcode"

    request = parse_token_request(
        "POST", {**FORM, "Authorization": basic("c1", "pw")}, b"", query=query
    )

    assert request.scopes == ("sibesg/sendqrcode",)


def test_a_matching_client_id_beside_basic_is_allowed() -> None:
    headers = {**FORM, "Authorization": basic("c1", "pw")}

    assert parse_token_request("POST", headers, GRANT + b"&client_id=c1").client_id == "c1"


def test_empty_and_unknown_parameters_are_treated_as_omitted() -> None:
    body = GRANT + b"&scope=&client_id=c1&client_secret=pw&audience=x&audience=y"

    assert parse_token_request("POST", FORM, body).scopes is None


def test_a_utf8_charset_is_accepted() -> None:
    headers = {"content-type": 'Application/X-WWW-Form-Urlencoded; charset="UTF-8"'}

    assert parse_token_request("POST", headers, GRANT + b"&client_id=c&client_secret=s")


def test_repeated_scopes_are_kept_once_in_order() -> None:
    body = GRANT + b"&client_id=c&client_secret=s&scope=b+a++b"

    assert parse_token_request("POST", FORM, body).scopes == ("b", "a")


CREDENTIALS = b"&client_id=c1&client_secret=pw"


@pytest.mark.parametrize(
    ("method", "headers", "body", "query", "error", "status"),
    [
        pytest.param("GET", FORM, GRANT + CREDENTIALS, b"", "invalid_request", 405, id="not POST"),
        pytest.param("POST", {}, GRANT + CREDENTIALS, b"", "invalid_request", 400, id="no type"),
        pytest.param(
            "POST",
            {"Content-Type": "application/json"},
            b'{"grant_type": "client_credentials"}',
            b"",
            "invalid_request",
            400,
            id="json body",
        ),
        pytest.param(
            "POST",
            {"Content-Type": "application/x-www-form-urlencoded; charset=latin-1"},
            GRANT + CREDENTIALS,
            b"",
            "invalid_request",
            400,
            id="not utf-8",
        ),
        pytest.param("POST", FORM, CREDENTIALS[1:], b"", "invalid_request", 400, id="no grant"),
        pytest.param(
            "POST",
            FORM,
            b"grant_type=" + CREDENTIALS,
            b"",
            "invalid_request",
            400,
            id="empty grant",
        ),
        pytest.param(
            "POST",
            FORM,
            b"grant_type=password" + CREDENTIALS,
            b"",
            "unsupported_grant_type",
            400,
            id="password grant",
        ),
        pytest.param(
            "POST",
            FORM,
            GRANT + b"&" + GRANT + CREDENTIALS,
            b"",
            "invalid_request",
            400,
            id="grant twice",
        ),
        pytest.param(
            "POST",
            FORM,
            GRANT + b"&scope=a&scope=b" + CREDENTIALS,
            b"",
            "invalid_request",
            400,
            id="scope twice",
        ),
        pytest.param(
            "POST",
            FORM,
            GRANT + CREDENTIALS + b"&client_id=c2",
            b"",
            "invalid_request",
            400,
            id="client_id twice",
        ),
        pytest.param(
            "POST", FORM, GRANT + CREDENTIALS, GRANT, "invalid_request", 400, id="body and query"
        ),
        pytest.param(
            "POST",
            FORM,
            GRANT + b"&client_id=c1",
            b"client_secret=pw",
            "invalid_request",
            400,
            id="secret in query",
        ),
        pytest.param("POST", FORM, b"grant_type", b"", "invalid_request", 400, id="no equals"),
        pytest.param("POST", FORM, GRANT + b"&&x=1", b"", "invalid_request", 400, id="empty field"),
        pytest.param("POST", FORM, GRANT + b"&scope=%FF", b"", "invalid_request", 400, id="bad %"),
        pytest.param(
            "POST", FORM, GRANT + b"\xff", b"", "invalid_request", 400, id="not utf-8 body"
        ),
        pytest.param(
            "POST",
            FORM,
            GRANT + CREDENTIALS + b"&scope=" + b"a" * 16 * 1024,
            b"",
            "invalid_request",
            400,
            id="body too long",
        ),
        pytest.param(
            "POST",
            FORM,
            GRANT + b"&x=1" * 40 + CREDENTIALS,
            b"",
            "invalid_request",
            400,
            id="too many fields",
        ),
        pytest.param(
            "POST",
            FORM,
            GRANT + b"&scope=a%22b" + CREDENTIALS,
            b"",
            "invalid_scope",
            400,
            id="scope with a quote",
        ),
        pytest.param(
            "POST",
            FORM,
            GRANT + b"&scope=+" + CREDENTIALS,
            b"",
            "invalid_scope",
            400,
            id="blank scope",
        ),
        pytest.param("POST", FORM, GRANT, b"", "invalid_client", 401, id="no credentials"),
        pytest.param(
            "POST", FORM, GRANT + b"&client_id=c1", b"", "invalid_client", 400, id="no secret"
        ),
        pytest.param(
            "POST", FORM, GRANT + b"&client_secret=pw", b"", "invalid_client", 400, id="no id"
        ),
    ],
)
def test_a_malformed_token_request_is_refused(
    method: str, headers: dict[str, str], body: bytes, query: bytes, error: str, status: int
) -> None:
    with pytest.raises(OAuthError) as refused:
        parse_token_request(method, headers, body, query=query)

    assert (refused.value.error, refused.value.status) == (error, status)
    assert refused.value.body() == {"error": error, "error_description": refused.value.description}


@pytest.mark.parametrize(
    ("authorization", "body", "error", "status"),
    [
        pytest.param(
            basic("c1", "pw"), GRANT + b"&client_secret=pw", "invalid_request", 400, id="both"
        ),
        pytest.param(
            basic("c1", "pw"),
            GRANT + b"&client_id=c2",
            "invalid_request",
            400,
            id="other client_id",
        ),
        pytest.param("Basic !!!!", GRANT, "invalid_request", 400, id="not base64"),
        pytest.param("Basic YzE=", GRANT, "invalid_request", 400, id="no colon"),
        pytest.param(basic("", "pw"), GRANT, "invalid_request", 400, id="empty client id"),
        pytest.param(
            "Basic " + base64.b64encode(b"\xff:pw").decode(),
            GRANT,
            "invalid_request",
            400,
            id="not utf-8",
        ),
        pytest.param(basic("c1", "%FF"), GRANT, "invalid_request", 400, id="bad percent"),
        pytest.param("Bearer abc", GRANT, "invalid_client", 401, id="other scheme"),
        pytest.param("", GRANT, "invalid_client", 401, id="empty header"),
    ],
)
def test_a_bad_authorization_header_is_refused(
    authorization: str, body: bytes, error: str, status: int
) -> None:
    with pytest.raises(OAuthError) as refused:
        parse_token_request("POST", {**FORM, "Authorization": authorization}, body)

    assert (refused.value.error, refused.value.status) == (error, status)


def test_a_401_challenges_for_basic_and_a_405_names_post() -> None:
    with pytest.raises(OAuthError) as unauthenticated:
        parse_token_request("POST", FORM, GRANT)
    with pytest.raises(OAuthError) as wrong_method:
        parse_token_request("PUT", FORM, GRANT)

    assert unauthenticated.value.headers == (("WWW-Authenticate", 'Basic realm="sluiceway"'),)
    assert wrong_method.value.headers == (("Allow", "POST"),)


# --- granting -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client() -> OAuthClient:
    return OAuthClient("c1", hash_secret("pw"), ("devices/send", "devices/read"))


def request(
    scopes: tuple[str, ...] | None = None, *, secret: str = "pw", basic: bool = True
) -> TokenRequest:
    return TokenRequest("c1", secret, scopes, basic)


def test_a_request_without_scope_gets_all_the_clients_scopes(client: OAuthClient) -> None:
    assert grant(request(), client) == ("devices/send", "devices/read")


def test_a_request_gets_the_scopes_it_names(client: OAuthClient) -> None:
    assert grant(request(("devices/read",)), client) == ("devices/read",)


def test_a_scope_the_client_may_not_have_is_invalid_scope(client: OAuthClient) -> None:
    with pytest.raises(OAuthError) as refused:
        grant(request(("devices/read", "devices/admin")), client)

    assert (refused.value.error, refused.value.status) == ("invalid_scope", 400)
    assert "devices/admin" in refused.value.description


def test_a_wrong_secret_over_basic_is_a_401_with_a_basic_challenge(client: OAuthClient) -> None:
    with pytest.raises(OAuthError) as refused:
        grant(request(secret="nope"), client)

    assert (refused.value.error, refused.value.status) == ("invalid_client", 401)
    assert refused.value.headers == (("WWW-Authenticate", 'Basic realm="sluiceway"'),)


def test_a_wrong_secret_in_the_body_is_a_400(client: OAuthClient) -> None:
    with pytest.raises(OAuthError) as refused:
        grant(request(secret="nope", basic=False), client)

    assert (refused.value.error, refused.value.status, refused.value.headers) == (
        "invalid_client",
        400,
        (),
    )


def test_an_unknown_client_is_invalid_client() -> None:
    with pytest.raises(OAuthError) as refused:
        grant(request(), None)

    assert refused.value.error == "invalid_client"


def test_a_client_without_the_client_credentials_flow_is_unauthorized(client: OAuthClient) -> None:
    code_only = OAuthClient("c1", client.secret_hash, ("devices/send",), ("code",))

    with pytest.raises(OAuthError) as refused:
        grant(request(), code_only)

    assert refused.value.error == "unauthorized_client"


def test_a_client_with_no_scopes_gets_no_token(client: OAuthClient) -> None:
    with pytest.raises(OAuthError) as refused:
        grant(request(), OAuthClient("c1", client.secret_hash, ()))

    assert refused.value.error == "invalid_scope"


# --- issuing ------------------------------------------------------------------------------


def test_an_access_token_carries_exactly_cognitos_claims(keys: SigningKeys) -> None:
    token, expires_in = issue_access_token(
        keys, issuer=ISSUER, client_id="c1", scopes=["devices/send", "devices/read"], now=NOW + 0.7
    )

    header, payload, signature = token.split(".")
    assert json.loads(unb64url(header)) == {"kid": keys.active.kid, "alg": "RS256"}
    claims = json.loads(unb64url(payload))
    jti = claims.pop("jti")
    assert uuid.UUID(jti).version == 4
    assert claims == {
        "sub": "c1",
        "token_use": "access",
        "scope": "devices/send devices/read",
        "auth_time": 1_700_000_000,
        "iss": ISSUER,
        "exp": 1_700_003_600,
        "iat": 1_700_000_000,
        "version": 2,
        "client_id": "c1",
    }
    assert list(json.loads(unb64url(payload))) == [
        "sub", "token_use", "scope", "auth_time", "iss", "exp", "iat", "version", "jti", "client_id"
    ]  # fmt: skip
    assert len(unb64url(signature)) == 256
    assert expires_in == 3600


def test_each_token_has_its_own_jti(keys: SigningKeys) -> None:
    first, second = (json.loads(unb64url(issue(keys).split(".")[1])) for _ in range(2))

    assert first["jti"] != second["jti"]


def test_the_lifetime_is_the_clients_within_cognitos_range(keys: SigningKeys) -> None:
    token, expires_in = issue_access_token(
        keys, issuer=ISSUER, client_id="c1", scopes=["a"], now=NOW, lifetime=300
    )

    assert expires_in == 300
    assert json.loads(unb64url(token.split(".")[1]))["exp"] == NOW + 300
    for lifetime in (299, 86_401):
        with pytest.raises(ValueError, match="seconds"):
            issue_access_token(
                keys, issuer=ISSUER, client_id="c1", scopes=["a"], now=NOW, lifetime=lifetime
            )


def test_the_success_body_is_a_bearer_token_response() -> None:
    assert token_response("abc", 3600) == {
        "access_token": "abc",
        "expires_in": 3600,
        "token_type": "Bearer",
    }
    assert dict(NO_STORE_HEADERS) == {"Cache-Control": "no-store", "Pragma": "no-cache"}
