"""Replicas that start together on a new database migrate it once, without failing."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from modelward_common.db import create_engine
from modelward_common.migrations import migrate
from modelward_governance.bootstrap import prepare_database as prepare_governance
from modelward_registry.bootstrap import prepare_database as prepare_registry


@pytest.mark.parametrize("prepare, prefix", [(prepare_registry, "registry_"), (prepare_governance, "governance_")])
async def test_replicas_migrate_a_new_database_together(fresh_pg_url, prepare, prefix) -> None:  # type: ignore[no-untyped-def]
    url = fresh_pg_url()
    engines = [create_engine(url) for _ in range(4)]
    try:
        await asyncio.gather(*(prepare(engine) for engine in engines))
        async with engines[0].connect() as connection:
            recorded = (await connection.execute(sa.text(f"SELECT version FROM {prefix}schema_migrations"))).scalars().all()
        assert sorted(recorded) == sorted(set(recorded))
        assert recorded
    finally:
        for engine in engines:
            await engine.dispose()


async def test_second_run_applies_nothing(fresh_pg_url) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(fresh_pg_url())
    try:
        await prepare_registry(engine)
        from modelward_registry.adapters.schema import MIGRATIONS

        assert await migrate(engine, MIGRATIONS, prefix="registry_") == []
    finally:
        await engine.dispose()
