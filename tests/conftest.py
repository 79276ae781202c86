"""Fixtures that give every test run its own PostgreSQL databases and its own nats-server.

PostgreSQL: the server at MODELWARD_TEST_PG (default 127.0.0.1:5432, trust auth); each call of
`fresh_database_url` creates a database with a unique name, dropped at the end of the run.
NATS: a nats-server with JetStream started per run on a free port, with its store in a temporary
folder, so tests may stop and restart it to simulate outages.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest

from modelward_common.nats_server import NatsServer as NatsProcess

PG_HOST = os.environ.get("MODELWARD_TEST_PG", "127.0.0.1:5432")
RUN_ID = uuid.uuid4().hex[:8]


def _admin_dsn() -> str:
    return f"postgresql://postgres@{PG_HOST}/postgres"


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[list[str]]:
    created: list[str] = []
    yield created
    if not created:
        return

    async def drop_all() -> None:
        connection = await asyncpg.connect(_admin_dsn())
        try:
            for name in created:
                await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    asyncio.run(drop_all())


@pytest.fixture(scope="session")
def fresh_pg_url(pg_databases: list[str]) -> Callable[[], str]:
    """Return a factory of SQLAlchemy URLs, each naming a new empty PostgreSQL database."""

    def create() -> str:
        name = f"mw_test_{RUN_ID}_{len(pg_databases)}_{uuid.uuid4().hex[:6]}"

        async def create_database() -> None:
            connection = await asyncpg.connect(_admin_dsn())
            try:
                await connection.execute(f'CREATE DATABASE "{name}"')
            finally:
                await connection.close()

        _run_in_thread(create_database)
        pg_databases.append(name)
        return f"postgresql+asyncpg://postgres@{PG_HOST}/{name}"

    return create


@pytest.fixture
def fresh_sqlite_url(tmp_path: Path) -> Callable[[], str]:
    """Return a factory of SQLAlchemy URLs, each naming a new SQLite file under tmp_path."""
    counter = iter(range(1_000_000))

    def create() -> str:
        return f"sqlite+aiosqlite:///{tmp_path}/db{next(counter)}.sqlite"

    return create


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(
    request: pytest.FixtureRequest,
    fresh_pg_url: Callable[[], str],
    fresh_sqlite_url: Callable[[], str],
) -> str:
    """URL of a new empty database, once on PostgreSQL and once on SQLite."""
    if request.param == "postgresql":
        return fresh_pg_url()
    return fresh_sqlite_url()


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsProcess]:
    server = NatsProcess(tmp_path_factory.mktemp("nats"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def nats_prefix() -> str:
    """A subject prefix and stream-name stem unique to one test, so streams never collide."""
    return f"t{uuid.uuid4().hex[:10]}"


def _run_in_thread(factory: Callable[[], object]) -> None:
    """Run a coroutine factory on its own loop, so sync fixtures work inside async tests too."""

    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(factory())  # type: ignore[arg-type]
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


@pytest.fixture
async def nats_client(nats_server: NatsProcess) -> AsyncIterator[object]:
    import nats

    client = await nats.connect(nats_server.url)
    yield client
    await client.drain()
