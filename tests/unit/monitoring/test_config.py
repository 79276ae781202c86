"""Validation of the monitoring config dataclasses."""

from __future__ import annotations

import dataclasses

import pytest
from modelward_governance.monitoring import (
    ConfigError,
    DriftThresholds,
    DriverConfig,
    MonitoringConfig,
    PageHinkleyConfig,
    PerformanceConfig,
    ProfileConfig,
    TaskConfig,
    WindowConfig,
)


def test_thresholds_defaults() -> None:
    thresholds = DriftThresholds()
    assert thresholds.psi_warning == 0.1
    assert thresholds.psi_critical == 0.25
    assert thresholds.ks_alpha == 0.05
    assert thresholds.bonferroni is True
    assert thresholds.js_warning == 0.1
    assert thresholds.wasserstein_warning == 0.1
    assert thresholds.chi2_alpha == 0.05


def test_thresholds_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        DriftThresholds().psi_warning = 0.2  # type: ignore[misc]


def test_error_names_field_value_fix() -> None:
    with pytest.raises(ConfigError) as caught:
        DriftThresholds(psi_warning=0.3, psi_critical=0.2)
    assert caught.value.field == "DriftThresholds.psi_critical"
    assert caught.value.value == 0.2
    assert "set a number >= psi_warning (0.3)" in str(caught.value)


def test_error_is_value_error() -> None:
    with pytest.raises(ValueError):
        DriftThresholds(ks_alpha=1.5)


@pytest.mark.parametrize(
    ("factory", "field"),
    [
        (lambda: DriftThresholds(ks_alpha=0.0), "DriftThresholds.ks_alpha"),
        (lambda: DriftThresholds(js_warning=-0.1), "DriftThresholds.js_warning"),
        (
            lambda: DriftThresholds(wasserstein_warning=float("nan")),
            "DriftThresholds.wasserstein_warning",
        ),
        (
            lambda: DriftThresholds(ks_critical_statistic=1.5),
            "DriftThresholds.ks_critical_statistic",
        ),
        (lambda: DriftThresholds(min_values=0), "DriftThresholds.min_values"),
        (lambda: DriftThresholds(bonferroni=1), "DriftThresholds.bonferroni"),  # type: ignore[arg-type]
        (lambda: ProfileConfig(grid_cells=4001), "ProfileConfig.grid_cells"),
        (lambda: ProfileConfig(psi_bins=1), "ProfileConfig.psi_bins"),
        (lambda: WindowConfig(max_rows=None, max_duration_seconds=None), "WindowConfig.max_rows"),
        (lambda: WindowConfig(max_duration_seconds=0.0), "WindowConfig.max_duration_seconds"),
        (lambda: WindowConfig(exact_limit=0), "WindowConfig.exact_limit"),
        (lambda: TaskConfig(positive_label=""), "TaskConfig.positive_label"),
        (lambda: PerformanceConfig(bootstrap_resamples=5), "PerformanceConfig.bootstrap_resamples"),
        (
            lambda: PerformanceConfig(critical_degradation=-1.0),
            "PerformanceConfig.critical_degradation",
        ),
        (lambda: DriverConfig(min_change=2.5), "DriverConfig.min_change"),
        (lambda: DriftThresholds(confirm_below_size=-1), "DriftThresholds.confirm_below_size"),
        (lambda: PageHinkleyConfig(threshold=0.0), "PageHinkleyConfig.threshold"),
    ],
)
def test_invalid_field_rejected(factory: object, field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        factory()  # type: ignore[operator]
    assert caught.value.field == field


def test_driver_change_accepts_whole_scale() -> None:
    """A Pearson correlation may move from -1 to 1, so changes run from 0 to 2."""
    config = DriverConfig(min_change=1.5, critical_change=2.0)
    assert config.min_change == 1.5


def test_feature_thresholds_override() -> None:
    strict = DriftThresholds(psi_warning=0.05, psi_critical=0.1)
    config = MonitoringConfig(feature_thresholds={"age": strict})
    assert config.thresholds_for("age") is strict
    assert config.thresholds_for("income") is config.drift


def test_feature_thresholds_copied() -> None:
    overrides = {"age": DriftThresholds()}
    config = MonitoringConfig(feature_thresholds=overrides)
    overrides["income"] = DriftThresholds()
    assert "income" not in config.feature_thresholds


def test_feature_thresholds_type_checked() -> None:
    with pytest.raises(ConfigError) as caught:
        MonitoringConfig(feature_thresholds={"age": 0.1})  # type: ignore[dict-item]
    assert caught.value.field == "MonitoringConfig.feature_thresholds['age']"
