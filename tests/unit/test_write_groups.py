"""How WriteGroups forms groups and hands each caller its own outcome, without a database."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from modelward_registry.service_layer.write_groups import WriteGroups


class Recorder:
    """A group writer that records its groups and doubles each number, failing on negatives."""

    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, requests: Sequence[int]) -> list[int | BaseException]:
        self.groups.append(list(requests))
        await self.release.wait()
        outcomes: list[int | BaseException] = []
        for number in requests:
            if number < 0:
                outcomes.append(ValueError(f"negative {number}"))
            else:
                outcomes.append(number * 2)
        return outcomes


async def _start_held_group(groups: WriteGroups[int, int], writer: Recorder) -> asyncio.Future[int]:
    """Submit 1 so that it forms a group of its own, which the writer holds until released."""
    writer.release.clear()
    first = asyncio.ensure_future(groups.submit(1))
    await asyncio.sleep(0)
    return first


async def test_queued_requests_form_next_group() -> None:
    writer = Recorder()
    groups = WriteGroups(writer, max_size=10)
    first = await _start_held_group(groups, writer)
    rest = [asyncio.ensure_future(groups.submit(number)) for number in (2, 3, 4)]
    await asyncio.sleep(0)
    writer.release.set()
    assert await first == 2
    assert [await result for result in rest] == [4, 6, 8]
    assert writer.groups == [[1], [2, 3, 4]]


async def test_each_caller_gets_own_outcome() -> None:
    groups = WriteGroups(Recorder(), max_size=10)
    outcomes = await asyncio.gather(groups.submit(1), groups.submit(-1), groups.submit(2), return_exceptions=True)
    assert outcomes[0] == 2
    assert isinstance(outcomes[1], ValueError)
    assert outcomes[2] == 4


async def test_max_size_splits_groups() -> None:
    writer = Recorder()
    groups = WriteGroups(writer, max_size=2)
    assert await asyncio.gather(*(groups.submit(number) for number in range(5))) == [0, 2, 4, 6, 8]
    assert writer.groups == [[0, 1], [2, 3], [4]]
    assert groups.groups == 3
    assert groups.requests == 5


async def test_same_key_waits_for_next_group() -> None:
    writer = Recorder()
    groups = WriteGroups(writer, max_size=10, key=lambda number: number % 3)
    await asyncio.gather(*(groups.submit(number) for number in (1, 4, 2, 7, 5)))
    assert writer.groups == [[1, 2], [4, 5], [7]]


async def test_writer_error_reaches_every_caller() -> None:
    async def broken(requests: Sequence[int]) -> list[int]:
        raise ConnectionError("database went away")

    groups = WriteGroups(broken, max_size=10)
    outcomes = await asyncio.gather(*(groups.submit(number) for number in range(3)), return_exceptions=True)
    assert all(isinstance(outcome, ConnectionError) for outcome in outcomes)


async def test_wrong_outcome_count_fails_group() -> None:
    async def short(requests: Sequence[int]) -> list[int]:
        return list(requests)[:-1]

    groups = WriteGroups(short, max_size=10)
    outcomes = await asyncio.gather(groups.submit(1), groups.submit(2), return_exceptions=True)
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes)


async def test_cancelled_request_leaves_queue() -> None:
    writer = Recorder()
    groups = WriteGroups(writer, max_size=10)
    first = await _start_held_group(groups, writer)
    cancelled = asyncio.ensure_future(groups.submit(2))
    remaining = asyncio.ensure_future(groups.submit(3))
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.sleep(0)
    writer.release.set()
    assert await first == 2
    assert await remaining == 6
    assert writer.groups == [[1], [3]]


async def test_writer_runs_again_after_idle() -> None:
    writer = Recorder()
    groups = WriteGroups(writer, max_size=10)
    assert await groups.submit(1) == 2
    await asyncio.sleep(0)
    assert await groups.submit(2) == 4
    assert writer.groups == [[1], [2]]


async def test_cancelled_writer_cancels_waiting() -> None:
    writer = Recorder()
    groups = WriteGroups(writer, max_size=10)
    first = await _start_held_group(groups, writer)
    queued = asyncio.ensure_future(groups.submit(2))
    await asyncio.sleep(0)
    assert groups._writer is not None
    groups._writer.cancel()
    await asyncio.wait_for(asyncio.gather(first, queued, return_exceptions=True), 5)
    assert first.cancelled()
    assert queued.cancelled()


def test_zero_size_rejected() -> None:
    with pytest.raises(ValueError, match="max_size"):
        WriteGroups(Recorder(), max_size=0)
