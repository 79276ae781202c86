"""Driver analysis: how strongly, and in which direction, each feature relates to the target.

The target is the label when the profile has a label column and both sides have at least
`DriverConfig.min_rows` labelled rows, and the prediction otherwise. The reference side uses
the profile's joint sample; the window uses its labelled sample (label) or its joint sample
(prediction). This catches a change of what drives the outcome even when no feature's
distribution moved, which the drift statistics cannot see.

Per feature and side:
- the Pearson correlation with the target, for numeric features and a numeric or binary
  target. It equals the standardised regression slope, and for a 0/1 target the
  point-biserial correlation.
- the mutual information in nats on binned data, with the Miller-Madow bias correction
  (H + (occupied bins - 1) / 2N per entropy), clipped at 0. Numeric features use the coarse
  reference bins, categorical ones the reference categories, and a numeric target its
  reference deciles. On the correlation scale it is the information coefficient
  sqrt(1 - exp(-2 MI)), which equals |r| for Gaussian data.
Bootstrap resamples (seeded, `bootstrap_resamples` per side) give percentile intervals and
standard errors; a change is tested with a z-test on the difference of the two sides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse, special, stats

from .columns import category_key
from .concept import resample_weights
from .config import MonitoringConfig
from .enums import ColumnKind, ColumnStatus, Severity, TaskType
from .profile import CategoricalProfile, JointSample, NumericProfile, ReferenceProfile
from .window import WindowStats


@dataclass(frozen=True)
class Relationship:
    """Strength of one feature's relationship with the target on one side.

    `coefficient` is the Pearson correlation (None where undefined: categorical feature,
    multiclass target, or no variance). Intervals are bootstrap percentile intervals at level
    1 - alpha. `importance_share` is this feature's share of the summed mutual information.
    """

    coefficient: float | None
    coefficient_interval: tuple[float, float] | None
    mutual_information: float
    mutual_information_interval: tuple[float, float]
    information_coefficient: float
    importance_share: float
    rows: int


@dataclass(frozen=True)
class DriverChange:
    """Change of one feature's relationship with the target between reference and window.

    Changes are window minus reference. `change` is the effect size used for ranking: the
    larger of |coefficient_change| and |information_change|, both on the correlation scale.
    p-values are two-sided, before the Bonferroni correction that `max_p_value` applies.
    """

    feature: str
    kind: ColumnKind
    reference: Relationship
    window: Relationship
    coefficient_change: float | None
    coefficient_p_value: float | None
    information_change: float
    mutual_information_p_value: float
    change: float
    max_p_value: float
    significant: bool
    severity: Severity


@dataclass(frozen=True)
class DriverReport:
    """Driver analysis of one window; `changed` lists the significant changes, largest first."""

    status: ColumnStatus
    target_source: str
    reference_rows: int
    window_rows: int
    features: tuple[DriverChange, ...]
    changed: tuple[DriverChange, ...]
    severity: Severity
    reason: str = ""

    def feature(self, name: str) -> DriverChange:
        """Return the change of one feature, raising KeyError for an unknown name."""
        for change in self.features:
            if change.feature == name:
                return change
        raise KeyError(f"feature {name!r} is not in the driver report")


@dataclass(frozen=True)
class _Side:
    """One side's rows, encoded: numeric and binned features, and the target."""

    values: np.ndarray
    valid: np.ndarray
    codes: np.ndarray
    target: np.ndarray
    target_codes: np.ndarray


@dataclass(frozen=True)
class _Estimates:
    """Point estimates and bootstrap replicates of both statistics, per feature."""

    coefficient: np.ndarray
    coefficient_boot: np.ndarray
    information: np.ndarray
    information_boot: np.ndarray
    rows: np.ndarray


def analyse_drivers(
    profile: ReferenceProfile, window: WindowStats, config: MonitoringConfig | None = None
) -> DriverReport:
    """Compare each feature's relationship with the target in the window and the reference."""
    config = config or MonitoringConfig()
    source = _choose_target(profile, window, config)
    if source is None:
        return DriverReport(
            status=ColumnStatus.INSUFFICIENT_DATA,
            target_source="",
            reference_rows=0,
            window_rows=0,
            features=(),
            changed=(),
            severity=Severity.NONE,
            reason=(
                f"neither labels nor predictions have {config.drivers.min_rows} rows on both sides"
            ),
        )

    target_name, window_rows, window_target = source
    reference_target = profile.sample.column(target_name)
    # Regression targets, binary labels (as 0/1) and scores are numeric; multiclass is not.
    numeric_target = config.task.task is not TaskType.MULTICLASS_CLASSIFICATION
    encoder = _Encoder(profile, config, numeric_target, reference_target)
    reference = encoder.encode(profile.sample, reference_target)
    current = encoder.encode(window_rows, window_target)

    settings = config.drivers
    rng = np.random.default_rng(settings.seed)
    reference_estimates = _estimate(reference, encoder, rng, settings.bootstrap_resamples)
    current_estimates = _estimate(current, encoder, rng, settings.bootstrap_resamples)

    changes = _compare(encoder, reference_estimates, current_estimates, config)
    ranked = tuple(sorted((c for c in changes if c.significant), key=lambda c: -c.change))
    return DriverReport(
        status=ColumnStatus.OK,
        target_source="label" if target_name == profile.label else "prediction",
        reference_rows=int(reference.target.shape[0]),
        window_rows=int(current.target.shape[0]),
        features=changes,
        changed=ranked,
        severity=max((c.severity for c in changes), default=Severity.NONE),
    )


def _present(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        return np.asarray(~np.isnan(values))
    return np.array([value is not None for value in values.tolist()], dtype=bool)


def _choose_target(
    profile: ReferenceProfile, window: WindowStats, config: MonitoringConfig
) -> tuple[str, JointSample, np.ndarray] | None:
    minimum = config.drivers.min_rows
    labelled = window.labelled_sample
    if profile.label is not None:
        reference_labels = int(_present(profile.sample.column(profile.label)).sum())
        if reference_labels >= minimum and labelled.n_rows >= minimum:
            return profile.label, labelled.rows, labelled.labels
    if profile.prediction is not None:
        reference_predictions = int(_present(profile.sample.column(profile.prediction)).sum())
        window_predictions = window.joint_sample.column(profile.prediction)
        if reference_predictions >= minimum and int(_present(window_predictions).sum()) >= minimum:
            return profile.prediction, window.joint_sample, window_predictions
    return None


class _Encoder:
    """Encodes both sides the same way, from reference-derived bins and categories."""

    def __init__(
        self,
        profile: ReferenceProfile,
        config: MonitoringConfig,
        numeric_target: bool,
        reference_target: np.ndarray,
    ) -> None:
        self.features = list(profile.features)
        self.kinds = [profile.columns[name].kind for name in self.features]
        self.task = config.task
        self.numeric_target = numeric_target
        self._profile = profile
        self._categories = {
            name: _top_categories(column, config.drivers.max_categories)
            for name, column in profile.columns.items()
            if isinstance(column, CategoricalProfile) and name in self.features
        }
        self.bins = [self._feature_bins(name) for name in self.features]
        reference_numeric = self._target_values(reference_target)
        if numeric_target:
            present = reference_numeric[~np.isnan(reference_numeric)]
            self._target_edges = (
                np.unique(np.quantile(present, np.arange(1, 10) / 10))
                if present.size
                else np.empty(0)
            )
            self.target_bins = int(self._target_edges.shape[0]) + 1
        else:
            classes = sorted(
                {key for key in self._target_keys(reference_target) if key is not None}
            )
            self._target_classes = {key: index for index, key in enumerate(classes)}
            self.target_bins = len(classes) + 1

    def _feature_bins(self, name: str) -> int:
        column = self._profile.columns[name]
        if isinstance(column, NumericProfile):
            return int(column.grid.coarse_index.shape[0]) + 1
        return len(self._categories[name]) + 1

    def _target_values(self, target: np.ndarray) -> np.ndarray:
        if target.dtype.kind == "f" and self.task.task is TaskType.REGRESSION:
            return target.astype(np.float64)
        if target.dtype.kind == "f" and self.task.task is TaskType.BINARY_CLASSIFICATION:
            return self._binary_from_numbers(target)
        keys = self._target_keys(target)
        if self.task.task is TaskType.REGRESSION:
            return np.array(
                [np.nan if key is None else float(key) for key in keys], dtype=np.float64
            )
        positive = self.task.positive_label
        return np.array(
            [np.nan if key is None else float(key == positive) for key in keys], dtype=np.float64
        )

    def _binary_from_numbers(self, target: np.ndarray) -> np.ndarray:
        # A column of 0/1 labels is read as classes; anything else is a score and stays numeric.
        present = target[~np.isnan(target)]
        if np.all(np.isin(present, (0.0, 1.0))):
            keys = [
                None if math.isnan(value) else category_key("target", value)
                for value in target.tolist()
            ]
            return np.array(
                [np.nan if k is None else float(k == self.task.positive_label) for k in keys]
            )
        return target.astype(np.float64)

    @staticmethod
    def _target_keys(target: np.ndarray) -> list[str | None]:
        return [
            None
            if value is None or (isinstance(value, float) and math.isnan(value))
            else category_key("target", value)
            for value in target.tolist()
        ]

    def encode(self, sample: JointSample, target: np.ndarray) -> _Side:
        """Encode the rows of `sample` whose target is present."""
        if self.numeric_target:
            numeric_target = self._target_values(target)
            keep = ~np.isnan(numeric_target)
            target_values = numeric_target[keep]
            target_codes = np.searchsorted(self._target_edges, target_values, side="right")
        else:
            keys = self._target_keys(target)
            keep = np.array([key is not None for key in keys], dtype=bool)
            other = self.target_bins - 1
            # Classes the reference never saw share the last code.
            target_codes = np.array(
                [self._target_classes.get(key, other) for key in keys if key is not None],
                dtype=np.int64,
            )
            target_values = np.full(target_codes.shape[0], np.nan)
        n_rows = int(keep.sum())
        values = np.zeros((len(self.features), n_rows))
        valid = np.zeros((len(self.features), n_rows), dtype=bool)
        codes = np.zeros((len(self.features), n_rows), dtype=np.int64)
        for index, name in enumerate(self.features):
            self._encode_feature(index, name, sample.column(name)[keep], values, valid, codes)
        return _Side(
            values=values, valid=valid, codes=codes, target=target_values, target_codes=target_codes
        )

    def _encode_feature(
        self,
        index: int,
        name: str,
        column: np.ndarray,
        values: np.ndarray,
        valid: np.ndarray,
        codes: np.ndarray,
    ) -> None:
        profile = self._profile.columns[name]
        if isinstance(profile, NumericProfile):
            present = ~np.isnan(column)
            values[index] = np.where(present, column, 0.0)
            valid[index] = present
            codes[index] = np.searchsorted(
                profile.grid.coarse_edges, np.where(present, column, 0.0), side="right"
            )
            return
        categories = self._categories[name]
        other = len(categories)
        keys = column.tolist()
        valid[index] = [key is not None for key in keys]
        codes[index] = [categories.get(key, other) if key is not None else 0 for key in keys]


def _top_categories(column: CategoricalProfile, limit: int) -> dict[str, int]:
    ranked = sorted(column.summary.counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return {key: index for index, (key, _) in enumerate(sorted(ranked))}


def _estimate(
    side: _Side, encoder: _Encoder, rng: np.random.Generator, resamples: int
) -> _Estimates:
    n_rows = side.target.shape[0]
    ones = np.ones((1, n_rows))
    weights = resample_weights(rng, resamples, n_rows) if n_rows else np.zeros((resamples, 0))
    coefficient = _correlations(side, ones, encoder)[0]
    coefficient_boot = _correlations(side, weights, encoder)
    information = _mutual_information(side, ones, encoder)[0]
    information_boot = _mutual_information(side, weights, encoder)
    return _Estimates(
        coefficient=coefficient,
        coefficient_boot=coefficient_boot,
        information=information,
        information_boot=information_boot,
        rows=side.valid.sum(axis=1),
    )


def _correlations(side: _Side, weights: np.ndarray, encoder: _Encoder) -> np.ndarray:
    """Weighted Pearson correlation per resample (rows) and feature (columns); NaN if undefined."""
    n_features = len(encoder.features)
    result = np.full((weights.shape[0], n_features), np.nan)
    usable = [i for i, kind in enumerate(encoder.kinds) if kind is ColumnKind.NUMERIC]
    if not encoder.numeric_target or not usable or side.target.shape[0] == 0:
        return result
    mask = side.valid[usable].astype(np.float64)
    # Centring and scaling first keeps the moment sums free of cancellation.
    x = _standardise(side.values[usable], mask)
    y = _standardise(side.target[None, :], np.ones((1, side.target.shape[0])))[0]
    count = weights @ mask.T
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_x = (weights @ (mask * x).T) / count
        mean_y = (weights @ (mask * y).T) / count
        var_x = (weights @ (mask * x * x).T) / count - mean_x**2
        var_y = (weights @ (mask * y * y).T) / count - mean_y**2
        cov = (weights @ (mask * x * y).T) / count - mean_x * mean_y
        tiny = 1e-12
        defined = (var_x > tiny) & (var_y > tiny)
        result[:, usable] = np.where(
            defined, cov / np.sqrt(np.where(defined, var_x * var_y, 1.0)), np.nan
        )
    return np.asarray(np.clip(result, -1.0, 1.0))


def _standardise(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    counts = np.maximum(mask.sum(axis=1, keepdims=True), 1.0)
    mean = (values * mask).sum(axis=1, keepdims=True) / counts
    centred = (values - mean) * mask
    spread = np.sqrt((centred**2).sum(axis=1, keepdims=True) / counts)
    return np.asarray(centred / np.where(spread > 0, spread, 1.0))


def _mutual_information(side: _Side, weights: np.ndarray, encoder: _Encoder) -> np.ndarray:
    """Miller-Madow corrected mutual information per resample and feature, in nats."""
    n_features = len(encoder.features)
    n_rows = side.target.shape[0]
    target_bins = encoder.target_bins
    offsets = np.concatenate(([0], np.cumsum([bins * target_bins for bins in encoder.bins])))
    if n_rows == 0:
        return np.zeros((weights.shape[0], n_features))
    rows, columns = np.nonzero(side.valid.T)
    cells = offsets[columns] + side.codes.T[rows, columns] * target_bins + side.target_codes[rows]
    one_hot = sparse.csr_matrix(
        (np.ones(rows.shape[0]), (rows, cells)), shape=(n_rows, int(offsets[-1]))
    )
    joint_counts = np.asarray((one_hot.T @ weights.T).T)
    result = np.empty((weights.shape[0], n_features))
    for index, bins in enumerate(encoder.bins):
        block = joint_counts[:, offsets[index] : offsets[index + 1]].reshape(-1, bins, target_bins)
        result[:, index] = _corrected_information(block)
    return result


def _corrected_information(joint: np.ndarray) -> np.ndarray:
    total = joint.sum(axis=(1, 2))
    safe_total = np.where(total > 0, total, 1.0)
    p_joint = joint / safe_total[:, None, None]
    p_feature = p_joint.sum(axis=2)
    p_target = p_joint.sum(axis=1)
    plug_in = (
        special.xlogy(p_joint, p_joint).sum(axis=(1, 2))
        - special.xlogy(p_feature, p_feature).sum(axis=1)
        - special.xlogy(p_target, p_target).sum(axis=1)
    )
    occupied_joint = (joint > 0).sum(axis=(1, 2))
    occupied_feature = (p_feature > 0).sum(axis=1)
    occupied_target = (p_target > 0).sum(axis=1)
    correction = (occupied_feature - 1 + occupied_target - 1 - (occupied_joint - 1)) / (
        2.0 * safe_total
    )
    return np.where(total > 0, np.maximum(plug_in + correction, 0.0), 0.0)


def information_coefficient(mutual_information: float | np.ndarray) -> np.ndarray:
    """Map mutual information in nats to [0, 1]: sqrt(1 - exp(-2 MI))."""
    return np.sqrt(-np.expm1(-2.0 * np.asarray(mutual_information, dtype=np.float64)))


def _interval(replicates: np.ndarray, alpha: float) -> tuple[float, float] | None:
    defined = replicates[~np.isnan(replicates)]
    if defined.shape[0] == 0:
        return None
    return float(np.quantile(defined, alpha / 2)), float(np.quantile(defined, 1 - alpha / 2))


def _z_test(difference: float, first: np.ndarray, second: np.ndarray) -> float:
    """Two-sided p-value of a difference, with the bootstrap standard errors of both sides."""
    first = first[~np.isnan(first)]
    second = second[~np.isnan(second)]
    if first.shape[0] < 2 or second.shape[0] < 2:
        return 1.0
    error = math.sqrt(float(np.var(first, ddof=1)) + float(np.var(second, ddof=1)))
    if error == 0.0:
        return 1.0 if difference == 0.0 else 0.0
    return float(2.0 * stats.norm.sf(abs(difference) / error))


def _relationship(
    estimates: _Estimates, index: int, shares: np.ndarray, alpha: float
) -> Relationship:
    coefficient = float(estimates.coefficient[index])
    information = float(estimates.information[index])
    information_interval = _interval(estimates.information_boot[:, index], alpha)
    return Relationship(
        coefficient=None if math.isnan(coefficient) else coefficient,
        coefficient_interval=None
        if math.isnan(coefficient)
        else _interval(estimates.coefficient_boot[:, index], alpha),
        mutual_information=information,
        mutual_information_interval=information_interval or (information, information),
        information_coefficient=float(information_coefficient(information)),
        importance_share=float(shares[index]),
        rows=int(estimates.rows[index]),
    )


def _shares(information: np.ndarray) -> np.ndarray:
    total = float(information.sum())
    return information / total if total > 0 else np.zeros_like(information)


def _compare(
    encoder: _Encoder, reference: _Estimates, current: _Estimates, config: MonitoringConfig
) -> tuple[DriverChange, ...]:
    settings = config.drivers
    alpha = settings.alpha
    tests = int(np.sum(~np.isnan(reference.coefficient) & ~np.isnan(current.coefficient))) + len(
        encoder.features
    )
    max_p_value = alpha / max(tests, 1)
    reference_shares = _shares(reference.information)
    current_shares = _shares(current.information)
    changes = []
    for index, name in enumerate(encoder.features):
        before = _relationship(reference, index, reference_shares, alpha)
        after = _relationship(current, index, current_shares, alpha)
        changes.append(
            _change(
                name,
                encoder.kinds[index],
                before,
                after,
                reference,
                current,
                index,
                max_p_value,
                config,
            )
        )
    return tuple(changes)


def _change(
    name: str,
    kind: ColumnKind,
    before: Relationship,
    after: Relationship,
    reference: _Estimates,
    current: _Estimates,
    index: int,
    max_p_value: float,
    config: MonitoringConfig,
) -> DriverChange:
    settings = config.drivers
    coefficient_change = coefficient_p = None
    # Each effect is (size on the correlation scale, p-value of its test).
    effects: list[tuple[float, float]] = []
    if before.coefficient is not None and after.coefficient is not None:
        coefficient_change = after.coefficient - before.coefficient
        coefficient_p = _z_test(
            coefficient_change,
            reference.coefficient_boot[:, index],
            current.coefficient_boot[:, index],
        )
        effects.append((abs(coefficient_change), coefficient_p))

    information_change = after.information_coefficient - before.information_coefficient
    information_p = _z_test(
        after.mutual_information - before.mutual_information,
        reference.information_boot[:, index],
        current.information_boot[:, index],
    )
    effects.append((abs(information_change), information_p))

    significant_effects = [
        size for size, p_value in effects if p_value < max_p_value and size >= settings.min_change
    ]
    change = max(size for size, _ in effects)
    severity = Severity.NONE
    if significant_effects:
        largest = max(significant_effects)
        critical = settings.critical_change is not None and largest >= settings.critical_change
        severity = Severity.CRITICAL if critical else Severity.WARNING

    return DriverChange(
        feature=name,
        kind=kind,
        reference=before,
        window=after,
        coefficient_change=coefficient_change,
        coefficient_p_value=coefficient_p,
        information_change=information_change,
        mutual_information_p_value=information_p,
        change=change,
        max_p_value=max_p_value,
        significant=bool(significant_effects),
        severity=severity,
    )
