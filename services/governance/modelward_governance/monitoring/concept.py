"""Concept drift: labelled performance against the registered metrics, and a streaming detector.

Performance uses the window's labelled sample (every labelled row up to
`WindowConfig.labelled_sample_size`, a uniform sample beyond). Classifiers get accuracy, F1 and
AUC (binary only); regressors get RMSE and MAE.

Significance: a one-sided percentile bootstrap. The sample is resampled with replacement
`bootstrap_resamples` times (seeded) and the metric recomputed each time. The bound on the
model's side is then compared with the registered value: the 1 - alpha quantile for metrics
where higher is better, and the alpha quantile for RMSE and MAE. The bootstrap was chosen
because it treats all five metrics the same way: F1 and AUC have no simple exact variance, and
it needs no normality. When the labelled sample is smaller than the window's labelled rows, the
interval is that of the sample, wider than the window's, so the test errs towards reporting no
degradation.

The streaming detector is the Page-Hinkley test on a per-row error (0/1 for classifiers,
absolute error for regressors), fed per row or per batch, with a small serialisable state.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass

import numpy as np

from .config import MonitoringConfig, PageHinkleyConfig, PerformanceConfig, TaskConfig
from .enums import ColumnStatus, Severity, TaskType
from .profile import ReferenceProfile
from .window import WindowStats

logger = logging.getLogger(__name__)

HIGHER_IS_BETTER = {"accuracy": True, "auc": True, "f1": True, "rmse": False, "mae": False}
METRIC_ALIASES = {
    "roc_auc": "auc",
    "auroc": "auc",
    "f1_score": "f1",
    "f1_macro": "f1",
    "root_mean_squared_error": "rmse",
    "mean_absolute_error": "mae",
}
# Resamples are drawn in chunks so that the weight matrix stays below about 16 MB.
_WEIGHT_CELLS_PER_CHUNK = 2_000_000


@dataclass(frozen=True)
class PerformanceMetric:
    """One performance metric of a window, compared with the registered value.

    `value` is computed on the labelled sample. `bound` is the one-sided bootstrap bound at
    level 1 - alpha on the model's side, and `interval` the two-sided percentile interval at the
    same alpha, for display. `degradation` is relative to the registered value (positive is
    worse; see `PerformanceConfig`), absolute when the registered value is 0. `significant`
    is True when even `bound` is worse than the registered value. The thresholds apply to the
    degradation at `bound`. Fields are None when the metric is undefined on the sample, such as
    AUC with one class.
    """

    name: str
    higher_is_better: bool
    value: float | None
    registered: float | None
    degradation: float | None
    bound: float | None
    bound_degradation: float | None
    interval: tuple[float, float] | None
    significant: bool
    severity: Severity
    warning_threshold: float
    critical_threshold: float | None


@dataclass(frozen=True)
class PerformanceReport:
    """Performance of one window.

    `n_labelled` counts every label joined in the window, `n_used` the rows of the labelled
    sample with a prediction, which the metrics are computed on.
    """

    task: TaskType
    status: ColumnStatus
    n_labelled: int
    n_used: int
    metrics: tuple[PerformanceMetric, ...]
    severity: Severity
    unknown_registered: tuple[str, ...]
    alpha: float
    bootstrap_resamples: int

    def metric(self, name: str) -> PerformanceMetric | None:
        """Return one metric by name, or None when the task has no such metric."""
        for metric in self.metrics:
            if metric.name == name:
                return metric
        return None


@dataclass(frozen=True)
class _Encoded:
    """Labelled rows in the form the metric functions take."""

    truth: np.ndarray
    predicted: np.ndarray
    score: np.ndarray | None
    classes: np.ndarray | None


def evaluate_performance(
    profile: ReferenceProfile,
    window: WindowStats,
    registered_metrics: Mapping[str, float],
    config: MonitoringConfig | None = None,
) -> PerformanceReport:
    """Compute the window's performance and test it against the registered metrics.

    `registered_metrics` maps metric names (accuracy, auc, f1, rmse, mae, case-insensitive, with
    the aliases of `METRIC_ALIASES`) to the values registered with the model version. Names the
    task does not compute are listed in `unknown_registered`. A profile without a prediction
    column, or a window with fewer labelled rows than `min_labelled_rows`, gives a report with
    status INSUFFICIENT_DATA.
    """
    config = config or MonitoringConfig()
    settings = config.performance
    registered, unknown = _normalise_registered(registered_metrics, config.task.task)
    sample = window.labelled_sample
    names = _metric_names(config.task.task)
    empty = PerformanceReport(
        task=config.task.task,
        status=ColumnStatus.INSUFFICIENT_DATA,
        n_labelled=window.n_labelled,
        n_used=sample.n_rows,
        metrics=(),
        severity=Severity.NONE,
        unknown_registered=unknown,
        alpha=settings.alpha,
        bootstrap_resamples=settings.bootstrap_resamples,
    )
    if profile.prediction is None:
        return empty
    predictions, labels = _with_prediction(sample.rows.column(profile.prediction), sample.labels)
    if predictions.shape[0] < settings.min_labelled_rows:
        return empty
    encoded = encode_labelled(predictions, labels, config.task)
    ones = np.ones((1, encoded.truth.shape[0]))
    point = {name: float(_weighted_metric(name, encoded, ones)[0]) for name in names}
    resampled = _bootstrap(names, encoded, settings)
    metrics = tuple(
        _compare(name, point[name], resampled[name], registered.get(name), settings)
        for name in names
    )
    return PerformanceReport(
        task=config.task.task,
        status=ColumnStatus.OK,
        n_labelled=window.n_labelled,
        n_used=int(predictions.shape[0]),
        metrics=metrics,
        severity=max((metric.severity for metric in metrics), default=Severity.NONE),
        unknown_registered=unknown,
        alpha=settings.alpha,
        bootstrap_resamples=settings.bootstrap_resamples,
    )


def _with_prediction(predictions: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop the rows whose prediction is missing (NaN or None)."""
    if predictions.dtype.kind == "f":
        present = ~np.isnan(predictions)
    else:
        present = np.array([value is not None for value in predictions.tolist()], dtype=bool)
    return predictions[present], labels[present]


def _metric_names(task: TaskType) -> tuple[str, ...]:
    if task is TaskType.REGRESSION:
        return ("rmse", "mae")
    if task is TaskType.BINARY_CLASSIFICATION:
        return ("accuracy", "f1", "auc")
    return ("accuracy", "f1")


def _normalise_registered(
    registered: Mapping[str, float], task: TaskType
) -> tuple[dict[str, float], tuple[str, ...]]:
    names = set(_metric_names(task))
    known: dict[str, float] = {}
    unknown: list[str] = []
    for name, value in registered.items():
        canonical = METRIC_ALIASES.get(name.lower(), name.lower())
        if canonical in names and isinstance(value, (int, float)) and math.isfinite(value):
            known[canonical] = float(value)
        else:
            unknown.append(name)
    return known, tuple(sorted(unknown))


def encode_labelled(predictions: np.ndarray, labels: np.ndarray, task: TaskConfig) -> _Encoded:
    """Turn predictions and labels into numeric truth, predicted class and score arrays.

    Binary: truth and predicted are 0/1, the score is the numeric prediction (or the predicted
    class when predictions are categories). Multiclass: both are class indices into `classes`.
    Regression: both are float64.
    """
    if task.task is TaskType.REGRESSION:
        return _Encoded(
            truth=np.asarray(labels, dtype=np.float64),
            predicted=np.asarray(predictions, dtype=np.float64),
            score=None,
            classes=None,
        )
    if task.task is TaskType.BINARY_CLASSIFICATION:
        truth = np.array(
            [label == task.positive_label for label in labels.tolist()], dtype=np.float64
        )
        score, predicted = _binary_prediction(predictions, task)
        return _Encoded(truth=truth, predicted=predicted, score=score, classes=None)
    predicted_keys = [_as_key(value) for value in predictions.tolist()]
    label_keys = [str(label) for label in labels.tolist()]
    classes = np.array(sorted(set(label_keys) | set(predicted_keys)), dtype=object)
    index = {key: position for position, key in enumerate(classes.tolist())}
    return _Encoded(
        truth=np.array([index[key] for key in label_keys], dtype=np.int64),
        predicted=np.array([index[key] for key in predicted_keys], dtype=np.int64),
        score=None,
        classes=classes,
    )


def _as_key(value: object) -> str:
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _binary_prediction(predictions: np.ndarray, task: TaskConfig) -> tuple[np.ndarray, np.ndarray]:
    if predictions.dtype.kind == "f":
        score = predictions.astype(np.float64)
        return score, (score >= task.decision_threshold).astype(np.float64)
    predicted = np.array(
        [value == task.positive_label for value in predictions.tolist()], dtype=np.float64
    )
    return predicted, predicted


def _weighted_metric(name: str, data: _Encoded, weights: np.ndarray) -> np.ndarray:
    """Compute a metric once per row of `weights` (resample counts); NaN where undefined."""
    metric: Callable[[_Encoded, np.ndarray], np.ndarray] = _METRICS[name]
    with np.errstate(divide="ignore", invalid="ignore"):
        return metric(data, weights)


def _accuracy(data: _Encoded, weights: np.ndarray) -> np.ndarray:
    correct = (data.truth == data.predicted).astype(np.float64)
    return np.asarray((weights @ correct) / weights.sum(axis=1))


def _f1(data: _Encoded, weights: np.ndarray) -> np.ndarray:
    if data.classes is None:
        return _binary_f1(data.truth, data.predicted, weights)
    # Macro F1 over the classes seen in labels or predictions; a class absent from a resample
    # scores 0, as scikit-learn's zero_division=0.
    scores = [
        np.nan_to_num(
            _binary_f1(
                (data.truth == k).astype(np.float64),
                (data.predicted == k).astype(np.float64),
                weights,
            )
        )
        for k in range(data.classes.shape[0])
    ]
    return np.asarray(np.mean(scores, axis=0))


def _binary_f1(truth: np.ndarray, predicted: np.ndarray, weights: np.ndarray) -> np.ndarray:
    true_positive = weights @ (truth * predicted)
    false_positive = weights @ ((1.0 - truth) * predicted)
    false_negative = weights @ (truth * (1.0 - predicted))
    denominator = 2.0 * true_positive + false_positive + false_negative
    return np.where(denominator > 0, 2.0 * true_positive / denominator, np.nan)


def _auc(data: _Encoded, weights: np.ndarray) -> np.ndarray:
    """Weighted Mann-Whitney AUC: P(score_pos > score_neg) + P(tie) / 2."""
    assert data.score is not None
    order = np.argsort(data.score, kind="stable")
    sorted_scores = data.score[order]
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    positive = data.truth[order]
    ordered_weights = weights[:, order]
    positive_weight = np.add.reduceat(ordered_weights * positive, starts, axis=1)
    negative_weight = np.add.reduceat(ordered_weights * (1.0 - positive), starts, axis=1)
    negative_below = np.cumsum(negative_weight, axis=1) - negative_weight
    wins = (positive_weight * (negative_below + 0.5 * negative_weight)).sum(axis=1)
    pairs = positive_weight.sum(axis=1) * negative_weight.sum(axis=1)
    return np.where(pairs > 0, wins / pairs, np.nan)


def _rmse(data: _Encoded, weights: np.ndarray) -> np.ndarray:
    squared = (data.truth - data.predicted) ** 2
    return np.asarray(np.sqrt((weights @ squared) / weights.sum(axis=1)))


def _mae(data: _Encoded, weights: np.ndarray) -> np.ndarray:
    absolute = np.abs(data.truth - data.predicted)
    return np.asarray((weights @ absolute) / weights.sum(axis=1))


_METRICS: dict[str, Callable[[_Encoded, np.ndarray], np.ndarray]] = {
    "accuracy": _accuracy,
    "f1": _f1,
    "auc": _auc,
    "rmse": _rmse,
    "mae": _mae,
}


def _bootstrap(
    names: tuple[str, ...], data: _Encoded, settings: PerformanceConfig
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(settings.seed)
    n_rows = data.truth.shape[0]
    chunk = max(1, _WEIGHT_CELLS_PER_CHUNK // n_rows)
    results: dict[str, list[np.ndarray]] = {name: [] for name in names}
    done = 0
    while done < settings.bootstrap_resamples:
        size = min(chunk, settings.bootstrap_resamples - done)
        weights = resample_weights(rng, size, n_rows)
        for name in names:
            results[name].append(_weighted_metric(name, data, weights))
        done += size
    return {name: np.concatenate(parts) for name, parts in results.items()}


def resample_weights(rng: np.random.Generator, resamples: int, n_rows: int) -> np.ndarray:
    """Return a (resamples, n_rows) float64 matrix of how often each row is drawn per resample."""
    draws = rng.integers(0, n_rows, size=(resamples, n_rows))
    flat = (draws + (np.arange(resamples) * n_rows)[:, None]).ravel()
    return (
        np.bincount(flat, minlength=resamples * n_rows)
        .reshape(resamples, n_rows)
        .astype(np.float64)
    )


def _relative_degradation(value: float, registered: float, higher_is_better: bool) -> float:
    difference = registered - value if higher_is_better else value - registered
    return difference / abs(registered) if registered != 0 else difference


def _compare(
    name: str,
    value: float,
    resampled: np.ndarray,
    registered: float | None,
    settings: PerformanceConfig,
) -> PerformanceMetric:
    higher = HIGHER_IS_BETTER[name]
    defined = resampled[~np.isnan(resampled)]
    if math.isnan(value) or defined.shape[0] == 0:
        return PerformanceMetric(
            name=name,
            higher_is_better=higher,
            value=None,
            registered=registered,
            degradation=None,
            bound=None,
            bound_degradation=None,
            interval=None,
            significant=False,
            severity=Severity.NONE,
            warning_threshold=settings.warning_degradation,
            critical_threshold=settings.critical_degradation,
        )
    alpha = settings.alpha
    bound = float(np.quantile(defined, 1.0 - alpha if higher else alpha))
    interval = (float(np.quantile(defined, alpha / 2)), float(np.quantile(defined, 1 - alpha / 2)))
    degradation = bound_degradation = None
    significant = False
    severity = Severity.NONE
    if registered is not None:
        degradation = _relative_degradation(value, registered, higher)
        bound_degradation = _relative_degradation(bound, registered, higher)
        significant = bound_degradation > 0
        severity = _degradation_severity(bound_degradation, significant, settings)
    return PerformanceMetric(
        name=name,
        higher_is_better=higher,
        value=value,
        registered=registered,
        degradation=degradation,
        bound=bound,
        bound_degradation=bound_degradation,
        interval=interval,
        significant=significant,
        severity=severity,
        warning_threshold=settings.warning_degradation,
        critical_threshold=settings.critical_degradation,
    )


def _degradation_severity(
    bound_degradation: float, significant: bool, settings: PerformanceConfig
) -> Severity:
    if not significant:
        return Severity.NONE
    if (
        settings.critical_degradation is not None
        and bound_degradation >= settings.critical_degradation
    ):
        return Severity.CRITICAL
    if bound_degradation >= settings.warning_degradation:
        return Severity.WARNING
    return Severity.NONE


def error_values(
    predictions: np.ndarray, labels: np.ndarray, task: TaskConfig, scale: float = 1.0
) -> np.ndarray:
    """Return one error per row for the Page-Hinkley detector.

    Classifiers: 1.0 for a wrong class, 0.0 for a right one (binary scores are thresholded at
    `decision_threshold`). Regressors: |label - prediction| / `scale`, so that a detector
    threshold can be set in units of, for example, the reference label's standard deviation.
    """
    encoded = encode_labelled(predictions, labels, task)
    if task.task is TaskType.REGRESSION:
        return np.asarray(np.abs(encoded.truth - encoded.predicted) / scale)
    return np.asarray(encoded.truth != encoded.predicted, dtype=np.float64)


@dataclass(frozen=True)
class PageHinkleyState:
    """State of a Page-Hinkley detector: a handful of numbers.

    `count` values since the last reset, their running `mean`, the cumulative deviation
    `cumulative` = sum(x_t - mean_t - delta) and its running `minimum` (starting at 0).
    `detections` counts drifts since the detector was created.
    """

    count: int = 0
    mean: float = 0.0
    cumulative: float = 0.0
    minimum: float = 0.0
    detections: int = 0


class PageHinkley:
    """Page-Hinkley test for an increase of the mean of a stream, such as an error rate.

    After each value x_t: mean_t is the running mean since the last reset,
    m_t = m_(t-1) + x_t - mean_t - delta, M_t = min(M_(t-1), m_t) with m_0 = M_0 = 0. A drift is
    detected when m_t - M_t > threshold and at least `min_instances` values were seen; the
    detector then resets and starts again from the next value. This is the classic form,
    without a forgetting factor. `update_many` gives the same result as calling `update` per
    value, up to floating-point rounding.
    """

    _FORMAT_VERSION = 1

    def __init__(
        self, config: PageHinkleyConfig | None = None, state: PageHinkleyState | None = None
    ) -> None:
        self.config = config or PageHinkleyConfig()
        self._state = state or PageHinkleyState()

    @property
    def state(self) -> PageHinkleyState:
        return self._state

    def update(self, value: float) -> bool:
        """Add one value and return whether it completed a drift detection."""
        return bool(self.update_many(np.array([value], dtype=np.float64)))

    def update_many(self, values: np.ndarray) -> tuple[int, ...]:
        """Add values in order and return the positions at which a drift was detected."""
        data = np.asarray(values, dtype=np.float64)
        if np.any(~np.isfinite(data)):
            raise ValueError(
                "Page-Hinkley values must be finite: drop rows without an error value first"
            )
        detections: list[int] = []
        start = 0
        while start < data.shape[0]:
            position = self._consume(data[start:])
            if position is None:
                break
            detections.append(start + position)
            start += position + 1
        return tuple(detections)

    def _consume(self, values: np.ndarray) -> int | None:
        """Update the state with `values` up to the first detection; return its position."""
        config = self.config
        state = self._state
        counts = state.count + np.arange(1, values.shape[0] + 1)
        means = (state.mean * state.count + np.cumsum(values)) / counts
        cumulative = state.cumulative + np.cumsum(values - means - config.delta)
        minimum = np.minimum(state.minimum, np.minimum.accumulate(cumulative))
        alarms = (counts >= config.min_instances) & (cumulative - minimum > config.threshold)
        if alarms.any():
            position = int(np.argmax(alarms))
            self._state = PageHinkleyState(detections=state.detections + 1)
            logger.info(
                "Page-Hinkley drift after %d values: statistic %.4g > threshold %.4g",
                int(counts[position]),
                float(cumulative[position] - minimum[position]),
                config.threshold,
            )
            return position
        self._state = PageHinkleyState(
            count=int(counts[-1]),
            mean=float(means[-1]),
            cumulative=float(cumulative[-1]),
            minimum=float(minimum[-1]),
            detections=state.detections,
        )
        return None

    def to_bytes(self) -> bytes:
        """Serialise parameters and state as UTF-8 JSON with sorted keys, deterministically."""
        payload = {
            "format_version": self._FORMAT_VERSION,
            "config": asdict(self.config),
            "state": asdict(self._state),
        }
        return json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False).encode(
            "utf-8"
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> PageHinkley:
        """Read a detector written by `to_bytes`; raises ValueError for other input."""
        try:
            payload = json.loads(data.decode("utf-8"))
            if payload["format_version"] != cls._FORMAT_VERSION:
                found = payload["format_version"]
                raise ValueError(
                    f"Page-Hinkley format version {found} is not {cls._FORMAT_VERSION}"
                )
            return cls(PageHinkleyConfig(**payload["config"]), PageHinkleyState(**payload["state"]))
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as error:
            raise ValueError(f"invalid Page-Hinkley state: {error!r}") from error
