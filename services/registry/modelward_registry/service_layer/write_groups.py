"""Group commit: requests that arrive while a group is being written form the next group.

On PostgreSQL every append holds one advisory lock from its insert until its commit (see
eventstore.append_many), so requests committed one by one take turns for a lock held for a few
round trips and a commit each. A group shares that lock, those round trips and one commit.

No request waits for a timer: while the store is idle, the first request forms a group of one.
Groups form only while a group is already being written, so the group size follows the load.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

RequestT = TypeVar("RequestT")
ResultT = TypeVar("ResultT")

# Outcome of one request: its result, or the error its caller receives.
Outcome = ResultT | BaseException


@dataclass
class _Waiting(Generic[RequestT, ResultT]):
    request: RequestT
    result: asyncio.Future[ResultT]


class WriteGroups(Generic[RequestT, ResultT]):
    """Collects requests and hands them to `write` in groups, one group at a time.

    `write` receives the requests of a group in arrival order and returns one outcome per request,
    in the same order. An exception it raises becomes every request's error. `key` names requests
    that must not share a group (such as two with the same idempotency key): a request whose key
    is already in the group waits for the next one, so it reads what the first one committed.
    """

    def __init__(
        self,
        write: Callable[[Sequence[RequestT]], Awaitable[Sequence[Outcome[ResultT]]]],
        *,
        max_size: int,
        key: Callable[[RequestT], Hashable | None] = lambda request: None,
    ) -> None:
        if max_size < 1:
            raise ValueError(f"invalid max_size {max_size}: use 1 or more")
        self._write = write
        self.max_size = max_size
        self._key = key
        self._waiting: list[_Waiting[RequestT, ResultT]] = []
        self._writer: asyncio.Task[None] | None = None
        # Groups written and requests in them, for tests and benchmarks.
        self.groups = 0
        self.requests = 0

    async def submit(self, request: RequestT) -> ResultT:
        """Return the request's result once its group has committed, or raise its error."""
        waiting = _Waiting(request, asyncio.get_running_loop().create_future())
        self._waiting.append(waiting)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(), name="registry-write-groups")
        # A cancelled caller leaves its request in the group if the group has already started:
        # like a call whose deadline passes during its commit, it may still take effect.
        return await waiting.result

    async def _write_all(self) -> None:
        while self._waiting:
            group = self._next_group()
            if group:
                await self._write_group(group)

    def _next_group(self) -> list[_Waiting[RequestT, ResultT]]:
        group: list[_Waiting[RequestT, ResultT]] = []
        later: list[_Waiting[RequestT, ResultT]] = []
        keys: set[Hashable] = set()
        for index, waiting in enumerate(self._waiting):
            if len(group) == self.max_size:
                later.extend(self._waiting[index:])
                break
            if waiting.result.done():  # the caller was cancelled before its group started
                continue
            key = self._key(waiting.request)
            if key is not None and key in keys:
                later.append(waiting)
                continue
            if key is not None:
                keys.add(key)
            group.append(waiting)
        self._waiting = later
        return group

    async def _write_group(self, group: list[_Waiting[RequestT, ResultT]]) -> None:
        self.groups += 1
        self.requests += len(group)
        try:
            outcomes = await self._write([waiting.request for waiting in group])
        except asyncio.CancelledError:
            # The writer is going away (its loop is closing): no request may wait for it forever.
            for waiting in [*group, *self._waiting]:
                if not waiting.result.done():
                    waiting.result.cancel()
            self._waiting = []
            raise
        except Exception as error:  # noqa: BLE001 - the group's callers receive the error
            outcomes = [error] * len(group)
        if len(outcomes) != len(group):
            error = RuntimeError(f"group writer returned {len(outcomes)} outcomes for {len(group)} requests")
            logger.error("%s", error)
            outcomes = [error] * len(group)
        for waiting, outcome in zip(group, outcomes):
            if waiting.result.done():
                continue
            if isinstance(outcome, BaseException):
                waiting.result.set_exception(outcome)
            else:
                waiting.result.set_result(outcome)
