"""Registry settings from flags and environment variables (flags win)."""

from __future__ import annotations

import argparse
import secrets
from dataclasses import dataclass, field

from modelward_common.arguments import (
    database_url_argument,
    environment_default,
    float_between,
    int_between,
    name_environment_variables,
    non_negative_float,
    non_negative_int,
)
from modelward_common.auth.config import AuthConfig, add_auth_arguments, auth_from_arguments
from modelward_common.limits import ServerLimits, add_limit_arguments, limits_from_arguments
from modelward_protos.registry.v1 import resources_pb2 as res
from modelward_registry.adapters.alias_cache import AliasCacheSettings

_STAGES = {"STAGING": res.STAGE_STAGING, "PRODUCTION": res.STAGE_PRODUCTION, "ARCHIVED": res.STAGE_ARCHIVED}


@dataclass(frozen=True)
class RegistryConfig:
    listen: str = "127.0.0.1:50051"
    database_url: str = "sqlite+aiosqlite:///registry.sqlite"
    nats_url: str = "nats://127.0.0.1:4222"
    # JetStream stream that receives the registry's events.
    stream_name: str = "MODELWARD_REGISTRY"
    # First token of every subject: `<subject_prefix>.registry.v1.<Event>`.
    subject_prefix: str = "modelward"
    # CloudEvents `source` of every event.
    event_source: str = "urn:modelward:registry"
    # Seconds that in-flight calls may take to finish on shutdown.
    shutdown_grace: float = 10.0
    # Key that signs page tokens; replicas behind one load balancer must share it.
    page_token_key: str = ""
    # Stages a transition into waits for governance's approval. Empty: none is governed, for a
    # registry that runs without the governance service.
    governed_stages: tuple[str, ...] = ("PRODUCTION",)
    # JetStream stream of the governance service, whose promotion decisions the registry applies.
    governance_stream_name: str = "MODELWARD_GOVERNANCE"
    # CloudEvents `source` of governance's events; decisions with another source are parked.
    governance_event_source: str = "urn:modelward:governance"
    log_level: str = "INFO"
    # Message size, concurrency and per-principal rate limits of the gRPC server.
    limits: ServerLimits = field(default_factory=ServerLimits)
    # PEM file with the Ed25519 private key that signs audit exports; empty: exports are unsigned.
    audit_signing_key_file: str = ""
    # When false, no relay runs in this process (another replica or a test publishes).
    run_relay: bool = True
    # Processes that serve on the listening port together (see workers.py); more than 1 needs PostgreSQL.
    workers: int = 1
    # Let other processes of this user listen on the same port; set for the workers.
    reuse_port: bool = False
    db_pool_size: int = 10
    # The in-memory cache of ResolveAlias results; see adapters/alias_cache.py.
    alias_cache: AliasCacheSettings = field(default_factory=AliasCacheSettings)
    # Credentials, TLS and NATS security; authentication is on unless auth.enabled is False.
    auth: AuthConfig = field(default_factory=AuthConfig)

    def governed_stage_values(self) -> frozenset[int]:
        return frozenset(_STAGES[name] for name in self.governed_stages)

    def token_key(self) -> bytes:
        return self.page_token_key.encode() if self.page_token_key else _PROCESS_TOKEN_KEY


MAX_WORKERS = 64

# Used when no key is configured: tokens then stay valid only within this process.
_PROCESS_TOKEN_KEY = secrets.token_bytes(32)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = RegistryConfig()
    env = environment_default
    parser.add_argument("--listen", default=env("MODELWARD_REGISTRY_LISTEN", defaults.listen),
                        help="host:port of the gRPC server (env MODELWARD_REGISTRY_LISTEN, default %(default)s)")
    parser.add_argument("--workers", type=int_between(1, MAX_WORKERS),
                        default=env("MODELWARD_REGISTRY_WORKERS", str(defaults.workers)),
                        help="processes serving on the listening port together, each on its own core; more than 1 "
                             "needs a PostgreSQL database (env MODELWARD_REGISTRY_WORKERS, default %(default)s)")
    parser.add_argument("--database-url", type=database_url_argument, default=env("MODELWARD_REGISTRY_DATABASE_URL", defaults.database_url),
                        help="SQLAlchemy URL, postgresql+asyncpg://... or sqlite+aiosqlite:///path "
                             "(env MODELWARD_REGISTRY_DATABASE_URL, default %(default)s)")
    parser.add_argument("--nats-url", default=env("MODELWARD_NATS_URL", defaults.nats_url),
                        help="NATS server URL (env MODELWARD_NATS_URL, default %(default)s)")
    parser.add_argument("--stream-name", default=env("MODELWARD_REGISTRY_STREAM", defaults.stream_name),
                        help="JetStream stream name (env MODELWARD_REGISTRY_STREAM, default %(default)s)")
    parser.add_argument("--subject-prefix", default=env("MODELWARD_SUBJECT_PREFIX", defaults.subject_prefix),
                        help="first subject token (env MODELWARD_SUBJECT_PREFIX, default %(default)s)")
    parser.add_argument("--shutdown-grace", type=non_negative_float,
                        default=env("MODELWARD_SHUTDOWN_GRACE", str(defaults.shutdown_grace)),
                        help="seconds in-flight calls may take to finish on shutdown (default %(default)s)")
    parser.add_argument("--page-token-key", default=env("MODELWARD_PAGE_TOKEN_KEY", ""),
                        help="secret that signs page tokens; set the same value on every replica "
                             "(env MODELWARD_PAGE_TOKEN_KEY, default: a random key per process)")
    parser.add_argument("--governed-stages", default=env("MODELWARD_GOVERNED_STAGES", ",".join(defaults.governed_stages)),
                        help="comma-separated stages that need governance approval; 'none' governs no stage, "
                             "for a registry without the governance service "
                             "(env MODELWARD_GOVERNED_STAGES, default %(default)s)")
    parser.add_argument("--governance-stream", default=env("MODELWARD_GOVERNANCE_STREAM", defaults.governance_stream_name),
                        help="JetStream stream with governance's decisions, read when stages are governed "
                             "(env MODELWARD_GOVERNANCE_STREAM, default %(default)s)")
    parser.add_argument("--audit-signing-key", default=env("MODELWARD_REGISTRY_AUDIT_SIGNING_KEY", ""),
                        help="PEM file with the Ed25519 private key that signs audit exports "
                             "(env MODELWARD_REGISTRY_AUDIT_SIGNING_KEY, default: exports are unsigned)")
    cache = defaults.alias_cache
    parser.add_argument("--alias-cache-entries", type=non_negative_int,
                        default=env("MODELWARD_ALIAS_CACHE_ENTRIES", str(cache.max_entries)),
                        help="resolved aliases kept in memory for ResolveAlias; 0 turns the cache off "
                             "(env MODELWARD_ALIAS_CACHE_ENTRIES, default %(default)s)")
    parser.add_argument("--alias-cache-staleness", type=float_between(0.1, 3600),
                        default=env("MODELWARD_ALIAS_CACHE_STALENESS", str(cache.max_staleness)),
                        help="seconds after which an alias change made by another replica is certainly seen by "
                             "ResolveAlias on this one; changes made on this replica are seen at once "
                             "(env MODELWARD_ALIAS_CACHE_STALENESS, default %(default)s)")
    add_limit_arguments(parser)
    parser.add_argument("--log-level", default=env("MODELWARD_LOG_LEVEL", defaults.log_level),
                        help="DEBUG, INFO, WARNING or ERROR (env MODELWARD_LOG_LEVEL, default %(default)s)")
    parser.add_argument("--no-relay", action="store_true",
                        help="do not publish events from this process (default: publish)")
    add_auth_arguments(parser)
    name_environment_variables(parser)


def from_arguments(args: argparse.Namespace) -> RegistryConfig:
    requested = "" if args.governed_stages.strip().lower() == "none" else args.governed_stages
    stages = tuple(part.strip().upper() for part in requested.split(",") if part.strip())
    unknown = [stage for stage in stages if stage not in _STAGES]
    if unknown:
        raise SystemExit(f"--governed-stages: unknown stage {unknown[0]!r}; use STAGING, PRODUCTION or ARCHIVED")
    scheme = args.database_url.partition(":")[0]
    if args.workers > 1 and not scheme.startswith("postgresql"):
        # Only the scheme is named: the rest of a URL may hold a password.
        raise SystemExit(
            f"--workers {args.workers} needs a PostgreSQL database, and --database-url is a {scheme!r} URL; "
            "give a postgresql+asyncpg:// URL, or --workers 1 (SQLite takes one writing process)"
        )
    return RegistryConfig(
        listen=args.listen,
        workers=args.workers,
        database_url=args.database_url,
        nats_url=args.nats_url,
        stream_name=args.stream_name,
        subject_prefix=args.subject_prefix,
        shutdown_grace=args.shutdown_grace,
        page_token_key=args.page_token_key,
        governed_stages=stages,
        governance_stream_name=args.governance_stream,
        log_level=args.log_level,
        limits=limits_from_arguments(args),
        audit_signing_key_file=args.audit_signing_key,
        run_relay=not args.no_relay,
        alias_cache=AliasCacheSettings(
            max_entries=args.alias_cache_entries,
            max_staleness=args.alias_cache_staleness,
            # Poll often enough that a change is usually seen within a tenth of the bound.
            poll_interval=max(0.01, min(0.05, args.alias_cache_staleness / 10)),
        ),
        auth=auth_from_arguments(args),
    )

