"""Build a service's CallGuard and server credentials from its AuthConfig."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import grpc
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from modelward_common.auth.config import AuthConfig
from modelward_common.auth.guard import Authenticator, CallGuard, ModelResolver, read_bootstrap_token
from modelward_common.auth.roles import Rule
from modelward_common.auth.store import AccessDirectory, prepare_access_tables
from modelward_common.auth.tls import server_credentials

logger = logging.getLogger(__name__)


async def build_guard(
    config: AuthConfig,
    engine: AsyncEngine,
    service: str,
    rules: Mapping[str, Rule],
    resolve_model: ModelResolver,
    inactive_principals: sa.Select[tuple[str]],
) -> tuple[CallGuard | None, AccessDirectory]:
    """Create the access tables if needed and return the guard (None when auth is off).

    `inactive_principals` selects the deactivated principals from the service's own table.
    """
    await prepare_access_tables(engine, service)
    directory = AccessDirectory(engine, max_age=config.access_max_age, inactive_principals=inactive_principals)
    if not config.enabled:
        logger.warning("%s runs with authentication DISABLED: every caller is an admin", service)
        return None, directory
    config.check()
    authenticator = Authenticator(
        directory,
        jwt=config.jwt(),
        bootstrap_tokens=tuple(read_bootstrap_token(path) for path in config.admin_token_files),
        certificate_principals=dict(config.certificate_principals),
    )
    logger.info(
        "%s authenticates JWTs from %s, API tokens, %d bootstrap admin tokens and %d certificate mappings",
        service, config.jwt_issuer or "no issuer", len(config.admin_token_files), len(config.certificate_principals),
    )
    return CallGuard(rules, authenticator, directory, resolve_model), directory


def credentials_for(config: AuthConfig) -> grpc.ServerCredentials | None:
    if not config.tls_cert_file:
        return None
    return server_credentials(config.tls_cert_file, config.tls_key_file, config.tls_client_ca_file)
