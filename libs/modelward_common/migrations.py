"""Ordered, recorded schema migrations that run the same on PostgreSQL and SQLite.

Each service lists its migrations; `migrate` applies those not yet recorded in the service's
`<prefix>schema_migrations` table, each in its own transaction, so a failed step leaves the
earlier ones applied and can be retried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from modelward_common.db import check_reachable, create_engine

logger = logging.getLogger(__name__)

# PostgreSQL advisory lock key that serialises concurrent migrators (two replicas starting).
_MIGRATION_LOCK_KEY = 0x6D77_6D69  # "mwmi"


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    # Runs inside the migration's transaction on a synchronous connection.
    upgrade: Callable[[sa.Connection], None]


async def migrate_url(database_url: str, *tracks: tuple[Sequence[Migration], str]) -> None:
    """Apply the pending migrations of each (migrations, prefix) track to the database at `database_url`."""
    engine = create_engine(database_url)
    try:
        for migrations, prefix in tracks:
            await migrate(engine, migrations, prefix=prefix)
    finally:
        await engine.dispose()


async def migrate(engine: AsyncEngine, migrations: Sequence[Migration], *, prefix: str) -> list[int]:
    """Apply pending migrations in version order and return the versions applied."""
    versions = [migration.version for migration in migrations]
    if versions != sorted(set(versions)):
        raise ValueError(f"migration versions must be unique and ascending, got {versions}")
    table = sa.Table(
        f"{prefix}schema_migrations",
        sa.MetaData(),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    applied: list[int] = []
    await check_reachable(engine)
    async with engine.begin() as connection:
        # Under the lock too: two replicas starting on a new database would otherwise both find
        # no table and both create it, and one would fail.
        await _lock(connection)
        await connection.run_sync(table.create, checkfirst=True)
    for migration in migrations:
        async with engine.begin() as connection:
            await _lock(connection)
            done = await connection.scalar(
                sa.select(sa.func.count()).select_from(table).where(table.c.version == migration.version)
            )
            if done:
                continue
            await connection.run_sync(migration.upgrade)
            await connection.execute(
                table.insert().values(version=migration.version, description=migration.description)
            )
            logger.info("applied migration %s%d: %s", prefix, migration.version, migration.description)
            applied.append(migration.version)
    return applied


async def _lock(connection: AsyncConnection) -> None:
    """Make concurrent migrators take turns until the transaction ends; SQLite's writer lock does it there."""
    if connection.dialect.name == "postgresql":
        await connection.execute(sa.text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_KEY})"))
