"""Credentials and TLS for NATS connections, shared by the relay and the consumer."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class NatsSecurity:
    """How to authenticate to NATS; every field is optional and empty means unused."""

    user: str = ""
    password: str = ""
    # File with an NKey seed (`SU...`), for NKey authentication.
    nkey_seed_file: str = ""
    # A `.creds` file with a user JWT and its NKey seed, for decentralised authentication.
    # NOTE: user/password and NKey seeds are tested against a real nats-server; creds files and
    # NATS TLS are handed to nats-py as its docs describe, but no test covers them yet.
    creds_file: str = ""
    # PEM CA that signed the server's certificate; set to connect with TLS.
    tls_ca_file: str = ""
    # Client certificate and key, when the server verifies clients.
    tls_cert_file: str = ""
    tls_key_file: str = ""

    def connect_options(self) -> dict[str, Any]:
        """Return keyword arguments for nats.connect()."""
        options: dict[str, Any] = {}
        if self.user:
            options["user"] = self.user
            options["password"] = self.password
        if self.nkey_seed_file:
            options["nkeys_seed"] = self.nkey_seed_file
        if self.creds_file:
            options["user_credentials"] = self.creds_file
        if self.tls_ca_file or self.tls_cert_file:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.tls_ca_file or None)
            if self.tls_cert_file:
                context.load_cert_chain(self.tls_cert_file, self.tls_key_file or None)
            options["tls"] = context
        return options

    def describe(self) -> str:
        """Name the mechanisms in use, for the start-up log; never the secrets."""
        parts = [name for name, value in (
            ("user/password", self.user), ("nkey", self.nkey_seed_file), ("creds file", self.creds_file),
            ("TLS", self.tls_ca_file or self.tls_cert_file),
        ) if value]
        return ", ".join(parts) or "no credentials, no TLS"
