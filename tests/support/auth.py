"""Test credentials: a JWT issuer with keys made for this test session, and a bootstrap admin.

Services started by tests/support accept JWTs signed here and the bootstrap admin token, and
their stubs send the admin token unless a call passes its own `authorization` metadata.
`as_principal(name)` returns metadata that authenticates as any principal; `grant` binds the
roles that principal needs.
"""

from __future__ import annotations

import base64
import functools
import json
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from modelward_common.auth.config import AuthConfig
from modelward_protos.access.v1 import access_service_pb2 as access_pb

ISSUER = "https://issuer.test.modelward"
AUDIENCE = "modelward-tests"
RSA_KID = "test-rsa-1"
EC_KID = "test-ec-1"

Metadata = tuple[tuple[str, str], ...]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class LocalIssuer:
    """Keys and a JWKS file made once per test session; signs JWTs with them."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="modelward-auth-"))
        self.rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec_key = ec.generate_private_key(ec.SECP256R1())
        self.jwks_file = self.folder / "jwks.json"
        self.write_jwks()
        self.admin_token = f"mwt_{secrets.token_hex(16)}_{secrets.token_urlsafe(32)}"
        self.admin_token_file = self.folder / "admin-token"
        self.admin_token_file.write_text(self.admin_token + "\n", encoding="utf-8")
        self.admin_token_file.chmod(0o600)

    def jwks(self) -> dict[str, Any]:
        rsa_numbers = self.rsa_key.public_key().public_numbers()
        ec_numbers = self.ec_key.public_key().public_numbers()
        return {"keys": [
            {"kty": "RSA", "kid": RSA_KID, "alg": "RS256", "use": "sig", "n": _int_b64(rsa_numbers.n), "e": _int_b64(rsa_numbers.e)},
            {"kty": "EC", "kid": EC_KID, "alg": "ES256", "use": "sig", "crv": "P-256",
             "x": b64url(ec_numbers.x.to_bytes(32, "big")), "y": b64url(ec_numbers.y.to_bytes(32, "big"))},
        ]}

    def write_jwks(self) -> None:
        self.jwks_file.write_text(json.dumps(self.jwks()), encoding="utf-8")

    def mint(
        self, principal: str, *, alg: str = "RS256", kid: str | None = None, lifetime: float = 3600.0,
        header: dict[str, Any] | None = None, **claims: Any,
    ) -> str:
        """Return a signed JWT whose `sub` is `principal`; keyword arguments override claims."""
        now = int(time.time())
        body: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "sub": principal, "iat": now, "exp": now + int(lifetime)}
        body.update(claims)
        head = {"alg": alg, "typ": "JWT", "kid": kid if kid is not None else (RSA_KID if alg == "RS256" else EC_KID)}
        head.update(header or {})
        signing_input = f"{b64url(json.dumps(head).encode())}.{b64url(json.dumps(body).encode())}".encode()
        return f"{signing_input.decode()}.{b64url(self.sign(alg, signing_input))}"

    def sign(self, alg: str, data: bytes) -> bytes:
        if alg == "ES256":
            r, s = decode_dss_signature(self.ec_key.sign(data, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return self.rsa_key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def rsa_private_pem(self) -> bytes:
        return self.rsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

    def auth_config(self, **overrides: Any) -> AuthConfig:
        values: dict[str, Any] = {
            "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE, "jwks_file": str(self.jwks_file),
            "admin_token_files": (str(self.admin_token_file),),
        }
        values.update(overrides)
        return AuthConfig(**values)


@functools.cache
def issuer() -> LocalIssuer:
    return LocalIssuer()


def bearer(token: str) -> Metadata:
    return (("authorization", f"Bearer {token}"),)


def as_principal(principal: str) -> Metadata:
    """Metadata that authenticates a call as `principal` with a fresh JWT."""
    return bearer(issuer().mint(principal))


ROLES = {
    "viewer": access_pb.ROLE_VIEWER,
    "contributor": access_pb.ROLE_CONTRIBUTOR,
    "reviewer": access_pb.ROLE_REVIEWER,
    "admin": access_pb.ROLE_ADMIN,
    "serving": access_pb.ROLE_SERVING,
}


async def grant(access_stub: Any, principal: str, role: str, *, team: str = "", model: str = "") -> access_pb.RoleBinding:
    """Bind `role` to `principal` through the registry's AccessService, as the bootstrap admin."""
    binding = access_pb.RoleBinding(principal=principal, role=ROLES[role], scope=access_pb.Scope(team=team, model=model))
    return await access_stub.CreateRoleBinding(access_pb.CreateRoleBindingRequest(role_binding=binding, reason="test setup"))


async def grant_and_wait(
    registry: Any, governance: Any | None, roles: list[tuple[str, str]], timeout: float = 20.0
) -> None:
    """Bind each (principal, role) globally, then wait until governance has applied every binding."""
    import asyncio

    for principal, role in roles:
        await grant(registry.access, principal, role)
    if governance is None:
        return
    deadline = time.monotonic() + timeout
    for principal, role in roles:
        while not any(binding.role.value == role for binding in await governance.app.access.bindings_for([principal])):
            assert time.monotonic() < deadline, f"governance did not apply the binding of {principal} within {timeout} s"
            await asyncio.sleep(0.05)
            governance.app.access.invalidate()


class LocalPki:
    """A CA and certificates signed by it, written as PEM files under `folder`."""

    def __init__(self, folder: Path) -> None:
        import datetime as dt

        from cryptography import x509
        from cryptography.x509.oid import NameOID

        self.folder = folder
        self._x509, self._oid, self._dt = x509, NameOID, dt
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "modelward test CA")])
        now = dt.datetime.now(dt.UTC)
        self.ca_cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.ca_key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.ca_key, hashes.SHA256())
        )
        self.ca_file = folder / "ca.pem"
        self.ca_file.write_bytes(self.ca_cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, common_name: str, *, dns: tuple[str, ...] = (), ips: tuple[str, ...] = ()) -> tuple[Path, Path]:
        """Write a certificate and key for `common_name` and return (cert file, key file)."""
        import ipaddress

        x509, dt = self._x509, self._dt
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(self._oid.COMMON_NAME, common_name)]))
            .issuer_name(self.ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
        )
        names = [x509.DNSName(name) for name in dns] + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self.ca_key, hashes.SHA256())
        cert_file, key_file = self.folder / f"{common_name}.pem", self.folder / f"{common_name}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
        return cert_file, key_file


def error_reason(error: Any) -> str:
    """Return the ErrorInfo reason in a failed call's status details, or "" when it has none."""
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    status = rpc_status.from_call(error)
    assert status is not None, error.details()
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return str(info.reason)
    return ""
