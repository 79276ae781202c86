"""Governance replicas started at the same moment on a new database all come up, with one policy."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from modelward_governance.bootstrap import GovernanceApp
from tests.support.governance import governance_config
from tests.support.registry import registry_config, running_registry


async def test_replicas_start_together_on_a_new_database(fresh_pg_url, nats_server, nats_prefix) -> None:
    async with running_registry(registry_config(fresh_pg_url(), nats_server.url, nats_prefix)) as registry:
        config = governance_config(fresh_pg_url(), nats_server.url, nats_prefix, registry.target, sweep_interval=0)
        apps = [GovernanceApp(config) for _ in range(3)]
        try:
            # Before the fix, every attempt lost the race for the first policy in at least one app.
            await asyncio.gather(*(app.start() for app in apps))
            async with apps[0].engine.connect() as connection:
                policies = (await connection.execute(sa.text("SELECT revision FROM policies"))).scalars().all()
            assert policies == [1]
            for app in apps:
                async with app.engine.connect() as connection:
                    policy = await app.governance.policy(connection)
                assert policy.revision == 1
        finally:
            for app in apps:
                await app.stop()

