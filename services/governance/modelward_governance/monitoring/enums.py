"""Enumerations shared by the monitoring modules."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Severity(IntEnum):
    """Outcome of comparing a number with its thresholds, ordered so that `max()` picks the worst.

    NONE: no threshold crossed. WARNING: the warning threshold crossed, or a significance test
    rejected "no change". CRITICAL: the critical threshold crossed as well.
    """

    NONE = 0
    WARNING = 1
    CRITICAL = 2


class ColumnKind(StrEnum):
    """How a column's values are summarised and compared."""

    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


class DriftMethod(StrEnum):
    """Statistic that compares a window's distribution of a column with the reference."""

    PSI = "psi"
    KOLMOGOROV_SMIRNOV = "kolmogorov_smirnov"
    JENSEN_SHANNON = "jensen_shannon"
    WASSERSTEIN = "wasserstein"
    CHI_SQUARED = "chi_squared"


class ColumnStatus(StrEnum):
    """Whether a column had enough non-missing values on both sides to be compared."""

    OK = "ok"
    INSUFFICIENT_DATA = "insufficient_data"


class TaskType(StrEnum):
    """Kind of model, which decides the performance metrics and how labels are read."""

    BINARY_CLASSIFICATION = "binary_classification"
    MULTICLASS_CLASSIFICATION = "multiclass_classification"
    REGRESSION = "regression"
