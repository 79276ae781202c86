"""Drift report: every statistic, its thresholds, and the edge cases of the specification."""

from __future__ import annotations

import math

import numpy as np
import pytest
from modelward_governance.monitoring import (
    ColumnStatus,
    DriftMethod,
    DriftReport,
    DriftThresholds,
    MetricResult,
    MonitoringConfig,
    NumericProfile,
    ProfileConfig,
    Severity,
    WindowAccumulator,
    WindowConfig,
    build_reference_profile,
    compute_drift_report,
)
from modelward_governance.monitoring.drift import OTHER_CATEGORY
from scipy import stats

from .conftest import close_window

CONFIG = MonitoringConfig(window=WindowConfig(max_rows=None, max_duration_seconds=1e9))


def _report(
    reference: dict[str, object],
    current: dict[str, object],
    monitoring: MonitoringConfig = CONFIG,
    **profile_options: object,
):  # type: ignore[no-untyped-def]
    profile = build_reference_profile(reference, **profile_options)  # type: ignore[arg-type]
    window = close_window(WindowAccumulator(profile, monitoring), current)
    return profile, compute_drift_report(profile, window, monitoring)


def _normal(rows: int, seed: int, mean: float = 0.0, scale: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(mean, scale, rows)


def test_same_distribution_no_drift() -> None:
    _, report = _report({"x": _normal(5000, 1)}, {"x": _normal(5000, 2)})
    column = report.feature("x")
    assert column.status is ColumnStatus.OK
    assert column.severity is Severity.NONE
    assert report.severity is Severity.NONE
    assert report.drifted_features == ()


def test_shift_detected_by_all() -> None:
    _, report = _report({"x": _normal(5000, 1)}, {"x": _normal(5000, 2, mean=1.0)})
    column = report.feature("x")
    for method in DriftMethod:
        result = column.metric(method)
        assert result is not None
        assert result.drift_detected, method
    psi = column.metric(DriftMethod.PSI)
    assert psi is not None
    assert psi.severity is Severity.CRITICAL
    assert report.drifted_features == ("x",)


def test_psi_bands() -> None:
    _, report = _report({"x": _normal(20000, 1)}, {"x": _normal(20000, 2, mean=0.35)})
    psi = report.feature("x").metric(DriftMethod.PSI)
    assert psi is not None
    assert 0.1 <= psi.value < 0.25
    assert psi.severity is Severity.WARNING
    assert psi.warning_threshold == 0.1
    assert psi.critical_threshold == 0.25


def test_exact_ks_wasserstein_match_scipy() -> None:
    reference = _normal(3000, 3)
    current = _normal(2000, 4, mean=0.1, scale=1.3)
    _, report = _report({"x": reference}, {"x": current})
    column = report.feature("x")
    ks = column.metric(DriftMethod.KOLMOGOROV_SMIRNOV)
    wasserstein = column.metric(DriftMethod.WASSERSTEIN)
    expected = stats.ks_2samp(reference, current)
    assert ks is not None
    assert wasserstein is not None
    assert ks.exact is True
    assert ks.value == pytest.approx(expected.statistic, abs=1e-9)
    assert ks.p_value == pytest.approx(expected.pvalue, abs=1e-9)
    assert wasserstein.exact is True
    assert wasserstein.details["distance"] == pytest.approx(
        stats.wasserstein_distance(reference, current), abs=1e-9
    )
    assert wasserstein.value == pytest.approx(
        stats.wasserstein_distance(reference, current) / reference.std(), abs=1e-9
    )


def test_binned_metrics_match_scipy() -> None:
    from scipy.spatial import distance

    reference = _normal(3000, 5)
    current = _normal(2000, 6, mean=0.2)
    profile, report = _report({"x": reference}, {"x": current})
    column = profile.columns["x"]
    assert isinstance(column, NumericProfile)
    edges = column.grid.coarse_edges
    reference_counts = np.bincount(
        np.searchsorted(edges, reference, side="right"), minlength=edges.shape[0] + 1
    )
    current_counts = np.bincount(
        np.searchsorted(edges, current, side="right"), minlength=edges.shape[0] + 1
    )
    drift = report.feature("x")
    psi = drift.metric(DriftMethod.PSI)
    js = drift.metric(DriftMethod.JENSEN_SHANNON)
    chi2 = drift.metric(DriftMethod.CHI_SQUARED)
    assert psi is not None
    assert js is not None
    assert chi2 is not None
    p = reference_counts / reference_counts.sum() + 1e-4
    q = current_counts / current_counts.sum() + 1e-4
    assert psi.value == pytest.approx(float(np.sum((q - p) * np.log(q / p))), abs=1e-12)
    assert js.value == pytest.approx(
        distance.jensenshannon(reference_counts, current_counts, base=2), abs=1e-12
    )
    expected = stats.chi2_contingency(
        np.vstack((reference_counts, current_counts)), correction=False
    )
    assert chi2.value == pytest.approx(expected.statistic, rel=1e-12)
    assert chi2.p_value == pytest.approx(expected.pvalue, abs=1e-12)


def _grid_results(
    report: DriftReport, reference: np.ndarray, current: np.ndarray
) -> tuple[MetricResult, MetricResult]:
    """Check that KS and Wasserstein came from the grid and bound scipy's exact values."""
    ks = report.feature("x").metric(DriftMethod.KOLMOGOROV_SMIRNOV)
    wasserstein = report.feature("x").metric(DriftMethod.WASSERSTEIN)
    assert ks is not None
    assert wasserstein is not None
    assert ks.exact is False
    exact_ks = stats.ks_2samp(reference, current).statistic
    assert ks.value <= exact_ks + 1e-12
    assert exact_ks <= ks.value + ks.error_bound + 1e-12
    exact_w = stats.wasserstein_distance(reference, current) / reference.std()
    assert wasserstein.value <= exact_w + 1e-9
    assert exact_w <= wasserstein.value + wasserstein.error_bound + 1e-9
    return ks, wasserstein


def test_grid_mode_bound_against_scipy() -> None:
    reference = _normal(60_000, 7)
    current = _normal(80_000, 8, mean=0.05)
    config = MonitoringConfig(
        window=WindowConfig(max_rows=None, max_duration_seconds=1e9, exact_limit=10_000)
    )
    _, report = _report(
        {"x": reference}, {"x": current}, config, config=ProfileConfig(sample_size=1000)
    )
    ks, _ = _grid_results(report, reference, current)
    asymptotic = stats.ks_2samp(reference, current, method="asymp").pvalue
    assert ks.p_value == pytest.approx(asymptotic, rel=0.05)


def test_exact_up_to_default_limits() -> None:
    # The default limits: the whole reference is kept up to ProfileConfig.sample_size rows
    # and the window keeps every value up to WindowConfig.exact_limit rows.
    reference = _normal(ProfileConfig().sample_size, 11)
    current = _normal(WindowConfig().exact_limit, 12, mean=0.02, scale=1.05)
    _, report = _report({"x": reference}, {"x": current})
    ks = report.feature("x").metric(DriftMethod.KOLMOGOROV_SMIRNOV)
    wasserstein = report.feature("x").metric(DriftMethod.WASSERSTEIN)
    assert ks is not None
    assert wasserstein is not None
    expected = stats.ks_2samp(reference, current)
    assert ks.exact is True
    assert ks.value == pytest.approx(expected.statistic, abs=1e-9)
    assert ks.p_value == pytest.approx(expected.pvalue, abs=1e-9)
    assert wasserstein.exact is True
    assert wasserstein.details["distance"] == pytest.approx(
        stats.wasserstein_distance(reference, current), abs=1e-9
    )


def test_bounded_past_default_window_limit() -> None:
    reference = _normal(ProfileConfig().sample_size, 13)
    current = _normal(WindowConfig().exact_limit + 1, 14, mean=0.02, scale=1.05)
    _, report = _report({"x": reference}, {"x": current})
    ks, wasserstein = _grid_results(report, reference, current)
    # About 2 / grid_cells for continuous data, with the default 4,000 cells.
    assert ks.error_bound <= 2.5 / 4000
    assert wasserstein.error_bound < 0.01


def test_bonferroni_across_columns() -> None:
    reference = {f"x{i}": _normal(500, i) for i in range(4)}
    current = {f"x{i}": _normal(500, 10 + i) for i in range(4)}
    _, report = _report(reference, current)
    ks = report.feature("x0").metric(DriftMethod.KOLMOGOROV_SMIRNOV)
    assert ks is not None
    assert report.ks_tests == 4
    assert ks.max_p_value == pytest.approx(0.05 / 4)


def test_bonferroni_off() -> None:
    config = MonitoringConfig(
        drift=DriftThresholds(bonferroni=False),
        window=WindowConfig(max_rows=None, max_duration_seconds=1e9),
    )
    reference = {f"x{i}": _normal(500, i) for i in range(4)}
    _, report = _report(reference, reference, config)
    ks = report.feature("x0").metric(DriftMethod.KOLMOGOROV_SMIRNOV)
    assert ks is not None
    assert ks.max_p_value == 0.05


def test_empty_bin_psi_finite() -> None:
    _, report = _report({"x": _normal(1000, 1)}, {"x": np.full(300, 10.0)})
    psi = report.feature("x").metric(DriftMethod.PSI)
    assert psi is not None
    assert math.isfinite(psi.value)
    assert psi.severity is Severity.CRITICAL


def test_missing_rate_change_reported() -> None:
    reference = _normal(2000, 1)
    current = _normal(2000, 2).astype(object)
    current[:200] = None
    _, report = _report({"x": reference}, {"x": list(current)})
    missing = report.feature("x").missing
    assert missing.reference_null_fraction == 0.0
    assert missing.window_null_fraction == pytest.approx(0.1)
    assert missing.change == pytest.approx(0.1)
    assert missing.warning_threshold == 0.05
    assert missing.severity is Severity.WARNING
    assert report.feature("x").severity is Severity.WARNING


def test_missing_rate_small_change_ignored() -> None:
    current = _normal(2000, 2)
    current[:40] = np.nan
    _, report = _report({"x": _normal(2000, 1)}, {"x": current})
    missing = report.feature("x").missing
    assert missing.window_nan_fraction == pytest.approx(0.02)
    assert missing.severity is Severity.NONE


def test_missing_rate_critical_threshold() -> None:
    config = MonitoringConfig(
        drift=DriftThresholds(missing_rate_critical=0.2),
        window=WindowConfig(max_rows=None, max_duration_seconds=1e9),
    )
    current = _normal(1000, 2)
    current[:300] = np.nan
    _, report = _report({"x": _normal(1000, 1)}, {"x": current}, config)
    assert report.feature("x").missing.severity is Severity.CRITICAL


def test_no_values_insufficient() -> None:
    reference = {"x": _normal(500, 1), "y": _normal(500, 2)}
    current = {"x": [None] * 300, "y": list(_normal(300, 3, mean=2.0))}
    _, report = _report(reference, current)
    x = report.feature("x")
    y = report.feature("y")
    assert x.status is ColumnStatus.INSUFFICIENT_DATA
    assert x.metrics == ()
    assert "window" in x.reason
    assert x.missing.change == pytest.approx(1.0)
    assert y.status is ColumnStatus.OK
    assert y.severity is Severity.CRITICAL
    assert report.ks_tests == 1


def test_constant_column_no_drift() -> None:
    _, report = _report({"x": np.full(400, 3.0)}, {"x": np.full(250, 3.0)})
    column = report.feature("x")
    ks = column.metric(DriftMethod.KOLMOGOROV_SMIRNOV)
    assert ks is not None
    assert ks.p_value == 1.0
    assert ks.value == 0.0
    assert column.severity is Severity.NONE
    for result in column.metrics:
        assert result.severity is Severity.NONE, result.method


def test_constant_column_grid_mode() -> None:
    config = MonitoringConfig(
        window=WindowConfig(max_rows=None, max_duration_seconds=1e9, exact_limit=100)
    )
    _, report = _report(
        {"x": np.full(400, 3.0)},
        {"x": np.full(250, 3.0)},
        config,
        config=ProfileConfig(sample_size=10),
    )
    column = report.feature("x")
    ks = column.metric(DriftMethod.KOLMOGOROV_SMIRNOV)
    assert ks is not None
    assert ks.exact is True
    assert ks.p_value == 1.0
    assert column.severity is Severity.NONE


def test_new_category_chi_squared() -> None:
    _, report = _report({"c": [0, 1, 2] * 10}, {"c": [0, 1, 3] * 10}, categorical=["c"])
    column = report.feature("c")
    chi2 = column.metric(DriftMethod.CHI_SQUARED)
    assert chi2 is not None
    assert chi2.value == pytest.approx(20.0, abs=1e-12)
    assert chi2.details["dof"] == 3
    assert column.categories == ("0", "1", "2", "3")
    assert column.window_fractions == pytest.approx((1 / 3, 1 / 3, 0.0, 1 / 3))


def test_categorical_no_ks() -> None:
    _, report = _report({"c": ["a", "b"] * 50}, {"c": ["a", "b"] * 50})
    column = report.feature("c")
    assert column.metric(DriftMethod.KOLMOGOROV_SMIRNOV) is None
    assert column.metric(DriftMethod.WASSERSTEIN) is None
    assert column.severity is Severity.NONE


def test_pooled_categories_bucket() -> None:
    config = MonitoringConfig(
        window=WindowConfig(max_rows=None, max_duration_seconds=1e9, max_new_categories=0)
    )
    _, report = _report({"c": ["a", "b"] * 50}, {"c": ["a", "b", "new"] * 30}, config)
    column = report.feature("c")
    assert column.categories == ("a", "b", OTHER_CATEGORY)
    assert column.window_fractions[-1] == pytest.approx(1 / 3)


def test_single_row_window() -> None:
    reference = _normal(200, 1)
    _, report = _report({"x": reference}, {"x": [0.5]})
    ks = report.feature("x").metric(DriftMethod.KOLMOGOROV_SMIRNOV)
    assert ks is not None
    assert ks.value == pytest.approx(stats.ks_2samp(reference, [0.5]).statistic, abs=1e-12)
    assert report.feature("x").status is ColumnStatus.OK


def test_prediction_column_reported() -> None:
    reference = {"x": _normal(5000, 1), "score": _normal(5000, 2)}
    current = {"x": _normal(5000, 3), "score": _normal(5000, 4, mean=3.0)}
    _, report = _report(reference, current, prediction="score")
    assert report.prediction is not None
    assert report.prediction.column == "score"
    assert report.prediction.severity is Severity.CRITICAL
    assert report.drifted_features == ()
    assert report.severity is Severity.CRITICAL


def test_feature_threshold_override() -> None:
    loose = DriftThresholds(
        psi_warning=5.0,
        psi_critical=None,
        ks_alpha=1e-300 + 1e-12,
        js_warning=0.99,
        wasserstein_warning=50.0,
        chi2_alpha=1e-12,
    )
    config = MonitoringConfig(
        feature_thresholds={"x": loose},
        window=WindowConfig(max_rows=None, max_duration_seconds=1e9),
    )
    _, report = _report({"x": _normal(1000, 1)}, {"x": _normal(1000, 2, mean=0.5)}, config)
    column = report.feature("x")
    psi = column.metric(DriftMethod.PSI)
    assert psi is not None
    assert psi.warning_threshold == 5.0
    assert psi.severity is Severity.NONE


def test_histogram_edges_and_fractions() -> None:
    _, report = _report({"x": np.arange(1000.0)}, {"x": np.arange(500.0)})
    column = report.feature("x")
    assert len(column.bin_edges) == len(column.reference_fractions) + 1
    assert column.bin_edges[0] == 0.0
    assert column.bin_edges[-1] == 999.0
    assert sum(column.window_fractions) == pytest.approx(1.0)


def _small_window_reports(seeds: int, shift: float, monitoring: MonitoringConfig = CONFIG) -> list[DriftReport]:
    """Compare 30-row windows with a 200-row reference, as a low-traffic model would."""
    reports = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        _, report = _report(
            {"x": rng.normal(0, 1, 200), "c": rng.choice(["a", "b", "c", "d"], 200).tolist()},
            {"x": rng.normal(shift, 1, 30), "c": rng.choice(["a", "b", "c", "d"], 30).tolist()},
            monitoring,
            categorical=["c"],
        )
        reports.append(report)
    return reports


def test_small_window_distances_need_test() -> None:
    reports = _small_window_reports(40, shift=0.0)
    psi_values = [report.feature("x").metric(DriftMethod.PSI).value for report in reports]
    assert sum(value >= 0.25 for value in psi_values) > 20, "PSI of 30 undrifted rows is mostly above 0.25"
    for report in reports:
        for name, test in (("x", DriftMethod.KOLMOGOROV_SMIRNOV), ("c", DriftMethod.CHI_SQUARED)):
            column = report.feature(name)
            if column.metric(test).drift_detected:
                continue
            for method in (DriftMethod.PSI, DriftMethod.JENSEN_SHANNON, DriftMethod.WASSERSTEIN):
                if method is DriftMethod.WASSERSTEIN and name == "c":
                    continue
                result = column.metric(method)
                assert result.severity is Severity.NONE, (name, method, result.value)
                assert result.details["needs_test"] == 1.0
    alerting = sum(report.severity >= Severity.WARNING for report in reports)
    assert alerting <= 6, "only the tests' own false alarms remain (about 5% per test)"


def test_small_window_drift_still_alerts() -> None:
    for report in _small_window_reports(10, shift=1.5):
        column = report.feature("x")
        assert column.metric(DriftMethod.KOLMOGOROV_SMIRNOV).drift_detected
        assert column.metric(DriftMethod.PSI).severity is Severity.CRITICAL
        assert column.metric(DriftMethod.WASSERSTEIN).severity is Severity.WARNING


def test_confirm_below_zero_lets_distances_alert() -> None:
    alone = MonitoringConfig(
        drift=DriftThresholds(confirm_below_size=0),
        window=WindowConfig(max_rows=None, max_duration_seconds=1e9),
    )
    reports = _small_window_reports(10, shift=0.0, monitoring=alone)
    assert sum(report.feature("x").metric(DriftMethod.PSI).drift_detected for report in reports) >= 8
    assert all(report.feature("x").metric(DriftMethod.PSI).details["needs_test"] == 0.0 for report in reports)


def test_large_window_distances_alert_alone() -> None:
    _, report = _report({"x": _normal(5000, 1)}, {"x": _normal(5000, 2, mean=0.3)})
    psi = report.feature("x").metric(DriftMethod.PSI)
    assert psi.details["effective_size"] == pytest.approx(2500.0)
    assert psi.details["needs_test"] == 0.0
