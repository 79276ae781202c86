"""Rebuild the registry's projections from the event log.

Streams are read in (stream id, stream version) order and folded one model at a time with the
same `apply` the live path uses; finished rows are written in bulk. Memory holds one model and
one write batch at a time. Run it while no registry writes to the database: it replaces the
projections in one transaction, and a concurrent command could be lost from them (not from the
log, so a second rebuild recovers it). A rebuild therefore refuses to start while a registry's
relay holds an unexpired lease on the database, unless forced.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from modelward_common.auth.store import ACCESS_EVENT_TYPES
from modelward_common.errors import FailedPrecondition
from modelward_common.eventstore import events_table
from modelward_common.relay import relay_state_table
from modelward_common.timeutil import utc_now
from modelward_registry.adapters import repository as repo
from modelward_registry.adapters.schema import PROJECTION_TABLES, aliases_table, models_table, versions_table
from modelward_registry.domain.model import ModelAggregate, apply, decode_event, empty_aggregate

logger = logging.getLogger(__name__)

_READ_BATCH = 20_000
_WRITE_BATCH = 5_000


@dataclass
class RebuildStats:
    events: int = 0
    models: int = 0
    versions: int = 0
    seconds: float = 0.0


class _BulkWriter:
    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self.rows: dict[str, list[dict[str, Any]]] = {"models": [], "versions": [], "aliases": []}

    async def add(self, aggregate: ModelAggregate, stats: RebuildStats) -> None:
        self.rows["models"].append(repo.model_row(aggregate))
        for version in aggregate.versions.values():
            self.rows["versions"].append(repo.version_row(aggregate.uid, version))
        for alias, number in aggregate.aliases.items():
            self.rows["aliases"].append({"model_uid": aggregate.uid, "alias": alias, "version": number})
        stats.models += 1
        stats.versions += len(aggregate.versions)
        if len(self.rows["versions"]) + len(self.rows["models"]) >= _WRITE_BATCH:
            await self.flush()

    async def flush(self) -> None:
        for name, table in (("models", models_table), ("versions", versions_table), ("aliases", aliases_table)):
            if self.rows[name]:
                await self.connection.execute(table.insert(), self.rows[name])
                self.rows[name] = []


async def rebuild_projections(engine: AsyncEngine, *, force: bool = False) -> RebuildStats:
    """Replace the projections with ones folded from the event log.

    Raises FailedPrecondition when a registry is serving on the database, unless `force`.
    """
    stats = RebuildStats()
    started = time.monotonic()
    async with engine.begin() as connection:
        if not force:
            await _refuse_while_serving(connection)
        for table in PROJECTION_TABLES:
            await connection.execute(table.delete())
        writer = _BulkWriter(connection)
        aggregate: ModelAggregate | None = None
        async for row in _events_by_stream(connection):
            stream_id, event_type, payload, recorded_at = row
            if aggregate is None or aggregate.uid != stream_id:
                if aggregate is not None:
                    await writer.add(aggregate, stats)
                aggregate = empty_aggregate(stream_id)
            apply(aggregate, decode_event(event_type, payload), recorded_at)
            stats.events += 1
        if aggregate is not None:
            await writer.add(aggregate, stats)
        await writer.flush()
    stats.seconds = time.monotonic() - started
    logger.info(
        "rebuilt projections from %d events: %d models, %d versions in %.1f s",
        stats.events, stats.models, stats.versions, stats.seconds,
    )
    return stats


async def _refuse_while_serving(connection: AsyncConnection) -> None:
    """Raise FailedPrecondition when a relay holds an unexpired lease, which a running registry
    renews every few seconds and releases when it stops.

    NOTE: a registry whose relay has not taken the lease yet, or whose lease expired while it was
    paused, is not detected, and a registry started during the rebuild is not stopped.
    """
    leases = relay_state_table.c
    holders = (
        await connection.execute(
            sa.select(leases.name, leases.holder, leases.lease_expires_at)
            .where(leases.holder.is_not(None), leases.lease_expires_at > utc_now())
        )
    ).all()
    if holders:
        name, holder, expires = holders[0]
        raise FailedPrecondition(
            f"a registry is serving on this database: relay {holder} holds the lease of stream {name} "
            f"until {expires.isoformat()}; stop every registry first, or pass --force to rebuild anyway "
            "and risk losing changes they commit meanwhile from the projections",
            reason="REGISTRY_SERVING",
        )


async def _events_by_stream(connection: AsyncConnection) -> Any:
    """Yield (stream_id, type, payload, recorded_at) ordered by stream, then stream version."""
    columns = (
        events_table.c.stream_id, events_table.c.stream_version, events_table.c.type,
        events_table.c.payload, events_table.c.recorded_at,
    )
    last_stream, last_version = "", 0
    while True:
        result = await connection.execute(
            sa.select(*columns)
            .where(sa.tuple_(events_table.c.stream_id, events_table.c.stream_version) > sa.tuple_(last_stream, last_version))
            # Role binding and token streams change the access tables, not the model projections.
            .where(events_table.c.type.notin_(list(ACCESS_EVENT_TYPES)))
            .order_by(events_table.c.stream_id, events_table.c.stream_version)
            .limit(_READ_BATCH)
        )
        rows = result.all()
        if not rows:
            return
        for stream_id, version, event_type, payload, recorded_at in rows:
            yield stream_id, event_type, payload, recorded_at
        last_stream, last_version = rows[-1][0], rows[-1][1]
