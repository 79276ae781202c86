"""The registry's guarantees: dense versions, rebuildable projections, the outbox relay."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
import sqlalchemy as sa

from modelward_common.db import create_engine
from modelward_common.nats_server import NatsServer
from modelward_common.relay import OutboxRelay, RelayConfig
from nats.js.api import StorageType, StreamConfig
from modelward_protos.registry.v1 import registry_service_pb2 as rpc
from modelward_protos.registry.v1 import resources_pb2 as res
from modelward_registry.adapters.schema import PROJECTION_TABLES
from modelward_registry.rebuild import rebuild_projections
from tests.support.builders import new_model, new_version
from tests.support.registry import registry_config, running_registry


async def _stream_messages(nats_client, stream: str) -> int:
    info = await nats_client.jetstream().stream_info(stream)
    return info.state.messages


async def _wait_for_messages(nats_client, stream: str, expected: int, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        try:
            count = await _stream_messages(nats_client, stream)
        except Exception:  # noqa: BLE001 - the stream appears with the first publish
            count = 0
        if count >= expected:
            return count
        await asyncio.sleep(0.05)
    return count


async def _event_count(database_url: str) -> int:
    engine = create_engine(database_url)
    async with engine.connect() as connection:
        count = await connection.scalar(sa.text("SELECT count(*) FROM events"))
    await engine.dispose()
    return int(count)


async def test_concurrent_writers_get_dense_versions(database_url, nats_server, nats_prefix) -> None:
    config = registry_config(database_url, nats_server.url, nats_prefix)
    async with running_registry(config) as registry:
        await registry.stub.CreateModel(new_model("fraud"))
        created = await asyncio.gather(
            *(registry.stub.CreateModelVersion(new_version("fraud", seed=f"s{i}")) for i in range(24))
        )
        numbers = sorted(version.version for version in created)
        assert numbers == list(range(1, 25))
        model = await registry.stub.GetModel(rpc.GetModelRequest(name="models/fraud"))
        assert model.latest_version == 24


async def test_version_numbers_survive_model_deletion(database_url, nats_server, nats_prefix) -> None:
    config = registry_config(database_url, nats_server.url, nats_prefix)
    async with running_registry(config) as registry:
        await registry.stub.CreateModel(new_model("short-lived"))
        await registry.stub.CreateModelVersion(new_version("short-lived", seed="a"))
        await registry.stub.DeleteModel(rpc.DeleteModelRequest(name="models/short-lived"))
        with pytest.raises(grpc.aio.AioRpcError) as recreate:
            await registry.stub.CreateModel(new_model("short-lived"))
        assert recreate.value.code() == grpc.StatusCode.ALREADY_EXISTS
        with pytest.raises(grpc.aio.AioRpcError) as new_version_error:
            await registry.stub.CreateModelVersion(new_version("short-lived", seed="b"))
        assert new_version_error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        deleted = await registry.stub.GetModel(rpc.GetModelRequest(name="models/short-lived"))
        assert deleted.state == res.MODEL_STATE_DELETED
        assert deleted.latest_version == 1


async def test_stale_etag_is_aborted_without_lost_update(database_url, nats_server, nats_prefix) -> None:
    config = registry_config(database_url, nats_server.url, nats_prefix)
    async with running_registry(config) as registry:
        model = await registry.stub.CreateModel(new_model("credit"))
        first = res.Model(name=model.name, description="first writer", etag=model.etag)
        second = res.Model(name=model.name, description="second writer", etag=model.etag)
        mask = {"paths": ["description"]}
        await registry.stub.UpdateModel(rpc.UpdateModelRequest(model=first, update_mask=mask))
        with pytest.raises(grpc.aio.AioRpcError) as stale:
            await registry.stub.UpdateModel(rpc.UpdateModelRequest(model=second, update_mask=mask))
        assert stale.value.code() == grpc.StatusCode.ABORTED
        assert "etag" in stale.value.details()
        current = await registry.stub.GetModel(rpc.GetModelRequest(name=model.name))
        assert current.description == "first writer"


async def _dump_projections(database_url: str) -> dict[str, list[tuple[object, ...]]]:
    engine = create_engine(database_url)
    dump: dict[str, list[tuple[object, ...]]] = {}
    async with engine.connect() as connection:
        for table in PROJECTION_TABLES:
            rows = (await connection.execute(sa.select(table))).all()
            dump[table.name] = sorted((tuple(row) for row in rows), key=repr)
    await engine.dispose()
    return dump


async def test_rebuilt_projections_equal_live(database_url, nats_server, nats_prefix) -> None:
    config = registry_config(database_url, nats_server.url, nats_prefix)
    async with running_registry(config) as registry:
        stub = registry.stub
        for name in ("alpha", "beta", "gamma"):
            await stub.CreateModel(new_model(name))
            for seed in range(3):
                await stub.CreateModelVersion(new_version(name, seed=f"{name}{seed}"))
        await stub.SetAlias(rpc.SetAliasRequest(name="models/alpha/versions/2", alias="champion"))
        await stub.SetAlias(rpc.SetAliasRequest(name="models/alpha/versions/3", alias="champion"))
        await stub.SetAlias(rpc.SetAliasRequest(name="models/beta/versions/1", alias="challenger"))
        await stub.DeleteAlias(rpc.DeleteAliasRequest(model="models/beta", alias="challenger"))
        await stub.TransitionStage(rpc.TransitionStageRequest(name="models/alpha/versions/1", stage=res.STAGE_PRODUCTION))
        await stub.TransitionStage(rpc.TransitionStageRequest(name="models/alpha/versions/3", stage=res.STAGE_PRODUCTION))
        await stub.SetModelTags(rpc.SetModelTagsRequest(name="models/beta", tags={"domain": "payments", "x": "1"}))
        await stub.DeleteModelTags(rpc.DeleteModelTagsRequest(name="models/beta", keys=["x"]))
        await stub.SetModelVersionTags(rpc.SetModelVersionTagsRequest(name="models/gamma/versions/2", tags={"k": "v"}))
        await stub.UpdateModelVersion(
            rpc.UpdateModelVersionRequest(
                model_version=res.ModelVersion(name="models/gamma/versions/2", description="retuned",
                                               metrics=[res.Metric(name="auc", value=0.91)]),
                update_mask={"paths": ["description", "metrics"]},
            )
        )
        await stub.UpdateModel(
            rpc.UpdateModelRequest(model=res.Model(name="models/gamma", owner="user:ana@example.com"),
                                   update_mask={"paths": ["owner"]})
        )
        await stub.RenameModel(rpc.RenameModelRequest(name="models/gamma", new_model_id="delta"))
        await stub.ArchiveModel(rpc.ArchiveModelRequest(name="models/beta"))
        await stub.DeleteModel(rpc.DeleteModelRequest(name="models/beta"))

    live = await _dump_projections(database_url)
    engine = create_engine(database_url)
    stats = await rebuild_projections(engine)
    await engine.dispose()
    rebuilt = await _dump_projections(database_url)
    assert stats.models == 3
    assert stats.versions == 9
    assert rebuilt == live


async def test_relay_waits_out_nats_outage(fresh_pg_url, tmp_path, nats_prefix) -> None:
    server = NatsServer(tmp_path / "nats")
    server.start()
    import nats

    database_url = fresh_pg_url()
    config = registry_config(database_url, server.url, nats_prefix)
    try:
        async with running_registry(config) as registry:
            await registry.stub.CreateModel(new_model("outage"))
            client = await nats.connect(server.url)
            assert await _wait_for_messages(client, config.stream_name, 1) == 1
            await client.close()

            server.stop()
            for seed in range(5):
                await registry.stub.CreateModelVersion(new_version("outage", seed=f"o{seed}"))
            await asyncio.sleep(0.5)
            server.start()

            for seed in range(5, 8):
                await registry.stub.CreateModelVersion(new_version("outage", seed=f"o{seed}"))
            client = await nats.connect(server.url)
            assert await _wait_for_messages(client, config.stream_name, 9) == 9
            subscription = await client.jetstream().subscribe(f"{nats_prefix}.registry.v1.>", ordered_consumer=True)
            versions = []
            for _ in range(9):
                message = await subscription.next_msg(timeout=10)
                versions.append(int(message.headers["ce-streamversion"]))
            assert versions == list(range(1, 10))
            await client.close()
    finally:
        server.stop()


async def test_relay_resumes_after_registry_restart(fresh_pg_url, nats_server, nats_prefix, nats_client) -> None:
    database_url = fresh_pg_url()
    config = registry_config(database_url, nats_server.url, nats_prefix)
    async with running_registry(config) as registry:
        await registry.stub.CreateModel(new_model("restart"))
    quiet = registry_config(database_url, nats_server.url, nats_prefix, run_relay=False)
    async with running_registry(quiet) as registry:
        for seed in range(4):
            await registry.stub.CreateModelVersion(new_version("restart", seed=f"r{seed}"))
    assert await _event_count(database_url) == 5
    async with running_registry(config):
        assert await _wait_for_messages(nats_client, config.stream_name, 5) == 5
        await asyncio.sleep(0.3)
        assert await _stream_messages(nats_client, config.stream_name) == 5


async def test_relay_order_after_rejected_event(fresh_pg_url, nats_server, nats_prefix, nats_client) -> None:
    """The relay sends a batch without waiting for each acknowledgement. When JetStream rejects
    one event (here: larger than the stream allows), the events after it must wait for it."""
    database_url = fresh_pg_url()
    quiet = registry_config(database_url, nats_server.url, nats_prefix, run_relay=False)
    async with running_registry(quiet) as registry:
        await registry.stub.CreateModel(new_model("order"))
        await registry.stub.CreateModelVersion(new_version("order", seed="o1"))
        model = await registry.stub.GetModel(rpc.GetModelRequest(name="models/order"))
        large = res.Model(name=model.name, description="d" * 5000, etag=model.etag)
        await registry.stub.UpdateModel(rpc.UpdateModelRequest(model=large, update_mask={"paths": ["description"]}))
        for seed in ("o2", "o3"):
            await registry.stub.CreateModelVersion(new_version("order", seed=seed))

    config = registry_config(database_url, nats_server.url, nats_prefix)
    js = nats_client.jetstream()
    stream = StreamConfig(
        name=config.stream_name, subjects=[f"{nats_prefix}.registry.v1.>"], max_msg_size=4096,
        storage=StorageType.FILE, duplicate_window=600,
    )
    await js.add_stream(stream)

    async with running_registry(config):
        assert await _wait_for_messages(nats_client, config.stream_name, 2) == 2
        await asyncio.sleep(1.0)
        assert await _stream_messages(nats_client, config.stream_name) == 2
        stream.max_msg_size = -1
        await js.update_stream(stream)
        assert await _wait_for_messages(nats_client, config.stream_name, 5) == 5

    subscription = await js.subscribe(f"{nats_prefix}.registry.v1.>", ordered_consumer=True)
    positions = [int((await subscription.next_msg(timeout=10)).headers["ce-position"]) for _ in range(5)]
    await subscription.unsubscribe()
    assert positions == sorted(positions)
    assert len(set(positions)) == 5


async def test_relay_after_many_failed_sends(fresh_pg_url, nats_server, nats_prefix, tmp_path) -> None:
    """A send that fails (here: an event over the server's max_payload) must leave nothing
    behind: a relay that waited on a fixed number of in-flight slots, one lost per failure,
    stopped for good after a few hundred failures, even once the event could go through."""
    import nats

    database_url = fresh_pg_url()
    quiet = registry_config(database_url, nats_server.url, nats_prefix, run_relay=False)
    async with running_registry(quiet) as registry:
        await registry.stub.CreateModel(new_model("payload"))
        model = await registry.stub.GetModel(rpc.GetModelRequest(name="models/payload"))
        large = res.Model(name=model.name, description="d" * 5000, etag=model.etag)
        await registry.stub.UpdateModel(rpc.UpdateModelRequest(model=large, update_mask={"paths": ["description"]}))
        await registry.stub.CreateModelVersion(new_version("payload", seed="p1"))
    settings = tmp_path / "nats.conf"
    settings.write_text("max_payload: 4096\n")
    server = NatsServer(tmp_path / "nats", config_file=settings)
    server.start()
    engine = create_engine(database_url)
    relay = OutboxRelay(engine, RelayConfig(
        nats_url=server.url, stream_name=f"{nats_prefix}_PAYLOAD", subject_prefix=nats_prefix, service="registry",
        source="urn:modelward:registry", poll_interval=0.01, max_backoff=0.002, batch_size=4,
    ))
    task = asyncio.create_task(relay.run())
    try:
        deadline = time.monotonic() + 60
        while relay.failed_steps < 300 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert relay.failed_steps >= 300, relay.last_error
        assert relay.published_count >= 1, "the event before the refused one is published and recorded"
        assert "MaxPayload" in relay.last_error
        settings.write_text("max_payload: 1048576\n")
        server.restart()
        client = await nats.connect(server.url)
        try:
            assert await _wait_for_messages(client, f"{nats_prefix}_PAYLOAD", 3) == 3
        finally:
            await client.close()
    finally:
        await relay.stop()
        await asyncio.wait_for(task, timeout=30)
        await engine.dispose()
        server.stop()


async def test_two_replicas_publish_each_event_once(database_url, nats_server, nats_prefix, nats_client) -> None:
    config = registry_config(database_url, nats_server.url, nats_prefix)
    async with running_registry(config) as first, running_registry(config) as second:
        await first.stub.CreateModel(new_model("shared"))
        writes = []
        for index in range(30):
            stub = first.stub if index % 2 else second.stub
            writes.append(stub.CreateModelVersion(new_version("shared", seed=f"x{index}")))
        await asyncio.gather(*writes)
        leaders = [app.relay.is_leader for app in (first.app, second.app)]
        assert leaders.count(True) == 1
        assert await _wait_for_messages(nats_client, config.stream_name, 31) == 31
        await asyncio.sleep(0.5)
        info = await nats_client.jetstream().stream_info(config.stream_name)
        assert info.state.messages == 31
        subscription = await nats_client.jetstream().subscribe(f"{nats_prefix}.registry.v1.>", ordered_consumer=True)
        positions = []
        for _ in range(31):
            message = await subscription.next_msg(timeout=10)
            positions.append(int(message.headers["ce-position"]))
        assert positions == sorted(positions)
        assert len(set(positions)) == 31
        await subscription.unsubscribe()


async def test_cli_rebuild_keeps_projections(fresh_sqlite_url, nats_server, nats_prefix) -> None:
    import subprocess
    import sys
    from pathlib import Path

    database_url = fresh_sqlite_url()
    config = registry_config(database_url, nats_server.url, nats_prefix)
    async with running_registry(config) as registry:
        await registry.stub.CreateModel(new_model("cli"))
        await registry.stub.CreateModelVersion(new_version("cli", seed="c1"))
        await registry.stub.SetAlias(rpc.SetAliasRequest(name="models/cli/versions/1", alias="champion"))
    live = await _dump_projections(database_url)
    command = Path(sys.executable).parent / "modelward"
    result = subprocess.run(
        [str(command), "registry", "rebuild-projections", "--database-url", database_url],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "rebuilt 1 models and 1 versions from 3 events" in result.stdout
    assert await _dump_projections(database_url) == live


async def test_cli_rebuild_refused_while_serving(fresh_sqlite_url, nats_server, nats_prefix) -> None:
    import subprocess
    import sys
    from pathlib import Path

    database_url = fresh_sqlite_url()
    config = registry_config(database_url, nats_server.url, nats_prefix)
    command = Path(sys.executable).parent / "modelward"
    async with running_registry(config) as registry:
        await registry.stub.CreateModel(new_model("serving"))
        deadline = asyncio.get_running_loop().time() + 10
        while not registry.app.relay.is_leader:
            assert asyncio.get_running_loop().time() < deadline, "the relay never took its lease"
            await asyncio.sleep(0.05)
        live = await _dump_projections(database_url)

        refused = await asyncio.to_thread(
            subprocess.run, [str(command), "registry", "rebuild-projections", "--database-url", database_url],
            capture_output=True, text=True, timeout=60,
        )
        assert refused.returncode == 6, refused.stderr
        assert "a registry is serving on this database" in refused.stderr
        assert registry.app.relay.holder_id in refused.stderr
        assert "--force" in refused.stderr
        assert "rebuilt" not in refused.stdout
        assert await _dump_projections(database_url) == live

        forced = await asyncio.to_thread(
            subprocess.run,
            [str(command), "registry", "rebuild-projections", "--database-url", database_url, "--force"],
            capture_output=True, text=True, timeout=60,
        )
        assert forced.returncode == 0, forced.stderr
        assert "rebuilt 1 models" in forced.stdout
