"""Governance settings from flags and environment variables (flags win)."""

from __future__ import annotations

import argparse
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from modelward_common.arguments import (
    database_url_argument,
    environment_default,
    float_between,
    int_between,
    name_environment_variables,
    non_negative_float,
)
from modelward_common.auth.config import AuthConfig, add_auth_arguments, auth_from_arguments
from modelward_common.limits import ServerLimits, add_limit_arguments, limits_from_arguments
from modelward_governance.domain.redundancy import MAX_PARTNERS


# Periodic tasks run at most ten times a second; 0 turns one off.
INTERVAL = float_between(0.1, 7 * 24 * 3600, zero_turns_off=True)
# About a hundred years: datetime arithmetic overflows far beyond it.
MAX_IDLE_DAYS = 36_500


@dataclass(frozen=True)
class GovernanceConfig:
    listen: str = "127.0.0.1:50052"
    database_url: str = "sqlite+aiosqlite:///governance.sqlite"
    nats_url: str = "nats://127.0.0.1:4222"
    # gRPC address of the registry, read to fill gaps in its event feed.
    registry_target: str = "127.0.0.1:50051"
    # JetStream stream of governance's own events.
    stream_name: str = "MODELWARD_GOVERNANCE"
    # JetStream stream of the registry's events, which governance consumes.
    registry_stream_name: str = "MODELWARD_REGISTRY"
    subject_prefix: str = "modelward"
    event_source: str = "urn:modelward:governance"
    # CloudEvents `source` of the registry's events; events with another source are parked.
    registry_event_source: str = "urn:modelward:registry"
    # Durable consumer name; replicas that share it split the work.
    durable_name: str = "governance"
    # YAML policy installed as revision 1 when the database has none; empty: the default policy.
    policy_file: str = ""
    # Days without activity after which a model serving in production counts as orphaned.
    orphan_max_idle_days: int = 180
    # Jaccard similarity of feature sets from which two models count as redundant.
    redundancy_threshold: float = 0.8
    # Redundant pairs of each kind a check tops a model up to (domain/redundancy.py).
    redundancy_max_partners: int = 10
    # Seconds between re-evaluations of every model, for rules that depend on the clock (days
    # without review, days without activity); 0 turns the sweep off.
    sweep_interval: float = 3600.0
    # Seconds between checks for production windows whose window_duration has passed, so they
    # close without waiting for a new batch; 0 leaves closing to the next batch.
    window_close_interval: float = 10.0
    # Seconds between reads of the registry's access events, which apply any binding or token
    # change that JetStream lost; 0 turns them off, so a lost last event of a binding or token
    # is never applied.
    access_sync_interval: float = 60.0
    # Seconds between freezes of the objects that survived the young garbage collections, so
    # full collections skip the portfolio (libs/modelward_common/gc_tuning.py); 0 turns it off.
    gc_freeze_interval: float = 1.0
    # Seconds between full collections that include the frozen objects, to free the reference
    # cycles among them; 0: never.
    gc_full_interval: float = 3600.0
    shutdown_grace: float = 10.0
    page_token_key: str = ""
    log_level: str = "INFO"
    # Message size, concurrency and per-principal rate limits of the gRPC server.
    limits: ServerLimits = field(default_factory=ServerLimits)
    # PEM file with the Ed25519 private key that signs audit exports; empty: exports are unsigned.
    audit_signing_key_file: str = ""
    run_relay: bool = True
    run_consumer: bool = True
    # Credentials, TLS and NATS security; authentication is on unless auth.enabled is False.
    auth: AuthConfig = field(default_factory=AuthConfig)
    # How governance authenticates to the registry: a file with a bearer token (an API token of
    # a principal with the viewer role, or a bootstrap admin token) and/or a TLS client certificate.
    registry_token_file: str = ""
    registry_tls_ca_file: str = ""
    registry_tls_cert_file: str = ""
    registry_tls_key_file: str = ""

    def token_key(self) -> bytes:
        return self.page_token_key.encode() if self.page_token_key else _PROCESS_TOKEN_KEY

    def initial_policy_text(self) -> str:
        return Path(self.policy_file).read_text(encoding="utf-8") if self.policy_file else ""


_PROCESS_TOKEN_KEY = secrets.token_bytes(32)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = GovernanceConfig()
    env = environment_default
    parser.add_argument("--listen", default=env("MODELWARD_GOVERNANCE_LISTEN", defaults.listen),
                        help="host:port of the gRPC server (env MODELWARD_GOVERNANCE_LISTEN, default %(default)s)")
    parser.add_argument("--database-url", type=database_url_argument, default=env("MODELWARD_GOVERNANCE_DATABASE_URL", defaults.database_url),
                        help="SQLAlchemy URL (env MODELWARD_GOVERNANCE_DATABASE_URL, default %(default)s)")
    parser.add_argument("--nats-url", default=env("MODELWARD_NATS_URL", defaults.nats_url),
                        help="NATS server URL (env MODELWARD_NATS_URL, default %(default)s)")
    parser.add_argument("--registry-target", default=env("MODELWARD_REGISTRY_TARGET", defaults.registry_target),
                        help="registry gRPC address, for reading history (env MODELWARD_REGISTRY_TARGET, default %(default)s)")
    parser.add_argument("--stream-name", default=env("MODELWARD_GOVERNANCE_STREAM", defaults.stream_name),
                        help="JetStream stream of governance's events (env MODELWARD_GOVERNANCE_STREAM, default %(default)s)")
    parser.add_argument("--registry-stream", default=env("MODELWARD_REGISTRY_STREAM", defaults.registry_stream_name),
                        help="JetStream stream of the registry's events (env MODELWARD_REGISTRY_STREAM, default %(default)s)")
    parser.add_argument("--subject-prefix", default=env("MODELWARD_SUBJECT_PREFIX", defaults.subject_prefix),
                        help="first subject token (env MODELWARD_SUBJECT_PREFIX, default %(default)s)")
    parser.add_argument("--policy-file", default=env("MODELWARD_POLICY_FILE", ""),
                        help="YAML policy installed when the database has none (env MODELWARD_POLICY_FILE, "
                             "default: the built-in default policy)")
    parser.add_argument("--orphan-max-idle-days", type=int_between(1, MAX_IDLE_DAYS),
                        default=env("MODELWARD_ORPHAN_MAX_IDLE_DAYS", str(defaults.orphan_max_idle_days)),
                        help="days without activity before a production model counts as orphaned (default %(default)s)")
    parser.add_argument("--redundancy-threshold", type=float_between(0.01, 1.0),
                        default=env("MODELWARD_REDUNDANCY_THRESHOLD", str(defaults.redundancy_threshold)),
                        help="feature-set Jaccard similarity from which models count as redundant, in (0, 1] "
                             "(default %(default)s)")
    parser.add_argument("--redundancy-max-partners", type=int_between(1, MAX_PARTNERS),
                        default=env("MODELWARD_REDUNDANCY_MAX_PARTNERS", str(defaults.redundancy_max_partners)),
                        help="redundant pairs of each kind (same artifact, similar features) that a check "
                             "tops a model up to, the most similar first (env MODELWARD_REDUNDANCY_MAX_PARTNERS, "
                             "default %(default)s)")
    parser.add_argument("--sweep-interval", type=INTERVAL,
                        default=env("MODELWARD_SWEEP_INTERVAL", str(defaults.sweep_interval)),
                        help="seconds between re-evaluations of every model for time-based rules; 0 turns "
                             "them off (env MODELWARD_SWEEP_INTERVAL, default %(default)s)")
    parser.add_argument("--window-close-interval", type=INTERVAL,
                        default=env("MODELWARD_WINDOW_CLOSE_INTERVAL", str(defaults.window_close_interval)),
                        help="seconds between checks for monitoring windows whose window_duration has passed; such "
                             "a window closes at most this long after it is due, even without new data; 0 leaves "
                             "closing to the next batch (env MODELWARD_WINDOW_CLOSE_INTERVAL, default %(default)s)")
    parser.add_argument("--access-sync-interval", type=INTERVAL,
                        default=env("MODELWARD_ACCESS_SYNC_INTERVAL", str(defaults.access_sync_interval)),
                        help="seconds between reads of the registry's role binding and token events, to apply any "
                             "that JetStream lost; 0 turns them off (env MODELWARD_ACCESS_SYNC_INTERVAL, "
                             "default %(default)s)")
    parser.add_argument("--gc-freeze-interval", type=INTERVAL,
                        default=env("MODELWARD_GC_FREEZE_INTERVAL", str(defaults.gc_freeze_interval)),
                        help="seconds between freezes of the long-lived objects, which keeps full garbage collections "
                             "from walking the whole portfolio; 0 turns it off (env MODELWARD_GC_FREEZE_INTERVAL, "
                             "default %(default)s)")
    parser.add_argument("--gc-full-interval", type=INTERVAL,
                        default=env("MODELWARD_GC_FULL_INTERVAL", str(defaults.gc_full_interval)),
                        help="seconds between full garbage collections that include the frozen objects, freeing "
                             "reference cycles among them; 0: never (env MODELWARD_GC_FULL_INTERVAL, "
                             "default %(default)s)")
    parser.add_argument("--shutdown-grace", type=non_negative_float,
                        default=env("MODELWARD_SHUTDOWN_GRACE", str(defaults.shutdown_grace)),
                        help="seconds in-flight calls may take to finish on shutdown (default %(default)s)")
    parser.add_argument("--page-token-key", default=env("MODELWARD_PAGE_TOKEN_KEY", ""),
                        help="secret that signs page tokens; the same on every replica (default: random per process)")
    parser.add_argument("--audit-signing-key", default=env("MODELWARD_GOVERNANCE_AUDIT_SIGNING_KEY", ""),
                        help="PEM file with the Ed25519 private key that signs audit exports "
                             "(env MODELWARD_GOVERNANCE_AUDIT_SIGNING_KEY, default: exports are unsigned)")
    add_limit_arguments(parser)
    parser.add_argument("--registry-token-file", default=env("MODELWARD_REGISTRY_TOKEN_FILE", ""),
                        help="file with the bearer token governance sends to the registry "
                             "(env MODELWARD_REGISTRY_TOKEN_FILE)")
    parser.add_argument("--registry-tls-ca", default=env("MODELWARD_REGISTRY_TLS_CA", ""),
                        help="PEM CA of the registry's certificate; connects with TLS (env MODELWARD_REGISTRY_TLS_CA)")
    parser.add_argument("--registry-tls-cert", default=env("MODELWARD_REGISTRY_TLS_CERT", ""),
                        help="PEM client certificate presented to the registry (env MODELWARD_REGISTRY_TLS_CERT)")
    parser.add_argument("--registry-tls-key", default=env("MODELWARD_REGISTRY_TLS_KEY", ""),
                        help="PEM key of --registry-tls-cert (env MODELWARD_REGISTRY_TLS_KEY)")
    add_auth_arguments(parser)
    parser.add_argument("--log-level", default=env("MODELWARD_LOG_LEVEL", defaults.log_level),
                        help="DEBUG, INFO, WARNING or ERROR (default %(default)s)")
    name_environment_variables(parser)


def from_arguments(args: argparse.Namespace) -> GovernanceConfig:
    return GovernanceConfig(
        listen=args.listen,
        database_url=args.database_url,
        nats_url=args.nats_url,
        registry_target=args.registry_target,
        stream_name=args.stream_name,
        registry_stream_name=args.registry_stream,
        subject_prefix=args.subject_prefix,
        policy_file=args.policy_file,
        orphan_max_idle_days=args.orphan_max_idle_days,
        redundancy_threshold=args.redundancy_threshold,
        redundancy_max_partners=args.redundancy_max_partners,
        sweep_interval=args.sweep_interval,
        gc_freeze_interval=args.gc_freeze_interval,
        gc_full_interval=args.gc_full_interval,
        window_close_interval=args.window_close_interval,
        access_sync_interval=args.access_sync_interval,
        shutdown_grace=args.shutdown_grace,
        page_token_key=args.page_token_key,
        log_level=args.log_level,
        limits=limits_from_arguments(args),
        auth=auth_from_arguments(args),
        registry_token_file=args.registry_token_file,
        registry_tls_ca_file=args.registry_tls_ca,
        registry_tls_cert_file=args.registry_tls_cert,
        registry_tls_key_file=args.registry_tls_key,
        audit_signing_key_file=args.audit_signing_key,
    )
