"""Where the relay publishes from: the stream's last event, the recorded position, handed events.

A relay can stop after JetStream stored a batch and before the database recorded it. The stream's
duplicate window hides the repeats only while it keeps their ids. A relay that comes back later
must not store them a second time, out of order. Events the process hands over after commit are
published without a read when they follow the cursor, and read from the outbox when they do not.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError
from sqlalchemy.ext.asyncio import AsyncEngine

from modelward_common import relay as relay_module
from modelward_common.auth.nats_options import NatsSecurity
from modelward_common.nats_server import NatsServer
from modelward_common import eventstore
from modelward_common.db import create_engine
from modelward_common.eventstore import EventContext, NewEvent
from modelward_common.relay import OutboxRelay, RelayConfig, relay_state_table
from modelward_governance import bootstrap as governance_bootstrap
from modelward_registry.bootstrap import prepare_database
from tests.support.builders import new_model, new_version
from tests.support.governance import governance_config, running_governance
from tests.support.registry import registry_config, running_registry

EVENTS = 6


async def _registry_events(database_url: str, nats_url: str, prefix: str) -> None:
    """Write EVENTS events with the relay off."""
    quiet = registry_config(database_url, nats_url, prefix, run_relay=False)
    async with running_registry(quiet) as registry:
        await registry.stub.CreateModel(new_model("takeover"))
        for seed in range(EVENTS - 1):
            await registry.stub.CreateModelVersion(new_version("takeover", seed=f"t{seed}"))


def _relay_config(nats_url: str, prefix: str, **overrides: float) -> RelayConfig:
    settings: dict[str, float] = {"poll_interval": 0.02, **overrides}
    return RelayConfig(
        nats_url=nats_url, stream_name=f"{prefix}_REGISTRY", subject_prefix=prefix, service="registry",
        source="urn:modelward:registry", **settings,
    )


@contextlib.asynccontextmanager
async def _running(relay: OutboxRelay) -> AsyncIterator[OutboxRelay]:
    task = asyncio.create_task(relay.run())
    try:
        yield relay
    finally:
        await relay.stop()
        await asyncio.wait_for(task, timeout=30)


async def _wait_published(relay: OutboxRelay, count: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while relay.published_count < count and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert relay.published_count >= count, relay.last_error


async def _stream_positions(nats_client, prefix: str) -> list[int]:
    js = nats_client.jetstream()
    info = await js.stream_info(f"{prefix}_REGISTRY")
    positions = []
    for sequence in range(info.state.first_seq, info.state.last_seq + 1):
        try:
            message = await js.get_msg(f"{prefix}_REGISTRY", seq=sequence)
        except NotFoundError:  # deleted
            continue
        positions.append(int(message.headers["ce-position"]))
    return positions


async def _set_recorded_position(engine, prefix: str, position: int) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            relay_state_table.update()
            .where(relay_state_table.c.name == f"{prefix}_REGISTRY")
            .values(published_position=position, holder=None, lease_expires_at=None)
        )


async def _recorded_position(engine, prefix: str) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(
            sa.select(relay_state_table.c.published_position).where(relay_state_table.c.name == f"{prefix}_REGISTRY")
        ))


async def _add_stream(nats_client, prefix: str, duplicate_window: float) -> None:
    await nats_client.jetstream().add_stream(StreamConfig(
        name=f"{prefix}_REGISTRY", subjects=[f"{prefix}.registry.v1.>"], storage=StorageType.FILE,
        duplicate_window=duplicate_window,
    ))


@contextlib.asynccontextmanager
async def _all_published(database_url: str, nats_url: str, prefix: str, nats_client) -> AsyncIterator[AsyncEngine]:
    """Publish every event through one relay to a stream with a 0.5 s duplicate window."""
    await _registry_events(database_url, nats_url, prefix)
    await _add_stream(nats_client, prefix, duplicate_window=0.5)
    engine = create_engine(database_url)
    try:
        async with _running(OutboxRelay(engine, _relay_config(nats_url, prefix))) as first:
            await _wait_published(first, EVENTS)
        yield engine
    finally:
        await engine.dispose()


async def test_takeover_after_duplicate_window_stores_nothing_twice(
    fresh_pg_url, nats_server, nats_prefix, nats_client
) -> None:
    async with _all_published(fresh_pg_url(), nats_server.url, nats_prefix, nats_client) as engine:
        # As if the relay had stopped before recording its last batches.
        await _set_recorded_position(engine, nats_prefix, 2)
        await asyncio.sleep(1.0)
        async with _running(OutboxRelay(engine, _relay_config(nats_server.url, nats_prefix))) as second:
            deadline = time.monotonic() + 10
            while await _recorded_position(engine, nats_prefix) < EVENTS and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)
            assert second.published_count == 0
        assert await _recorded_position(engine, nats_prefix) == EVENTS
        assert await _stream_positions(nats_client, nats_prefix) == list(range(1, EVENTS + 1))


async def test_stream_tail_from_elsewhere_leaves_recorded_position(
    fresh_pg_url, nats_server, nats_prefix, nats_client, caplog
) -> None:
    """A last message whose id is not in this database (a stream shared by mistake, a database
    restored from an older backup) does not move the cursor, and the relay warns."""
    database_url = fresh_pg_url()
    await _registry_events(database_url, nats_server.url, nats_prefix)
    await _add_stream(nats_client, nats_prefix, duplicate_window=600)
    js = nats_client.jetstream()
    await js.publish(f"{nats_prefix}.registry.v1.ModelCreated", b"x", headers={"Nats-Msg-Id": str(uuid.uuid4())})
    await js.publish(f"{nats_prefix}.registry.v1.ModelCreated", b"y", headers={"Nats-Msg-Id": "not-a-uuid"})
    engine = create_engine(database_url)
    try:
        with caplog.at_level(logging.WARNING, logger="modelward_common.relay"):
            async with _running(OutboxRelay(engine, _relay_config(nats_server.url, nats_prefix))) as relay:
                await _wait_published(relay, EVENTS)
        assert "not-a-uuid" in caplog.text
        assert "was not found in this database" in caplog.text
        assert await _recorded_position(engine, nats_prefix) == EVENTS
    finally:
        await engine.dispose()


async def test_deleted_tail_message_resumes_from_the_one_before(
    fresh_pg_url, nats_server, nats_prefix, nats_client
) -> None:
    """The stream's last event is found by subject, so a deleted last message does not hide it."""
    async with _all_published(fresh_pg_url(), nats_server.url, nats_prefix, nats_client) as engine:
        js = nats_client.jetstream()
        info = await js.stream_info(f"{nats_prefix}_REGISTRY")
        await js.delete_msg(f"{nats_prefix}_REGISTRY", info.state.last_seq)
        await _set_recorded_position(engine, nats_prefix, 1)
        await asyncio.sleep(1.0)
        async with _running(OutboxRelay(engine, _relay_config(nats_server.url, nats_prefix))) as second:
            await _wait_published(second, 1)
        # Positions 2 to EVENTS - 1 were in the stream, so only the deleted last one is sent again.
        assert await _stream_positions(nats_client, nats_prefix) == list(range(1, EVENTS + 1))


async def test_paused_relay_drops_its_batch(
    fresh_pg_url, nats_server, nats_prefix, nats_client, caplog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relay that stalls between reading a batch and sending it (a long GC pause, a stopped
    process) may have lost the lease meanwhile, so it drops the batch and renews the lease first."""
    database_url = fresh_pg_url()
    await _registry_events(database_url, nats_server.url, nats_prefix)
    real_read_all = relay_module.read_all
    stalls = [0.7]

    async def slow_read_all(*args, **kwargs):
        events = await real_read_all(*args, **kwargs)
        if stalls and events:
            await asyncio.sleep(stalls.pop())
        return events

    monkeypatch.setattr(relay_module, "read_all", slow_read_all)
    engine = create_engine(database_url)
    try:
        with caplog.at_level(logging.WARNING, logger="modelward_common.relay"):
            relay = OutboxRelay(engine, _relay_config(nats_server.url, nats_prefix, lease_ttl=1.0))
            async with _running(relay):
                await _wait_published(relay, EVENTS)
        assert "past its lease margin" in caplog.text
        assert await _stream_positions(nats_client, nats_prefix) == list(range(1, EVENTS + 1))
    finally:
        await engine.dispose()


async def test_position_update_skips_flush_wait(fresh_pg_url, nats_server, nats_prefix) -> None:
    """The relay records its position without waiting for PostgreSQL's WAL flush, and the
    setting that does it ends with that statement's transaction instead of staying on the
    pooled connection."""
    database_url = fresh_pg_url()
    await _registry_events(database_url, nats_server.url, nats_prefix)
    engine = create_engine(database_url, pool_size=1)
    updates: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.startswith("UPDATE relay_state SET published_position"):
            updates.append(statement)

    sa.event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with _running(OutboxRelay(engine, _relay_config(nats_server.url, nats_prefix))) as relay:
            await _wait_published(relay, EVENTS)
        async with engine.connect() as connection:
            setting = await connection.scalar(sa.text("SHOW synchronous_commit"))
    finally:
        await engine.dispose()
    assert updates
    assert all("set_config" in statement for statement in updates)
    assert setting == "on"


async def _append(engine, stream_id: str, version: int, *, commit: bool = True) -> list[eventstore.StoredEvent]:
    context = EventContext(actor="user:ana@example.com")
    async with engine.connect() as connection:
        transaction = await connection.begin()
        stored = await eventstore.append(
            connection, stream_id, version, [NewEvent(type="ModelCreated", payload=b"x", subject=f"models/{stream_id}")], context
        )
        await (transaction.commit() if commit else transaction.rollback())
    return stored


async def test_handed_events_publish_without_read(fresh_pg_url, nats_server, nats_prefix, nats_client, monkeypatch) -> None:
    """Events handed over after commit that follow the cursor are published without reading the
    outbox. After a gap (a position left by a rolled-back append) the relay reads the outbox."""
    engine = create_engine(fresh_pg_url())
    await prepare_database(engine)
    reads: list[int] = []
    real_read_all = relay_module.read_all

    async def counting_read_all(*args, **kwargs):
        reads.append(kwargs["after_position"])
        return await real_read_all(*args, **kwargs)

    monkeypatch.setattr(relay_module, "read_all", counting_read_all)
    relay = OutboxRelay(engine, _relay_config(nats_server.url, nats_prefix, poll_interval=60.0))
    try:
        async with _running(relay):
            deadline = time.monotonic() + 10
            while not reads and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            for version in range(3):
                relay.committed(await _append(engine, "handed", version))
            await _wait_published(relay, 3)
            assert reads == [0]

            await _append(engine, "rolled-back", 0, commit=False)
            relay.committed(await _append(engine, "handed", 3))
            await _wait_published(relay, 4)
            assert reads == [0, 3]
    finally:
        await engine.dispose()
    assert await _stream_positions(nats_client, nats_prefix) == [1, 2, 3, 5]


async def test_stalled_relay_cannot_append_stale_batch(
    fresh_pg_url, nats_server, nats_prefix, nats_client, caplog
) -> None:
    """A relay stalls after its lease check while another relay publishes the same events.
    When it sends its batch after the duplicate window, JetStream rejects it, because the
    batch's first message expects the stream's last sequence as that relay left it."""
    database_url = fresh_pg_url()
    await _registry_events(database_url, nats_server.url, nats_prefix)
    await _add_stream(nats_client, nats_prefix, duplicate_window=0.5)
    engine = create_engine(database_url)
    try:
        first = OutboxRelay(engine, _relay_config(nats_server.url, nats_prefix))
        async with _running(first):
            await _wait_published(first, EVENTS)
        for version in range(4):
            await _append(engine, "late", version)
        # The stream contains positions 1 to EVENTS. The stalled relay reads the 4 later ones and waits.
        stalled = OutboxRelay(engine, _relay_config(nats_server.url, nats_prefix, lease_ttl=1.0))
        gate = asyncio.Event()
        publish = stalled._publish

        async def publish_after_gate(client, batch):  # type: ignore[no-untyped-def]
            await gate.wait()
            return await publish(client, batch)

        stalled._publish = publish_after_gate  # type: ignore[method-assign]
        with caplog.at_level(logging.WARNING, logger="modelward_common.relay"):
            async with _running(stalled):
                deadline = time.monotonic() + 10
                while not stalled.is_leader and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)
                takeover = OutboxRelay(engine, _relay_config(nats_server.url, nats_prefix, lease_ttl=1.0))
                async with _running(takeover):
                    await _wait_published(takeover, 4)
                await asyncio.sleep(1.0)
                gate.set()
                deadline = time.monotonic() + 10
                while "wrong last sequence" not in caplog.text and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
        assert "wrong last sequence" in caplog.text
        assert await _stream_positions(nats_client, nats_prefix) == list(range(1, EVENTS + 5))
    finally:
        await engine.dispose()


async def test_relay_without_message_read_permission_still_publishes(
    fresh_pg_url, nats_prefix, nats_client, tmp_path, caplog
) -> None:
    """A registry upgraded before its NATS user may read stream messages keeps publishing from
    the recorded position, and its warning names the permission to grant."""
    from modelward_common.nats_permissions import NatsLayout, registry_permissions

    layout = NatsLayout(subject_prefix=nats_prefix, registry_stream=f"{nats_prefix}_REGISTRY")
    allowed = [subject for subject in registry_permissions(layout).publish if ".STREAM.MSG.GET." not in subject]
    settings = tmp_path / "nats.conf"
    settings.write_text(
        "authorization { users = [ { user: relay, password: secret, permissions: { "
        f"publish: {{allow: {json.dumps(allowed)}}}, subscribe: {{allow: [\"_INBOX.>\"]}} }} }} ] }}\n"
    )
    server = NatsServer(tmp_path / "nats", config_file=settings)
    server.start()
    database_url = fresh_pg_url()
    await _registry_events(database_url, server.url.replace("nats://", "nats://relay:secret@"), nats_prefix)
    engine = create_engine(database_url)
    try:
        config = dataclasses.replace(
            _relay_config(server.url, nats_prefix), nats_security=NatsSecurity(user="relay", password="secret")
        )
        with caplog.at_level(logging.WARNING, logger="modelward_common.relay"):
            async with _running(OutboxRelay(engine, config)) as relay:
                await _wait_published(relay, EVENTS, timeout=30)
        assert f"grant its NATS user $JS.API.STREAM.MSG.GET.{nats_prefix}_REGISTRY" in caplog.text
    finally:
        await engine.dispose()
        server.stop()


async def test_deleted_stream_is_created_again(fresh_pg_url, nats_server, nats_prefix, nats_client) -> None:
    """A stream deleted while the relay runs is created again, and the events after it follow."""
    engine = create_engine(fresh_pg_url())
    await prepare_database(engine)
    relay = OutboxRelay(engine, _relay_config(nats_server.url, nats_prefix))
    try:
        async with _running(relay):
            relay.committed(await _append(engine, "kept", 0))
            await _wait_published(relay, 1)
            await nats_client.jetstream().delete_stream(f"{nats_prefix}_REGISTRY")
            relay.committed(await _append(engine, "kept", 1))
            await _wait_published(relay, 2)
    finally:
        await engine.dispose()
    assert await _stream_positions(nats_client, nats_prefix) == [2]


async def test_governance_relay_skips_read_back(fresh_pg_url, nats_server, nats_prefix, monkeypatch) -> None:
    """Governance's relay publishes the events of a consumer transaction from memory once it
    commits, without reading them back from the outbox."""
    governance_url = fresh_pg_url()
    read_back: list[str] = []
    real_read_all = relay_module.read_all

    async def recording_read_all(connection, *args, **kwargs):
        events = await real_read_all(connection, *args, **kwargs)
        if connection.engine.url.render_as_string(hide_password=False) == governance_url:
            read_back.extend(event.type for event in events)
        return events

    monkeypatch.setattr(relay_module, "read_all", recording_read_all)
    # Polls read the outbox too. With one poll a minute, only the start-up read and the reads
    # after commits remain.
    real_relay_config = governance_bootstrap.relay_config
    monkeypatch.setattr(
        governance_bootstrap, "relay_config", lambda config: dataclasses.replace(real_relay_config(config), poll_interval=60.0)
    )
    async with running_registry(registry_config(fresh_pg_url(), nats_server.url, nats_prefix)) as registry:
        config = governance_config(governance_url, nats_server.url, nats_prefix, registry.target)
        async with running_governance(config) as governance:
            relay = governance.app.relay
            deadline = time.monotonic() + 20
            while relay.published_count < 1 and time.monotonic() < deadline:  # the initial policy
                await asyncio.sleep(0.02)
            started_with = relay.published_count
            for index in range(3):
                await registry.stub.CreateModel(new_model(f"ownerless-{index}", owner=""))
            # Each ownerless model opens findings and flags the model orphaned.
            await _wait_published(relay, started_with + 6)
    assert set(read_back) <= {"PolicyChanged"}, read_back
