"""Monitoring messages to and from the monitoring library: columns, configs, windows, alerts.

Columns arrive as `ColumnarBatch` messages. A `double_values` column is numeric; `string_values`
and `int64_values` columns are categorical, since integers here are codes, classes or booleans.
Send integer-valued numeric features as doubles.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from google.protobuf import json_format, struct_pb2

from modelward_common.errors import InvalidArgument, sample_of
from modelward_common.timeutil import request_duration
from modelward_governance import monitoring as mon
from modelward_governance.domain.monitoring_alerts import ConceptOutcome
from modelward_governance.domain.severity import Severity
from modelward_governance.entrypoints.convert import SEVERITY_TO_PROTO, drift_method_to_proto, json_safe
from modelward_protos.governance.v1 import monitoring_pb2, resources_pb2

# Value type of a column, by the `values` field of `Column` that carries it.
DOUBLE = "double"
STRING = "string"
INT64 = "int64"
_VALUE_FIELDS = {"double_values": DOUBLE, "string_values": STRING, "int64_values": INT64}
_VALUE_FIELD_OF = {kind: field for field, kind in _VALUE_FIELDS.items()}

# A config's etag: the first 32 hexadecimal digits of the SHA-256 of its stored JSON.
CONFIG_ETAG_LENGTH = 32
_CONFIG_ETAG = re.compile(f"[0-9a-f]{{{CONFIG_ETAG_LENGTH}}}")

# Column names follow the registry's rule for feature names, plus no control characters.
MAX_COLUMN_NAME = 256
COLUMN_NAME_RULE = f"use 1-{MAX_COLUMN_NAME} characters without control characters"
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")

DEFAULT_WINDOW_ROWS = 10_000
MAX_WINDOW_ROWS = 100_000_000
MAX_WINDOW_SECONDS = 366 * 24 * 3600
# Memory bounds of one window. Each batch rewrites the serialised window state, so these stay
# well below the library's defaults; KS and Wasserstein are exact for windows up to
# EXACT_LIMIT rows and use the reference grid beyond.
EXACT_LIMIT = 20_000
JOINT_SAMPLE_SIZE = 5_000
LABELLED_SAMPLE_SIZE = 5_000
PENDING_LABEL_CAPACITY = 20_000
DEFAULT_MIN_LABELED_ROWS = 30
DEFAULT_CONCEPT_CRITICAL = 0.05
# Feature name of the concept-drift alert that the Page-Hinkley test on the error rate opens.
PAGE_HINKLEY_FEATURE = "page_hinkley_error_rate"

_DEFAULT_METRIC = {
    mon.TaskType.BINARY_CLASSIFICATION: "auc",
    mon.TaskType.MULTICLASS_CLASSIFICATION: "accuracy",
    mon.TaskType.REGRESSION: "rmse",
}
_TASK_METRICS = {
    mon.TaskType.BINARY_CLASSIFICATION: ("accuracy", "auc", "f1"),
    mon.TaskType.MULTICLASS_CLASSIFICATION: ("accuracy", "f1"),
    mon.TaskType.REGRESSION: ("mae", "rmse"),
}


# --- columns --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Columns:
    """A batch as library columns: numeric ones float64 (masked where null), others objects."""

    row_count: int
    values: dict[str, np.ndarray]
    types: dict[str, str]


def batch_columns(batch: monitoring_pb2.ColumnarBatch, field: str) -> Columns:
    """Convert a columnar batch, rejecting duplicate names, bad lengths and infinities."""
    if batch.row_count < 0:
        raise InvalidArgument(f"{field}.row_count", batch.row_count, "send the number of rows, 0 or more")
    values: dict[str, np.ndarray] = {}
    types: dict[str, str] = {}
    for index, column in enumerate(batch.columns):
        path = f"{field}.columns[{index}]"
        check_column_name(column.name, f"{path}.name")
        if column.name in values:
            raise InvalidArgument(f"{path}.name", column.name, "send each column once", problem="is a duplicate")
        values[column.name], types[column.name] = column_values(column, batch.row_count, path)
    return Columns(batch.row_count, values, types)


def check_column_name(name: str, field: str) -> str:
    """Reject an empty or overlong column name, or one with a control character (C0, DEL or C1),
    which a report or a terminal could not show as sent."""
    if not name:
        raise InvalidArgument(field, name, "name every column", problem="is empty")
    if len(name) > MAX_COLUMN_NAME or _CONTROL_CHARACTER.search(name):
        raise InvalidArgument(field, name, COLUMN_NAME_RULE)
    return name


def column_values(column: monitoring_pb2.Column, row_count: int, path: str) -> tuple[np.ndarray, str]:
    """Convert one column with `row_count` entries and return it with its value type."""
    which = column.WhichOneof("values")
    if which is None:
        raise InvalidArgument(
            f"{path}.values", column.name, "set double_values, string_values or int64_values",
            problem="has no value type",
        )
    kind = _VALUE_FIELDS[which]
    raw = getattr(column, which).values
    if len(raw) != row_count:
        raise InvalidArgument(
            f"{path}.{which}", column.name, f"send one value per row ({row_count})",
            problem=f"has {len(raw)} values",
        )
    if column.null_mask and len(column.null_mask) != row_count:
        raise InvalidArgument(
            f"{path}.null_mask", column.name, f"send no mask or one entry per row ({row_count})",
            problem=f"has {len(column.null_mask)} entries",
        )
    mask = np.asarray(column.null_mask, dtype=bool) if column.null_mask else None

    if kind == DOUBLE:
        array = np.asarray(raw, dtype=np.float64)
        infinite = np.isinf(array) if mask is None else np.isinf(array) & ~mask
        if infinite.any():
            row = int(np.argmax(infinite))
            raise InvalidArgument(
                f"{path}.double_values", column.name,
                f"send a finite value, or mark the row null in null_mask",
                problem=f"contains {array[row]} at row {row}, and infinities are rejected",
            )
        return (np.ma.MaskedArray(array, mask=mask) if mask is not None else array), kind
    if kind == INT64:
        array = np.asarray(raw, dtype=np.int64)
        return (np.ma.MaskedArray(array, mask=mask) if mask is not None else array), kind
    objects = np.empty(row_count, dtype=object)
    objects[:] = list(raw)
    if mask is not None:
        objects[mask] = None
    return objects, kind


# Binary classifiers predict the positive class "1" (TaskConfig's default), so their labels are
# 0 and 1, as int64 or double values, or as the strings "0" and "1".
BINARY_CLASSES = frozenset({"0", "1"})


def check_labels(labels: np.ndarray, label_type: str, task: mon.TaskType, profile: mon.ReferenceProfile) -> None:
    """Reject labels that cannot be a target of this model, naming the first one and the allowed values.

    A regression label is a double. A binary label is 0 or 1. A multiclass label is one of the
    classes that the reference data's label and prediction columns contain. When neither
    column is categorical with every category counted, any class is accepted.
    """
    field = f"labels.{_VALUE_FIELD_OF[label_type]}"
    if task is mon.TaskType.REGRESSION:
        if label_type != DOUBLE:
            raise InvalidArgument("labels", _VALUE_FIELD_OF[label_type], "send regression labels as double_values", problem="has the wrong value type")
        return
    allowed = BINARY_CLASSES if task is mon.TaskType.BINARY_CLASSIFICATION else _reference_classes(profile)
    if allowed is None:
        return
    for row, value in enumerate(labels.tolist()):
        key = mon.columns.category_key("label", value, row)
        if key is not None and key not in allowed:
            raise InvalidArgument(
                f"{field}[{row}]", value,
                f"send one of {sample_of(sorted(allowed), 20)}, the classes of this {task.value} model",
                problem="is not a class of the model",
            )


def _reference_classes(profile: mon.ReferenceProfile) -> frozenset[str] | None:
    """Return the class keys of the reference's label and prediction columns, None when unknown."""
    classes: set[str] = set()
    for name in (profile.label, profile.prediction):
        column = None if name is None else profile.columns[name]
        if isinstance(column, mon.CategoricalProfile) and not column.summary.other_count:
            classes.update(column.summary.counts)
    return frozenset(classes) or None


def batch_sha256(digest: hashlib._Hash, batch: monitoring_pb2.ColumnarBatch) -> None:
    digest.update(batch.SerializeToString(deterministic=True))


# --- configs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MonitoringSettings:
    """Everything one version is monitored with: the library config plus what the API adds.

    Concept-drift thresholds are in the metric's unit; `library.performance` carries them
    relative to the registered value, set per window by `performance_for`.
    """

    library: mon.MonitoringConfig
    min_window_rows: int
    concept_metric: str
    concept_warning: float
    concept_critical: float | None
    min_labeled_rows: int

    def performance_for(self, registered: float | None) -> mon.MonitoringConfig:
        """Return the library config with the concept thresholds relative to `registered`."""
        if registered is None or registered == 0:
            return self.library
        scale = abs(registered)
        performance = dataclasses.replace(
            self.library.performance,
            warning_degradation=self.concept_warning / scale,
            critical_degradation=None if self.concept_critical is None else self.concept_critical / scale,
        )
        return dataclasses.replace(self.library, performance=performance)


def task_type_of(task_type: str) -> mon.TaskType:
    """Map a model's free-text task type, such as `binary_classification`, to the library's."""
    text = task_type.lower()
    if "regress" in text:
        return mon.TaskType.REGRESSION
    if "multiclass" in text or "multi_class" in text:
        return mon.TaskType.MULTICLASS_CLASSIFICATION
    return mon.TaskType.BINARY_CLASSIFICATION


def canonical_metric(name: str) -> str:
    lowered = name.lower()
    return mon.concept.METRIC_ALIASES.get(lowered, lowered)


def settings_from_proto(
    config: monitoring_pb2.MonitoringConfig, task: mon.TaskType, columns: Sequence[str] | None = None
) -> MonitoringSettings:
    """Validate a config message and build the settings; every error names the field.

    `columns` are the monitored columns of the reference data when it was uploaded, which
    per-feature thresholds must name.
    """
    check_config_etag(config.etag)
    window = _window_config(config)
    drift, per_feature = _drift_thresholds(config.thresholds, columns)
    metric, warning, critical, min_rows = _concept_settings(config, task)
    drivers = _driver_config(config.driver_shift)
    if config.min_window_rows < 0:
        raise InvalidArgument("config.min_window_rows", config.min_window_rows, "set 0 or more rows")
    try:
        library = mon.MonitoringConfig(
            drift=drift,
            feature_thresholds=per_feature,
            window=window,
            task=mon.TaskConfig(task=task),
            performance=mon.PerformanceConfig(min_labelled_rows=min_rows),
            drivers=drivers,
        )
    except mon.ConfigError as error:
        raise InvalidArgument(f"config ({error.field})", error.value, str(error)) from error
    return MonitoringSettings(
        library=library,
        min_window_rows=int(config.min_window_rows),
        concept_metric=metric,
        concept_warning=warning,
        concept_critical=critical,
        min_labeled_rows=min_rows,
    )


def check_min_window_rows(settings: MonitoringSettings) -> None:
    """Reject a minimum that no row-count window can reach, which would silence every window.

    Only SetMonitoringConfig calls this, so a config stored before the check still loads.
    """
    rows = settings.library.window.max_rows
    if rows is not None and settings.min_window_rows > rows:
        raise InvalidArgument(
            "config.min_window_rows", settings.min_window_rows,
            f"set at most the window's {rows} rows, or 0: with more, no window could open or resolve an alert",
            problem="exceeds window_rows",
        )


def _window_config(config: monitoring_pb2.MonitoringConfig) -> mon.WindowConfig:
    which = config.WhichOneof("window")
    rows: int | None = DEFAULT_WINDOW_ROWS
    seconds: float | None = None
    if which == "window_rows":
        rows = config.window_rows
        if not 1 <= rows <= MAX_WINDOW_ROWS:
            raise InvalidArgument("config.window_rows", rows, f"set a row count from 1 to {MAX_WINDOW_ROWS}")
    elif which == "window_duration":
        rows = None
        seconds = request_duration(config.window_duration, "config.window_duration")
        if not 0 < seconds <= MAX_WINDOW_SECONDS:
            raise InvalidArgument(
                "config.window_duration", f"{seconds}s", f"set a duration above 0 and at most {MAX_WINDOW_SECONDS}s (366 days)"
            )
    exact = EXACT_LIMIT if rows is None else min(rows, EXACT_LIMIT)
    return mon.WindowConfig(
        max_rows=rows,
        max_duration_seconds=seconds,
        exact_limit=exact,
        joint_sample_size=JOINT_SAMPLE_SIZE,
        labelled_sample_size=LABELLED_SAMPLE_SIZE,
        pending_label_capacity=PENDING_LABEL_CAPACITY,
    )


def _drift_thresholds(
    entries: Sequence[monitoring_pb2.DriftThreshold], columns: Sequence[str] | None
) -> tuple[mon.DriftThresholds, dict[str, mon.DriftThresholds]]:
    shared: dict[str, object] = {}
    per_feature: dict[str, dict[str, object]] = {}
    seen: set[tuple[int, str]] = set()
    for index, entry in enumerate(entries):
        path = f"config.thresholds[{index}]"
        if (entry.method, entry.feature) in seen:
            raise InvalidArgument(
                f"{path}.method", monitoring_pb2.DriftMethod.Name(entry.method),
                f"set each method once per feature ({entry.feature or 'all features'})", problem="is repeated",
            )
        seen.add((entry.method, entry.feature))
        if entry.feature and columns is not None and entry.feature not in columns:
            raise InvalidArgument(f"{path}.feature", entry.feature, f"name a monitored column: {sample_of(columns, 20)}", problem="is not monitored")
        target = per_feature.setdefault(entry.feature, {}) if entry.feature else shared
        target.update(_threshold_fields(entry, path))
    try:
        drift = mon.DriftThresholds(**shared)  # type: ignore[arg-type]
        features = {name: mon.DriftThresholds(**{**shared, **fields}) for name, fields in per_feature.items()}  # type: ignore[arg-type]
    except mon.ConfigError as error:
        raise InvalidArgument(f"config.thresholds ({error.field})", error.value, str(error)) from error
    return drift, features


def _threshold_fields(entry: monitoring_pb2.DriftThreshold, path: str) -> dict[str, object]:
    for name in ("warning", "critical", "max_p_value"):
        value = getattr(entry, name)
        if not math.isfinite(value) or value < 0:
            raise InvalidArgument(f"{path}.{name}", value, "set a finite number, 0 or more")
    if entry.critical and entry.critical < entry.warning:
        raise InvalidArgument(f"{path}.critical", entry.critical, f"set 0 (off) or a number >= warning ({entry.warning})")
    if entry.max_p_value >= 1:
        raise InvalidArgument(f"{path}.max_p_value", entry.max_p_value, "set a level above 0 and below 1, or 0 for 0.05")
    critical = entry.critical or None
    method = entry.method
    if method == monitoring_pb2.DRIFT_METHOD_PSI:
        return _band("psi", entry, critical)
    if method == monitoring_pb2.DRIFT_METHOD_JENSEN_SHANNON:
        return _band("js", entry, critical)
    if method == monitoring_pb2.DRIFT_METHOD_WASSERSTEIN:
        return _band("wasserstein", entry, critical)
    if method == monitoring_pb2.DRIFT_METHOD_KOLMOGOROV_SMIRNOV:
        if entry.warning > 1 or (critical is not None and critical > 1):
            raise InvalidArgument(f"{path}.warning", entry.warning, "set Kolmogorov-Smirnov statistics in [0, 1]")
        fields: dict[str, object] = {"ks_warning_statistic": entry.warning, "ks_critical_statistic": critical}
        if entry.max_p_value:
            fields["ks_alpha"] = entry.max_p_value
        return fields
    if method == monitoring_pb2.DRIFT_METHOD_CHI_SQUARED:
        if entry.warning or entry.critical:
            raise InvalidArgument(
                f"{path}.warning", entry.warning, "leave warning and critical at 0 and set max_p_value",
                problem="is set, but chi-squared alerts on its p-value alone",
            )
        return {"chi2_alpha": entry.max_p_value} if entry.max_p_value else {}
    raise InvalidArgument(
        f"{path}.method", monitoring_pb2.DriftMethod.Name(method) if method in monitoring_pb2.DriftMethod.values() else method,
        "set one of DRIFT_METHOD_PSI, _KOLMOGOROV_SMIRNOV, _CHI_SQUARED, _JENSEN_SHANNON, _WASSERSTEIN",
    )


def _band(prefix: str, entry: monitoring_pb2.DriftThreshold, critical: float | None) -> dict[str, object]:
    fields: dict[str, object] = {f"{prefix}_critical": critical}
    if entry.warning:
        fields[f"{prefix}_warning"] = entry.warning
    return fields


def _concept_settings(config: monitoring_pb2.MonitoringConfig, task: mon.TaskType) -> tuple[str, float, float | None, int]:
    concept = config.concept_drift
    metric = canonical_metric(concept.metric) if concept.metric else _DEFAULT_METRIC[task]
    if metric not in _TASK_METRICS[task]:
        raise InvalidArgument(
            "config.concept_drift.metric", concept.metric,
            f"set one of {', '.join(_TASK_METRICS[task])} for a {task.value} model",
        )
    for name in ("warning", "critical"):
        value = getattr(concept, name)
        if not math.isfinite(value) or value < 0:
            raise InvalidArgument(f"config.concept_drift.{name}", value, "set a finite degradation, 0 or more, in the metric's unit")
    critical = concept.critical or DEFAULT_CONCEPT_CRITICAL
    if critical < concept.warning:
        raise InvalidArgument("config.concept_drift.critical", concept.critical, f"set a number >= warning ({concept.warning})")
    min_rows = concept.min_labeled_rows or DEFAULT_MIN_LABELED_ROWS
    if min_rows < 2:
        raise InvalidArgument("config.concept_drift.min_labeled_rows", concept.min_labeled_rows, "set 2 or more rows, or 0 for 30")
    return metric, concept.warning, critical, int(min_rows)


def _driver_config(shift: monitoring_pb2.DriverShiftConfig) -> mon.DriverConfig:
    defaults = mon.DriverConfig()
    if not math.isfinite(shift.warning) or not 0 <= shift.warning <= 2:
        raise InvalidArgument("config.driver_shift.warning", shift.warning, "set a change in [0, 2] on the correlation scale, or 0 for 0.1")
    warning = shift.warning or defaults.min_change
    critical = shift.critical or defaults.critical_change
    if not math.isfinite(shift.critical) or (shift.critical and not warning <= shift.critical <= 2):
        raise InvalidArgument("config.driver_shift.critical", shift.critical, f"set a change in [warning ({warning}), 2], or 0 for 0.3")
    if critical is not None and critical < warning:
        critical = warning
    return mon.DriverConfig(min_change=warning, critical_change=critical)


def config_etag(data: Mapping[str, object]) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:CONFIG_ETAG_LENGTH]


def check_config_etag(etag: str) -> None:
    """Reject an etag of a form config_etag() never returns, so only a stale one is ABORTED."""
    if etag and not _CONFIG_ETAG.fullmatch(etag):
        raise InvalidArgument(
            "config.etag", etag,
            f"send the etag of the MonitoringConfig you read ({CONFIG_ETAG_LENGTH} lowercase hexadecimal digits), "
            "or leave it empty",
        )


def config_to_json(config: monitoring_pb2.MonitoringConfig) -> dict[str, object]:
    stored = monitoring_pb2.MonitoringConfig()
    stored.CopyFrom(config)
    stored.ClearField("name")
    stored.ClearField("update_time")
    stored.ClearField("etag")
    return json_format.MessageToDict(stored, preserving_proto_field_name=True)


def config_from_json(data: Mapping[str, object]) -> monitoring_pb2.MonitoringConfig:
    return json_format.ParseDict(data, monitoring_pb2.MonitoringConfig())


# --- windows --------------------------------------------------------------------------------


def severity_of(level: mon.Severity) -> Severity | None:
    """Map the library's NONE/WARNING/CRITICAL to governance severities, None for NONE."""
    if level >= mon.Severity.CRITICAL:
        return Severity.CRITICAL
    if level >= mon.Severity.WARNING:
        return Severity.WARNING
    return None


def severity_to_proto(level: mon.Severity) -> resources_pb2.Severity:
    found = severity_of(level)
    return resources_pb2.SEVERITY_UNSPECIFIED if found is None else SEVERITY_TO_PROTO[found]


def statistic_to_proto(result: mon.MetricResult) -> monitoring_pb2.DriftStatistic:
    return monitoring_pb2.DriftStatistic(
        method=drift_method_to_proto(result.method.value),
        value=result.value,
        p_value=result.p_value,
        warning_threshold=result.warning_threshold or 0.0,
        critical_threshold=result.critical_threshold or 0.0,
        max_p_value=result.max_p_value or 0.0,
        severity=severity_to_proto(result.severity),
    )


def feature_drift_to_proto(column: mon.ColumnDrift) -> monitoring_pb2.FeatureDrift:
    missing = column.missing
    reference = monitoring_pb2.Histogram(
        bin_edges=column.bin_edges, categories=column.categories, fractions=column.reference_fractions
    )
    window = monitoring_pb2.Histogram(
        bin_edges=column.bin_edges, categories=column.categories, fractions=column.window_fractions
    )
    return monitoring_pb2.FeatureDrift(
        feature=column.column,
        reference_rows=column.reference_rows,
        window_rows=column.window_rows,
        reference_null_fraction=missing.reference_null_fraction or 0.0,
        window_null_fraction=missing.window_null_fraction or 0.0,
        reference_nan_fraction=missing.reference_nan_fraction or 0.0,
        window_nan_fraction=missing.window_nan_fraction or 0.0,
        statistics=[statistic_to_proto(result) for result in column.metrics],
        reference_histogram=reference,
        window_histogram=window,
        insufficient_data_reason=column.reason,
    )


def concept_outcome(
    settings: MonitoringSettings, performance: mon.PerformanceReport, registered: float | None
) -> ConceptOutcome:
    found = performance.metric(settings.concept_metric)
    value = None if found is None else found.value
    judged = (
        performance.status is mon.ColumnStatus.OK
        and registered is not None
        and value is not None
        and performance.n_used >= settings.min_labeled_rows
    )
    degradation = 0.0
    if value is not None and registered is not None:
        better_higher = mon.concept.HIGHER_IS_BETTER[settings.concept_metric]
        degradation = registered - value if better_higher else value - registered
    return ConceptOutcome(
        metric=settings.concept_metric,
        registered=registered,
        value=value,
        degradation=degradation,
        warning=settings.concept_warning,
        critical=settings.concept_critical,
        labeled_rows=performance.n_used,
        min_labeled_rows=settings.min_labeled_rows,
        severity=found.severity if judged and found is not None else mon.Severity.NONE,
        judged=judged,
    )


def concept_to_proto(outcome: ConceptOutcome) -> monitoring_pb2.ConceptDrift:
    return monitoring_pb2.ConceptDrift(
        metric=outcome.metric,
        reference_value=outcome.registered or 0.0,
        window_value=outcome.value or 0.0,
        degradation=outcome.degradation,
        warning_threshold=outcome.warning,
        critical_threshold=outcome.critical or 0.0,
        labeled_rows=outcome.labeled_rows,
        min_labeled_rows=outcome.min_labeled_rows,
        severity=severity_to_proto(outcome.severity),
    )


def driver_shift_to_proto(change: mon.DriverChange, config: mon.DriverConfig) -> monitoring_pb2.DriverShift:
    return monitoring_pb2.DriverShift(
        feature=change.feature,
        method="mutual_information",
        reference_importance=change.reference.importance_share,
        window_importance=change.window.importance_share,
        change=change.change,
        warning_threshold=config.min_change,
        critical_threshold=config.critical_change or 0.0,
        severity=severity_to_proto(change.severity),
    )


def window_to_proto(
    evaluation: mon.WindowEvaluation,
    settings: MonitoringSettings,
    concept: ConceptOutcome,
    *,
    start_time: datetime | None,
    end_time: datetime,
    page_hinkley: Mapping[str, object],
) -> monitoring_pb2.DriftWindow:
    """Build the stored report of a closed window, with every number in `details`."""
    drift = evaluation.drift
    window = monitoring_pb2.DriftWindow(
        window_index=drift.window_index,
        end_time=end_time,
        row_count=drift.window_rows,
        complete=True,
        features=[feature_drift_to_proto(column) for column in drift.features],
        concept_drift=concept_to_proto(concept),
        driver_shifts=[driver_shift_to_proto(change, settings.library.drivers) for change in evaluation.drivers.features],
    )
    if start_time is not None:
        window.start_time.FromDatetime(start_time)
    if drift.prediction is not None:
        window.prediction.CopyFrom(feature_drift_to_proto(drift.prediction))
    details = {
        "drift": plain(drift),
        "performance": plain(evaluation.performance),
        "drivers": plain(evaluation.drivers),
        "concept_drift": plain(concept),
        "page_hinkley": dict(page_hinkley),
        "min_window_rows": settings.min_window_rows,
    }
    window.details.CopyFrom(_struct(details))
    return window


def plain(value: object) -> object:
    """Turn library results into JSON-ready values: dataclasses to dicts, arrays to lists.

    Severities become their lowercase names, such as `warning`, and other enums their values.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, enum.IntEnum):
        return value.name.lower()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, np.ndarray):
        return [plain(item) for item in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (tuple, list)):
        return [plain(item) for item in value]
    return value


def _struct(values: Mapping[str, object]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(json_safe(values))
    return struct
