"""Opaque API tokens for services and scripts: `mwt_<id>_<secret>`.

The id (32 hex digits) is visible in listings and logs; the secret is 256 random bits. Services
store only the SHA-256 digest of the whole token and compare digests in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass

PREFIX = "mwt_"
_TOKEN = re.compile(r"^mwt_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class NewApiToken:
    token_id: str
    secret: str
    secret_sha256: str


def generate_api_token() -> NewApiToken:
    token_id = uuid.uuid4().hex
    secret = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    return NewApiToken(token_id, secret, digest(secret))


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def looks_like_api_token(token: str) -> bool:
    return token.startswith(PREFIX)


def token_id_of(token: str) -> str | None:
    """Return the visible id of a well-formed API token, or None."""
    match = _TOKEN.match(token)
    return match.group(1) if match else None


def digests_equal(secret: str, expected_sha256: str) -> bool:
    return hmac.compare_digest(digest(secret), expected_sha256)
