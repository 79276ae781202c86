"""Keep full garbage collections short in a process whose heap is large and long-lived.

Governance keeps its portfolio and redundancy index in memory. With 20,000 models a full
(generation 2) collection walked the whole heap and stopped the event loop for 60 to 90 ms, and
while models kept arriving one came every few seconds: those pauses made the slowest
event-to-decision delays.

`freeze_periodically` collects the young generations every `freeze_interval` seconds and then
moves every surviving object to the permanent generation (`gc.freeze`), which collections never
walk. A full collection then walks only what was created since the last freeze. Reference
counting still frees a frozen object as soon as nothing refers to it. Only garbage reference
cycles among frozen objects stay, until the full pass every `full_interval` seconds unfreezes,
collects everything once, and freezes again.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time

logger = logging.getLogger(__name__)


def freeze_survivors() -> None:
    """Collect the young generations, then freeze whatever survived them."""
    gc.collect(1)
    gc.freeze()


def collect_everything() -> None:
    """Collect the whole heap, frozen objects included, then freeze the survivors again."""
    started = time.perf_counter()
    gc.unfreeze()
    collected = gc.collect()
    gc.freeze()
    logger.info(
        "full garbage collection: %d unreachable objects freed in %.0f ms, %d objects frozen",
        collected, (time.perf_counter() - started) * 1000, gc.get_freeze_count(),
    )


async def freeze_periodically(freeze_interval: float, full_interval: float) -> None:
    """Run `freeze_survivors` every `freeze_interval` seconds and `collect_everything` every
    `full_interval` seconds (0: never), until cancelled."""
    next_full = time.monotonic() + full_interval
    try:
        while True:
            await asyncio.sleep(freeze_interval)
            if full_interval > 0 and time.monotonic() >= next_full:
                collect_everything()
                next_full = time.monotonic() + full_interval
            else:
                freeze_survivors()
    finally:
        gc.unfreeze()
