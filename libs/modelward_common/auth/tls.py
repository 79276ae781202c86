"""TLS credentials for gRPC servers and clients, read from PEM files."""

from __future__ import annotations

from pathlib import Path

import grpc


def _read(path: str) -> bytes | None:
    return Path(path).read_bytes() if path else None


def server_credentials(cert_file: str, key_file: str, client_ca_file: str = "") -> grpc.ServerCredentials:
    """Serve TLS; with a client CA, require every client to present a certificate it signed."""
    key, cert = _read(key_file), _read(cert_file)
    assert key is not None and cert is not None
    client_ca = _read(client_ca_file)
    return grpc.ssl_server_credentials([(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None)


def channel_credentials(ca_file: str = "", cert_file: str = "", key_file: str = "") -> grpc.ChannelCredentials:
    """Client TLS trusting `ca_file` (default: the system roots), with an optional client certificate."""
    return grpc.ssl_channel_credentials(
        root_certificates=_read(ca_file), private_key=_read(key_file), certificate_chain=_read(cert_file)
    )
