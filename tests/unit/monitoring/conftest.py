"""Shared builders for the monitoring tests."""

from __future__ import annotations

import numpy as np
from modelward_governance.monitoring import WindowAccumulator, WindowStats


def close_window(
    accumulator: WindowAccumulator, columns: dict[str, object], batch_rows: int = 1000
) -> WindowStats:
    """Feed `columns` in batches of `batch_rows` rows and close the window."""
    total = len(next(iter(columns.values())))  # type: ignore[arg-type]
    for start in range(0, total, batch_rows):
        batch = {
            name: np.asarray(values, dtype=object if isinstance(values, list) else None)[
                start : start + batch_rows
            ]
            for name, values in columns.items()
        }
        accumulator.add_batch(batch, now=float(start))
    return accumulator.close(now=float(total))
