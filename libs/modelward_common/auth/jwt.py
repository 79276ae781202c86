"""Verify OIDC-style JWTs (RS256 and ES256) against a JWKS file.

Only compact JWS with two algorithms is needed, so the parsing is done here on top of
`cryptography`, which keeps every rejection reason precise. The format follows RFC 7515, the
algorithms RFC 7518 section 3 and the registered claims RFC 7519 section 4.1.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from modelward_common.errors import Unauthenticated

logger = logging.getLogger(__name__)

SUPPORTED_ALGORITHMS = ("RS256", "ES256")
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


@dataclass(frozen=True)
class JwtSettings:
    """The issuer, audience and keys of the JWTs a service accepts."""

    issuer: str
    # Accepted when the token's `aud` is this string or a list containing it.
    audience: str
    jwks_file: str
    # Seconds of clock difference tolerated when checking `exp` and `nbf`.
    clock_skew: float = 30.0
    # Claim whose value is the principal; a value without a `kind:` prefix gets `user:`.
    principal_claim: str = "sub"
    # Claim with a list of group slugs; each becomes a `group:<slug>` principal.
    groups_claim: str = "groups"
    # Seconds between checks of the JWKS file for new keys when a token names an unknown key.
    jwks_reload_interval: float = 5.0


def _b64decode(part: str, what: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError) as error:
        raise token_error("TOKEN_MALFORMED", f"the JWT {what} is not base64url: send the token as issued") from error


def token_error(reason: str, message: str) -> Unauthenticated:
    return Unauthenticated(message, field="authorization", reason=reason)


def _int_from_b64(value: str) -> int:
    return int.from_bytes(_b64decode(value, "key parameter"), "big")


def public_key_from_jwk(jwk: dict[str, Any]) -> PublicKey:
    """Build a public key from one JWKS entry (RFC 7517); raise ValueError when unusable."""
    kty = jwk.get("kty")
    if kty == "RSA":
        return rsa.RSAPublicNumbers(_int_from_b64(jwk["e"]), _int_from_b64(jwk["n"])).public_key()
    if kty == "EC":
        if jwk.get("crv") != "P-256":
            raise ValueError(f"curve {jwk.get('crv')!r} is not supported; use P-256 for ES256")
        numbers = ec.EllipticCurvePublicNumbers(_int_from_b64(jwk["x"]), _int_from_b64(jwk["y"]), ec.SECP256R1())
        return numbers.public_key()
    raise ValueError(f"key type {kty!r} is not supported; use RSA or EC")


class JwksFile:
    """The keys of a JWKS file by key id, re-read when the file changes."""

    def __init__(self, path: str, reload_interval: float) -> None:
        self.path = Path(path)
        self.reload_interval = reload_interval
        self._keys: dict[str, PublicKey] = {}
        self._mtime = -1.0
        self._checked = 0.0
        # Grows on every reload, so verifiers drop tokens they cached under the old keys.
        self.generation = 0
        self._lock = threading.Lock()
        self.reload()

    def reload(self) -> None:
        mtime = os.stat(self.path).st_mtime
        document = json.loads(self.path.read_text(encoding="utf-8"))
        keys: dict[str, PublicKey] = {}
        for jwk in document.get("keys", []):
            kid = jwk.get("kid", "")
            try:
                keys[kid] = public_key_from_jwk(jwk)
            except (KeyError, ValueError) as error:
                logger.warning("JWKS %s: skipping key %r: %s", self.path, kid, error)
        with self._lock:
            self._keys = keys
            self._mtime = mtime
            self.generation += 1
            self._checked = time.monotonic()
        logger.info("loaded %d keys from JWKS %s", len(keys), self.path)

    def key(self, kid: str) -> PublicKey | None:
        found = self._keys.get(kid)
        if found is None and time.monotonic() - self._checked >= self.reload_interval:
            # A key rotation adds the new key to the file; pick it up without a restart.
            self._checked = time.monotonic()
            try:
                if os.stat(self.path).st_mtime != self._mtime:
                    self.reload()
            except (OSError, ValueError) as error:
                logger.warning("JWKS %s could not be re-read, keeping the old keys: %s", self.path, error)
            found = self._keys.get(kid)
        return found


class JwtVerifier:
    """Checks signature, issuer, audience, `exp` and `nbf`; caches tokens that passed."""

    def __init__(self, settings: JwtSettings, *, cache_size: int = 10_000) -> None:
        self.settings = settings
        self.keys = JwksFile(settings.jwks_file, settings.jwks_reload_interval)
        self._cache: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._cache_size = cache_size
        self._generation = self.keys.generation

    def verify(self, token: str, *, now: float | None = None) -> dict[str, Any]:
        """Return the claims of a valid token or raise Unauthenticated naming the reason."""
        at = time.time() if now is None else now
        if self._generation != self.keys.generation:
            self._cache.clear()
            self._generation = self.keys.generation
        claims = self._cache.get(token)
        if claims is None:
            claims = self._verify_signature(token)
            self._check_issuer_audience(claims)
        self._check_times(claims, at)
        self._remember(token, claims)
        return claims

    def _remember(self, token: str, claims: dict[str, Any]) -> None:
        self._cache[token] = claims
        self._cache.move_to_end(token)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _verify_signature(self, token: str) -> dict[str, Any]:
        parts = token.split(".")
        if len(parts) != 3:
            raise token_error("TOKEN_MALFORMED", f"the bearer token has {len(parts)} dot-separated parts, a JWT has 3")
        header = _json_part(parts[0], "header")
        alg = header.get("alg")
        if alg not in SUPPORTED_ALGORITHMS:
            raise token_error("TOKEN_ALGORITHM_UNSUPPORTED", f"JWT algorithm {alg!r} is not accepted; use RS256 or ES256")
        kid = str(header.get("kid", ""))
        key = self.keys.key(kid)
        if key is None:
            raise token_error("TOKEN_KEY_UNKNOWN", f"JWT key id {kid!r} is not in the configured JWKS; check the issuer's keys")
        signature = _b64decode(parts[2], "signature")
        signed = f"{parts[0]}.{parts[1]}".encode("ascii")
        if not _signature_valid(key, alg, signed, signature):
            raise token_error("TOKEN_SIGNATURE_INVALID", f"JWT signature does not verify with key {kid!r}")
        return _json_part(parts[1], "payload")

    def _check_issuer_audience(self, claims: dict[str, Any]) -> None:
        if claims.get("iss") != self.settings.issuer:
            raise token_error(
                "TOKEN_ISSUER_INVALID", f"JWT issuer {claims.get('iss')!r} is not the configured issuer {self.settings.issuer!r}"
            )
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.settings.audience not in audiences:
            raise token_error(
                "TOKEN_AUDIENCE_INVALID", f"JWT audience {audience!r} does not include {self.settings.audience!r}"
            )

    def _check_times(self, claims: dict[str, Any], at: float) -> None:
        skew = self.settings.clock_skew
        expires = claims.get("exp")
        if not isinstance(expires, int | float):
            raise token_error("TOKEN_MALFORMED", "JWT has no numeric exp claim; tokens must expire")
        if at > expires + skew:
            raise token_error("TOKEN_EXPIRED", f"JWT expired at {int(expires)} (unix seconds); get a new token")
        not_before = claims.get("nbf")
        if isinstance(not_before, int | float) and at + skew < not_before:
            raise token_error("TOKEN_NOT_YET_VALID", f"JWT is not valid before {int(not_before)} (unix seconds)")


def _json_part(part: str, what: str) -> dict[str, Any]:
    raw = _b64decode(part, what)
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as error:
        raise token_error("TOKEN_MALFORMED", f"the JWT {what} is not JSON") from error
    if not isinstance(value, dict):
        raise token_error("TOKEN_MALFORMED", f"the JWT {what} is not a JSON object")
    return value


def _signature_valid(key: PublicKey, alg: str, signed: bytes, signature: bytes) -> bool:
    try:
        if alg == "RS256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
            return True
        if alg == "ES256" and isinstance(key, ec.EllipticCurvePublicKey) and len(signature) == 64:
            # JWS carries r and s as two 32-byte big-endian integers, not DER (RFC 7518 3.4).
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            key.verify(der, signed, ec.ECDSA(hashes.SHA256()))
            return True
    except InvalidSignature:
        return False
    return False
