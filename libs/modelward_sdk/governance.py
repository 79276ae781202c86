"""Async client of the governance service, including the monitoring uploads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from google.protobuf import timestamp_pb2

from modelward_protos.governance.v1 import governance_service_pb2 as rpc
from modelward_protos.governance.v1 import governance_service_pb2_grpc as rpc_grpc
from modelward_protos.governance.v1 import monitoring_pb2 as mon
from modelward_protos.governance.v1 import resources_pb2 as gres
from modelward_protos.registry.v1 import resources_pb2 as res
from modelward_sdk.columnar import iter_batches, normalize, row_count, to_column_proto
from modelward_sdk.names import enum_value, model_name, version_name
from modelward_sdk.transport import AsyncClientBase

# Rows per ColumnarBatch message. 5,000 rows of 20 double columns is about 0.8 MB (8 bytes a
# value plus framing, an estimate), well under the services' 16 MiB message limit.
DEFAULT_CHUNK_ROWS = 5000
# Uploads stream many messages, so they get a longer default deadline than single calls, in seconds.
DEFAULT_UPLOAD_TIMEOUT = 600.0

# Called after each sent message with (rows sent so far, rows in total).
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class DryRunSummary:
    """DryRunPolicy's pages added up."""

    sha256: str
    results: list[gres.DryRunResult] = field(default_factory=list)
    models_evaluated: int = 0
    versions_evaluated: int = 0
    findings_to_open: int = 0
    findings_to_resolve: int = 0


class AsyncGovernanceClient(AsyncClientBase):
    """Typed calls of GovernanceService. Names accept `churn` for `models/churn`."""

    service = "governance"
    stub_type = rpc_grpc.GovernanceServiceStub
    stub: rpc_grpc.GovernanceServiceStub

    # Portfolio and compliance

    async def list_portfolio(
        self, *, filter: str = "", order_by: str = "", page_size: int = 100, timeout: float | None = None
    ) -> AsyncIterator[gres.PortfolioEntry]:
        request = rpc.ListPortfolioRequest(filter=filter, order_by=order_by, page_size=page_size)
        async for entry in self._pages(self.stub.ListPortfolio, request, "entries", timeout=timeout):
            yield entry

    async def get_model_compliance(self, model: str, *, timeout: float | None = None) -> gres.ModelCompliance:
        request = rpc.GetModelComplianceRequest(name=f"{model_name(model)}/compliance")
        return await self._call(self.stub.GetModelCompliance, request, retry=True, timeout=timeout)  # type: ignore[no-any-return]

    # Policy

    async def get_policy(self, name: str = "policies/current", *, timeout: float | None = None) -> gres.Policy:
        request = rpc.GetPolicyRequest(name=name if name.startswith("policies/") else f"policies/{name}")
        return await self._call(self.stub.GetPolicy, request, retry=True, timeout=timeout)  # type: ignore[no-any-return]

    async def replace_policy(
        self, yaml_text: str, *, etag: str = "", reason: str = "", timeout: float | None = None
    ) -> gres.Policy:
        request = rpc.ReplacePolicyRequest(yaml_text=yaml_text, etag=etag, reason=reason)
        return await self._call(self.stub.ReplacePolicy, request, retry=False, timeout=timeout)  # type: ignore[no-any-return]

    async def validate_policy(self, yaml_text: str, *, timeout: float | None = None) -> rpc.ValidatePolicyResponse:
        request = rpc.ValidatePolicyRequest(yaml_text=yaml_text)
        return await self._call(self.stub.ValidatePolicy, request, retry=True, timeout=timeout)  # type: ignore[no-any-return]

    async def dry_run_policy(
        self, yaml_text: str, *, filter: str = "", page_size: int = 100, timeout: float | None = None
    ) -> DryRunSummary:
        """Evaluate a candidate policy over every page of the portfolio and add the pages up."""
        request = rpc.DryRunPolicyRequest(yaml_text=yaml_text, filter=filter, page_size=page_size)
        results: list[gres.DryRunResult] = []
        totals = {"models_evaluated": 0, "versions_evaluated": 0, "findings_to_open": 0, "findings_to_resolve": 0}
        sha256 = ""
        while True:
            response = await self._call(self.stub.DryRunPolicy, request, retry=True, timeout=timeout)
            results.extend(response.results)
            sha256 = response.sha256
            for key in totals:
                totals[key] += getattr(response, key)
            if not response.next_page_token:
                return DryRunSummary(sha256=sha256, results=results, **totals)
            request.page_token = response.next_page_token

    # Findings and promotions

    async def list_findings(
        self,
        *,
        model: str = "",
        kind: int | str = 0,
        min_severity: int | str = 0,
        state: int | str = 0,
        page_size: int = 100,
        timeout: float | None = None,
    ) -> AsyncIterator[gres.Finding]:
        request = rpc.ListFindingsRequest(
            model=model_name(model) if model else "",
            kind=enum_value(gres.FindingKind, kind),
            min_severity=enum_value(gres.Severity, min_severity),
            state=enum_value(gres.FindingState, state),
            page_size=page_size,
        )
        async for finding in self._pages(self.stub.ListFindings, request, "findings", timeout=timeout):
            yield finding

    async def approve_version(self, name: str, *, comment: str = "", timeout: float | None = None) -> gres.Promotion:
        """Approve the pending promotion of a version (`models/m/versions/n` or `promotions/p`)."""
        request = rpc.ApproveVersionRequest(name=_promotion_target(name), comment=comment)
        return await self._call(self.stub.ApproveVersion, request, retry=False, timeout=timeout)  # type: ignore[no-any-return]

    async def reject_version(self, name: str, *, comment: str, timeout: float | None = None) -> gres.Promotion:
        request = rpc.RejectVersionRequest(name=_promotion_target(name), comment=comment)
        return await self._call(self.stub.RejectVersion, request, retry=False, timeout=timeout)  # type: ignore[no-any-return]

    async def get_promotion(self, name: str, *, timeout: float | None = None) -> gres.Promotion:
        """Return a promotion by `promotions/p`, or the open promotion of a version name."""
        request = rpc.GetPromotionRequest(name=_promotion_target(name))
        return await self._call(self.stub.GetPromotion, request, retry=True, timeout=timeout)  # type: ignore[no-any-return]

    async def list_promotions(
        self, *, model: str = "", state: int | str = 0, page_size: int = 100, timeout: float | None = None
    ) -> AsyncIterator[gres.Promotion]:
        request = rpc.ListPromotionsRequest(
            model=model_name(model) if model else "", state=enum_value(gres.PromotionState, state), page_size=page_size
        )
        async for promotion in self._pages(self.stub.ListPromotions, request, "promotions", timeout=timeout):
            yield promotion

    async def check_deployment(
        self,
        model: str,
        *,
        version: int | None = None,
        alias: str | None = None,
        required_stage: int | str = 0,
        timeout: float | None = None,
    ) -> rpc.CheckDeploymentResponse:
        if (version is None) == (alias is None):
            raise ValueError("check_deployment needs exactly one of version and alias")
        request = rpc.CheckDeploymentRequest(model=model_name(model), required_stage=enum_value(res.Stage, required_stage))
        if version is not None:
            request.version = version
        else:
            request.alias = alias  # type: ignore[assignment]
        return await self._call(self.stub.CheckDeployment, request, retry=True, timeout=timeout)  # type: ignore[no-any-return]

    async def set_principal_active(
        self, principal: str, active: bool, *, reason: str, timeout: float | None = None
    ) -> gres.Principal:
        request = rpc.SetPrincipalActiveRequest(principal=principal, active=active, reason=reason)
        return await self._call(self.stub.SetPrincipalActive, request, retry=False, timeout=timeout)  # type: ignore[no-any-return]

    async def list_dead_letters(
        self, *, state: int | str = 0, page_size: int = 100, timeout: float | None = None
    ) -> AsyncIterator[gres.DeadLetter]:
        request = rpc.ListDeadLettersRequest(state=enum_value(gres.DeadLetterState, state), page_size=page_size)
        async for letter in self._pages(self.stub.ListDeadLetters, request, "dead_letters", timeout=timeout):
            yield letter

    async def retry_dead_letter(self, name: str, *, reason: str = "", timeout: float | None = None) -> gres.DeadLetter:
        request = rpc.RetryDeadLetterRequest(name=name, reason=reason)
        return await self._call(self.stub.RetryDeadLetter, request, retry=False, timeout=timeout)  # type: ignore[no-any-return]

    # Monitoring

    async def upload_reference_data(
        self,
        model_version: str,
        data: object,
        *,
        prediction_column: str = "",
        label_column: str = "",
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        progress: Progress | None = None,
        timeout: float = DEFAULT_UPLOAD_TIMEOUT,
    ) -> rpc.UploadReferenceDataResponse:
        """Stream `data` (DataFrame, dict of columns or numpy array) as the version's reference data.

        The server replaces the earlier reference data once the stream ends. Not retried: call
        again after an UNAVAILABLE error, which uploads the whole data again.
        """
        columns = normalize(data)
        total = row_count(columns)
        name = version_name(model_version)

        async def requests() -> AsyncIterator[rpc.UploadReferenceDataRequest]:
            sent = 0
            for index, batch in enumerate(iter_batches(columns, chunk_rows)):
                if index == 0:
                    yield rpc.UploadReferenceDataRequest(
                        model_version=name, batch=batch, prediction_column=prediction_column, label_column=label_column
                    )
                else:
                    yield rpc.UploadReferenceDataRequest(batch=batch)
                sent += batch.row_count
                if progress is not None:
                    progress(sent, total)

        return await self._stream_call(self.stub.UploadReferenceData, requests(), timeout=timeout)  # type: ignore[no-any-return]

    async def report_production_data(
        self,
        model_version: str,
        data: object,
        *,
        request_ids: Sequence[str] | None = None,
        observe_times: Sequence[datetime] | None = None,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        progress: Progress | None = None,
        timeout: float = DEFAULT_UPLOAD_TIMEOUT,
    ) -> rpc.ReportProductionDataResponse:
        """Stream production rows of a version. `request_ids` and `observe_times`, when given,
        have one entry per row. The server stores each message as it arrives, so a failed
        stream may have stored its first messages: resend only the rest."""
        columns = normalize(data)
        total = row_count(columns)
        _check_row_aligned("request_ids", request_ids, total)
        _check_row_aligned("observe_times", observe_times, total)
        name = version_name(model_version)

        async def requests() -> AsyncIterator[rpc.ReportProductionDataRequest]:
            start = 0
            for index, batch in enumerate(iter_batches(columns, chunk_rows)):
                stop = start + batch.row_count
                message = rpc.ReportProductionDataRequest(model_version=name if index == 0 else "", batch=batch)
                if request_ids is not None:
                    message.request_ids.extend(request_ids[start:stop])
                if observe_times is not None:
                    message.observe_times.extend(_timestamp(moment) for moment in observe_times[start:stop])
                yield message
                start = stop
                if progress is not None:
                    progress(start, total)

        return await self._stream_call(self.stub.ReportProductionData, requests(), timeout=timeout)  # type: ignore[no-any-return]

    async def report_labels(
        self, model_version: str, request_ids: Sequence[str], labels: object, *, timeout: float | None = None
    ) -> rpc.ReportLabelsResponse:
        """Attach labels (one per request id; None marks an unknown label) to production rows."""
        column = to_column_proto("label", labels)
        _check_row_aligned("labels", _column_values(column), len(request_ids))
        request = rpc.ReportLabelsRequest(
            model_version=version_name(model_version), request_ids=list(request_ids), labels=column
        )
        return await self._call(self.stub.ReportLabels, request, retry=False, timeout=timeout)  # type: ignore[no-any-return]

    async def get_drift_report(
        self, model_version: str, *, page_size: int = 10, page_token: str = "", timeout: float | None = None
    ) -> mon.DriftReport:
        """Return one page of the version's drift report, newest window first."""
        request = rpc.GetDriftReportRequest(
            name=f"{version_name(model_version)}/driftReport", page_size=page_size, page_token=page_token
        )
        return await self._call(self.stub.GetDriftReport, request, retry=True, timeout=timeout)  # type: ignore[no-any-return]

    async def drift_windows(
        self, model_version: str, *, page_size: int = 10, timeout: float | None = None
    ) -> AsyncIterator[mon.DriftWindow]:
        """Yield every window of the version's drift report, newest first."""
        request = rpc.GetDriftReportRequest(name=f"{version_name(model_version)}/driftReport", page_size=page_size)
        async for window in self._pages(self.stub.GetDriftReport, request, "windows", timeout=timeout):
            yield window

    async def list_alerts(
        self,
        *,
        model: str = "",
        model_version: str = "",
        kind: int | str = 0,
        state: int | str = 0,
        min_severity: int | str = 0,
        page_size: int = 100,
        timeout: float | None = None,
    ) -> AsyncIterator[mon.Alert]:
        request = rpc.ListAlertsRequest(
            model=model_name(model) if model else "",
            model_version=version_name(model_version) if model_version else "",
            kind=enum_value(mon.AlertKind, kind),
            state=enum_value(mon.AlertState, state),
            min_severity=enum_value(gres.Severity, min_severity),
            page_size=page_size,
        )
        async for alert in self._pages(self.stub.ListAlerts, request, "alerts", timeout=timeout):
            yield alert

    async def set_monitoring_config(
        self, config: mon.MonitoringConfig, *, reason: str = "", timeout: float | None = None
    ) -> mon.MonitoringConfig:
        """Replace the config named by `config.name` (`.../monitoringConfig`; a version name is
        completed)."""
        if config.name and not config.name.endswith("/monitoringConfig"):
            named = mon.MonitoringConfig()
            named.CopyFrom(config)
            named.name = f"{version_name(config.name)}/monitoringConfig"
            config = named
        request = rpc.SetMonitoringConfigRequest(config=config, reason=reason)
        return await self._call(self.stub.SetMonitoringConfig, request, retry=False, timeout=timeout)  # type: ignore[no-any-return]


def _promotion_target(name: str) -> str:
    return name if name.startswith("promotions/") else version_name(name)


def _check_row_aligned(field_name: str, values: Sequence[Any] | None, rows: int) -> None:
    if values is not None and len(values) != rows:
        raise ValueError(f"{field_name} has {len(values)} entries for {rows} rows: give one per row")


def _column_values(column: mon.Column) -> Sequence[Any]:
    kind = column.WhichOneof("values")
    return list(getattr(column, kind).values) if kind else []


def _timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    if moment.tzinfo is None:
        raise ValueError(f"observe time {moment.isoformat()} has no time zone: use an aware datetime such as UTC")
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp
