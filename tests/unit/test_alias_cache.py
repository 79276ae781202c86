"""The alias cache's rules, without a database: what it stores, drops and does not return."""

from __future__ import annotations

import asyncio

from modelward_protos.registry.v1 import resources_pb2 as res
from modelward_registry.adapters.alias_cache import AliasCache, AliasCacheSettings, ChangeWatcher


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def fresh_cache(**settings: float) -> tuple[AliasCache, Clock]:
    clock = Clock()
    cache = AliasCache(AliasCacheSettings(**settings), clock=clock)  # type: ignore[arg-type]
    cache.mark_fresh(clock.now)
    return cache, clock


def version(number: int) -> res.ModelVersion:
    return res.ModelVersion(name=f"models/m/versions/{number}", version=number)


def test_get_returns_stored_version() -> None:
    cache, _ = fresh_cache()
    cache.put("churn", "champion", "uid-1", version(3), cache.generation)
    assert cache.get("churn", "champion") == version(3)
    assert cache.get("churn", "challenger") is None
    assert cache.get("Churn", "champion") is None


def test_put_after_drop_ignored() -> None:
    cache, _ = fresh_cache()
    started = cache.generation
    # The model changed (and its entries were dropped) while the read was in the database.
    cache.drop(["uid-1"])
    cache.put("churn", "champion", "uid-1", version(3), started)
    assert cache.get("churn", "champion") is None


def test_drop_forgets_model_aliases_only() -> None:
    cache, _ = fresh_cache()
    cache.put("churn", "champion", "uid-1", version(3), cache.generation)
    cache.put("churn", "challenger", "uid-1", version(4), cache.generation)
    cache.put("fraud", "champion", "uid-2", version(1), cache.generation)
    cache.drop(["uid-1"])
    assert cache.get("churn", "champion") is None
    assert cache.get("churn", "challenger") is None
    assert cache.get("fraud", "champion") == version(1)


def test_put_evicts_least_recently_used() -> None:
    cache, _ = fresh_cache(max_entries=2)
    cache.put("a", "x", "uid-a", version(1), cache.generation)
    cache.put("b", "x", "uid-b", version(2), cache.generation)
    assert cache.get("a", "x") == version(1)  # now "b" is the least recently used
    cache.put("c", "x", "uid-c", version(3), cache.generation)
    assert len(cache) == 2
    assert cache.get("b", "x") is None
    assert cache.get("a", "x") == version(1)
    # The evicted entry left no trace in the per-model index.
    cache.drop(["uid-b"])
    assert cache.get("c", "x") == version(3)


def test_get_misses_when_watcher_lags() -> None:
    cache, clock = fresh_cache(max_staleness=1.0)
    cache.put("churn", "champion", "uid-1", version(3), cache.generation)
    clock.now += 0.9
    assert cache.get("churn", "champion") == version(3)
    clock.now += 0.2
    assert cache.get("churn", "champion") is None
    # A finished poll that started now makes the entries usable again.
    cache.mark_fresh(clock.now)
    assert cache.get("churn", "champion") == version(3)


def test_cache_unused_before_first_poll() -> None:
    cache = AliasCache(AliasCacheSettings())
    cache.put("churn", "champion", "uid-1", version(3), cache.generation)
    cache.mark_fresh(cache.clock())
    assert cache.get("churn", "champion") is None


def test_zero_entries_disables_cache() -> None:
    cache, _ = fresh_cache(max_entries=0)
    cache.put("churn", "champion", "uid-1", version(3), cache.generation)
    assert not cache.enabled
    assert cache.get("churn", "champion") is None


class SlowWatcher(ChangeWatcher):
    """A watcher whose polls take a while and record when they finish, with no database."""

    def __init__(self, cache: AliasCache, poll_seconds: float) -> None:
        super().__init__(None, cache)  # type: ignore[arg-type]
        self.poll_seconds = poll_seconds
        self.started = asyncio.Event()
        self.finished_polls = 0

    async def poll(self) -> None:
        self.started.set()
        await asyncio.sleep(self.poll_seconds)
        self.finished_polls += 1


async def test_stop_waits_for_poll_under_way() -> None:
    # A poll that finishes after stop() returned could mark the cache fresh once more.
    watcher = SlowWatcher(AliasCache(AliasCacheSettings(poll_interval=0.01)), poll_seconds=0.2)
    running = asyncio.create_task(watcher.run())
    await watcher.started.wait()
    await watcher.stop()
    assert watcher.finished_polls == 1
    assert running.done()


async def test_stop_before_run_returns() -> None:
    await SlowWatcher(AliasCache(AliasCacheSettings()), poll_seconds=0).stop()
