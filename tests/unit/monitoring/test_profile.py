"""Reference profiles: column summaries, the joint sample and serialisation."""

from __future__ import annotations

import numpy as np
import pytest
from modelward_governance.monitoring import (
    CategoricalProfile,
    ColumnLengthError,
    MonitoringInputError,
    NonFiniteValueError,
    NumericProfile,
    ProfileConfig,
    ProfileFormatError,
    ReferenceProfile,
    build_reference_profile,
)


def _columns(rows: int, seed: int = 0) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 10, rows)
    age[::50] = np.nan
    return {
        "age": age,
        "city": rng.choice(["paris", "lyon", "nice"], rows),
        "score": rng.random(rows),
        "label": rng.integers(0, 2, rows),
    }


def test_profile_kinds_inferred() -> None:
    profile = build_reference_profile(_columns(1000), prediction="score", label="label")
    assert isinstance(profile.columns["age"], NumericProfile)
    assert isinstance(profile.columns["city"], CategoricalProfile)
    assert isinstance(profile.columns["score"], NumericProfile)
    assert profile.features == ("age", "city")
    assert profile.monitored_columns == ("age", "city", "score")


def test_profile_numeric_summary() -> None:
    columns = _columns(1000)
    profile = build_reference_profile(columns, prediction="score", label="label")
    column = profile.columns["age"]
    assert isinstance(column, NumericProfile)
    values = np.asarray(columns["age"])
    present = values[~np.isnan(values)]
    assert column.summary.n_nan == 20
    assert column.summary.n_values == present.shape[0]
    assert int(column.summary.cell_counts.sum()) == present.shape[0]
    assert column.summary.mean(column.grid) == pytest.approx(present.mean(), abs=1e-9)
    assert column.summary.std(column.grid) == pytest.approx(present.std(), abs=1e-9)
    assert column.summary.minimum == present.min()
    assert column.summary.maximum == present.max()


def test_profile_coarse_bins_are_deciles() -> None:
    values = np.arange(1000, dtype=np.float64)
    profile = build_reference_profile({"x": values})
    column = profile.columns["x"]
    assert isinstance(column, NumericProfile)
    coarse = column.grid.coarse_counts(column.summary.cell_counts)
    assert coarse.tolist() == [99] + [100] * 8 + [101]


def test_profile_categories_capped() -> None:
    values = ["a"] * 5 + ["b"] * 3 + ["c"] * 2 + ["d"]
    profile = build_reference_profile({"c": values}, config=ProfileConfig(max_categories=2))
    column = profile.columns["c"]
    assert isinstance(column, CategoricalProfile)
    assert dict(column.summary.counts) == {"a": 5, "b": 3}
    assert column.summary.other_count == 3


def test_profile_small_sample_complete() -> None:
    profile = build_reference_profile(_columns(500))
    assert profile.sample_is_complete is True
    assert profile.sample.n_rows == 500


def test_profile_large_sample_bounded() -> None:
    profile = build_reference_profile(_columns(5000), config=ProfileConfig(sample_size=1000))
    assert profile.sample_is_complete is False
    assert profile.sample.n_rows == 1000
    assert profile.exact_values("age") is None


def test_profile_exact_values_sorted() -> None:
    columns = _columns(300)
    profile = build_reference_profile(columns)
    values = np.asarray(columns["age"])
    expected = np.sort(values[~np.isnan(values)])
    exact = profile.exact_values("age")
    assert exact is not None
    assert np.array_equal(exact, expected)


def test_profile_bytes_round_trip() -> None:
    profile = build_reference_profile(
        _columns(2000), prediction="score", label="label", model_version="v3"
    )
    restored = ReferenceProfile.from_bytes(profile.to_bytes())
    assert restored.model_version == "v3"
    assert restored.features == profile.features
    assert restored.label == "label"
    assert restored.columns["city"].summary == profile.columns["city"].summary
    original = profile.columns["age"]
    copy = restored.columns["age"]
    assert isinstance(original, NumericProfile)
    assert isinstance(copy, NumericProfile)
    assert np.array_equal(copy.grid.edges, original.grid.edges)
    assert np.array_equal(copy.summary.cell_sums, original.summary.cell_sums)
    assert np.array_equal(restored.sample.categorical["city"], profile.sample.categorical["city"])
    assert np.array_equal(
        restored.sample.numeric["age"], profile.sample.numeric["age"], equal_nan=True
    )


def test_profile_bytes_deterministic() -> None:
    first = build_reference_profile(_columns(2000, seed=4)).to_bytes()
    second = build_reference_profile(_columns(2000, seed=4)).to_bytes()
    assert first == second
    assert ReferenceProfile.from_bytes(first).to_bytes() == first


def test_profile_bytes_compact() -> None:
    columns = {f"x{i}": np.random.default_rng(i).normal(size=200_000) for i in range(2)}
    blob = build_reference_profile(columns).to_bytes()
    raw = 2 * 200_000 * 8
    assert len(blob) < raw / 4


def test_profile_bad_magic_rejected() -> None:
    with pytest.raises(ProfileFormatError):
        ReferenceProfile.from_bytes(b"XXXX" + bytes(20))


def test_profile_truncated_rejected() -> None:
    blob = build_reference_profile(_columns(100)).to_bytes()
    with pytest.raises(ProfileFormatError):
        ReferenceProfile.from_bytes(blob[:40])


def test_profile_infinity_rejected() -> None:
    with pytest.raises(NonFiniteValueError) as caught:
        build_reference_profile({"x": [1.0, float("inf")]})
    assert caught.value.column == "x"


def test_profile_unequal_lengths_rejected() -> None:
    with pytest.raises(ColumnLengthError) as caught:
        build_reference_profile({"x": [1.0, 2.0], "y": [1.0]})
    assert caught.value.column == "y"


def test_profile_missing_label_rejected() -> None:
    with pytest.raises(MonitoringInputError) as caught:
        build_reference_profile({"x": [1.0]}, label="label")
    assert caught.value.column == "label"


def test_profile_all_missing_column() -> None:
    profile = build_reference_profile({"x": [None, None], "y": [1.0, 2.0]})
    column = profile.columns["x"]
    assert isinstance(column, NumericProfile)
    assert column.summary.n_null == 2
    assert column.summary.n_values == 0
