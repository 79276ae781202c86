"""Wire the registry: engine, migrations, use cases, relay and gRPC server."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from modelward_common import audit_service
from modelward_common.auth.setup import build_guard, credentials_for
from modelward_common.auth.store import ACCESS_MIGRATIONS, AccessDirectory
from modelward_common.cloudevents import ReceivedEvent
from modelward_common.consumer import ConsumerConfig, EventConsumer
from modelward_common.db import create_engine
from modelward_common.eventstore import StoredEvent
from modelward_common.grpc_server import ServiceHost, finish_tasks, serve_until_signalled
from modelward_common.migrations import migrate, migrate_url
from modelward_common.relay import OutboxRelay, RelayConfig
from modelward_protos.access.v1 import access_service_pb2_grpc as access_grpc
from modelward_protos.registry.v1 import registry_service_pb2 as rpc
from modelward_protos.registry.v1 import registry_service_pb2_grpc as rpc_grpc
from modelward_registry.adapters.alias_cache import AliasCache, ChangeWatcher
from modelward_registry.adapters.audit_streams import model_streams
from modelward_registry.adapters.schema import MIGRATIONS
from modelward_registry.config import RegistryConfig
from modelward_registry.entrypoints.access_service import AccessServicer
from modelward_registry.entrypoints.grpc_service import RegistryServicer
from modelward_registry.entrypoints.permissions import ACCESS_SERVICE, RULES, model_resolver
from modelward_registry.service_layer.access import AccessAdmin
from modelward_registry.service_layer.principals import INACTIVE_PRINCIPALS, PRINCIPAL_EVENT_TYPES, apply_principal_event
from modelward_registry.service_layer.promotions import PromotionDecisionHandler
from modelward_registry.service_layer.queries import RegistryQueries
from modelward_registry.service_layer.registry import Registry, RegistrySettings
from modelward_registry.workers import WorkerPeers

logger = logging.getLogger(__name__)

SERVICE_NAME = rpc.DESCRIPTOR.services_by_name["RegistryService"].full_name


async def prepare_database(engine: AsyncEngine) -> None:
    await migrate(engine, MIGRATIONS, prefix="registry_")


async def migrate_database(database_url: str) -> None:
    """Apply every pending migration: the registry's own tables and its access tables."""
    await migrate_url(database_url, (MIGRATIONS, "registry_"), (ACCESS_MIGRATIONS, "registry_access_"))


async def serve(
    config: RegistryConfig, *, peers: WorkerPeers | None = None, on_ready: Callable[[int], None] | None = None
) -> None:
    """Run one registry until SIGINT or SIGTERM, then drain its calls and stop."""
    await serve_until_signalled(RegistryApp(config, peers=peers), config.shutdown_grace, on_ready)


def relay_config(config: RegistryConfig) -> RelayConfig:
    return RelayConfig(
        nats_url=config.nats_url,
        stream_name=config.stream_name,
        subject_prefix=config.subject_prefix,
        service="registry",
        source=config.event_source,
        nats_security=config.auth.nats,
    )


def decision_consumer_config(config: RegistryConfig) -> ConsumerConfig:
    return ConsumerConfig(
        nats_url=config.nats_url,
        stream_name=config.governance_stream_name,
        durable_name="registry-promotion-decisions",
        filter_subject=f"{config.subject_prefix}.governance.v1.>",
        name="registry-decisions",
        # Decisions name their version and are checked against the pending state, and principal
        # events carry their stream version, so they need no per-stream order.
        ordered=False,
        expected_source=config.governance_event_source,
        nats_security=config.auth.nats,
    )


@dataclass
class RegistryApp:
    """A running registry: call start(), then stop()."""

    config: RegistryConfig
    # The other workers of one `serve --workers N`, notified of this worker's commits.
    peers: WorkerPeers | None = None
    engine: AsyncEngine = field(init=False)
    registry: Registry = field(init=False)
    host: ServiceHost = field(init=False)
    access: AccessDirectory = field(init=False)
    relay: OutboxRelay | None = field(init=False, default=None)
    decisions: EventConsumer | None = field(init=False, default=None)
    promotion_decisions: PromotionDecisionHandler | None = field(init=False, default=None)
    _principals_changed: bool = field(init=False, default=False)
    watcher: ChangeWatcher | None = field(init=False, default=None)
    _tasks: list[asyncio.Task[None]] = field(init=False, default_factory=list)

    async def start(self) -> int:
        self.engine = create_engine(self.config.database_url, pool_size=self.config.db_pool_size)
        await prepare_database(self.engine)
        if self.config.run_relay:
            self.relay = OutboxRelay(self.engine, relay_config(self.config))
        if self.peers is not None:
            self.peers.open(self._wake_own_relay)
        alias_cache = AliasCache(self.config.alias_cache)
        self.registry = Registry(
            self.engine, RegistrySettings(governed_stages=self.config.governed_stage_values()),
            on_commit=self._wake_relays, alias_cache=alias_cache,
        )
        if alias_cache.enabled:
            self.watcher = ChangeWatcher(self.engine, alias_cache)
        queries = RegistryQueries(self.engine, self.config.token_key())
        guard, self.access = await build_guard(
            self.config.auth, self.engine, "registry", RULES, model_resolver(self.engine), INACTIVE_PRINCIPALS
        )
        admin = AccessAdmin(
            self.engine, self.config.token_key(), on_commit=self._after_access_change,
            bootstrap_admin=bool(self.config.auth.admin_token_files) or not self.config.auth.enabled,
        )
        self.host = ServiceHost(
            self.config.listen, [SERVICE_NAME, ACCESS_SERVICE, audit_service.SERVICE_NAME], limits=self.config.limits,
            guard=guard, credentials=credentials_for(self.config.auth), reuse_port=self.config.reuse_port,
        )
        access_grpc.add_AccessServiceServicer_to_server(AccessServicer(admin), self.host.server)
        audit_service.add_audit_service(
            self.host.server, self.engine, "registry", model_streams, self.config.audit_signing_key_file
        )
        rpc_grpc.add_RegistryServiceServicer_to_server(RegistryServicer(self.registry, queries), self.host.server)
        if self.config.governed_stages:
            self.promotion_decisions = PromotionDecisionHandler(self.registry)
            self.decisions = EventConsumer(
                self.engine, decision_consumer_config(self.config), self._handle_governance_event,
                on_commit=self._after_governance_commit,
            )
        port = await self.host.start()
        if self.relay is not None:
            self._tasks.append(asyncio.create_task(self.relay.run(), name="registry-relay"))
        if self.decisions is not None:
            self._tasks.append(asyncio.create_task(self.decisions.run(), name="registry-decisions"))
        if self.watcher is not None:
            self._tasks.append(asyncio.create_task(self.watcher.run(), name="registry-alias-cache"))
        logger.info("registry ready on port %d (database %s)", port, self.engine.url.render_as_string())
        return port

    async def _handle_governance_event(self, connection: AsyncConnection, event: ReceivedEvent) -> None:
        if event.type in PRINCIPAL_EVENT_TYPES:
            if await apply_principal_event(connection, event):
                self._principals_changed = True
            return
        assert self.promotion_decisions is not None, "decisions are consumed only when stages are governed"
        await self.promotion_decisions(connection, event)

    def _after_governance_commit(self, _connection: AsyncConnection) -> None:
        # Wakes the relay and drops the cached aliases of the models the decisions changed.
        self.registry.after_external_commit()
        # Reload the inactive principals at once, not after the directory's max age.
        if self._principals_changed:
            self._principals_changed = False
            self.access.invalidate()

    def _wake_own_relay(self) -> None:
        if self.relay is not None:
            self.relay.wake()

    def _wake_relays(self, events: Sequence[StoredEvent] = ()) -> None:
        """After a commit: whichever worker's relay holds the lease publishes the new events now.

        This worker's relay takes the events themselves, so it need not read them back.
        """
        if self.relay is not None:
            self.relay.committed(events)
        if self.peers is not None:
            self.peers.notify()

    def _after_access_change(self) -> None:
        self._wake_relays()
        self.access.invalidate()

    async def stop(self) -> None:
        deadline = time.monotonic() + self.config.shutdown_grace
        await self.host.stop(self.config.shutdown_grace)
        if self.decisions is not None:
            await self.decisions.stop()
        if self.relay is not None:
            await self.relay.stop()
        if self.watcher is not None:
            await self.watcher.stop()
        await finish_tasks(self._tasks, deadline)
        if self.peers is not None:
            self.peers.close()
        await self.engine.dispose()
        logger.info("registry stopped")
