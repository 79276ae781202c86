"""Production monitoring use cases (being wired; see the monitoring package for the statistics)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from modelward_common.errors import FailedPrecondition


class MonitoringService:
    def __init__(self, engine: AsyncEngine, governance: Any) -> None:
        self.engine = engine
        self.governance = governance

    async def _unavailable(self, *args: Any, **kwargs: Any) -> Any:
        raise FailedPrecondition("monitoring is not wired into this build yet", reason="MONITORING_UNAVAILABLE")

    upload_reference = report_production = report_labels = drift_report = list_alerts = set_config = _unavailable
