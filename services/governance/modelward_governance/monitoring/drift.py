"""Data drift report: each monitored column of a closed window against the reference profile.

Numeric columns get all five statistics. PSI, Jensen-Shannon and chi-squared use the coarse
reference quantile bins (`ProfileConfig.psi_bins`, deciles by default). Kolmogorov-Smirnov and
Wasserstein are exact, equal to scipy on every value, when the profile kept the whole reference
(at most `ProfileConfig.sample_size` rows) and the window kept every value (at most
`WindowConfig.exact_limit` rows). Otherwise they come from the fine grid with the error bound
of `metrics`: the exact value lies in [value, value + error_bound], and the KS p-value is
computed from the lower bound with the asymptotic distribution.

Categorical columns get PSI, Jensen-Shannon and chi-squared over the union of the reference and
window categories. Every column also gets the change of its missing rate (null or NaN).

In small samples PSI, Jensen-Shannon and Wasserstein alert only together with the column's
test (`DriftThresholds.confirm_below_size`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from . import metrics
from .config import DriftThresholds, MonitoringConfig
from .enums import ColumnKind, ColumnStatus, DriftMethod, Severity
from .profile import CategoricalProfile, NumericProfile, ReferenceProfile
from .summary import CategoricalSummary, NumericSummary
from .window import WindowStats

# Category label of the bucket that pools categories beyond the caps on distinct categories.
OTHER_CATEGORY = ""


@dataclass(frozen=True)
class MetricResult:
    """One drift statistic of one column, with the thresholds it was compared with.

    `value` is the PSI, the KS statistic, the Jensen-Shannon distance (base 2), the Wasserstein
    distance divided by the reference standard deviation, or the chi-squared statistic.
    `max_p_value` is the significance level after the Bonferroni correction, for the methods
    with a p-value. `exact` is False for grid approximations, whose exact value lies in
    [value, value + error_bound]. `details` contains the other numbers of the method.
    """

    method: DriftMethod
    value: float
    severity: Severity
    warning_threshold: float | None
    critical_threshold: float | None
    p_value: float | None = None
    max_p_value: float | None = None
    exact: bool = True
    error_bound: float = 0.0
    details: Mapping[str, float] = field(default_factory=dict)

    @property
    def drift_detected(self) -> bool:
        return self.severity >= Severity.WARNING


@dataclass(frozen=True)
class MissingRateResult:
    """Shares of null and NaN rows on each side, and the change of their sum.

    `change` is the window's missing rate minus the reference's; its absolute value is compared
    with the thresholds. Fractions are None for a side without rows.
    """

    reference_null_fraction: float | None
    reference_nan_fraction: float | None
    window_null_fraction: float | None
    window_nan_fraction: float | None
    change: float | None
    warning_threshold: float
    critical_threshold: float | None
    severity: Severity


@dataclass(frozen=True)
class ColumnDrift:
    """Drift of one column in one window.

    `bin_edges` (numeric) has one more entry than the fractions: the coarse reference edges
    between the overall minimum and maximum, non-decreasing. `categories` (categorical) names
    each bin, with `OTHER_CATEGORY` for pooled categories. `reason` explains why a column with
    status INSUFFICIENT_DATA was not compared.
    """

    column: str
    kind: ColumnKind
    status: ColumnStatus
    severity: Severity
    reference_rows: int
    window_rows: int
    reference_values: int
    window_values: int
    metrics: tuple[MetricResult, ...]
    missing: MissingRateResult
    bin_edges: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()
    reference_fractions: tuple[float, ...] = ()
    window_fractions: tuple[float, ...] = ()
    reason: str = ""

    def metric(self, method: DriftMethod) -> MetricResult | None:
        """Return the result of one method, or None when the column did not get it."""
        for result in self.metrics:
            if result.method is method:
                return result
        return None


@dataclass(frozen=True)
class DriftReport:
    """Drift of every feature and of the prediction in one window.

    `severity` is the worst of all columns. `ks_tests` and `chi2_tests` are the numbers of
    columns tested with those methods, which the Bonferroni correction divides alpha by.
    """

    window_index: int
    window_rows: int
    reference_rows: int
    features: tuple[ColumnDrift, ...]
    prediction: ColumnDrift | None
    severity: Severity
    drifted_features: tuple[str, ...]
    ks_tests: int
    chi2_tests: int

    def feature(self, name: str) -> ColumnDrift:
        """Return the drift of one feature, raising KeyError for an unknown name."""
        for column in self.features:
            if column.column == name:
                return column
        raise KeyError(
            f"feature {name!r} is not in the report; features: {[c.column for c in self.features]}"
        )


@dataclass(frozen=True)
class _Family:
    """Sizes of the test families that the Bonferroni correction divides alpha by."""

    ks_tests: int
    chi2_tests: int


def compute_drift_report(
    profile: ReferenceProfile, window: WindowStats, config: MonitoringConfig | None = None
) -> DriftReport:
    """Compare every monitored column of a closed window with the reference profile."""
    config = config or MonitoringConfig()
    family = _count_tests(profile, window, config)
    results = {
        name: _column_drift(profile, window, name, config.thresholds_for(name), family)
        for name in profile.monitored_columns
    }
    features = tuple(results[name] for name in profile.features)
    prediction = results[profile.prediction] if profile.prediction is not None else None
    severity = max((column.severity for column in results.values()), default=Severity.NONE)
    return DriftReport(
        window_index=window.index,
        window_rows=window.n_rows,
        reference_rows=profile.n_rows,
        features=features,
        prediction=prediction,
        severity=severity,
        drifted_features=tuple(
            column.column for column in features if column.severity >= Severity.WARNING
        ),
        ks_tests=family.ks_tests,
        chi2_tests=family.chi2_tests,
    )


def _values_on_both_sides(
    profile: ReferenceProfile, window: WindowStats, name: str
) -> tuple[int, int]:
    reference = profile.columns[name].summary
    current = window.numeric[name] if name in window.numeric else window.categorical[name]
    return reference.n_values, current.n_values


def _has_enough(
    profile: ReferenceProfile, window: WindowStats, name: str, thresholds: DriftThresholds
) -> bool:
    reference_values, window_values = _values_on_both_sides(profile, window, name)
    return reference_values >= thresholds.min_values and window_values >= thresholds.min_values


def _count_tests(
    profile: ReferenceProfile, window: WindowStats, config: MonitoringConfig
) -> _Family:
    tested = [
        name
        for name in profile.monitored_columns
        if _has_enough(profile, window, name, config.thresholds_for(name))
    ]
    ks_tests = sum(1 for name in tested if isinstance(profile.columns[name], NumericProfile))
    return _Family(ks_tests=ks_tests, chi2_tests=len(tested))


def _column_drift(
    profile: ReferenceProfile,
    window: WindowStats,
    name: str,
    thresholds: DriftThresholds,
    family: _Family,
) -> ColumnDrift:
    column = profile.columns[name]
    reference = column.summary
    current: NumericSummary | CategoricalSummary = (
        window.numeric[name] if isinstance(column, NumericProfile) else window.categorical[name]
    )
    missing = _missing_rate(reference, current, thresholds)
    base = {
        "column": name,
        "kind": column.kind,
        "reference_rows": reference.n_rows,
        "window_rows": current.n_rows,
        "reference_values": reference.n_values,
        "window_values": current.n_values,
        "missing": missing,
    }
    if not _has_enough(profile, window, name, thresholds):
        side = "reference" if reference.n_values < thresholds.min_values else "window"
        return ColumnDrift(
            status=ColumnStatus.INSUFFICIENT_DATA,
            severity=missing.severity,
            metrics=(),
            reason=f"the {side} has fewer than {thresholds.min_values} non-missing values",
            **base,  # type: ignore[arg-type]
        )
    if isinstance(column, NumericProfile):
        assert isinstance(current, NumericSummary)
        compared = _numeric_drift(profile, column, current, thresholds, family)
    else:
        assert isinstance(current, CategoricalSummary)
        compared = _categorical_drift(column, current, thresholds, family)
    severity = max([missing.severity, *(result.severity for result in compared.metrics)])
    return ColumnDrift(
        status=ColumnStatus.OK,
        severity=severity,
        metrics=compared.metrics,
        bin_edges=compared.bin_edges,
        categories=compared.categories,
        reference_fractions=compared.reference_fractions,
        window_fractions=compared.window_fractions,
        **base,  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class _Compared:
    metrics: tuple[MetricResult, ...]
    reference_fractions: tuple[float, ...]
    window_fractions: tuple[float, ...]
    bin_edges: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()


def _numeric_drift(
    profile: ReferenceProfile,
    column: NumericProfile,
    current: NumericSummary,
    thresholds: DriftThresholds,
    family: _Family,
) -> _Compared:
    grid = column.grid
    reference = column.summary
    reference_bins = grid.coarse_counts(reference.cell_counts)
    current_bins = grid.coarse_counts(current.cell_counts)
    exact_reference = profile.exact_values(column.name)
    if exact_reference is not None and current.values is not None:
        ks, wasserstein = _exact_ks_wasserstein(
            exact_reference, current.values, grid.scale, thresholds, family
        )
    else:
        ks, wasserstein = _grid_ks_wasserstein(column, current, thresholds, family)
    gate = _DistanceGate.of(reference.n_values, current.n_values, ks, thresholds)
    results = (
        _psi_result(reference_bins, current_bins, thresholds, gate),
        ks,
        _js_result(reference_bins, current_bins, thresholds, gate),
        gate.apply(wasserstein),
        _chi2_result(reference_bins, current_bins, thresholds, family),
    )
    assert reference.minimum is not None and current.minimum is not None
    assert reference.maximum is not None and current.maximum is not None
    low = min(reference.minimum, current.minimum)
    high = max(reference.maximum, current.maximum)
    return _Compared(
        metrics=results,
        reference_fractions=tuple(metrics.proportions(reference_bins).tolist()),
        window_fractions=tuple(metrics.proportions(current_bins).tolist()),
        bin_edges=(low, *grid.coarse_edges.tolist(), high),
    )


def _categorical_drift(
    column: CategoricalProfile,
    current: CategoricalSummary,
    thresholds: DriftThresholds,
    family: _Family,
) -> _Compared:
    reference = column.summary
    categories = sorted(set(reference.counts) | set(current.counts))
    reference_counts = [reference.counts.get(key, 0) for key in categories]
    current_counts = [current.counts.get(key, 0) for key in categories]
    if reference.other_count or current.other_count:
        categories.append(OTHER_CATEGORY)
        reference_counts.append(reference.other_count)
        current_counts.append(current.other_count)
    reference_bins = np.asarray(reference_counts, dtype=np.int64)
    current_bins = np.asarray(current_counts, dtype=np.int64)
    chi2 = _chi2_result(reference_bins, current_bins, thresholds, family)
    gate = _DistanceGate.of(reference.n_values, current.n_values, chi2, thresholds)
    results = (
        _psi_result(reference_bins, current_bins, thresholds, gate),
        _js_result(reference_bins, current_bins, thresholds, gate),
        chi2,
    )
    return _Compared(
        metrics=results,
        reference_fractions=tuple(metrics.proportions(reference_bins).tolist()),
        window_fractions=tuple(metrics.proportions(current_bins).tolist()),
        categories=tuple(categories),
    )


def _band_severity(value: float, warning: float, critical: float | None) -> Severity:
    if critical is not None and value >= critical:
        return Severity.CRITICAL
    if value >= warning:
        return Severity.WARNING
    return Severity.NONE


def _corrected_alpha(alpha: float, tests: int, thresholds: DriftThresholds) -> float:
    return alpha / max(tests, 1) if thresholds.bonferroni else alpha


@dataclass(frozen=True)
class _DistanceGate:
    """Whether a distance statistic (PSI, Jensen-Shannon, Wasserstein) may alert on its own.

    Below `DriftThresholds.confirm_below_size` effective values it may alert only when the
    column's test (`confirmed_by`) rejected too; see DriftThresholds.
    """

    effective_size: float
    confirm_below: int
    confirmed_by: MetricResult

    @classmethod
    def of(
        cls, reference_values: int, window_values: int, test: MetricResult, thresholds: DriftThresholds
    ) -> _DistanceGate:
        total = reference_values + window_values
        effective = reference_values * window_values / total if total else 0.0
        return cls(effective, thresholds.confirm_below_size, test)

    @property
    def needs_test(self) -> bool:
        return self.effective_size < self.confirm_below

    def severity(self, band: Severity) -> Severity:
        """Return `band`, or NONE when the sample is small and the column's test did not reject."""
        if self.needs_test and not self.confirmed_by.drift_detected:
            return Severity.NONE
        return band

    def details(self) -> dict[str, float]:
        return {
            "effective_size": self.effective_size,
            "confirm_below_size": float(self.confirm_below),
            "needs_test": float(self.needs_test),
        }

    def apply(self, result: MetricResult) -> MetricResult:
        return dataclasses.replace(
            result, severity=self.severity(result.severity), details={**result.details, **self.details()}
        )


def _psi_result(
    reference_bins: np.ndarray, current_bins: np.ndarray, thresholds: DriftThresholds, gate: _DistanceGate
) -> MetricResult:
    value = metrics.psi(reference_bins, current_bins)
    band = _band_severity(value, thresholds.psi_warning, thresholds.psi_critical)
    return MetricResult(
        method=DriftMethod.PSI,
        value=value,
        severity=gate.severity(band),
        warning_threshold=thresholds.psi_warning,
        critical_threshold=thresholds.psi_critical,
        details={
            "bins": float(reference_bins.shape[0]),
            "smoothing": metrics.PSI_SMOOTHING,
            **gate.details(),
        },
    )


def _js_result(
    reference_bins: np.ndarray, current_bins: np.ndarray, thresholds: DriftThresholds, gate: _DistanceGate
) -> MetricResult:
    value = metrics.jensen_shannon_distance(reference_bins, current_bins)
    band = _band_severity(value, thresholds.js_warning, thresholds.js_critical)
    return MetricResult(
        method=DriftMethod.JENSEN_SHANNON,
        value=value,
        severity=gate.severity(band),
        warning_threshold=thresholds.js_warning,
        critical_threshold=thresholds.js_critical,
        details={"bins": float(reference_bins.shape[0]), **gate.details()},
    )


def _chi2_result(
    reference_bins: np.ndarray,
    current_bins: np.ndarray,
    thresholds: DriftThresholds,
    family: _Family,
) -> MetricResult:
    test = metrics.chi_squared(reference_bins, current_bins)
    alpha = _corrected_alpha(thresholds.chi2_alpha, family.chi2_tests, thresholds)
    return MetricResult(
        method=DriftMethod.CHI_SQUARED,
        value=test.statistic,
        severity=Severity.WARNING if test.p_value < alpha else Severity.NONE,
        warning_threshold=None,
        critical_threshold=None,
        p_value=test.p_value,
        max_p_value=alpha,
        details={"dof": float(test.dof)},
    )


def _ks_severity(
    statistic: float, p_value: float, alpha: float, thresholds: DriftThresholds
) -> Severity:
    if p_value >= alpha:
        return Severity.NONE
    return _band_severity(
        statistic, thresholds.ks_warning_statistic, thresholds.ks_critical_statistic
    )


def _ks_result(
    statistic: float,
    p_value: float,
    thresholds: DriftThresholds,
    family: _Family,
    *,
    exact: bool,
    error_bound: float,
    details: Mapping[str, float],
) -> MetricResult:
    alpha = _corrected_alpha(thresholds.ks_alpha, family.ks_tests, thresholds)
    return MetricResult(
        method=DriftMethod.KOLMOGOROV_SMIRNOV,
        value=statistic,
        severity=_ks_severity(statistic, p_value, alpha, thresholds),
        warning_threshold=thresholds.ks_warning_statistic,
        critical_threshold=thresholds.ks_critical_statistic,
        p_value=p_value,
        max_p_value=alpha,
        exact=exact,
        error_bound=error_bound,
        details=details,
    )


def _wasserstein_result(
    normalised: float, scale: float, thresholds: DriftThresholds, *, exact: bool, error_bound: float
) -> MetricResult:
    return MetricResult(
        method=DriftMethod.WASSERSTEIN,
        value=normalised,
        severity=_band_severity(
            normalised, thresholds.wasserstein_warning, thresholds.wasserstein_critical
        ),
        warning_threshold=thresholds.wasserstein_warning,
        critical_threshold=thresholds.wasserstein_critical,
        exact=exact,
        error_bound=error_bound,
        details={"distance": normalised * scale, "reference_std": scale},
    )


def _exact_ks_wasserstein(
    reference: np.ndarray,
    current: np.ndarray,
    scale: float,
    thresholds: DriftThresholds,
    family: _Family,
) -> tuple[MetricResult, MetricResult]:
    statistic, p_value = metrics.ks_exact(reference, current)
    ks = _ks_result(
        statistic,
        p_value,
        thresholds,
        family,
        exact=True,
        error_bound=0.0,
        details={
            "reference_values": float(reference.shape[0]),
            "window_values": float(current.shape[0]),
        },
    )
    distance = metrics.wasserstein_exact(reference, current)
    wasserstein = _wasserstein_result(
        distance / scale, scale, thresholds, exact=True, error_bound=0.0
    )
    return ks, wasserstein


def _grid_ks_wasserstein(
    column: NumericProfile, current: NumericSummary, thresholds: DriftThresholds, family: _Family
) -> tuple[MetricResult, MetricResult]:
    reference = column.summary
    bounded = metrics.ks_from_grid(reference, current)
    p_value = metrics.ks_asymptotic_p_value(bounded.estimate, reference.n_values, current.n_values)
    upper = min(bounded.estimate + bounded.error_bound, 1.0)
    ks = _ks_result(
        bounded.estimate,
        p_value,
        thresholds,
        family,
        exact=bounded.error_bound == 0.0,
        error_bound=bounded.error_bound,
        details={
            "reference_values": float(reference.n_values),
            "window_values": float(current.n_values),
            "p_value_at_upper_bound": metrics.ks_asymptotic_p_value(
                upper, reference.n_values, current.n_values
            ),
        },
    )
    distance = metrics.wasserstein_from_grid(column.grid, reference, current)
    wasserstein = _wasserstein_result(
        distance.estimate,
        column.grid.scale,
        thresholds,
        exact=distance.error_bound == 0.0,
        error_bound=distance.error_bound,
    )
    return ks, wasserstein


def _fraction(part: int, total: int) -> float | None:
    return part / total if total else None


def _missing_rate(
    reference: NumericSummary | CategoricalSummary,
    current: NumericSummary | CategoricalSummary,
    thresholds: DriftThresholds,
) -> MissingRateResult:
    reference_rate = _fraction(reference.n_null + reference.n_nan, reference.n_rows)
    current_rate = _fraction(current.n_null + current.n_nan, current.n_rows)
    change = (
        current_rate - reference_rate
        if reference_rate is not None and current_rate is not None
        else None
    )
    severity = Severity.NONE
    if change is not None:
        # Rounding keeps a change equal to the threshold, such as 0.3 - 0.25, from falling short.
        severity = _band_severity(
            round(abs(change), 12),
            thresholds.missing_rate_warning,
            thresholds.missing_rate_critical,
        )
    return MissingRateResult(
        reference_null_fraction=_fraction(reference.n_null, reference.n_rows),
        reference_nan_fraction=_fraction(reference.n_nan, reference.n_rows),
        window_null_fraction=_fraction(current.n_null, current.n_rows),
        window_nan_fraction=_fraction(current.n_nan, current.n_rows),
        change=change,
        warning_threshold=thresholds.missing_rate_warning,
        critical_threshold=thresholds.missing_rate_critical,
        severity=severity,
    )
