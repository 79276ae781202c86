"""Where the services are and how to reach them.

Each setting comes from the first source that has it:

- target: the explicit argument, else `MODELWARD_REGISTRY` / `MODELWARD_GOVERNANCE`, else
  `endpoints.json` that `modelward up` writes in its data folder;
- bearer token: the explicit argument, else `MODELWARD_TOKEN`, else the file `admin-token` in
  the data folder when it exists. The services take the caller's identity from the token.

The data folder is `MODELWARD_HOME` when set, else `~/.modelward`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from modelward_sdk.errors import ConfigurationError
from modelward_sdk.retry import RetryPolicy

Service = Literal["registry", "governance"]

TARGET_ENV = {"registry": "MODELWARD_REGISTRY", "governance": "MODELWARD_GOVERNANCE"}
TOKEN_ENV = "MODELWARD_TOKEN"
TOKEN_FILE = "admin-token"
ENDPOINTS_FILE = "endpoints.json"
# Seconds a call may take, retries included, unless the call names another timeout.
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class TlsSettings:
    """PEM-encoded certificates; every field left as None uses gRPC's default."""

    root_certificates: bytes | None = None
    private_key: bytes | None = None
    certificate_chain: bytes | None = None

    @classmethod
    def from_files(
        cls, root_certificates: str | Path | None = None, private_key: str | Path | None = None,
        certificate_chain: str | Path | None = None,
    ) -> TlsSettings:
        return cls(_read(root_certificates), _read(private_key), _read(certificate_chain))


@dataclass(frozen=True)
class ConnectionSettings:
    # gRPC target such as `127.0.0.1:50051`.
    target: str
    token: str | None = None
    # None: plaintext. A token sent over plaintext is readable on the wire, so use TLS off
    # loopback.
    tls: TlsSettings | None = None
    # Seconds a call may take, retries and backoff included.
    timeout: float = DEFAULT_TIMEOUT
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ConfigurationError(f"timeout {self.timeout} is invalid: use a number of seconds above 0")

    def metadata(self) -> tuple[tuple[str, str], ...]:
        pairs: list[tuple[str, str]] = []
        if self.token:
            pairs.append(("authorization", f"Bearer {self.token}"))
        return tuple(pairs)


def data_dir() -> Path:
    configured = os.environ.get("MODELWARD_HOME")
    return Path(configured) if configured else Path.home() / ".modelward"


def resolve_target(service: Service, explicit: str | None = None, *, home: Path | None = None) -> str:
    """Return the gRPC target of `service`, or raise ConfigurationError naming every source tried."""
    if explicit:
        return explicit
    from_env = os.environ.get(TARGET_ENV[service])
    if from_env:
        return from_env
    folder = home or data_dir()
    path = folder / ENDPOINTS_FILE
    try:
        endpoints = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(
            f"no {service} address: pass it explicitly, set {TARGET_ENV[service]}, or start the stack "
            f"with 'modelward up', which writes {path}"
        ) from None
    except (OSError, ValueError) as error:
        raise ConfigurationError(f"cannot read {path}: {error}") from error
    target = endpoints.get(service) if isinstance(endpoints, dict) else None
    if not isinstance(target, str) or not target:
        raise ConfigurationError(f"{path} has no {service} address: the service is not running")
    return target


def resolve_token(explicit: str | None = None, *, home: Path | None = None) -> str | None:
    if explicit:
        return explicit
    from_env = os.environ.get(TOKEN_ENV)
    if from_env:
        return from_env
    path = (home or data_dir()) / TOKEN_FILE
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ConfigurationError(f"cannot read the token file {path}: {error}") from error


def resolve_settings(
    service: Service,
    target: str | None = None,
    *,
    token: str | None = None,
    tls: TlsSettings | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    retry: RetryPolicy | None = None,
    home: Path | None = None,
) -> ConnectionSettings:
    return ConnectionSettings(
        target=resolve_target(service, target, home=home),
        token=resolve_token(token, home=home),
        tls=tls,
        timeout=timeout,
        retry=retry or RetryPolicy(),
    )


def _read(path: str | Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise ConfigurationError(f"cannot read certificate file {path}: {error}") from error
