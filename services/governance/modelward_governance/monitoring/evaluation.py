"""One call that runs the drift, performance and driver reports of a closed window."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .concept import PerformanceReport, evaluate_performance
from .config import MonitoringConfig
from .drift import DriftReport, compute_drift_report
from .drivers import DriverReport, analyse_drivers
from .enums import Severity
from .profile import ReferenceProfile
from .window import WindowStats


@dataclass(frozen=True)
class WindowEvaluation:
    """The three reports of one window; `severity` is the worst of them."""

    drift: DriftReport
    performance: PerformanceReport
    drivers: DriverReport
    severity: Severity


def evaluate_window(
    profile: ReferenceProfile,
    window: WindowStats,
    registered_metrics: Mapping[str, float],
    config: MonitoringConfig | None = None,
) -> WindowEvaluation:
    """Compute data drift, labelled performance and driver changes of a closed window."""
    config = config or MonitoringConfig()
    drift = compute_drift_report(profile, window, config)
    performance = evaluate_performance(profile, window, registered_metrics, config)
    drivers = analyse_drivers(profile, window, config)
    return WindowEvaluation(
        drift=drift,
        performance=performance,
        drivers=drivers,
        severity=max(drift.severity, performance.severity, drivers.severity),
    )
