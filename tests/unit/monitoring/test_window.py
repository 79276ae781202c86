"""Window accumulation: grid summaries, exact values, closing rules, label join, memory bounds."""

from __future__ import annotations

import numpy as np
import pytest
from modelward_governance.monitoring import (
    ColumnLengthError,
    DuplicateRequestIdError,
    MissingColumnError,
    MonitoringConfig,
    NonFiniteValueError,
    NumericProfile,
    ProfileConfig,
    UnexpectedColumnError,
    WindowAccumulator,
    WindowConfig,
    build_reference_profile,
)
from modelward_governance.monitoring.sampling import BottomKSampler
from modelward_governance.monitoring.summary import summarise_sorted

from .conftest import close_window


def _profile(rows: int = 2000, seed: int = 0, sample_size: int = 10_000):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    return build_reference_profile(
        {"x": rng.normal(size=rows), "c": rng.choice(["a", "b"], rows), "p": rng.random(rows)},
        prediction="p",
        config=ProfileConfig(sample_size=sample_size),
    )


def _config(**window: object) -> MonitoringConfig:
    settings = {"max_rows": None, "max_duration_seconds": 1e9}
    settings.update(window)
    return MonitoringConfig(window=WindowConfig(**settings))  # type: ignore[arg-type]


def _batch(rows: int, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "x": rng.normal(size=rows),
        "c": rng.choice(["a", "b", "z"], rows),
        "p": rng.random(rows),
    }


@pytest.mark.parametrize("rows", [500, 3000])
def test_window_grid_matches_direct(rows: int) -> None:
    profile = _profile()
    data = _batch(rows)
    data["x"][::7] = np.nan
    stats = close_window(
        WindowAccumulator(profile, _config(exact_limit=1000)), data, batch_rows=333
    )
    column = profile.columns["x"]
    assert isinstance(column, NumericProfile)
    present = data["x"][~np.isnan(data["x"])]
    expected = summarise_sorted(np.sort(present), column.grid)
    summary = stats.numeric["x"]
    assert np.array_equal(summary.cell_counts, expected.counts)
    assert np.array_equal(summary.cell_atoms, expected.atoms)
    assert np.allclose(summary.cell_sums, expected.sums, atol=1e-9)
    assert summary.n_nan == int(np.isnan(data["x"]).sum())
    assert summary.minimum == present.min()
    assert summary.maximum == present.max()


def test_window_keeps_values_up_to_limit() -> None:
    data = _batch(1000)
    stats = close_window(
        WindowAccumulator(_profile(), _config(exact_limit=1000)), data, batch_rows=300
    )
    values = stats.numeric["x"].values
    assert values is not None
    assert np.array_equal(values, np.sort(data["x"]))


def test_window_drops_values_past_limit() -> None:
    stats = close_window(
        WindowAccumulator(_profile(), _config(exact_limit=1000)), _batch(1001), batch_rows=300
    )
    assert stats.numeric["x"].values is None
    assert int(stats.numeric["x"].cell_counts.sum()) == 1001


def test_window_closes_at_exact_rows() -> None:
    accumulator = WindowAccumulator(_profile(), _config(max_rows=100))
    first, second = _batch(60), _batch(60, seed=2)
    assert accumulator.add_batch(first, now=0.0) == []
    closed = accumulator.add_batch(second, now=1.0)
    assert [stats.n_rows for stats in closed] == [100]
    assert closed[0].closed_at == 1.0
    assert int(closed[0].numeric["x"].cell_counts.sum()) == 100
    expected = np.sort(np.concatenate((first["x"], second["x"][:40])))
    assert np.array_equal(closed[0].numeric["x"].values, expected)
    assert sum(closed[0].categorical["c"].counts.values()) == 100
    assert accumulator.n_rows == 20
    assert accumulator.window_index == 1
    assert accumulator.window_opened_at == 1.0
    assert accumulator.should_close(now=1.0) is False


def test_batch_spanning_windows_split() -> None:
    accumulator = WindowAccumulator(_profile(), _config(max_rows=100))
    batch = _batch(250)
    ids = [f"r{i}" for i in range(250)]
    closed = accumulator.add_batch(batch, request_ids=ids, now=5.0)
    assert [(stats.index, stats.n_rows) for stats in closed] == [(0, 100), (1, 100)]
    for stats, start in zip(closed, (0, 100), strict=True):
        assert np.array_equal(stats.numeric["x"].values, np.sort(batch["x"][start : start + 100]))
        letters, counts = np.unique(batch["c"][start : start + 100], return_counts=True)
        assert stats.categorical["c"].counts == dict(zip(letters.tolist(), counts.tolist(), strict=True))
        assert stats.joint_sample.n_rows == 100
    assert accumulator.n_rows == 50
    assert accumulator.window_index == 2
    assert accumulator.pending_labels == 250

    joined = accumulator.add_labels(["r0", "r99", "r100", "r249"], [1, 0, 1, 0])
    assert joined.matched == 4
    assert np.array_equal(joined.predictions, batch["p"][[0, 99, 100, 249]])
    assert accumulator.close(now=6.0).n_labelled == 4


def test_split_equals_presplit_batches() -> None:
    batch = _batch(230)
    split = WindowAccumulator(_profile(), _config(max_rows=100))
    presplit = WindowAccumulator(_profile(), _config(max_rows=100))
    from_split = split.add_batch(batch, now=1.0)
    from_presplit = [
        stats
        for start, stop in ((0, 100), (100, 200), (200, 230))
        for stats in presplit.add_batch({name: values[start:stop] for name, values in batch.items()}, now=1.0)
    ]
    from_split.append(split.close(now=2.0))
    from_presplit.append(presplit.close(now=2.0))
    assert [stats.n_rows for stats in from_split] == [100, 100, 30]
    for left, right in zip(from_split, from_presplit, strict=True):
        assert np.array_equal(left.numeric["x"].cell_counts, right.numeric["x"].cell_counts)
        assert np.array_equal(left.numeric["x"].values, right.numeric["x"].values)
        assert left.categorical["c"].counts == right.categorical["c"].counts
        assert np.array_equal(left.joint_sample.numeric["p"], right.joint_sample.numeric["p"])


def test_split_counts_nulls_per_window() -> None:
    accumulator = WindowAccumulator(_profile(), _config(max_rows=3))
    batch = {
        "x": [None, 1.0, float("nan"), None, 2.0],
        "c": ["a", None, "b", None, None],
        "p": np.linspace(0.0, 1.0, 5),
    }
    first, = accumulator.add_batch(batch, now=0.0)
    second = accumulator.close(now=1.0)
    assert (first.numeric["x"].n_null, first.numeric["x"].n_nan) == (1, 1)
    assert (second.numeric["x"].n_null, second.numeric["x"].n_nan) == (1, 0)
    assert first.categorical["c"].n_null == 1
    assert second.categorical["c"].n_null == 2


def test_lowered_max_rows_closes_first() -> None:
    profile = _profile()
    accumulator = WindowAccumulator(profile, _config(max_rows=1000))
    accumulator.add_batch(_batch(80), now=0.0)
    restored = WindowAccumulator.from_bytes(accumulator.to_bytes(), profile, _config(max_rows=50))
    closed = restored.add_batch(_batch(60, seed=2), now=1.0)
    assert [stats.n_rows for stats in closed] == [80, 50]
    assert restored.n_rows == 10


def test_duplicate_request_id_in_batch() -> None:
    accumulator = WindowAccumulator(_profile(), _config(max_rows=2))
    with pytest.raises(DuplicateRequestIdError) as raised:
        accumulator.add_batch(_batch(4), request_ids=["a", "b", "a", "a"], now=0.0)
    assert raised.value.request_id == "a"
    assert raised.value.positions == [0, 2, 3]
    assert raised.value.earlier is False
    assert "rows 0, 2, 3" in str(raised.value)
    assert accumulator.n_rows == 0
    assert accumulator.window_index == 0
    assert accumulator.pending_labels == 0


def test_duplicate_request_id_waiting() -> None:
    accumulator = WindowAccumulator(_profile(), _config())
    accumulator.add_batch(_batch(2), request_ids=["a", "b"], now=0.0)
    with pytest.raises(DuplicateRequestIdError) as raised:
        accumulator.add_batch(_batch(2, seed=2), request_ids=["c", "b"], now=1.0)
    assert raised.value.request_id == "b"
    assert raised.value.positions == [1]
    assert raised.value.earlier is True
    assert accumulator.n_rows == 2
    assert accumulator.pending_labels == 2

    # Once labelled, the id is no longer remembered, so a later row may reuse it.
    accumulator.add_labels(["b"], [1])
    accumulator.add_batch(_batch(1, seed=3), request_ids=["b"], now=2.0)
    assert accumulator.n_rows == 3


def test_duplicate_request_id_in_labels() -> None:
    accumulator = WindowAccumulator(_profile(), _config())
    accumulator.add_batch(_batch(2), request_ids=["a", "b"], now=0.0)
    with pytest.raises(DuplicateRequestIdError) as raised:
        accumulator.add_labels(["a", "b", "a"], [1, 0, 0])
    assert raised.value.positions == [0, 2]
    assert accumulator.pending_labels == 2
    assert accumulator.close(now=1.0).n_labelled == 0


def test_window_closes_by_time() -> None:
    accumulator = WindowAccumulator(_profile(), _config(max_rows=None, max_duration_seconds=60.0))
    assert accumulator.should_close(now=1000.0) is False
    accumulator.add_batch(_batch(10), now=100.0)
    assert accumulator.should_close(now=159.0) is False
    assert accumulator.should_close(now=160.0) is True


def test_window_close_resets() -> None:
    accumulator = WindowAccumulator(_profile(), _config())
    accumulator.add_batch(_batch(10), now=5.0)
    first = accumulator.close(now=6.0)
    second = accumulator.close(now=7.0)
    assert first.index == 0
    assert first.opened_at == 5.0
    assert first.n_rows == 10
    assert second.index == 1
    assert second.n_rows == 0
    assert second.opened_at is None


def test_window_single_row() -> None:
    stats = close_window(WindowAccumulator(_profile(), _config()), _batch(1))
    assert stats.n_rows == 1
    assert int(stats.numeric["x"].cell_counts.sum()) == 1
    assert stats.joint_sample.n_rows == 1


def test_batch_infinity_rejected_whole() -> None:
    accumulator = WindowAccumulator(_profile(), _config())
    batch = _batch(10)
    batch["p"][4] = np.inf
    with pytest.raises(NonFiniteValueError) as caught:
        accumulator.add_batch(batch, now=0.0)
    assert caught.value.column == "p"
    assert caught.value.row == 4
    assert accumulator.n_rows == 0


def test_batch_missing_column() -> None:
    batch = _batch(5)
    del batch["c"]
    with pytest.raises(MissingColumnError) as caught:
        WindowAccumulator(_profile(), _config()).add_batch(batch, now=0.0)
    assert caught.value.column == "c"


def test_batch_unexpected_column() -> None:
    batch = _batch(5)
    batch["extra"] = np.zeros(5)
    with pytest.raises(UnexpectedColumnError) as caught:
        WindowAccumulator(_profile(), _config()).add_batch(batch, now=0.0)
    assert caught.value.column == "extra"


def test_batch_length_mismatch() -> None:
    batch = _batch(5)
    batch["x"] = batch["x"][:4]
    with pytest.raises(ColumnLengthError) as caught:
        WindowAccumulator(_profile(), _config()).add_batch(batch, now=0.0)
    assert caught.value.column == "x"


def test_request_ids_length_mismatch() -> None:
    with pytest.raises(ColumnLengthError) as caught:
        WindowAccumulator(_profile(), _config()).add_batch(_batch(5), request_ids=["a"], now=0.0)
    assert caught.value.column == "request_ids"


def test_null_and_nan_counted_apart() -> None:
    batch = {
        "x": [1.0, None, float("nan"), 2.0],
        "c": ["a", None, "b", "a"],
        "p": [0.1, 0.2, 0.3, 0.4],
    }
    accumulator = WindowAccumulator(_profile(), _config())
    accumulator.add_batch(batch, now=0.0)
    stats = accumulator.close(now=1.0)
    assert stats.numeric["x"].n_null == 1
    assert stats.numeric["x"].n_nan == 1
    assert stats.categorical["c"].n_null == 1
    assert stats.categorical["c"].counts == {"a": 2, "b": 1}


def test_new_categories_capped() -> None:
    batch = {"x": np.zeros(6), "c": ["a", "n1", "n2", "n3", "n2", "b"], "p": np.zeros(6)}
    accumulator = WindowAccumulator(_profile(), _config(max_new_categories=1))
    accumulator.add_batch(batch, now=0.0)
    stats = accumulator.close(now=1.0)
    assert stats.categorical["c"].counts == {"a": 1, "b": 1, "n1": 1}
    assert stats.categorical["c"].other_count == 3


def test_joint_sample_bounded() -> None:
    stats = close_window(
        WindowAccumulator(_profile(), _config(joint_sample_size=50)), _batch(1000), batch_rows=100
    )
    assert stats.joint_sample.n_rows == 50
    assert stats.joint_sample.numeric["x"].shape == (50,)


def test_joint_sample_rows_consistent() -> None:
    data = _batch(1000)
    stats = close_window(
        WindowAccumulator(_profile(), _config(joint_sample_size=50)), data, batch_rows=100
    )
    sample = stats.joint_sample
    rows = [int(np.flatnonzero(data["x"] == value)[0]) for value in sample.numeric["x"]]
    assert np.array_equal(sample.numeric["p"], data["p"][rows])
    assert list(sample.categorical["c"]) == list(data["c"][rows])


def test_bottom_k_uniform() -> None:
    hits = np.zeros(1000)
    for run in range(200):
        sampler = BottomKSampler(100, np.random.default_rng(run))
        row_in_slot = np.full(100, -1)
        for start in range(0, 1000, 90):
            rows, slots = sampler.admit(min(90, 1000 - start))
            row_in_slot[slots] = start + rows
        hits[row_in_slot] += 1
    # Each row is kept with probability 0.1, so about 20 times in 200 runs.
    assert hits.sum() == 200 * 100
    assert abs(hits[:90].mean() - 20) < 2
    assert abs(hits[-90:].mean() - 20) < 2


def test_labels_join_by_request_id() -> None:
    accumulator = WindowAccumulator(_profile(), _config())
    batch = _batch(4)
    accumulator.add_batch(batch, request_ids=["r0", "r1", "r2", "r3"], now=0.0)
    joined = accumulator.add_labels(["r2", "unknown", "r0", "r1"], [1, 0, 0, None])
    assert joined.matched == 2
    assert joined.unmatched == 1
    assert joined.missing_labels == 1
    assert np.array_equal(joined.predictions, batch["p"][[2, 0]])
    assert list(joined.labels) == ["1", "0"]
    assert accumulator.pending_labels == 2


def test_labels_join_after_close() -> None:
    accumulator = WindowAccumulator(_profile(), _config())
    accumulator.add_batch(_batch(3), request_ids=["a", "b", "c"], now=0.0)
    accumulator.close(now=1.0)
    accumulator.add_labels(["a", "b"], [1, 1])
    stats = accumulator.close(now=2.0)
    assert stats.n_labelled == 2
    assert stats.labelled_sample.n_rows == 2


def test_labels_second_join_unmatched() -> None:
    accumulator = WindowAccumulator(_profile(), _config())
    accumulator.add_batch(_batch(1), request_ids=["a"], now=0.0)
    accumulator.add_labels(["a"], [1])
    joined = accumulator.add_labels(["a"], [1])
    assert joined.matched == 0
    assert joined.unmatched == 1


def test_pending_evicts_oldest() -> None:
    accumulator = WindowAccumulator(_profile(), _config(pending_label_capacity=3))
    accumulator.add_batch(_batch(2), request_ids=["a", "b"], now=0.0)
    accumulator.add_batch(_batch(2, seed=2), request_ids=["c", "d"], now=1.0)
    joined = accumulator.add_labels(["a", "b", "c", "d"], [1, 1, 1, 1])
    stats = accumulator.close(now=2.0)
    assert joined.matched == 3
    assert joined.unmatched == 1
    assert stats.pending_evicted == 1


def test_pending_oversized_batch() -> None:
    accumulator = WindowAccumulator(_profile(), _config(pending_label_capacity=2))
    accumulator.add_batch(_batch(5), request_ids=["a", "b", "c", "d", "e"], now=0.0)
    joined = accumulator.add_labels(["a", "d", "e"], [1, 1, 1])
    assert joined.matched == 2
    assert accumulator.close(now=1.0).pending_evicted == 3


def test_labelled_sample_bounded() -> None:
    accumulator = WindowAccumulator(_profile(), _config(labelled_sample_size=10))
    ids = [f"r{i}" for i in range(100)]
    accumulator.add_batch(_batch(100), request_ids=ids, now=0.0)
    accumulator.add_labels(ids, [1] * 100)
    stats = accumulator.close(now=1.0)
    assert stats.n_labelled == 100
    assert stats.labelled_sample.n_rows == 10


def test_window_memory_flat() -> None:
    import tracemalloc

    profile = _profile()
    accumulator = WindowAccumulator(profile, _config(exact_limit=5000, joint_sample_size=1000))
    batch = _batch(5000)
    tracemalloc.start()
    try:
        for step in range(4):
            accumulator.add_batch(batch, now=float(step))
        after_small = tracemalloc.get_traced_memory()[0]
        for step in range(40):
            accumulator.add_batch(batch, now=float(step))
        after_large = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after_large - after_small < 200_000


def test_bottom_k_slots_unique() -> None:
    sampler = BottomKSampler(5, np.random.default_rng(0))
    rows, slots = sampler.admit(20)
    assert sorted(slots.tolist()) == [0, 1, 2, 3, 4]
    assert len(set(rows.tolist())) == 5


def test_labels_before_any_request_id() -> None:
    accumulator = WindowAccumulator(_profile(), _config())
    accumulator.add_batch(_batch(3), now=0.0)
    joined = accumulator.add_labels(["a"], [1])
    assert joined.matched == 0
    assert joined.unmatched == 1
    assert joined.predictions.shape == (0,)
