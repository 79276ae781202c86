"""Authentication flags: what they accept and reject."""

from __future__ import annotations

import argparse

import pytest

from modelward_common.auth.config import AuthConfig, add_auth_arguments, auth_from_arguments


def parsed(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_auth_arguments(parser)
    return parser.parse_args(list(argv))


def test_certificate_principal_must_be_valid() -> None:
    with pytest.raises(SystemExit) as caught:
        auth_from_arguments(parsed("--admin-token-file", "x", "--certificate-principal", "governance=governance"))
    assert "governance=governance" in str(caught.value)

    config = auth_from_arguments(parsed("--admin-token-file", "x", "--certificate-principal", "governance=service:governance"))
    assert config.certificate_principals == (("governance", "service:governance"),)


def test_certificate_principal_not_group() -> None:
    with pytest.raises(SystemExit, match="a certificate cannot act as a group"):
        auth_from_arguments(parsed("--admin-token-file", "x", "--certificate-principal", "scorer=group:ops"))
    config = auth_from_arguments(parsed("--admin-token-file", "x", "--certificate-principal", "scorer=user:Ana@Example.com"))
    assert config.certificate_principals == (("scorer", "user:ana@example.com"),)


def test_auth_needs_some_admin_credential() -> None:
    with pytest.raises(SystemExit) as caught:
        auth_from_arguments(parsed())
    assert "--admin-token-file" in str(caught.value)


def test_auth_disabled_needs_nothing() -> None:
    assert auth_from_arguments(parsed("--auth-disabled")).enabled is False


@pytest.mark.parametrize(("overrides", "fragment"), [
    ({"jwt_issuer": "https://id.example.com"}, "--jwt-audience"),
    ({"tls_cert_file": "cert.pem", "admin_token_files": ("x",)}, "--tls-key"),
    ({"tls_client_ca_file": "ca.pem", "admin_token_files": ("x",)}, "--tls-cert"),
])
def test_inconsistent_settings_rejected(overrides: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        AuthConfig(**overrides).check()  # type: ignore[arg-type]
