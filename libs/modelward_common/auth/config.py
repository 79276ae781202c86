"""Authentication, TLS and NATS security settings shared by both services, with their flags."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from modelward_common.arguments import environment_default, non_negative_float
from modelward_common.auth.jwt import JwtSettings
from modelward_common.auth.nats_options import NatsSecurity
from modelward_common.principals import PRINCIPAL_RULE, canonical_principal, is_group, is_valid_principal


@dataclass(frozen=True)
class AuthConfig:
    # False turns authentication and authorisation off: every caller is an anonymous admin.
    enabled: bool = True
    jwt_issuer: str = ""
    jwt_audience: str = ""
    jwks_file: str = ""
    # Seconds of clock difference tolerated on JWT `exp` and `nbf`.
    jwt_clock_skew: float = 30.0
    jwt_principal_claim: str = "sub"
    # Files each holding one bootstrap admin token, accepted without a role binding.
    admin_token_files: tuple[str, ...] = ()
    tls_cert_file: str = ""
    tls_key_file: str = ""
    # PEM CA of client certificates; when set, every client must present one (mutual TLS).
    tls_client_ca_file: str = ""
    # Client certificate subject CN or SAN to principal, such as ("governance", "service:governance").
    certificate_principals: tuple[tuple[str, str], ...] = ()
    # Seconds after which cached bindings and tokens are re-read, to see other replicas' changes.
    access_max_age: float = 5.0
    nats: NatsSecurity = field(default_factory=NatsSecurity)

    def jwt(self) -> JwtSettings | None:
        if not self.jwt_issuer:
            return None
        return JwtSettings(
            issuer=self.jwt_issuer, audience=self.jwt_audience, jwks_file=self.jwks_file,
            clock_skew=self.jwt_clock_skew, principal_claim=self.jwt_principal_claim,
        )

    def check(self) -> None:
        """Raise ValueError when the settings cannot work together."""
        if self.jwt_issuer and not (self.jwt_audience and self.jwks_file):
            raise ValueError("--jwt-issuer needs --jwt-audience and --jwks-file too")
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ValueError("--tls-cert and --tls-key go together; set both or neither")
        if self.tls_client_ca_file and not self.tls_cert_file:
            raise ValueError("--tls-client-ca needs --tls-cert and --tls-key: mutual TLS runs over TLS")
        if self.enabled and not (self.jwt_issuer or self.admin_token_files or self.certificate_principals):
            raise ValueError(
                "no way to authenticate an admin: set --admin-token-file, --jwt-issuer or --certificate-principal "
                "(or --auth-disabled on a machine nobody else can reach)"
            )


def add_auth_arguments(parser: argparse.ArgumentParser) -> None:
    env = environment_default
    defaults = AuthConfig()
    group = parser.add_argument_group("authentication and TLS")
    group.add_argument("--auth-disabled", action="store_true", default=env("MODELWARD_AUTH_DISABLED", "") == "1",
                       help="accept every call without credentials, as an admin; only for benchmarks and "
                            "single-user machines (env MODELWARD_AUTH_DISABLED=1)")
    group.add_argument("--jwt-issuer", default=env("MODELWARD_JWT_ISSUER", ""),
                       help="accepted `iss` of OIDC JWTs (env MODELWARD_JWT_ISSUER; default: JWTs are rejected)")
    group.add_argument("--jwt-audience", default=env("MODELWARD_JWT_AUDIENCE", ""),
                       help="required `aud` of JWTs (env MODELWARD_JWT_AUDIENCE)")
    group.add_argument("--jwks-file", default=env("MODELWARD_JWKS_FILE", ""),
                       help="JSON Web Key Set file with the issuer's RS256 or ES256 public keys (env MODELWARD_JWKS_FILE)")
    group.add_argument("--jwt-clock-skew", type=non_negative_float,
                       default=env("MODELWARD_JWT_CLOCK_SKEW", str(defaults.jwt_clock_skew)),
                       help="seconds of clock difference tolerated on exp and nbf (default %(default)s)")
    group.add_argument("--jwt-principal-claim", default=env("MODELWARD_JWT_PRINCIPAL_CLAIM", defaults.jwt_principal_claim),
                       help="JWT claim naming the caller; a value without a kind: prefix becomes user:<value> "
                            "(default %(default)s)")
    group.add_argument("--admin-token-file", action="append", default=_split(env("MODELWARD_ADMIN_TOKEN_FILE", "")),
                       help="file holding a bootstrap admin token; repeat for more (env MODELWARD_ADMIN_TOKEN_FILE, "
                            "comma-separated)")
    group.add_argument("--tls-cert", default=env("MODELWARD_TLS_CERT", ""), help="PEM server certificate; enables TLS")
    group.add_argument("--tls-key", default=env("MODELWARD_TLS_KEY", ""), help="PEM private key of --tls-cert")
    group.add_argument("--tls-client-ca", default=env("MODELWARD_TLS_CLIENT_CA", ""),
                       help="PEM CA of client certificates; every client must then present one (mutual TLS)")
    group.add_argument("--certificate-principal", action="append",
                       default=_split(env("MODELWARD_CERTIFICATE_PRINCIPALS", "")),
                       help="NAME=PRINCIPAL: a client certificate whose subject CN or a SAN is NAME acts as "
                            "PRINCIPAL, such as governance=service:governance; repeatable")
    group.add_argument("--nats-user", default=env("MODELWARD_NATS_USER", ""), help="NATS user name")
    group.add_argument("--nats-password", default=env("MODELWARD_NATS_PASSWORD", ""),
                       help="NATS password (prefer env MODELWARD_NATS_PASSWORD: flags show in process lists)")
    group.add_argument("--nats-nkey-seed-file", default=env("MODELWARD_NATS_NKEY_SEED_FILE", ""),
                       help="file with the NATS NKey seed")
    group.add_argument("--nats-creds-file", default=env("MODELWARD_NATS_CREDS_FILE", ""),
                       help="NATS .creds file (user JWT and seed)")
    group.add_argument("--nats-tls-ca", default=env("MODELWARD_NATS_TLS_CA", ""),
                       help="PEM CA of the NATS server's certificate; enables TLS to NATS")
    group.add_argument("--nats-tls-cert", default=env("MODELWARD_NATS_TLS_CERT", ""), help="PEM client certificate for NATS")
    group.add_argument("--nats-tls-key", default=env("MODELWARD_NATS_TLS_KEY", ""), help="PEM key of --nats-tls-cert")


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def auth_from_arguments(args: argparse.Namespace) -> AuthConfig:
    mappings: list[tuple[str, str]] = []
    for item in args.certificate_principal:
        name, separator, principal = item.partition("=")
        principal = canonical_principal(principal)
        if not separator or not name or not is_valid_principal(principal):
            raise SystemExit(
                f"--certificate-principal {item!r}: use NAME=PRINCIPAL with PRINCIPAL of the form {PRINCIPAL_RULE}, "
                "such as governance=service:governance"
            )
        if is_group(principal):
            raise SystemExit(
                f"--certificate-principal {item!r}: a certificate cannot act as a group, because groups cannot be "
                "deactivated; map it to a user:, service: or team: principal and bind the role to that"
            )
        mappings.append((name, principal))
    config = AuthConfig(
        enabled=not args.auth_disabled,
        jwt_issuer=args.jwt_issuer,
        jwt_audience=args.jwt_audience,
        jwks_file=args.jwks_file,
        jwt_clock_skew=args.jwt_clock_skew,
        jwt_principal_claim=args.jwt_principal_claim,
        admin_token_files=tuple(args.admin_token_file),
        tls_cert_file=args.tls_cert,
        tls_key_file=args.tls_key,
        tls_client_ca_file=args.tls_client_ca,
        certificate_principals=tuple(mappings),
        nats=NatsSecurity(
            user=args.nats_user, password=args.nats_password, nkey_seed_file=args.nats_nkey_seed_file,
            creds_file=args.nats_creds_file, tls_ca_file=args.nats_tls_ca, tls_cert_file=args.nats_tls_cert,
            tls_key_file=args.nats_tls_key,
        ),
    )
    try:
        config.check()
    except ValueError as error:
        raise SystemExit(str(error)) from error
    return config
