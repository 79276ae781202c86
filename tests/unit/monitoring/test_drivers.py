"""Driver analysis: changes of what drives the outcome, with unchanged feature distributions."""

from __future__ import annotations

import numpy as np
import pytest
from modelward_governance.monitoring import (
    ColumnStatus,
    MonitoringConfig,
    ReferenceProfile,
    Severity,
    TaskConfig,
    TaskType,
    WindowAccumulator,
    WindowConfig,
    WindowStats,
    analyse_drivers,
    build_reference_profile,
    compute_drift_report,
)
from modelward_governance.monitoring.drivers import information_coefficient
from scipy import stats

CONFIG = MonitoringConfig(window=WindowConfig(max_rows=None, max_duration_seconds=1e9))
ROWS = 4000


def _features(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "x1": rng.normal(size=ROWS),
        "x2": rng.normal(size=ROWS),
        "x3": rng.normal(size=ROWS),
        "colour": rng.choice(["red", "green", "blue"], ROWS),
        "noise": rng.normal(size=ROWS),
    }


def _label(driver: np.ndarray, noise: np.ndarray) -> np.ndarray:
    return (driver + 0.5 * noise > 0).astype(int)


def _run(
    label_from: str, *, flip: bool = False, with_labels: bool = True
) -> tuple[ReferenceProfile, WindowStats]:
    columns = _features(0)
    prediction = 1 / (1 + np.exp(-3 * columns["x1"]))
    reference = {name: columns[name] for name in ("x1", "x2", "x3", "colour")}
    profile = build_reference_profile(
        {**reference, "score": prediction, "label": _label(columns["x1"], columns["noise"])},
        prediction="score",
        label="label",
    )
    # The window has the very same feature values and predictions, so every marginal is
    # identical; only the rule that produces the label changes.
    driver = -columns["x1"] if flip else columns[label_from]
    labels = _label(driver, columns["noise"])
    accumulator = WindowAccumulator(profile, CONFIG)
    ids = [f"r{i}" for i in range(ROWS)]
    accumulator.add_batch({**reference, "score": prediction}, request_ids=ids, now=0.0)
    if with_labels:
        accumulator.add_labels(ids, labels)
    return profile, accumulator.close(now=1.0)


def test_moved_driver_without_drift() -> None:
    profile, window = _run("x2")
    drift = compute_drift_report(profile, window, CONFIG)
    report = analyse_drivers(profile, window, CONFIG)
    assert drift.severity is Severity.NONE
    assert drift.drifted_features == ()
    assert report.status is ColumnStatus.OK
    assert report.target_source == "label"
    assert {change.feature for change in report.changed} == {"x1", "x2"}
    assert report.feature("x1").coefficient_change is not None
    assert report.feature("x1").coefficient_change < -0.5  # type: ignore[operator]
    assert report.feature("x2").coefficient_change > 0.5  # type: ignore[operator]
    assert report.feature("x3").significant is False
    assert report.feature("colour").significant is False
    assert report.severity is Severity.CRITICAL


def test_flipped_driver_without_drift() -> None:
    profile, window = _run("x1", flip=True)
    drift = compute_drift_report(profile, window, CONFIG)
    report = analyse_drivers(profile, window, CONFIG)
    x1 = report.feature("x1")
    assert drift.severity is Severity.NONE
    assert [change.feature for change in report.changed] == ["x1"]
    assert x1.reference.coefficient is not None
    assert x1.window.coefficient is not None
    assert x1.reference.coefficient > 0.5
    assert x1.window.coefficient < -0.5
    assert x1.coefficient_p_value is not None
    assert x1.coefficient_p_value < x1.max_p_value
    # The strength is unchanged; only the direction flipped.
    assert abs(x1.information_change) < 0.05


def test_unchanged_driver_reports_nothing() -> None:
    profile, window = _run("x1")
    report = analyse_drivers(profile, window, CONFIG)
    assert report.changed == ()
    assert report.severity is Severity.NONE


def test_ranked_by_change() -> None:
    profile, window = _run("x2")
    report = analyse_drivers(profile, window, CONFIG)
    changes = [change.change for change in report.changed]
    assert changes == sorted(changes, reverse=True)


def test_coefficient_matches_pearson() -> None:
    profile, window = _run("x1")
    columns = _features(0)
    expected = stats.pearsonr(columns["x1"], _label(columns["x1"], columns["noise"])).statistic
    report = analyse_drivers(profile, window, CONFIG)
    assert report.feature("x1").reference.coefficient == pytest.approx(expected, abs=1e-9)


def test_intervals_contain_estimate() -> None:
    profile, window = _run("x1")
    relationship = analyse_drivers(profile, window, CONFIG).feature("x1").reference
    assert relationship.coefficient_interval is not None
    low, high = relationship.coefficient_interval
    assert low <= relationship.coefficient <= high  # type: ignore[operator]
    low, high = relationship.mutual_information_interval
    assert low <= relationship.mutual_information <= high


def test_importance_shares_sum_to_one() -> None:
    profile, window = _run("x1")
    report = analyse_drivers(profile, window, CONFIG)
    assert sum(change.reference.importance_share for change in report.features) == pytest.approx(
        1.0
    )


def test_independent_feature_information_near_zero() -> None:
    profile, window = _run("x1")
    relationship = analyse_drivers(profile, window, CONFIG).feature("x3").reference
    assert relationship.information_coefficient < 0.1


def test_prediction_used_without_labels() -> None:
    profile, window = _run("x2", with_labels=False)
    report = analyse_drivers(profile, window, CONFIG)
    assert report.target_source == "prediction"
    assert report.changed == ()


def test_no_target_insufficient() -> None:
    profile = build_reference_profile({"x": np.arange(100.0)})
    accumulator = WindowAccumulator(profile, CONFIG)
    accumulator.add_batch({"x": np.arange(50.0)}, now=0.0)
    report = analyse_drivers(profile, accumulator.close(now=1.0), CONFIG)
    assert report.status is ColumnStatus.INSUFFICIENT_DATA
    assert report.features == ()


def test_regression_target() -> None:
    rng = np.random.default_rng(9)
    config = MonitoringConfig(
        task=TaskConfig(task=TaskType.REGRESSION),
        window=WindowConfig(max_rows=None, max_duration_seconds=1e9),
    )
    x1 = rng.normal(size=2000)
    x2 = rng.normal(size=2000)
    profile = build_reference_profile(
        {"x1": x1, "x2": x2, "y": 2 * x1 + rng.normal(size=2000)}, label="y"
    )
    accumulator = WindowAccumulator(profile, config)
    ids = list(range(2000))
    accumulator.add_batch({"x1": x1, "x2": x2}, request_ids=ids, now=0.0)
    accumulator.add_labels(ids, 2 * x2 + rng.normal(size=2000))
    report = analyse_drivers(profile, accumulator.close(now=1.0), config)
    assert {change.feature for change in report.changed} == {"x1", "x2"}


def test_information_coefficient_gaussian() -> None:
    # For a bivariate Gaussian with correlation r, MI = -ln(1 - r^2) / 2.
    mutual_information = -np.log(1 - 0.6**2) / 2
    assert float(information_coefficient(mutual_information)) == pytest.approx(0.6)
