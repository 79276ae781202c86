"""Freezing long-lived objects keeps them out of collections; the full pass still frees their cycles."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from modelward_common.gc_tuning import collect_everything, freeze_periodically, freeze_survivors


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def _cycle() -> weakref.ref[_Node]:
    first, second = _Node(), _Node()
    first.other, second.other = second, first
    return weakref.ref(first)


@pytest.fixture(autouse=True)
def _unfrozen():  # type: ignore[no-untyped-def]
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_freeze_keeps_cycle_until_full_pass() -> None:
    node = _Node()
    node.other = node
    alive = weakref.ref(node)
    freeze_survivors()
    assert gc.get_freeze_count() > 0
    del node
    gc.collect()
    assert alive() is not None, "a frozen object must stay out of ordinary collections"

    collect_everything()
    assert alive() is None
    assert gc.get_freeze_count() > 0, "what survived the full pass is frozen again"


def test_freeze_collects_young_cycles_first() -> None:
    alive = _cycle()
    freeze_survivors()
    assert alive() is None


async def test_freeze_task_unfreezes_when_cancelled() -> None:
    task = asyncio.create_task(freeze_periodically(0.01, 0))
    for _ in range(200):
        await asyncio.sleep(0.01)
        if gc.get_freeze_count():
            break
    assert gc.get_freeze_count() > 0
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gc.get_freeze_count() == 0


async def test_freeze_task_runs_full_pass() -> None:
    node = _Node()
    node.other = node
    alive = weakref.ref(node)
    freeze_survivors()
    del node
    task = asyncio.create_task(freeze_periodically(0.01, 0.05))
    for _ in range(300):
        await asyncio.sleep(0.01)
        if alive() is None:
            break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert alive() is None
