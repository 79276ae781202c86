"""Labelled performance against registered metrics, and the Page-Hinkley detector."""

from __future__ import annotations

import numpy as np
import pytest
from modelward_governance.monitoring import (
    ColumnStatus,
    MonitoringConfig,
    PageHinkley,
    PageHinkleyConfig,
    PerformanceConfig,
    Severity,
    TaskConfig,
    TaskType,
    WindowAccumulator,
    WindowConfig,
    WindowStats,
    build_reference_profile,
    error_values,
    evaluate_performance,
)
from modelward_governance.monitoring.concept import encode_labelled
from scipy import stats


def _classifier_window(
    rows: int, flip_share: float, seed: int = 0, config: MonitoringConfig | None = None
):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    config = config or MonitoringConfig(
        window=WindowConfig(max_rows=None, max_duration_seconds=1e9)
    )
    reference = {"x": rng.normal(size=500), "score": rng.random(500)}
    profile = build_reference_profile(reference, prediction="score")
    x = rng.normal(size=rows)
    score = 1 / (1 + np.exp(-3 * x))
    labels = (rng.random(rows) < score).astype(int)
    flip = rng.random(rows) < flip_share
    labels[flip] = 1 - labels[flip]
    accumulator = WindowAccumulator(profile, config)
    ids = [f"r{i}" for i in range(rows)]
    accumulator.add_batch({"x": x, "score": score}, request_ids=ids, now=0.0)
    accumulator.add_labels(ids, labels)
    return profile, accumulator.close(now=1.0), score, labels, config


def test_classifier_metrics_match_direct() -> None:
    profile, window, score, labels, config = _classifier_window(2000, 0.0)
    report = evaluate_performance(profile, window, {}, config)
    predicted = (score >= 0.5).astype(int)
    true_positive = int(np.sum((predicted == 1) & (labels == 1)))
    false_positive = int(np.sum((predicted == 1) & (labels == 0)))
    false_negative = int(np.sum((predicted == 0) & (labels == 1)))
    u_statistic = stats.mannwhitneyu(score[labels == 1], score[labels == 0]).statistic
    accuracy = report.metric("accuracy")
    f1 = report.metric("f1")
    auc = report.metric("auc")
    assert accuracy is not None
    assert f1 is not None
    assert auc is not None
    assert accuracy.value == pytest.approx(np.mean(predicted == labels), abs=1e-12)
    assert f1.value == pytest.approx(
        2 * true_positive / (2 * true_positive + false_positive + false_negative), abs=1e-12
    )
    assert auc.value == pytest.approx(
        u_statistic / (np.sum(labels == 1) * np.sum(labels == 0)), abs=1e-12
    )


def test_auc_ties_count_half() -> None:
    encoded = encode_labelled(
        np.array([0.5, 0.5, 0.2, 0.9]), np.array(["1", "0", "0", "1"], dtype=object), TaskConfig()
    )
    from modelward_governance.monitoring.concept import _weighted_metric

    assert _weighted_metric("auc", encoded, np.ones((1, 4)))[0] == pytest.approx(0.875)


def test_good_model_not_degraded() -> None:
    profile, window, score, labels, config = _classifier_window(3000, 0.0)
    registered = {"accuracy": float(np.mean((score >= 0.5) == labels)) + 0.005, "AUC": 0.5}
    report = evaluate_performance(profile, window, registered, config)
    accuracy = report.metric("accuracy")
    auc = report.metric("auc")
    assert accuracy is not None
    assert auc is not None
    assert accuracy.significant is False
    assert accuracy.severity is Severity.NONE
    assert auc.registered == 0.5
    assert report.severity is Severity.NONE


def test_degraded_model_significant() -> None:
    profile, window, _, _, config = _classifier_window(3000, 0.3)
    report = evaluate_performance(
        profile, window, {"accuracy": 0.85, "roc_auc": 0.9, "f1": 0.85}, config
    )
    accuracy = report.metric("accuracy")
    assert accuracy is not None
    assert accuracy.bound is not None
    assert accuracy.value is not None
    assert accuracy.significant is True
    assert accuracy.bound < 0.85
    assert accuracy.bound > accuracy.value
    assert accuracy.severity is Severity.CRITICAL
    assert report.severity is Severity.CRITICAL


def test_warning_below_critical() -> None:
    config = MonitoringConfig(
        window=WindowConfig(max_rows=None, max_duration_seconds=1e9),
        performance=PerformanceConfig(critical_degradation=0.5),
    )
    profile, window, _, _, config = _classifier_window(3000, 0.3, config=config)
    report = evaluate_performance(profile, window, {"accuracy": 0.85}, config)
    accuracy = report.metric("accuracy")
    assert accuracy is not None
    assert accuracy.severity is Severity.WARNING


def test_bootstrap_seeded() -> None:
    profile, window, _, _, config = _classifier_window(1000, 0.1)
    first = evaluate_performance(profile, window, {"accuracy": 0.8}, config)
    second = evaluate_performance(profile, window, {"accuracy": 0.8}, config)
    assert first == second


def test_unknown_registered_listed() -> None:
    profile, window, _, _, config = _classifier_window(500, 0.0)
    report = evaluate_performance(
        profile, window, {"accuracy": 0.8, "rmse": 1.0, "latency": 3.0}, config
    )
    assert report.unknown_registered == ("latency", "rmse")


def test_few_labels_insufficient() -> None:
    profile, window, _, _, config = _classifier_window(10, 0.0)
    report = evaluate_performance(profile, window, {"accuracy": 0.8}, config)
    assert report.status is ColumnStatus.INSUFFICIENT_DATA
    assert report.metrics == ()


def test_regression_metrics() -> None:
    rng = np.random.default_rng(4)
    config = MonitoringConfig(
        task=TaskConfig(task=TaskType.REGRESSION),
        window=WindowConfig(max_rows=None, max_duration_seconds=1e9),
    )
    profile = build_reference_profile(
        {"x": rng.normal(size=300), "yhat": rng.normal(size=300)}, prediction="yhat"
    )
    accumulator = WindowAccumulator(profile, config)
    predictions = rng.normal(size=1000)
    labels = predictions + rng.normal(0, 2.0, 1000)
    ids = list(range(1000))
    accumulator.add_batch(
        {"x": rng.normal(size=1000), "yhat": predictions}, request_ids=ids, now=0.0
    )
    accumulator.add_labels(ids, labels)
    window = accumulator.close(now=1.0)
    report = evaluate_performance(profile, window, {"rmse": 1.0, "mae": 5.0}, config)
    rmse = report.metric("rmse")
    mae = report.metric("mae")
    assert rmse is not None
    assert mae is not None
    assert rmse.value == pytest.approx(np.sqrt(np.mean((labels - predictions) ** 2)), abs=1e-12)
    assert mae.value == pytest.approx(np.mean(np.abs(labels - predictions)), abs=1e-12)
    assert rmse.higher_is_better is False
    assert rmse.significant is True
    assert mae.significant is False
    assert report.metric("auc") is None


def test_multiclass_macro_f1() -> None:
    task = TaskConfig(task=TaskType.MULTICLASS_CLASSIFICATION)
    predictions = np.array(["a", "b", "c", "a", "b", "c"], dtype=object)
    labels = np.array(["a", "b", "b", "a", "c", "c"], dtype=object)
    encoded = encode_labelled(predictions, labels, task)
    from modelward_governance.monitoring.concept import _weighted_metric

    # Per class F1: a 1.0, b 0.5, c 0.5.
    assert _weighted_metric("f1", encoded, np.ones((1, 6)))[0] == pytest.approx(2.0 / 3.0)
    assert _weighted_metric("accuracy", encoded, np.ones((1, 6)))[0] == pytest.approx(4.0 / 6.0)


def test_error_values_binary() -> None:
    errors = error_values(
        np.array([0.9, 0.2, 0.6]), np.array(["1", "1", "0"], dtype=object), TaskConfig()
    )
    assert errors.tolist() == [0.0, 1.0, 1.0]


def test_error_values_regression_scaled() -> None:
    task = TaskConfig(task=TaskType.REGRESSION)
    errors = error_values(np.array([1.0, 2.0]), np.array([3.0, 1.0]), task, scale=2.0)
    assert errors.tolist() == [1.0, 0.5]


def _error_stream(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.r_[(rng.random(3000) < 0.1), (rng.random(3000) < 0.4)].astype(np.float64)


def test_page_hinkley_detects_increase() -> None:
    detector = PageHinkley()
    detections = detector.update_many(_error_stream(1))
    assert len(detections) >= 1
    assert 3000 <= detections[0] < 3600


@pytest.mark.parametrize("rate", [0.05, 0.3, 0.5])
def test_page_hinkley_quiet_when_stable(rate: float) -> None:
    rng = np.random.default_rng(2)
    detector = PageHinkley()
    assert detector.update_many((rng.random(200_000) < rate).astype(np.float64)) == ()


def test_page_hinkley_rows_equal_batches() -> None:
    stream = _error_stream(3)
    by_row = PageHinkley()
    row_detections = [
        position for position, value in enumerate(stream) if by_row.update(float(value))
    ]
    by_batch = PageHinkley()
    batch_detections: list[int] = []
    for start in range(0, stream.shape[0], 700):
        batch_detections += [start + p for p in by_batch.update_many(stream[start : start + 700])]
    assert batch_detections == row_detections
    assert by_batch.state.count == by_row.state.count
    assert by_batch.state.cumulative == pytest.approx(by_row.state.cumulative, abs=1e-9)
    assert by_batch.state.minimum == pytest.approx(by_row.state.minimum, abs=1e-9)


def test_page_hinkley_bytes_round_trip() -> None:
    detector = PageHinkley(PageHinkleyConfig(delta=0.01, threshold=20.0, min_instances=10))
    detector.update_many(_error_stream(4)[:4000])
    restored = PageHinkley.from_bytes(detector.to_bytes())
    assert restored.config == detector.config
    assert restored.state == detector.state
    assert restored.to_bytes() == detector.to_bytes()
    assert len(detector.to_bytes()) < 300


def test_page_hinkley_bad_bytes() -> None:
    with pytest.raises(ValueError):
        PageHinkley.from_bytes(b"{}")


def test_page_hinkley_rejects_nan() -> None:
    with pytest.raises(ValueError):
        PageHinkley().update_many(np.array([0.0, np.nan]))


def test_window_stats_type() -> None:
    _, window, _, _, _ = _classifier_window(50, 0.0)
    assert isinstance(window, WindowStats)
    assert window.n_labelled == 50
