"""Reads and single-statement writes skip BEGIN and COMMIT on PostgreSQL; the relay reads once per wake."""

from __future__ import annotations

import asyncio
import time

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from modelward_common.db import create_engine, read_connection, statement_connection
from modelward_common.eventstore import EventContext, NewEvent, append, metadata
from modelward_common.relay import OutboxRelay, RelayConfig


async def test_postgresql_reads_run_without_transaction(fresh_pg_url) -> None:
    engine = create_engine(fresh_pg_url())
    try:
        async with read_connection(engine, "reading twice") as connection:
            first = await connection.scalar(sa.text("SELECT now()"))
            await asyncio.sleep(0.01)
            second = await connection.scalar(sa.text("SELECT now()"))
        # now() is the start of the transaction: equal inside one, apart in autocommit mode.
        assert second > first
    finally:
        await engine.dispose()


async def _engine_with_counter(url: str) -> AsyncEngine:
    """Return an engine on a database with a table `counter` of one row, value 1."""
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(sa.text("CREATE TABLE counter (value INTEGER)"))
        await connection.execute(sa.text("INSERT INTO counter VALUES (1)"))
    return engine


async def test_sqlite_reads_share_one_snapshot(fresh_sqlite_url) -> None:
    engine = await _engine_with_counter(fresh_sqlite_url())
    try:
        async with read_connection(engine, "reading twice") as reader:
            assert await reader.scalar(sa.text("SELECT value FROM counter")) == 1
            async with engine.begin() as writer:
                await writer.execute(sa.text("UPDATE counter SET value = 2"))
            assert await reader.scalar(sa.text("SELECT value FROM counter")) == 1
    finally:
        await engine.dispose()


async def test_statement_connection_commits_each_write(database_url) -> None:
    engine = await _engine_with_counter(database_url)
    try:
        async with statement_connection(engine, "updating the counter") as connection:
            result = await connection.execute(sa.text("UPDATE counter SET value = 2"))
            assert result.rowcount == 1
        async with read_connection(engine, "reading the counter") as connection:
            assert await connection.scalar(sa.text("SELECT value FROM counter")) == 2
    finally:
        await engine.dispose()


async def test_relay_reads_once_per_wake(fresh_pg_url, nats_server, nats_prefix) -> None:
    engine = create_engine(fresh_pg_url())
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    reads: list[str] = []

    def count_outbox_reads(_conn, _cursor, statement: str, *_args: object) -> None:
        if "WHERE events.position >" in statement:
            reads.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count_outbox_reads)
    relay = OutboxRelay(engine, RelayConfig(
        nats_url=nats_server.url, stream_name=f"{nats_prefix}_READS", subject_prefix=nats_prefix,
        service="registry", source="urn:modelward:registry", poll_interval=60,
    ))
    task = asyncio.create_task(relay.run())
    try:
        # The relay reads once when it starts; the counting begins after that read.
        deadline = time.monotonic() + 10
        while not reads and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        context = EventContext(actor="user:test@example.com")
        for version in (1, 2, 3):
            async with engine.begin() as connection:
                await append(connection, "stream-a", version - 1, [NewEvent("ModelTagsSet", b"", "models/a")], context)
            before = len(reads)
            relay.wake()
            deadline = time.monotonic() + 10
            while relay.published_count < version and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            assert relay.published_count == version
            await asyncio.sleep(0.2)
            # One read returned the event; an empty read after it would cost round trips for nothing.
            assert len(reads) - before == 1
    finally:
        await relay.stop()
        await asyncio.wait_for(task, timeout=30)
        await engine.dispose()
