"""Resolved aliases held in memory, so the serving platforms' hot path skips the database.

ResolveAlias returns the cached version when it can. An entry is dropped when its model changes:

- at once, after the commit, when this replica wrote the change (so a caller that set an alias
  reads it back on the next call), and
- within `max_staleness` seconds when another replica wrote it: a watcher reads the event log
  for positions after the last one it saw, every `poll_interval` seconds, and drops the entries
  of every stream that gained events.

PostgreSQL makes event positions visible in the order they were allocated (the append lock is
held until commit, see eventstore.append_many) and SQLite has one writer, so once a poll that
started at time T finishes, every change committed before T has been seen. The cache is used
only while the last finished poll started less than `max_staleness` seconds ago. When polls fail
or fall behind, reads go to the database until the watcher catches up.

A read that raced a change must not put the old version back after the drop, so each drop bumps
a generation number, and a read stores its result only if the generation did not move while it
was reading.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from modelward_common.db import read_connection
from modelward_common.eventstore import events_table
from modelward_protos.registry.v1 import resources_pb2 as res

logger = logging.getLogger(__name__)

# Rows the watcher reads per query; a busier log is read in several queries in one poll.
_POLL_BATCH = 5000


@dataclass(frozen=True)
class AliasCacheSettings:
    # Entries kept; the least recently used goes first. 0 turns the cache off.
    max_entries: int = 10_000
    # Seconds between polls of the event log for changes made by other replicas.
    poll_interval: float = 0.05
    # Seconds after which a change made by another replica is certainly visible.
    max_staleness: float = 1.0


class AliasCache:
    """(model id, alias) -> the version message ResolveAlias returns, with the model's uid."""

    def __init__(self, settings: AliasCacheSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self._entries: collections.OrderedDict[tuple[str, str], tuple[str, res.ModelVersion]] = collections.OrderedDict()
        self._keys_by_uid: dict[str, set[tuple[str, str]]] = {}
        self.generation = 0
        # Start time of the last finished poll; None until the first poll finishes.
        self._fresh_as_of: float | None = None
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.settings.max_entries > 0

    def get(self, model_id: str, alias: str) -> res.ModelVersion | None:
        if not self._usable():
            return None
        found = self._entries.get((model_id, alias))
        if found is None:
            self.misses += 1
            return None
        self._entries.move_to_end((model_id, alias))
        self.hits += 1
        return found[1]

    def put(self, model_id: str, alias: str, uid: str, version: res.ModelVersion, generation: int) -> None:
        """Store a version read while the generation was `generation`, unless a drop came since."""
        if not self._usable() or generation != self.generation:
            return
        key = (model_id, alias)
        self._entries[key] = (uid, version)
        self._entries.move_to_end(key)
        self._keys_by_uid.setdefault(uid, set()).add(key)
        while len(self._entries) > self.settings.max_entries:
            old_key, (old_uid, _) = self._entries.popitem(last=False)
            self._forget_key(old_uid, old_key)

    def drop(self, uids: Iterable[str]) -> None:
        """Forget every entry of these models (streams)."""
        self.generation += 1
        for uid in uids:
            for key in self._keys_by_uid.pop(uid, ()):
                self._entries.pop(key, None)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()
        self._keys_by_uid.clear()

    def mark_fresh(self, poll_started: float) -> None:
        self._fresh_as_of = poll_started

    def __len__(self) -> int:
        return len(self._entries)

    def _usable(self) -> bool:
        return (
            self.enabled
            and self._fresh_as_of is not None
            and self.clock() - self._fresh_as_of <= self.settings.max_staleness
        )

    def _forget_key(self, uid: str, key: tuple[str, str]) -> None:
        keys = self._keys_by_uid.get(uid)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._keys_by_uid[uid]


_HEAD = sa.select(sa.func.coalesce(sa.func.max(events_table.c.position), 0))
_CHANGES = (
    sa.select(events_table.c.position, events_table.c.stream_id)
    .where(events_table.c.position > sa.bindparam("after"))
    .order_by(events_table.c.position)
    .limit(_POLL_BATCH)
)


class ChangeWatcher:
    """Polls the event log and drops the cache entries of streams that gained events."""

    def __init__(self, engine: AsyncEngine, cache: AliasCache) -> None:
        self.engine = engine
        self.cache = cache
        self._position: int | None = None
        self._stopping = asyncio.Event()
        self._running = False
        self._stopped = asyncio.Event()

    async def poll(self) -> None:
        """Read the changes committed since the last poll; one call is one poll."""
        started = self.cache.clock()
        async with read_connection(self.engine, "watch registry changes") as connection:
            if self._position is None:
                self._position = int(await connection.scalar(_HEAD) or 0)
            else:
                while True:
                    rows = (await connection.execute(_CHANGES, {"after": self._position})).all()
                    if rows:
                        self.cache.drop({row.stream_id for row in rows})
                        self._position = int(rows[-1].position)
                    if len(rows) < _POLL_BATCH:
                        break
        self.cache.mark_fresh(started)

    async def run(self) -> None:
        interval = self.cache.settings.poll_interval
        self._running = True
        try:
            while not self._stopping.is_set():
                try:
                    await self.poll()
                except Exception:  # noqa: BLE001 - a failed poll must not stop the watcher
                    logger.warning("alias cache: reading the event log failed; ResolveAlias reads the database until a poll succeeds", exc_info=True)
                    self.cache.clear()
                try:
                    await asyncio.wait_for(self._stopping.wait(), interval)
                except asyncio.TimeoutError:
                    pass
        finally:
            self._stopped.set()

    async def stop(self) -> None:
        """Stop polling; returns once a poll under way has finished (and marked the cache fresh)."""
        self._stopping.set()
        if self._running:
            await self._stopped.wait()
