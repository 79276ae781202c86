"""Per-model monitoring settings as frozen, validated dataclasses.

Each class checks its fields in `__post_init__` and raises `ConfigError` naming the field, the
value and the fix. Defaults follow common practice for production drift monitoring: PSI bands
0.1 and 0.25, Kolmogorov-Smirnov and chi-squared at p < 0.05 with a Bonferroni correction across
the columns tested, Jensen-Shannon distance (base 2) >= 0.1 and Wasserstein distance divided by
the reference standard deviation >= 0.1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .enums import TaskType
from .errors import ConfigError


def _require(condition: bool, field_name: str, value: object, fix: str) -> None:
    if not condition:
        raise ConfigError(field_name, value, fix)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_fraction(owner: str, name: str, value: object) -> None:
    _require(
        _is_number(value) and 0 < value < 1,  # type: ignore[operator]
        f"{owner}.{name}",
        value,
        "set a number > 0 and < 1",
    )


def _check_positive(owner: str, name: str, value: object) -> None:
    _require(_is_number(value) and value > 0, f"{owner}.{name}", value, "set a number > 0")  # type: ignore[operator]


def _check_min_count(owner: str, name: str, value: object, minimum: int) -> None:
    _require(
        _is_count(value) and value >= minimum,  # type: ignore[operator]
        f"{owner}.{name}",
        value,
        f"set an integer >= {minimum}",
    )


@dataclass(frozen=True)
class ProfileConfig:
    """Settings used once, when a reference profile is built from a reference sample.

    `grid_cells` quantile cells per numeric column give the fine grid that the approximate
    Kolmogorov-Smirnov and Wasserstein computations use. It must be a multiple of `psi_bins` so
    that the coarse PSI bins are unions of fine cells. `sample_size` rows are kept as a joint
    sample for the exact tests and for driver analysis. A reference with at most that many rows
    is kept whole, which is what makes the exact tests exact.
    """

    psi_bins: int = 10
    grid_cells: int = 4000
    sample_size: int = 10_000
    max_categories: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        owner = "ProfileConfig"
        _check_min_count(owner, "psi_bins", self.psi_bins, 2)
        _check_min_count(owner, "grid_cells", self.grid_cells, 2)
        _require(
            self.grid_cells % self.psi_bins == 0,
            f"{owner}.grid_cells",
            self.grid_cells,
            f"set a multiple of psi_bins ({self.psi_bins}), for example {self.psi_bins * 400}",
        )
        _check_min_count(owner, "sample_size", self.sample_size, 1)
        _check_min_count(owner, "max_categories", self.max_categories, 1)
        _check_min_count(owner, "seed", self.seed, 0)


@dataclass(frozen=True)
class WindowConfig:
    """How production rows are cut into windows, and the memory bounds of one window.

    A window closes when it has `max_rows` rows or when `max_duration_seconds` have passed since
    its first batch, whichever comes first; None turns a rule off, and at least one must be set.
    A window closes at exactly `max_rows` rows, and the rest of the batch that filled it starts
    the next window.

    Memory per window is bounded by these fields:
    - `exact_limit` rows of raw numeric values (8 bytes per numeric column). They are kept so
      that Kolmogorov-Smirnov and Wasserstein are exact for windows up to that many rows.
    - `joint_sample_size` and `labelled_sample_size` rows, for driver analysis and performance.
    - `pending_label_capacity` rows of features and prediction that wait for their label. The
      buffer is shared by all windows of the accumulator, and the oldest row is evicted first.
    - `max_new_categories` categories per column that the reference lacks; the rest are pooled.
    """

    max_rows: int | None = 10_000
    max_duration_seconds: float | None = None
    exact_limit: int = 50_000
    joint_sample_size: int = 10_000
    labelled_sample_size: int = 20_000
    pending_label_capacity: int = 100_000
    max_new_categories: int = 100
    seed: int = 0

    def __post_init__(self) -> None:
        owner = "WindowConfig"
        _require(
            self.max_rows is not None or self.max_duration_seconds is not None,
            f"{owner}.max_rows",
            self.max_rows,
            "set max_rows or max_duration_seconds, or both, so that windows can close",
        )
        if self.max_rows is not None:
            _check_min_count(owner, "max_rows", self.max_rows, 1)
        if self.max_duration_seconds is not None:
            _check_positive(owner, "max_duration_seconds", self.max_duration_seconds)
        _check_min_count(owner, "exact_limit", self.exact_limit, 1)
        _check_min_count(owner, "joint_sample_size", self.joint_sample_size, 1)
        _check_min_count(owner, "labelled_sample_size", self.labelled_sample_size, 1)
        _check_min_count(owner, "pending_label_capacity", self.pending_label_capacity, 0)
        _check_min_count(owner, "max_new_categories", self.max_new_categories, 0)
        _check_min_count(owner, "seed", self.seed, 0)


@dataclass(frozen=True)
class DriftThresholds:
    """Thresholds of the five drift statistics and of the missing-value rate for one column.

    PSI: WARNING at >= `psi_warning`, CRITICAL at >= `psi_critical`.
    Kolmogorov-Smirnov and chi-squared: the test rejects "same distribution" when its p-value is
    below its alpha, divided by the number of columns tested with that method when `bonferroni`
    is set. A rejected Kolmogorov-Smirnov test is a WARNING when the statistic is also
    >= `ks_warning_statistic` (0 accepts any) and CRITICAL when it is >= `ks_critical_statistic`.
    A rejected chi-squared test is a WARNING.
    Jensen-Shannon distance (base 2, in [0, 1]) and Wasserstein distance divided by the reference
    standard deviation: WARNING at >= the warning value, CRITICAL at >= the critical value.
    Missing rate: the absolute change of the share of null or NaN rows, WARNING at
    >= `missing_rate_warning`, CRITICAL at >= `missing_rate_critical`.
    Any `*_critical` set to None turns that level off for its statistic.
    A column needs `min_values` non-missing values in the reference and in the window.

    PSI, Jensen-Shannon and Wasserstein are distances between two samples, and they grow as
    the samples shrink even when both come from one distribution. PSI's expected value is
    about (bins - 1) / n_eff, with n_eff = n_reference * n_window / (n_reference + n_window),
    so 10 bins and a 30-row window give about 0.3, a CRITICAL. So below an effective size of
    `confirm_below_size` values these three alert only when the column's test also rejects
    (Kolmogorov-Smirnov for numeric columns, chi-squared for categorical ones). From that size
    on they alert alone. 1000 is also where Evidently switches from tests to distances. With
    0 the distances always alert alone.
    """

    psi_warning: float = 0.1
    psi_critical: float | None = 0.25
    ks_alpha: float = 0.05
    ks_warning_statistic: float = 0.0
    ks_critical_statistic: float | None = None
    js_warning: float = 0.1
    js_critical: float | None = None
    wasserstein_warning: float = 0.1
    wasserstein_critical: float | None = None
    chi2_alpha: float = 0.05
    bonferroni: bool = True
    missing_rate_warning: float = 0.05
    missing_rate_critical: float | None = None
    min_values: int = 1
    confirm_below_size: int = 1000

    def __post_init__(self) -> None:
        owner = "DriftThresholds"
        self._check_band(owner, "psi", self.psi_warning, self.psi_critical)
        _check_fraction(owner, "ks_alpha", self.ks_alpha)
        _require(
            _is_number(self.ks_warning_statistic) and 0 <= self.ks_warning_statistic <= 1,
            f"{owner}.ks_warning_statistic",
            self.ks_warning_statistic,
            "set a number in [0, 1]; 0 lets any significant statistic warn",
        )
        if self.ks_critical_statistic is not None:
            _require(
                _is_number(self.ks_critical_statistic)
                and self.ks_warning_statistic <= self.ks_critical_statistic <= 1,
                f"{owner}.ks_critical_statistic",
                self.ks_critical_statistic,
                f"set a number in [ks_warning_statistic ({self.ks_warning_statistic}), 1], or None",
            )
        self._check_band(owner, "js", self.js_warning, self.js_critical)
        self._check_band(owner, "wasserstein", self.wasserstein_warning, self.wasserstein_critical)
        _check_fraction(owner, "chi2_alpha", self.chi2_alpha)
        _require(
            isinstance(self.bonferroni, bool),
            f"{owner}.bonferroni",
            self.bonferroni,
            "set True or False",
        )
        self._check_band(
            owner, "missing_rate", self.missing_rate_warning, self.missing_rate_critical
        )
        _check_min_count(owner, "min_values", self.min_values, 1)
        _check_min_count(owner, "confirm_below_size", self.confirm_below_size, 0)

    @staticmethod
    def _check_band(owner: str, prefix: str, warning: float, critical: float | None) -> None:
        _check_positive(owner, f"{prefix}_warning", warning)
        if critical is not None:
            _require(
                _is_number(critical) and critical >= warning,
                f"{owner}.{prefix}_critical",
                critical,
                f"set a number >= {prefix}_warning ({warning}), or None",
            )


@dataclass(frozen=True)
class TaskConfig:
    """What the model predicts, which decides how predictions and labels are read.

    Binary classification: a label is positive when its category key (see
    `columns.category_key`, so 1, 1.0, True and "1" all give "1") equals `positive_label`. A
    numeric prediction is a score for the positive class, and predicts positive at
    >= `decision_threshold`. A categorical prediction predicts positive when it equals
    `positive_label`.
    """

    task: TaskType = TaskType.BINARY_CLASSIFICATION
    positive_label: str = "1"
    decision_threshold: float = 0.5

    def __post_init__(self) -> None:
        owner = "TaskConfig"
        _require(
            isinstance(self.task, TaskType),
            f"{owner}.task",
            self.task,
            f"set one of {[t.value for t in TaskType]}",
        )
        _require(
            isinstance(self.positive_label, str) and self.positive_label != "",
            f"{owner}.positive_label",
            self.positive_label,
            "set the positive class as a non-empty string, such as '1' or 'fraud'",
        )
        _require(
            _is_number(self.decision_threshold),
            f"{owner}.decision_threshold",
            self.decision_threshold,
            "set a finite number, usually 0.5 for probabilities",
        )


@dataclass(frozen=True)
class PerformanceConfig:
    """How labelled performance is compared with the version's registered metrics.

    A metric degraded significantly when the one-sided bootstrap bound at level 1 - `alpha` lies
    beyond the registered value. Degradation is relative: (registered - window) / |registered|
    for metrics where higher is better, the opposite sign for RMSE and MAE. A significant
    degradation of at least `warning_degradation` is a WARNING, of at least
    `critical_degradation` a CRITICAL.
    """

    alpha: float = 0.05
    bootstrap_resamples: int = 1000
    min_labelled_rows: int = 30
    warning_degradation: float = 0.0
    critical_degradation: float | None = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        owner = "PerformanceConfig"
        _check_fraction(owner, "alpha", self.alpha)
        _check_min_count(owner, "bootstrap_resamples", self.bootstrap_resamples, 10)
        _check_min_count(owner, "min_labelled_rows", self.min_labelled_rows, 2)
        _require(
            _is_number(self.warning_degradation) and self.warning_degradation >= 0,
            f"{owner}.warning_degradation",
            self.warning_degradation,
            "set a number >= 0; 0 warns on any significant degradation",
        )
        if self.critical_degradation is not None:
            _require(
                _is_number(self.critical_degradation)
                and self.critical_degradation >= self.warning_degradation,
                f"{owner}.critical_degradation",
                self.critical_degradation,
                f"set a number >= warning_degradation ({self.warning_degradation}), or None",
            )
        _check_min_count(owner, "seed", self.seed, 0)


@dataclass(frozen=True)
class DriverConfig:
    """How feature-target relationships are compared between the reference and a window.

    A change is significant when a z-test on the difference, with bootstrap standard errors, has
    a p-value below `alpha` divided by the number of tests (up to two per feature), and the
    change on the correlation scale (0 to 2, since a Pearson correlation may move from -1 to 1)
    is at least `min_change`; it is then a WARNING, and a
    CRITICAL from `critical_change` on. `min_rows` rows with a target are needed on each side.
    Categorical features keep their `max_categories` most frequent reference categories and pool
    the rest.
    """

    bootstrap_resamples: int = 200
    alpha: float = 0.05
    min_change: float = 0.1
    critical_change: float | None = 0.3
    min_rows: int = 30
    max_categories: int = 20
    seed: int = 0

    def __post_init__(self) -> None:
        owner = "DriverConfig"
        _check_min_count(owner, "bootstrap_resamples", self.bootstrap_resamples, 10)
        _check_fraction(owner, "alpha", self.alpha)
        _require(
            _is_number(self.min_change) and 0 <= self.min_change <= 2,
            f"{owner}.min_change",
            self.min_change,
            "set a number in [0, 2] on the correlation scale",
        )
        if self.critical_change is not None:
            _require(
                _is_number(self.critical_change) and self.min_change <= self.critical_change <= 2,
                f"{owner}.critical_change",
                self.critical_change,
                f"set a number in [min_change ({self.min_change}), 2], or None",
            )
        _check_min_count(owner, "min_rows", self.min_rows, 3)
        _check_min_count(owner, "max_categories", self.max_categories, 1)
        _check_min_count(owner, "seed", self.seed, 0)


@dataclass(frozen=True)
class PageHinkleyConfig:
    """Parameters of the Page-Hinkley test for an increase of the mean error.

    `delta` is the change of the mean that is tolerated, `threshold` the cumulative excess that
    raises a drift, and no drift is raised before `min_instances` values. The common defaults
    of streaming libraries (delta 0.005, threshold 50) raised 33 to 53 false alarms per million
    rows of a steady 0/1 error stream at error rates 0.3 to 0.5. These defaults (0.01, 100)
    raised none at rates 0.05 to 0.5 and detected a rise of the error rate by 0.1 after 650 to
    1,050 rows (seeded Bernoulli streams, numpy 2.4).
    """

    delta: float = 0.01
    threshold: float = 100.0
    min_instances: int = 30

    def __post_init__(self) -> None:
        owner = "PageHinkleyConfig"
        _require(
            _is_number(self.delta) and self.delta >= 0,
            f"{owner}.delta",
            self.delta,
            "set a number >= 0",
        )
        _check_positive(owner, "threshold", self.threshold)
        _check_min_count(owner, "min_instances", self.min_instances, 1)


@dataclass(frozen=True)
class MonitoringConfig:
    """Everything one model version is monitored with.

    `feature_thresholds` replaces `drift` for the columns it names.
    """

    drift: DriftThresholds = field(default_factory=DriftThresholds)
    feature_thresholds: Mapping[str, DriftThresholds] = field(
        default_factory=lambda: MappingProxyType({})
    )
    window: WindowConfig = field(default_factory=WindowConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    performance: PerformanceConfig = field(default_factory=PerformanceConfig)
    drivers: DriverConfig = field(default_factory=DriverConfig)
    page_hinkley: PageHinkleyConfig = field(default_factory=PageHinkleyConfig)

    def __post_init__(self) -> None:
        for name, value in self.feature_thresholds.items():
            _require(
                isinstance(value, DriftThresholds),
                f"MonitoringConfig.feature_thresholds[{name!r}]",
                value,
                "set a DriftThresholds instance",
            )
        # A read-only copy keeps the frozen config from changing through the caller's dict.
        object.__setattr__(
            self, "feature_thresholds", MappingProxyType(dict(self.feature_thresholds))
        )

    def thresholds_for(self, column: str) -> DriftThresholds:
        """Return the thresholds of `column`: its own when set, the shared ones otherwise."""
        return self.feature_thresholds.get(column, self.drift)
