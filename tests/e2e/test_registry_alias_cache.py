"""ResolveAlias from memory: never stale on the replica that wrote, bounded on the others."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import grpc
import pytest

from modelward_common.limits import ServerLimits
from modelward_protos.registry.v1 import registry_service_pb2 as rpc
from modelward_registry.adapters.alias_cache import AliasCacheSettings
from tests.support.builders import new_model, new_version
from tests.support.registry import RunningRegistry, registry_config, running_registry


async def _two_versions(registry: RunningRegistry, model: str) -> None:
    await registry.stub.CreateModel(new_model(model))
    for seed in ("one", "two"):
        await registry.stub.CreateModelVersion(new_version(model, seed=seed))


def _point(model: str, number: int, alias: str = "champion") -> rpc.SetAliasRequest:
    return rpc.SetAliasRequest(name=f"models/{model}/versions/{number}", alias=alias)


async def _resolve(registry: RunningRegistry, model: str, alias: str = "champion") -> int:
    return (await registry.stub.ResolveAlias(rpc.ResolveAliasRequest(model=f"models/{model}", alias=alias))).version


async def _wait_for(registry: RunningRegistry, model: str, number: int, limit: float) -> float:
    started = time.monotonic()
    while await _resolve(registry, model) != number:
        assert time.monotonic() - started < limit, f"replica still resolves the old version after {limit} s"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def test_writer_reads_own_alias_moves(database_url, nats_server, nats_prefix) -> None:
    # The readers call as fast as they can, past the default per-principal rate limit.
    config = registry_config(database_url, nats_server.url, nats_prefix, limits=ServerLimits(rate_per_second=0))
    async with running_registry(config) as registry:
        await _two_versions(registry, "churn")
        await registry.stub.SetAlias(_point("churn", 1))
        stop = asyncio.Event()

        async def reader() -> None:
            # Keeps the cache filled with the current version while the alias moves.
            while not stop.is_set():
                await _resolve(registry, "churn")

        readers = [asyncio.create_task(reader()) for _ in range(4)]
        try:
            for round_ in range(40):
                target = 2 if round_ % 2 == 0 else 1
                await registry.stub.SetAlias(_point("churn", target))
                assert await _resolve(registry, "churn") == target
        finally:
            stop.set()
            await asyncio.gather(*readers)
        assert registry.app.registry.alias_cache.hits > 0


async def test_rename_and_delete_apply_at_once(database_url, nats_server, nats_prefix) -> None:
    config = registry_config(database_url, nats_server.url, nats_prefix)
    async with running_registry(config) as registry:
        for model in ("old-name", "doomed"):
            await _two_versions(registry, model)
            await registry.stub.SetAlias(_point(model, 1))
            assert await _resolve(registry, model) == 1
            assert await _resolve(registry, model) == 1
        await registry.stub.RenameModel(rpc.RenameModelRequest(name="models/old-name", new_model_id="new-name"))
        with pytest.raises(grpc.aio.AioRpcError) as renamed:
            await _resolve(registry, "old-name")
        assert renamed.value.code() == grpc.StatusCode.NOT_FOUND
        assert await _resolve(registry, "new-name") == 1
        await registry.stub.DeleteModel(rpc.DeleteModelRequest(name="models/doomed"))
        with pytest.raises(grpc.aio.AioRpcError) as deleted:
            await _resolve(registry, "doomed")
        assert deleted.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_other_replica_within_staleness_bound(database_url, nats_server, nats_prefix) -> None:
    config = registry_config(database_url, nats_server.url, nats_prefix)
    async with running_registry(config) as reader, running_registry(config) as writer:
        await _two_versions(writer, "fraud")
        await writer.stub.SetAlias(_point("fraud", 1))
        await _wait_for(reader, "fraud", 1, config.alias_cache.max_staleness + 1)
        assert await _resolve(reader, "fraud") == 1  # served from the cache now
        await writer.stub.SetAlias(_point("fraud", 2))
        waited = await _wait_for(reader, "fraud", 2, config.alias_cache.max_staleness + 0.5)
        assert waited <= config.alias_cache.max_staleness + 0.5


async def test_stalled_watcher_reads_database(fresh_pg_url, nats_server, nats_prefix) -> None:
    staleness = 0.3
    config = dataclasses.replace(
        registry_config(fresh_pg_url(), nats_server.url, nats_prefix),
        alias_cache=AliasCacheSettings(max_entries=100, poll_interval=0.02, max_staleness=staleness),
    )
    async with running_registry(config) as reader, running_registry(config) as writer:
        await _two_versions(writer, "credit")
        await writer.stub.SetAlias(_point("credit", 1))
        await _wait_for(reader, "credit", 1, 5)
        assert await _resolve(reader, "credit") == 1
        assert reader.app.watcher is not None
        # The reader no longer learns of other replicas' changes; its entries must expire. A poll
        # under way when the watcher stops may still see the next change and keep the cache
        # fresh, so the change comes only after the watcher has finished.
        await reader.app.watcher.stop()
        await writer.stub.SetAlias(_point("credit", 2))
        waited = await _wait_for(reader, "credit", 2, staleness + 1)
        assert waited <= staleness + 0.5
        # The last poll may have dropped the entry, so the value read just now could be cached
        # again until that poll's start is max_staleness old. After that, no read uses the cache.
        await asyncio.sleep(staleness + 0.1)
        hits = reader.app.registry.alias_cache.hits
        for _ in range(5):
            assert await _resolve(reader, "credit") == 2
        assert reader.app.registry.alias_cache.hits == hits


async def test_cache_off_still_resolves(fresh_pg_url, nats_server, nats_prefix) -> None:
    config = dataclasses.replace(
        registry_config(fresh_pg_url(), nats_server.url, nats_prefix), alias_cache=AliasCacheSettings(max_entries=0)
    )
    async with running_registry(config) as registry:
        await _two_versions(registry, "plain")
        await registry.stub.SetAlias(_point("plain", 2))
        assert await _resolve(registry, "plain") == 2
        assert registry.app.watcher is None
        assert registry.app.registry.alias_cache.hits == 0
