"""Wire the governance service: engine, migrations, use cases, consumer, relay, gRPC server."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import grpc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from modelward_common import audit_service
from modelward_common.auth.client import service_channel
from modelward_common.auth.setup import build_guard, credentials_for
from modelward_common.auth.store import ACCESS_EVENT_TYPES, ACCESS_MIGRATIONS, AccessDirectory, apply_access_event
from modelward_common.cloudevents import ReceivedEvent
from modelward_common.consumer import ConsumerConfig, EventConsumer
from modelward_common.gc_tuning import freeze_periodically
from modelward_common.db import create_engine
from modelward_common.grpc_server import ServiceHost, finish_tasks
from modelward_common.migrations import migrate, migrate_url
from modelward_common.relay import OutboxRelay, RelayConfig
from modelward_governance.adapters import store
from modelward_governance.adapters.audit_streams import model_streams
from modelward_governance.adapters.registry_history import ACCESS_EVENTS_PAGE, RegistryHistory
from modelward_governance.adapters.schema import MIGRATIONS
from modelward_governance.config import GovernanceConfig
from modelward_governance.domain.orphans import OrphanConfig
from modelward_governance.domain.redundancy import RedundancyConfig
from modelward_governance.entrypoints.grpc_service import GovernanceServicer
from modelward_governance.entrypoints.permissions import RULES, model_resolver
from modelward_governance.service_layer.governance import Governance, GovernanceSettings
from modelward_governance.service_layer.monitoring import MonitoringService
from modelward_governance.service_layer.queries import GovernanceQueries
from modelward_protos.governance.v1 import governance_service_pb2 as rpc
from modelward_protos.governance.v1 import governance_service_pb2_grpc as rpc_grpc

logger = logging.getLogger(__name__)

SERVICE_NAME = rpc.DESCRIPTOR.services_by_name["GovernanceService"].full_name


async def prepare_database(engine: AsyncEngine) -> None:
    await migrate(engine, MIGRATIONS, prefix="governance_")


async def migrate_database(database_url: str) -> None:
    """Apply every pending migration: the governance's own tables and its access tables."""
    await migrate_url(database_url, (MIGRATIONS, "governance_"), (ACCESS_MIGRATIONS, "governance_access_"))


def consumer_config(config: GovernanceConfig) -> ConsumerConfig:
    return ConsumerConfig(
        nats_url=config.nats_url,
        stream_name=config.registry_stream_name,
        durable_name=config.durable_name,
        filter_subject=f"{config.subject_prefix}.registry.v1.>",
        name="governance",
        expected_source=config.registry_event_source,
        nats_security=config.auth.nats,
    )


def relay_config(config: GovernanceConfig) -> RelayConfig:
    return RelayConfig(
        nats_url=config.nats_url,
        stream_name=config.stream_name,
        subject_prefix=config.subject_prefix,
        service="governance",
        source=config.event_source,
        nats_security=config.auth.nats,
    )


def settings_from(config: GovernanceConfig) -> GovernanceSettings:
    return GovernanceSettings(
        orphans=OrphanConfig(max_idle_days=config.orphan_max_idle_days),
        redundancy=RedundancyConfig(
            jaccard_threshold=config.redundancy_threshold, max_partners=config.redundancy_max_partners
        ),
        initial_policy=config.initial_policy_text(),
        admin_fallback=not config.auth.enabled or bool(config.auth.admin_token_files),
    )


@dataclass
class GovernanceApp:
    """A running governance service: call start(), then stop()."""

    config: GovernanceConfig
    engine: AsyncEngine = field(init=False)
    governance: Governance = field(init=False)
    monitoring: MonitoringService = field(init=False)
    host: ServiceHost = field(init=False)
    relay: OutboxRelay | None = field(init=False, default=None)
    consumer: EventConsumer | None = field(init=False, default=None)
    history: RegistryHistory = field(init=False)
    _channel: grpc.aio.Channel | None = field(init=False, default=None)
    access: AccessDirectory = field(init=False)
    _access_changed: bool = field(init=False, default=False)
    _tasks: list[asyncio.Task[None]] = field(init=False, default_factory=list)

    async def start(self) -> int:
        self.engine = create_engine(self.config.database_url)
        await prepare_database(self.engine)
        if self.config.run_relay:
            self.relay = OutboxRelay(self.engine, relay_config(self.config))
        wake = self.relay.wake if self.relay else (lambda: None)
        self.governance = Governance(
            self.engine, settings_from(self.config), on_commit=wake, on_principals_change=lambda: self.access.invalidate()
        )
        await self.governance.start()
        if self.config.run_consumer:
            self._channel = service_channel(
                self.config.registry_target, token_file=self.config.registry_token_file,
                tls_ca_file=self.config.registry_tls_ca_file, tls_cert_file=self.config.registry_tls_cert_file,
                tls_key_file=self.config.registry_tls_key_file,
            )
            self.history = RegistryHistory(self._channel)
            self.consumer = EventConsumer(
                self.engine, consumer_config(self.config), self._handle_registry_event,
                history=self.history, on_commit=self._after_commit,
                before_apply=self.governance.prepare_batch, after_apply=self.governance.finish_batch,
            )
        queries = GovernanceQueries(self.engine, self.config.token_key(), self.governance.settings.orphans)
        self.monitoring = monitoring = MonitoringService(self.engine, self.governance, token_key=self.config.token_key())
        guard, self.access = await build_guard(
            self.config.auth, self.engine, "governance", RULES, model_resolver(self.engine), store.INACTIVE_PRINCIPALS
        )
        self.host = ServiceHost(
            self.config.listen, [SERVICE_NAME, audit_service.SERVICE_NAME], limits=self.config.limits,
            guard=guard, credentials=credentials_for(self.config.auth),
        )
        audit_service.add_audit_service(
            self.host.server, self.engine, "governance", model_streams, self.config.audit_signing_key_file
        )
        servicer = GovernanceServicer(self.governance, queries, monitoring, self.consumer, self.config.token_key())
        rpc_grpc.add_GovernanceServiceServicer_to_server(servicer, self.host.server)
        port = await self.host.start()
        if self.relay is not None:
            self._tasks.append(asyncio.create_task(self.relay.run(), name="governance-relay"))
        if self.consumer is not None:
            self._tasks.append(asyncio.create_task(self.consumer.run(), name="governance-consumer"))
        if self.consumer is not None and self.config.access_sync_interval > 0:
            self._tasks.append(asyncio.create_task(self._sync_access_events(), name="governance-access-sync"))
        if self.config.sweep_interval > 0:
            self._tasks.append(asyncio.create_task(self._sweep(), name="governance-sweep"))
        if self.config.window_close_interval > 0:
            self._tasks.append(asyncio.create_task(self._close_due_windows(), name="governance-window-close"))
        if self.config.gc_freeze_interval > 0:
            self._tasks.append(asyncio.create_task(
                freeze_periodically(self.config.gc_freeze_interval, self.config.gc_full_interval), name="governance-gc",
            ))
        logger.info("governance ready on port %d", port)
        return port

    async def _handle_registry_event(self, connection: AsyncConnection, event: ReceivedEvent) -> None:
        payload_type = ACCESS_EVENT_TYPES.get(event.type)
        if payload_type is None:
            await self.governance.handle_registry_event(connection, event)
            return
        # Role bindings and tokens recorded by the registry grant on this service too.
        await apply_access_event(connection, payload_type.FromString(event.payload), event.time, event.actor)
        self._access_changed = True

    def _after_commit(self, connection: AsyncConnection) -> None:
        if self.relay is not None:
            # The relay publishes the batch's events without reading them back from the outbox.
            self.relay.committed(self.governance.appended_by(connection))
        if self._access_changed:
            self._access_changed = False
            self.access.invalidate()

    async def _sync_access_events(self) -> None:
        """Apply the registry's access events that JetStream did not deliver, reading its log now and then.

        A lost event in the middle of a binding's or token's stream is filled in when the next
        event of that stream arrives, as for models. A lost last event (a new binding, a deleted
        binding, a revoked token) has no successor, so only this pass finds it. Each process
        reads from the start of the log once, then only what is new.
        """
        assert self.consumer is not None
        position = 0
        while True:
            try:
                events = await self.history.access_events_after(position)
                await self.consumer.apply_missing(events)
            except Exception as error:  # noqa: BLE001 - the next pass tries again from the same position
                logger.warning(
                    "reading the registry's access events after position %d failed, retrying in %g s: %s",
                    position, self.config.access_sync_interval, error,
                )
                await asyncio.sleep(self.config.access_sync_interval)
                continue
            if events:
                position = events[-1].position
            if len(events) < ACCESS_EVENTS_PAGE:
                await asyncio.sleep(self.config.access_sync_interval)

    async def _sweep(self) -> None:
        """Re-evaluate every model now and then, so rules that depend on the clock fire."""
        while True:
            await asyncio.sleep(self.config.sweep_interval)
            try:
                await self.governance.reevaluate_all("periodic sweep")
            except Exception as error:  # noqa: BLE001 - the next sweep tries again
                logger.warning("periodic sweep failed, retrying in %.0f s: %s", self.config.sweep_interval, error)

    async def _close_due_windows(self) -> None:
        """Close monitoring windows whose duration has passed, so they close without new data.

        The first pass runs at start, so windows that fell due while no replica ran close at once.
        """
        interval = self.config.window_close_interval
        while True:
            try:
                closed = await self.monitoring.close_due_windows()
            except Exception as error:  # noqa: BLE001 - the next pass tries again
                logger.warning("closing due monitoring windows failed, retrying in %g s: %s", interval, error)
            else:
                if closed:
                    logger.info("closed %d monitoring window(s) whose duration had passed", closed)
            await asyncio.sleep(interval)

    async def stop(self) -> None:
        deadline = time.monotonic() + self.config.shutdown_grace
        await self.host.stop(self.config.shutdown_grace)
        if self.consumer is not None:
            await self.consumer.stop()
        if self.relay is not None:
            await self.relay.stop()
        for task in self._tasks:
            if task.get_name() in ("governance-sweep", "governance-window-close", "governance-access-sync", "governance-gc"):
                task.cancel()
        # A consumer batch may still run: one event can re-check a model against thousands of
        # redundant ones.
        await finish_tasks(self._tasks, deadline)
        if self._channel is not None:
            await self._channel.close()
        await self.engine.dispose()
        logger.info("governance stopped")
