"""Drift monitoring core: reference profiles, production windows, drift, concept drift, drivers.

Pure Python and numpy (scipy for distributions and sparse counting), without I/O. Typical use:

    profile = build_reference_profile(columns, prediction="score", label="label")
    blob = profile.to_bytes()                      # store; ReferenceProfile.from_bytes(blob)
    accumulator = WindowAccumulator(profile, config)
    closed = accumulator.add_batch(batch_columns, request_ids=ids, now=t)  # windows that reached max_rows
    joined = accumulator.add_labels(ids, labels)   # feed error_values(...) to a PageHinkley
    if accumulator.should_close(now=t):            # max_duration_seconds passed
        closed.append(accumulator.close(now=t))
    evaluations = [evaluate_window(profile, stats, registered, config) for stats in closed]
"""

from .concept import (
    PageHinkley,
    PageHinkleyState,
    PerformanceMetric,
    PerformanceReport,
    error_values,
    evaluate_performance,
)
from .config import (
    DriftThresholds,
    DriverConfig,
    MonitoringConfig,
    PageHinkleyConfig,
    PerformanceConfig,
    ProfileConfig,
    TaskConfig,
    WindowConfig,
)
from .drift import (
    OTHER_CATEGORY,
    ColumnDrift,
    DriftReport,
    MetricResult,
    MissingRateResult,
    compute_drift_report,
)
from .drivers import DriverChange, DriverReport, Relationship, analyse_drivers
from .enums import ColumnKind, ColumnStatus, DriftMethod, Severity, TaskType
from .errors import (
    ColumnLengthError,
    ColumnTypeError,
    ConfigError,
    DuplicateRequestIdError,
    MissingColumnError,
    MonitoringInputError,
    NonFiniteValueError,
    ProfileFormatError,
    UnexpectedColumnError,
)
from .evaluation import WindowEvaluation, evaluate_window
from .profile import (
    CategoricalProfile,
    JointSample,
    NumericProfile,
    ReferenceProfile,
    build_reference_profile,
)
from .summary import CategoricalSummary, NumericGrid, NumericSummary
from .window import LabelJoin, LabelledSample, WindowAccumulator, WindowStats

__all__ = [
    "OTHER_CATEGORY",
    "CategoricalProfile",
    "CategoricalSummary",
    "ColumnDrift",
    "ColumnKind",
    "ColumnLengthError",
    "ColumnStatus",
    "ColumnTypeError",
    "ConfigError",
    "DriftMethod",
    "DriftReport",
    "DriftThresholds",
    "DriverChange",
    "DriverConfig",
    "DriverReport",
    "DuplicateRequestIdError",
    "JointSample",
    "LabelJoin",
    "LabelledSample",
    "MetricResult",
    "MissingColumnError",
    "MissingRateResult",
    "MonitoringConfig",
    "MonitoringInputError",
    "NonFiniteValueError",
    "NumericGrid",
    "NumericProfile",
    "NumericSummary",
    "PageHinkley",
    "PageHinkleyConfig",
    "PageHinkleyState",
    "PerformanceConfig",
    "PerformanceMetric",
    "PerformanceReport",
    "ProfileConfig",
    "ProfileFormatError",
    "ReferenceProfile",
    "Relationship",
    "Severity",
    "TaskConfig",
    "TaskType",
    "UnexpectedColumnError",
    "WindowAccumulator",
    "WindowConfig",
    "WindowEvaluation",
    "WindowStats",
    "analyse_drivers",
    "build_reference_profile",
    "compute_drift_report",
    "error_values",
    "evaluate_performance",
    "evaluate_window",
]
