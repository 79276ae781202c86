"""JWT verification and API token format, without a server."""

from __future__ import annotations

import json
import os
import time

import pytest

from modelward_common.auth import api_tokens
from modelward_common.auth.jwt import JwtSettings, JwtVerifier
from modelward_common.errors import Unauthenticated
from tests.support.auth import AUDIENCE, ISSUER, b64url, issuer


@pytest.fixture
def verifier() -> JwtVerifier:
    return JwtVerifier(JwtSettings(issuer=ISSUER, audience=AUDIENCE, jwks_file=str(issuer().jwks_file), clock_skew=30))


def reason_of(verifier: JwtVerifier, token: str, **kwargs: float) -> str:
    with pytest.raises(Unauthenticated) as caught:
        verifier.verify(token, **kwargs)
    assert token not in caught.value.message
    return caught.value.reason


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_valid_token_returns_claims(verifier, alg) -> None:
    claims = verifier.verify(issuer().mint("user:ana@example.com", alg=alg))
    assert claims["sub"] == "user:ana@example.com"


def test_expired_token(verifier) -> None:
    token = issuer().mint("user:ana@example.com", lifetime=-120)
    assert reason_of(verifier, token) == "TOKEN_EXPIRED"


def test_expiry_within_clock_skew_accepted(verifier) -> None:
    token = issuer().mint("user:ana@example.com", lifetime=-10)
    assert verifier.verify(token)["sub"] == "user:ana@example.com"


def test_cached_token_still_expires(verifier) -> None:
    token = issuer().mint("user:ana@example.com", lifetime=60)
    verifier.verify(token)
    assert reason_of(verifier, token, now=time.time() + 200) == "TOKEN_EXPIRED"


def test_not_yet_valid_token(verifier) -> None:
    token = issuer().mint("user:ana@example.com", nbf=int(time.time()) + 600)
    assert reason_of(verifier, token) == "TOKEN_NOT_YET_VALID"


def test_not_before_within_skew_accepted(verifier) -> None:
    token = issuer().mint("user:ana@example.com", nbf=int(time.time()) + 10)
    assert verifier.verify(token)


def test_missing_exp_rejected(verifier) -> None:
    token = issuer().mint("user:ana@example.com", exp=None)
    assert reason_of(verifier, token) == "TOKEN_MALFORMED"


def test_wrong_audience(verifier) -> None:
    assert reason_of(verifier, issuer().mint("user:ana@example.com", aud="other")) == "TOKEN_AUDIENCE_INVALID"


def test_audience_list_accepted(verifier) -> None:
    assert verifier.verify(issuer().mint("user:ana@example.com", aud=["other", AUDIENCE]))


def test_wrong_issuer(verifier) -> None:
    assert reason_of(verifier, issuer().mint("user:ana@example.com", iss="https://evil.test")) == "TOKEN_ISSUER_INVALID"


def test_unknown_key_id(verifier) -> None:
    assert reason_of(verifier, issuer().mint("user:ana@example.com", kid="retired")) == "TOKEN_KEY_UNKNOWN"


def test_tampered_payload(verifier) -> None:
    header, _, signature = issuer().mint("user:ana@example.com").split(".")
    forged = b64url(json.dumps({"iss": ISSUER, "aud": AUDIENCE, "sub": "user:root@example.com", "exp": time.time() + 60}).encode())
    assert reason_of(verifier, f"{header}.{forged}.{signature}") == "TOKEN_SIGNATURE_INVALID"


def test_algorithm_none_rejected(verifier) -> None:
    header = b64url(json.dumps({"alg": "none", "kid": "test-rsa-1"}).encode())
    body = b64url(json.dumps({"iss": ISSUER, "aud": AUDIENCE, "sub": "user:a@b.c", "exp": time.time() + 60}).encode())
    assert reason_of(verifier, f"{header}.{body}.") == "TOKEN_ALGORITHM_UNSUPPORTED"


def test_key_type_must_match_algorithm(verifier) -> None:
    # An ES256 header naming the RSA key must not verify with it.
    token = issuer().mint("user:ana@example.com", alg="ES256", kid="test-rsa-1")
    assert reason_of(verifier, token) == "TOKEN_SIGNATURE_INVALID"


@pytest.mark.parametrize("token", ["abc", "a.b", "a.b.c.d", "!!.??.**", f"{b64url(b'[1]')}.{b64url(b'{}')}.x"])
def test_malformed_tokens(verifier, token) -> None:
    assert reason_of(verifier, token) == "TOKEN_MALFORMED"


def test_key_added_to_jwks_is_picked_up(tmp_path) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [issuer().jwks()["keys"][0]]}))
    settings = JwtSettings(issuer=ISSUER, audience=AUDIENCE, jwks_file=str(jwks), jwks_reload_interval=0)
    rotating = JwtVerifier(settings)
    token = issuer().mint("user:ana@example.com", alg="ES256")
    assert reason_of(rotating, token) == "TOKEN_KEY_UNKNOWN"

    jwks.write_text(json.dumps(issuer().jwks()))
    os.utime(jwks, (time.time() + 5, time.time() + 5))
    assert rotating.verify(token)["sub"] == "user:ana@example.com"


def test_api_token_shape_and_digest() -> None:
    created = api_tokens.generate_api_token()
    assert api_tokens.token_id_of(created.secret) == created.token_id
    assert created.secret_sha256 == api_tokens.digest(created.secret)
    assert created.secret not in created.secret_sha256
    assert api_tokens.digests_equal(created.secret, created.secret_sha256)
    assert not api_tokens.digests_equal(created.secret + "x", created.secret_sha256)


@pytest.mark.parametrize("text", ["mwt_", "mwt_abc_def", "mwt_" + "g" * 32 + "_" + "a" * 43, "xyz_" + "a" * 32 + "_" + "a" * 43])
def test_api_token_malformed(text) -> None:
    assert api_tokens.token_id_of(text) is None
