"""Serialised window state: a restored accumulator continues exactly where the original stood."""

from __future__ import annotations

import numpy as np
import pytest

from modelward_governance.monitoring import (
    MonitoringConfig,
    ProfileFormatError,
    WindowAccumulator,
    WindowConfig,
    build_reference_profile,
)


def _columns(rng: np.random.Generator, rows: int) -> dict[str, object]:
    return {
        "amount": rng.normal(0, 1, rows),
        "country": list(rng.choice(["de", "fr", "it"], rows)),
        "score": rng.uniform(0, 1, rows),
    }


@pytest.mark.parametrize("exact_limit", [10_000, 250])
def test_restored_accumulator_matches_uninterrupted(exact_limit: int) -> None:
    rng = np.random.default_rng(7)
    profile = build_reference_profile(_columns(rng, 2000), prediction="score")
    config = MonitoringConfig(window=WindowConfig(max_rows=1000, exact_limit=exact_limit))
    batches = [_columns(rng, 200) for _ in range(3)]
    ids = [[f"r{part}-{row}" for row in range(200)] for part in range(3)]

    straight = WindowAccumulator(profile, config)
    resumed = WindowAccumulator(profile, config)
    for index, batch in enumerate(batches):
        straight.add_batch(batch, request_ids=ids[index], now=float(index))
        resumed.add_batch(batch, request_ids=ids[index], now=float(index))
        resumed = WindowAccumulator.from_bytes(resumed.to_bytes(), profile, config)

    joined = resumed.add_labels(["r0-1", "missing"], [1, 0])
    straight.add_labels(["r0-1", "missing"], [1, 0])
    assert joined.matched == 1
    assert joined.unmatched_positions.tolist() == [1]

    expected, actual = straight.close(now=3.0), resumed.close(now=3.0)
    assert actual.n_rows == expected.n_rows == 600
    assert actual.n_labelled == expected.n_labelled == 1
    assert np.array_equal(actual.numeric["amount"].cell_counts, expected.numeric["amount"].cell_counts)
    assert actual.numeric["amount"].sum_sq == pytest.approx(expected.numeric["amount"].sum_sq)
    assert actual.categorical["country"].counts == expected.categorical["country"].counts
    assert resumed.window_index == 1


def test_state_size_stays_bounded() -> None:
    rng = np.random.default_rng(8)
    profile = build_reference_profile(_columns(rng, 2000), prediction="score")
    window = WindowConfig(max_rows=None, max_duration_seconds=3600.0, exact_limit=1000, joint_sample_size=2000)
    config = MonitoringConfig(window=window)
    accumulator = WindowAccumulator(profile, config)
    sizes = []
    for index in range(20):
        accumulator.add_batch(_columns(rng, 1000), now=float(index))
        sizes.append(len(accumulator.to_bytes()))
    assert sizes[-1] < sizes[4] * 1.1, "the state stops growing once the buffer and the sample are full"


def test_foreign_bytes_are_rejected() -> None:
    rng = np.random.default_rng(9)
    profile = build_reference_profile(_columns(rng, 100), prediction="score")
    with pytest.raises(ProfileFormatError):
        WindowAccumulator.from_bytes(b"MWRP\x01\x00rest", profile, MonitoringConfig())
