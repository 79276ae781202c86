"""Which monitoring alerts a closed window raises, and which it can clear.

Every alert is about one model version, one kind and one feature (a column, the prediction
column, a performance metric or the Page-Hinkley error-rate test). It becomes a DRIFT finding
with check id `drift.<kind>.<feature>`, so one alert stays open per key across windows. A key
that a window could not judge, such as concept drift in a window without labels, keeps its open
alert. A key judged healthy resolves it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from modelward_governance import monitoring as mon
from modelward_governance.domain.alerts import AlertKind
from modelward_governance.domain.findings import Finding, FindingDraft, FindingKey, FindingKind
from modelward_governance.domain.severity import Severity

AlertKey = tuple[AlertKind, str]


def check_id_for(kind: AlertKind, feature: str) -> str:
    """Return the DRIFT finding's check id, the form `open_alerts_of` reads back."""
    return f"drift.{kind.value}.{feature}"


@dataclass(frozen=True)
class ConceptOutcome:
    """The configured performance metric of one window, in the metric's unit.

    `degradation` is positive when the window is worse than the registered value.
    `judged` is False when the window had too few labelled rows or no registered value.
    """

    metric: str
    registered: float | None
    value: float | None
    degradation: float
    warning: float
    critical: float | None
    labeled_rows: int
    min_labeled_rows: int
    severity: mon.Severity
    judged: bool


@dataclass(frozen=True)
class AlertDraft:
    """A threshold crossed in one window. `numbers` contains the values its event publishes."""

    kind: AlertKind
    feature: str
    severity: Severity
    method: str
    value: float
    threshold: float
    message: str
    numbers: Mapping[str, float | str | None]

    @property
    def key(self) -> AlertKey:
        return (self.kind, self.feature)


@dataclass(frozen=True)
class WindowAlerts:
    """Alerts a window raises, and every key it judged, healthy or not."""

    failing: tuple[AlertDraft, ...]
    judged: frozenset[AlertKey]


def window_alerts(
    evaluation: mon.WindowEvaluation,
    concept: ConceptOutcome,
    *,
    page_hinkley_detections: int,
    page_hinkley_feature: str,
    driver_config: mon.DriverConfig,
) -> WindowAlerts:
    """Collect the alerts of a closed window from its drift, concept and driver reports."""
    failing: list[AlertDraft] = []
    judged: set[AlertKey] = set()
    index = evaluation.drift.window_index
    columns = [(AlertKind.DATA_DRIFT, column) for column in evaluation.drift.features]
    if evaluation.drift.prediction is not None:
        columns.append((AlertKind.PREDICTION_DRIFT, evaluation.drift.prediction))
    for kind, column in columns:
        if column.status is not mon.ColumnStatus.OK:
            continue
        judged.add((kind, column.column))
        draft = _column_alert(kind, column, index)
        if draft is not None:
            failing.append(draft)

    if concept.judged:
        judged.add((AlertKind.CONCEPT_DRIFT, concept.metric))
        draft = _concept_alert(concept, index)
        if draft is not None:
            failing.append(draft)
    if evaluation.performance.n_labelled > 0:
        judged.add((AlertKind.CONCEPT_DRIFT, page_hinkley_feature))
        if page_hinkley_detections > 0:
            failing.append(_page_hinkley_alert(page_hinkley_feature, page_hinkley_detections, index))

    if evaluation.drivers.status is mon.ColumnStatus.OK:
        for change in evaluation.drivers.features:
            judged.add((AlertKind.DRIVER_SHIFT, change.feature))
            draft = _driver_alert(change, driver_config, evaluation.drivers.target_source, index)
            if draft is not None:
                failing.append(draft)
    return WindowAlerts(tuple(failing), frozenset(judged))


def _governance_severity(level: mon.Severity) -> Severity | None:
    if level >= mon.Severity.CRITICAL:
        return Severity.CRITICAL
    if level >= mon.Severity.WARNING:
        return Severity.WARNING
    return None


def _column_alert(kind: AlertKind, column: mon.ColumnDrift, index: int) -> AlertDraft | None:
    severity = _governance_severity(column.severity)
    if severity is None:
        return None
    worst = next((result for result in column.metrics if result.severity == column.severity), None)
    if worst is None:
        return _missing_rate_alert(kind, column, severity, index)
    if worst.severity >= mon.Severity.CRITICAL and worst.critical_threshold is not None:
        threshold = worst.critical_threshold
    elif worst.warning_threshold:
        threshold = worst.warning_threshold
    else:
        threshold = worst.max_p_value or 0.0
    about = f"p-value {worst.p_value:.3g} below {worst.max_p_value:.3g}, " if worst.p_value is not None else ""
    message = (
        f"{worst.method.value} {worst.value:.4g} on {column.column} in window {index} "
        f"({about}threshold {threshold:.4g}): {severity.label} {kind.value}"
    )
    return AlertDraft(
        kind=kind,
        feature=column.column,
        severity=severity,
        method=worst.method.value,
        value=worst.value,
        threshold=threshold,
        message=message,
        numbers={
            "window_index": index,
            "value": worst.value,
            "p_value": worst.p_value,
            "max_p_value": worst.max_p_value or 0.0,
            "warning_threshold": worst.warning_threshold or 0.0,
            "critical_threshold": worst.critical_threshold or 0.0,
            "window_rows": column.window_rows,
            "window_values": column.window_values,
        },
    )


def _missing_rate_alert(kind: AlertKind, column: mon.ColumnDrift, severity: Severity, index: int) -> AlertDraft:
    missing = column.missing
    change = abs(missing.change or 0.0)
    threshold = missing.critical_threshold if severity is Severity.CRITICAL and missing.critical_threshold else missing.warning_threshold
    return AlertDraft(
        kind=kind,
        feature=column.column,
        severity=severity,
        method="missing_rate",
        value=change,
        threshold=threshold,
        message=(
            f"missing rate of {column.column} changed by {missing.change:+.4g} in window {index} "
            f"(threshold {threshold:.4g}): {severity.label} {kind.value}"
        ),
        numbers={
            "window_index": index,
            "value": change,
            "warning_threshold": missing.warning_threshold,
            "critical_threshold": missing.critical_threshold or 0.0,
            "reference_null_fraction": missing.reference_null_fraction,
            "window_null_fraction": missing.window_null_fraction,
            "reference_nan_fraction": missing.reference_nan_fraction,
            "window_nan_fraction": missing.window_nan_fraction,
        },
    )


def _concept_alert(concept: ConceptOutcome, index: int) -> AlertDraft | None:
    severity = _governance_severity(concept.severity)
    if severity is None:
        return None
    threshold = concept.critical if severity is Severity.CRITICAL and concept.critical is not None else concept.warning
    return AlertDraft(
        kind=AlertKind.CONCEPT_DRIFT,
        feature=concept.metric,
        severity=severity,
        method=concept.metric,
        value=concept.value or 0.0,
        threshold=threshold,
        message=(
            f"{concept.metric} {concept.value:.4g} in window {index} against registered "
            f"{concept.registered:.4g}: degraded by {concept.degradation:.4g} on {concept.labeled_rows} "
            f"labelled rows, {severity.label} concept drift"
        ),
        numbers={
            "window_index": index,
            "registered": concept.registered,
            "value": concept.value,
            "degradation": concept.degradation,
            "warning_threshold": concept.warning,
            "critical_threshold": concept.critical or 0.0,
            "labeled_rows": concept.labeled_rows,
            "min_labeled_rows": concept.min_labeled_rows,
        },
    )


def _page_hinkley_alert(feature: str, detections: int, index: int) -> AlertDraft:
    return AlertDraft(
        kind=AlertKind.CONCEPT_DRIFT,
        feature=feature,
        severity=Severity.WARNING,
        method="page_hinkley",
        value=float(detections),
        threshold=1.0,
        message=f"the Page-Hinkley test detected a rise of the error rate {detections} time(s) in window {index}",
        numbers={"window_index": index, "detections": detections},
    )


def _driver_alert(change: mon.DriverChange, config: mon.DriverConfig, target: str, index: int) -> AlertDraft | None:
    severity = _governance_severity(change.severity)
    if severity is None:
        return None
    threshold = config.critical_change if severity is Severity.CRITICAL and config.critical_change else config.min_change
    return AlertDraft(
        kind=AlertKind.DRIVER_SHIFT,
        feature=change.feature,
        severity=severity,
        method="mutual_information",
        value=change.change,
        threshold=threshold,
        message=(
            f"relationship of {change.feature} with the {target} changed by {change.change:.3g} "
            f"(correlation {_fmt(change.reference.coefficient)} to {_fmt(change.window.coefficient)}, "
            f"mutual information {change.reference.mutual_information:.3g} to "
            f"{change.window.mutual_information:.3g}) in window {index}: {severity.label} driver shift"
        ),
        numbers={
            "window_index": index,
            # What the feature drives: `label`, or `prediction` when too few rows had labels.
            "target": target,
            "change": change.change,
            "reference_importance": change.reference.importance_share,
            "window_importance": change.window.importance_share,
            "reference_coefficient": change.reference.coefficient,
            "window_coefficient": change.window.coefficient,
            "reference_mutual_information": change.reference.mutual_information,
            "window_mutual_information": change.window.mutual_information,
            "coefficient_p_value": change.coefficient_p_value,
            "mutual_information_p_value": change.mutual_information_p_value,
            "max_p_value": change.max_p_value,
            "warning_threshold": config.min_change,
            "critical_threshold": config.critical_change or 0.0,
        },
    )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def finding_drafts(
    model_uid: str, version: int, alerts: WindowAlerts, open_findings: Mapping[AlertKey, Finding]
) -> list[FindingDraft]:
    """Turn a window's alerts into DRIFT finding drafts for `reconcile_findings`.

    `open_findings` are the version's open DRIFT findings by alert key. Keys the window did not
    judge are drafted again as they are, so reconciling keeps them open unchanged.
    """
    drafts = [
        FindingDraft(
            key=FindingKey(model_uid, version, FindingKind.DRIFT, check_id_for(alert.kind, alert.feature)),
            severity=alert.severity,
            blocks_promotion=alert.severity is Severity.CRITICAL,
            message=alert.message,
            evidence={"method": alert.method, "value": alert.value, "threshold": alert.threshold, **alert.numbers},
        )
        for alert in alerts.failing
    ]
    for key, finding in open_findings.items():
        if key in alerts.judged:
            continue
        drafts.append(
            FindingDraft(
                key=finding.key,
                severity=finding.severity,
                blocks_promotion=finding.blocks_promotion,
                message=finding.message,
                evidence=finding.evidence,
            )
        )
    return drafts
