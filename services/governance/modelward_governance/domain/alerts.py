"""The part of monitoring alerts that policies and deployment checks read."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from modelward_governance.domain.severity import Severity


class AlertKind(enum.Enum):
    DATA_DRIFT = "data_drift"
    PREDICTION_DRIFT = "prediction_drift"
    CONCEPT_DRIFT = "concept_drift"
    DRIVER_SHIFT = "driver_shift"


@dataclass(frozen=True)
class OpenAlert:
    """A monitoring alert that is still open for one model version."""

    alert_id: str
    model_uid: str
    version: int
    kind: AlertKind
    severity: Severity
    opened_at: datetime
    # Column or metric the alert is about, such as `income` or `auc`.
    feature: str = ""
