"""The durable consumer applies each registry event once, in order, and heals gaps."""

from __future__ import annotations

import asyncio
import contextlib
import time

import nats
import sqlalchemy as sa

from modelward_common.consumer import CONSUMER_TABLES, ConsumerConfig, EventConsumer, dead_letters_table
from modelward_common.db import create_engine
from modelward_governance.adapters.registry_history import RegistryHistory
from modelward_protos.registry.v1 import registry_service_pb2 as rpc
from tests.support.builders import new_model, new_version
from tests.support.registry import registry_config, running_registry

applied_table = sa.Table(
    "applied", sa.MetaData(),
    sa.Column("stream_id", sa.String(64), primary_key=True),
    sa.Column("stream_version", sa.BigInteger, primary_key=True),
    sa.Column("type", sa.String(64)),
)


async def _engine(url: str):
    engine = create_engine(url)
    async with engine.begin() as connection:
        for table in CONSUMER_TABLES:
            await connection.run_sync(table.create)
        await connection.run_sync(applied_table.create)
    return engine


def _consumer(engine, config, prefix: str, name: str, history=None, fail_types=()) -> EventConsumer:
    async def handler(connection, event) -> None:
        if event.type in fail_types:
            raise RuntimeError(f"refusing {event.type}")
        await connection.execute(applied_table.insert().values(stream_id=event.stream_id, stream_version=event.stream_version, type=event.type))

    consumer_config = ConsumerConfig(
        nats_url=config.nats_url, stream_name=config.stream_name, durable_name=f"{prefix}-{name}",
        filter_subject=f"{prefix}.registry.v1.>", name=name, gap_wait_seconds=0.1, fetch_timeout=0.2, max_deliveries=3,
    )
    return EventConsumer(engine, consumer_config, handler, history=history)


@contextlib.asynccontextmanager
async def _running(*consumers: EventConsumer):
    tasks = [asyncio.create_task(consumer.run()) for consumer in consumers]
    try:
        yield
    finally:
        for consumer in consumers:
            await consumer.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)


async def _applied(engine) -> list[tuple[str, int, str]]:
    async with engine.connect() as connection:
        rows = (await connection.execute(sa.select(applied_table).order_by(applied_table.c.stream_id, applied_table.c.stream_version))).all()
    return [tuple(row) for row in rows]


async def _wait_until(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.1)


async def test_two_replicas_apply_each_event_once_in_order(database_url, fresh_pg_url, nats_server, nats_prefix) -> None:
    config = registry_config(fresh_pg_url(), nats_server.url, nats_prefix)
    engine = await _engine(database_url)
    async with running_registry(config) as registry:
        first = _consumer(engine, config, nats_prefix, "governance", RegistryHistory(registry.channel))
        second = _consumer(engine, config, nats_prefix, "governance", RegistryHistory(registry.channel))
        async with _running(first, second):
            for name in ("m1", "m2", "m3"):
                await registry.stub.CreateModel(new_model(name))
            await asyncio.gather(*(
                registry.stub.CreateModelVersion(new_version(name, seed=f"{name}{i}"))
                for i in range(10) for name in ("m1", "m2", "m3")
            ))
            await _wait_until(lambda: _count(engine, 33))
        rows = await _applied(engine)
        assert len(rows) == 33
        by_stream: dict[str, list[int]] = {}
        for stream_id, version, _ in rows:
            by_stream.setdefault(stream_id, []).append(version)
        assert all(versions == list(range(1, 12)) for versions in by_stream.values())
        assert first.applied_count + second.applied_count == 33

        client = await nats.connect(nats_server.url)
        message = await client.jetstream().get_msg(config.stream_name, 2)
        # The relay's publish conditions are stored with the message; a second producer sends none.
        duplicate_headers = {key: value for key, value in message.headers.items() if not key.startswith("Nats-Expected-")}
        duplicate_headers["Nats-Msg-Id"] = "a-different-id"
        await client.jetstream().publish(message.subject, message.data, headers=duplicate_headers)
        await client.close()
        again = _consumer(engine, config, nats_prefix, "governance", RegistryHistory(registry.channel))
        async with _running(again):
            await _wait_until(lambda: _duplicates(again, 1))
        assert again.duplicate_count == 1
        assert len(await _applied(engine)) == 33
    await engine.dispose()


async def _count(engine, expected: int) -> bool:
    return len(await _applied(engine)) >= expected


async def _duplicates(consumer: EventConsumer, expected: int) -> bool:
    return consumer.duplicate_count >= expected


async def test_lost_message_is_filled_from_history(fresh_sqlite_url, fresh_pg_url, nats_server, nats_prefix) -> None:
    config = registry_config(fresh_pg_url(), nats_server.url, nats_prefix)
    engine = await _engine(fresh_sqlite_url())
    async with running_registry(config) as registry:
        await registry.stub.CreateModel(new_model("healing"))
        for seed in range(4):
            await registry.stub.CreateModelVersion(new_version("healing", seed=f"h{seed}"))
        client = await nats.connect(nats_server.url)
        js = client.jetstream()
        await _wait_until(lambda: _stream_has(js, config.stream_name, 5))
        await js.delete_msg(config.stream_name, 3)
        await client.close()
        consumer = _consumer(engine, config, nats_prefix, "healer", RegistryHistory(registry.channel))
        async with _running(consumer):
            await _wait_until(lambda: _count(engine, 5))
        rows = await _applied(engine)
        assert [version for _, version, _ in rows] == [1, 2, 3, 4, 5]
        assert consumer.healed_count == 1
    await engine.dispose()


async def _stream_has(js, stream: str, count: int) -> bool:
    try:
        return (await js.stream_info(stream)).state.messages >= count
    except Exception:  # noqa: BLE001 - the stream appears with the first publish
        return False


async def test_failing_event_is_parked_without_blocking(fresh_sqlite_url, fresh_pg_url, nats_server, nats_prefix) -> None:
    config = registry_config(fresh_pg_url(), nats_server.url, nats_prefix)
    engine = await _engine(fresh_sqlite_url())
    async with running_registry(config) as registry:
        await registry.stub.CreateModel(new_model("poison"))
        await registry.stub.SetModelTags(rpc.SetModelTagsRequest(name="models/poison", tags={"a": "b"}))
        await registry.stub.CreateModel(new_model("healthy"))
        consumer = _consumer(engine, config, nats_prefix, "strict", None, fail_types=("ModelTagsSet",))
        async with _running(consumer):
            await _wait_until(lambda: _parked(engine, 1))
            await _wait_until(lambda: _count(engine, 2))
        rows = await _applied(engine)
        assert sorted(kind for _, _, kind in rows) == ["ModelCreated", "ModelCreated"]
        assert consumer.parked_count == 1
        async with engine.connect() as connection:
            parked = (await connection.execute(sa.select(dead_letters_table))).mappings().one()
        assert parked["type"] == "ModelTagsSet"
        assert parked["deliveries"] == 3
        retry = _consumer(engine, config, nats_prefix, "strict", None)
        assert await retry.retry_dead_letter(parked["id"]) is True
        assert len(await _applied(engine)) == 3
    await engine.dispose()


async def _parked(engine, expected: int) -> bool:
    async with engine.connect() as connection:
        return (await connection.scalar(sa.select(sa.func.count()).select_from(dead_letters_table))) >= expected
