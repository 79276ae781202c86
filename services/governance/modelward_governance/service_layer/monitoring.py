"""Production monitoring use cases: reference data, production windows, labels, alerts.

Each production batch and each label set is one transaction. It locks the version's window
state, restores the `WindowAccumulator` from its serialised form, adds the rows, closes the
window when it is full or old enough, and writes the state back. A closed window's report, the
alerts it opens or resolves, their DRIFT findings and the outbox events all commit in that same
transaction, so an acknowledged batch survives a restart and is never counted twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa
from google.protobuf import json_format
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from modelward_common.auth.scope import ModelScope
from modelward_common.db import read_connection
from modelward_common.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    ModelwardError,
    NotFound,
    sample_of,
)
from modelward_common.eventstore import EventContext
from modelward_common.paging import count_rows, fetch_page, parse_order_by
from modelward_common.request_ids import check_request_ids
from modelward_common.timeutil import request_time, rfc3339, utc_now
from modelward_governance import events as gov_events
from modelward_governance import monitoring as mon
from modelward_governance.adapters import monitoring_store as mstore
from modelward_governance.adapters import store
from modelward_governance.adapters.schema import alerts_table, drift_windows_table
from modelward_governance.domain.alerts import AlertKind
from modelward_governance.domain.findings import Finding, FindingKind, reconcile_findings
from modelward_governance.domain.monitoring_alerts import (
    AlertDraft,
    AlertKey,
    WindowAlerts,
    finding_drafts,
    window_alerts,
)
from modelward_governance.domain.portfolio import PortfolioModel, PortfolioVersion, record_activity
from modelward_governance.entrypoints import convert
from modelward_governance.entrypoints import monitoring_convert as mconv
from modelward_governance.service_layer.governance import EventItem, Governance
from modelward_governance.service_layer.queries import models_in_scope
from modelward_protos.governance.v1 import governance_service_pb2 as rpc
from modelward_protos.governance.v1 import monitoring_pb2

logger = logging.getLogger(__name__)

# Rows one reference upload may hold in memory while its profile is built.
MAX_REFERENCE_ROWS = 2_000_000
# Monitoring data refreshes a model's last activity (which the orphan rule reads) at most this
# often, so a busy stream of batches does not re-evaluate the model on every batch.
ACTIVITY_INTERVAL = dt.timedelta(seconds=60)
# How far past the server's clock an observe time may lie. It allows for clock skew between
# the serving host and governance; a later time would open a time-based window that no
# batch of the present can close.
MAX_OBSERVE_TIME_AHEAD = dt.timedelta(minutes=5)
# Reference profiles kept decoded in memory, by model, version and upload digest.
PROFILE_CACHE_SIZE = 32
# Actor recorded on the events of a window that closed by time, without a request.
WINDOW_SWEEP_ACTOR = "service:governance"
MAX_REPORTED_UNMATCHED = 100
DRIFT_REPORT_DEFAULT_PAGE = 10
DRIFT_REPORT_MAX_PAGE = 100

_ALERT_STATES = {
    monitoring_pb2.ALERT_STATE_OPEN: True,
    monitoring_pb2.ALERT_STATE_RESOLVED: False,
}


@dataclass(frozen=True)
class _Target:
    """The model version a monitoring request is about, read inside the request's transaction."""

    model: PortfolioModel
    version: PortfolioVersion

    @property
    def name(self) -> str:
        return self.model.version_name(self.version.version)


class _CommitLog:
    """Log lines of one transaction, written once it commits, so no line reports a change that rolled back."""

    def __init__(self) -> None:
        self._lines: list[tuple[str, tuple[object, ...]]] = []

    def info(self, message: str, *args: object) -> None:
        self._lines.append((message, args))

    def write(self) -> None:
        for message, args in self._lines:
            logger.info(message, *args)


@dataclass
class _Reference:
    profile: mon.ReferenceProfile
    column_types: dict[str, str]
    sha256: str


class MonitoringService:
    def __init__(self, engine: AsyncEngine, governance: Governance, *, token_key: bytes = b"monitoring") -> None:
        self.engine = engine
        self.governance = governance
        self.token_key = token_key
        self._profiles: OrderedDict[tuple[str, int, str], mon.ReferenceProfile] = OrderedDict()

    # --- reference data ---------------------------------------------------------------------

    async def upload_reference(
        self, requests: AsyncIterator[rpc.UploadReferenceDataRequest], *, actor: str
    ) -> rpc.UploadReferenceDataResponse:
        """Build a version's reference profile from the streamed batches and store it."""
        upload = _ReferenceUpload()
        async for request in requests:
            if upload.name == "":
                await self._check_version_exists(request.model_version)
            upload.add(request)
        upload.check_complete()
        model_id, number = convert.parse_version_name(upload.name, "model_version")
        profile = await asyncio.to_thread(upload.build_profile, upload.name)

        async def work(connection: AsyncConnection) -> None:
            target = await _load_target(connection, model_id, number)
            config = await self._settings(connection, target, columns=None)
            await mstore.save_reference(connection, {
                "model_uid": target.model.uid,
                "version": number,
                "profile": profile.to_bytes(),
                "row_count": profile.n_rows,
                "column_types": upload.types,
                "prediction_column": profile.prediction or "",
                "label_column": profile.label or "",
                "sha256": upload.digest.hexdigest(),
                "uploaded_by": actor,
                "create_time": utc_now(),
            })
            # A new reference starts the windows again from index 0.
            await mstore.delete_windows(connection, target.model.uid, number)
            accumulator = mon.WindowAccumulator(profile, config.library)
            await mstore.save_state(connection, _fresh_state(target, accumulator))

        await self.governance.execute("UploadReferenceData", work)
        logger.info("stored reference data of %s: %d rows, columns %s", upload.name, upload.rows, list(upload.types))
        return rpc.UploadReferenceDataResponse(
            model_version=upload.name, row_count=upload.rows, column_names=list(upload.types), sha256=upload.digest.hexdigest()
        )

    async def _check_version_exists(self, name: str) -> None:
        model_id, number = convert.parse_version_name(convert.require_first_version(name), "model_version")
        async with read_connection(self.engine, "UploadReferenceData") as connection:
            await _load_target(connection, model_id, number)

    # --- production data --------------------------------------------------------------------

    async def report_production(
        self, requests: AsyncIterator[rpc.ReportProductionDataRequest], *, actor: str
    ) -> rpc.ReportProductionDataResponse:
        """Store each batch as it arrives, closing and evaluating windows as they fill."""
        name = ""
        rows = batches = 0
        async for request in requests:
            name = _stream_name(name, request.model_version, batches)
            await self._store_batch(name, request, actor)
            batches += 1
            rows += request.batch.row_count
        if not batches:
            raise InvalidArgument("model_version", "", "send at least one message naming models/{model}/versions/{version}")
        return rpc.ReportProductionDataResponse(model_version=name, row_count=rows, batch_count=batches)

    async def _store_batch(self, name: str, request: rpc.ReportProductionDataRequest, actor: str) -> None:
        model_id, number = convert.parse_version_name(name, "model_version")
        columns = mconv.batch_columns(request.batch, "batch")
        request_ids = _request_ids(request.request_ids, columns.row_count)
        at = _observe_time(request.observe_times, columns.row_count)

        async def work(connection: AsyncConnection) -> _CommitLog:
            log = _CommitLog()
            target = await _load_target(connection, model_id, number)
            state = await self._locked_state(connection, target)
            reference = await self._reference(connection, target)
            _check_types(reference, columns)
            settings = await self._settings(connection, target, columns=None)
            accumulator = mon.WindowAccumulator.from_bytes(state["accumulator"], reference.profile, settings.library)
            moment = at.timestamp()
            closed: list[mon.WindowStats] = []
            if accumulator.n_rows > 0 and (accumulator.should_close(moment) or _is_due(state, utc_now())):
                closed.append(accumulator.close(moment))
            try:
                closed += accumulator.add_batch(columns.values, request_ids, moment)
            except mon.DuplicateRequestIdError as error:
                raise _duplicate_error(error) from error
            except mon.MonitoringInputError as error:
                raise _input_error("batch.columns", error) from error
            if accumulator.should_close(moment):
                closed.append(accumulator.close(moment))

            detections = int(state["window_detections"])
            items: list[EventItem] = []
            for stats in closed:
                items += await self._close_window(connection, target, reference, settings, stats, detections, log)
                detections = 0
            await mstore.save_state(connection, _next_state(
                state, accumulator, settings, detections=detections, batches=1, rows=columns.row_count
            ))
            await self._touch_model(connection, target, items, force=bool(closed), actor=actor)
            return log

        (await self.governance.execute("ReportProductionData", work)).write()

    async def _locked_state(self, connection: AsyncConnection, target: _Target) -> Any:
        state = await mstore.lock_state(connection, target.model.uid, target.version.version)
        if state is None:
            raise FailedPrecondition(
                f"{target.name} has no reference data: upload it with UploadReferenceData first",
                field="model_version", reason="NO_REFERENCE_DATA",
            )
        return state

    # --- closing windows by time -------------------------------------------------------------

    async def close_due_windows(self) -> int:
        """Close every window whose due time has passed, each in its own transaction.

        Replicas may run this at the same time: each close locks the version's state row and
        checks the due time again, so a window that another replica or a batch closed first is
        skipped. Returns how many windows this call closed.
        """
        now = utc_now()
        async with read_connection(self.engine, "CloseDueWindows") as connection:
            due = await mstore.due_windows(connection, now)
        closed = 0
        for model_uid, version in due:

            async def work(
                connection: AsyncConnection, model_uid: str = model_uid, version: int = version
            ) -> tuple[bool, _CommitLog]:
                log = _CommitLog()
                return await self._close_due_window(connection, model_uid, version, now, log), log

            try:
                done, log = await self.governance.execute("CloseDueWindow", work)
            except ModelwardError as error:
                logger.warning("closing the due window of model %s version %d failed: %s", model_uid, version, error.message)
                continue
            log.write()
            closed += done
        return closed

    async def _close_due_window(
        self, connection: AsyncConnection, model_uid: str, version: int, now: dt.datetime, log: _CommitLog
    ) -> bool:
        state = await mstore.lock_state(connection, model_uid, version)
        if state is None or not _is_due(state, now):
            return False
        model = await store.load_model(connection, model_uid)
        if model is None or version not in model.versions:
            # Without its model the window cannot be evaluated; stop selecting it every pass.
            logger.warning("left the due window of model %s version %d open: the version is no longer in the portfolio", model_uid, version)
            await mstore.set_due_time(connection, model_uid, version, None)
            return False
        target = _Target(model, model.get_version(version))
        reference = await self._reference(connection, target)
        settings = await self._settings(connection, target, columns=None)
        accumulator = mon.WindowAccumulator.from_bytes(state["accumulator"], reference.profile, settings.library)
        duration = settings.library.window.max_duration_seconds
        opened = accumulator.window_opened_at
        if duration is None or opened is None:
            # The config no longer closes windows by time; clear the stale due time.
            await mstore.save_state(connection, _next_state(state, accumulator, settings, detections=int(state["window_detections"])))
            return False
        # The window ends one duration after its first row, in the clock of the rows' observe times.
        stats = accumulator.close(opened + duration)
        items = await self._close_window(connection, target, reference, settings, stats, int(state["window_detections"]), log)
        await mstore.save_state(connection, _next_state(state, accumulator, settings, detections=0))
        await self._touch_model(connection, target, items, force=True, actor=WINDOW_SWEEP_ACTOR, activity=False)
        return True

    async def _close_window(
        self,
        connection: AsyncConnection,
        target: _Target,
        reference: _Reference,
        settings: mconv.MonitoringSettings,
        stats: mon.WindowStats,
        detections: int,
        log: _CommitLog,
    ) -> list[EventItem]:
        """Evaluate a closed window, store its report and reconcile the version's alerts."""
        registered = _registered_metrics(target.version)
        concept_value = registered.get(settings.concept_metric)
        config = settings.performance_for(concept_value)
        evaluation = await asyncio.to_thread(mon.evaluate_window, reference.profile, stats, registered, config)
        concept = mconv.concept_outcome(settings, evaluation.performance, concept_value)

        start = None if stats.opened_at is None else dt.datetime.fromtimestamp(stats.opened_at, dt.UTC)
        end = dt.datetime.fromtimestamp(stats.closed_at, dt.UTC)
        report = mconv.window_to_proto(
            evaluation, settings, concept, start_time=start, end_time=end,
            page_hinkley={"detections": detections, "feature": mconv.PAGE_HINKLEY_FEATURE},
        )
        await mstore.insert_window(connection, {
            "model_uid": target.model.uid,
            "version": target.version.version,
            "window_index": stats.index,
            "start_time": start,
            "end_time": end,
            "row_count": stats.n_rows,
            "severity": int(evaluation.severity),
            "report": report.SerializeToString(),
        })

        alerts = window_alerts(
            evaluation, concept,
            page_hinkley_detections=detections,
            page_hinkley_feature=mconv.PAGE_HINKLEY_FEATURE,
            driver_config=settings.library.drivers,
        )
        if stats.n_rows < settings.min_window_rows:
            # Too few rows to trust: the window neither opens nor resolves an alert.
            alerts = WindowAlerts((), frozenset())
        window = gov_events.AlertWindow(
            model_uid=target.model.uid, model_name=target.model.name, version=target.version.version,
            window_index=stats.index, start_time=start, end_time=end, window_rows=stats.n_rows,
            reference_rows=reference.profile.n_rows,
        )
        log.info(
            "closed window %d of %s: %d rows, %d labelled, severity %s, %d alert(s)",
            stats.index, target.name, stats.n_rows, stats.n_labelled, evaluation.severity.name, len(alerts.failing),
        )
        return await self._reconcile_alerts(connection, target, alerts, window, end, log)

    async def _reconcile_alerts(
        self,
        connection: AsyncConnection,
        target: _Target,
        alerts: WindowAlerts,
        window: gov_events.AlertWindow,
        at: dt.datetime,
        log: _CommitLog,
    ) -> list[EventItem]:
        version = target.version.version
        open_drift = [
            finding for finding in await store.open_findings(connection, target.model.uid)
            if finding.key.kind is FindingKind.DRIFT and finding.key.version == version
        ]
        by_key = {_alert_key(finding): finding for finding in open_drift}
        drafts = finding_drafts(target.model.uid, version, alerts, by_key)

        def resolution_for(finding: Finding) -> str:
            kind, feature = _alert_key(finding)
            return f"{kind.value} on {feature} stayed below its warning threshold in window {window.window_index}"

        changes = reconcile_findings(open_drift, drafts, now=at, resolution_for=resolution_for)
        await store.save_findings(connection, (*changes.opened, *changes.resolved, *changes.kept))
        drafted = {alert.key: alert for alert in alerts.failing}
        items: list[EventItem] = []
        for finding in changes.resolved:
            items += await self._resolve_alert(connection, target, finding, log)
        for finding in changes.opened:
            items += await self._open_alert(connection, target, finding, drafted[_alert_key(finding)], window, log)
        policy = await self.governance.policy(connection)
        items += gov_events.finding_events(changes, model_name=target.model.name, policy_revision=policy.revision)
        return items

    async def _open_alert(
        self,
        connection: AsyncConnection,
        target: _Target,
        finding: Finding,
        alert: AlertDraft,
        window: gov_events.AlertWindow,
        log: _CommitLog,
    ) -> list[EventItem]:
        proto = monitoring_pb2.Alert(
            name=convert.alert_name(finding.finding_id),
            kind=convert.ALERT_KIND_TO_PROTO[alert.kind],
            severity=convert.SEVERITY_TO_PROTO[alert.severity],
            state=monitoring_pb2.ALERT_STATE_OPEN,
            model_uid=target.model.uid,
            feature=alert.feature,
            method=_method_to_proto(alert.method),
            value=alert.value,
            threshold=alert.threshold,
            window_index=window.window_index,
            window_end_time=window.end_time,
            message=alert.message,
            open_time=finding.opened_at,
        )
        if window.start_time is not None:
            proto.window_start_time.FromDatetime(window.start_time)
        await mstore.save_alert(connection, _alert_row(finding, alert.kind, alert.feature, proto))
        log.info("opened %s %s alert %s on %s of %s", alert.severity.label, alert.kind.value, finding.finding_id, alert.feature, target.name)
        return _alert_events(finding.finding_id, alert, window, target.model)

    async def _resolve_alert(
        self, connection: AsyncConnection, target: _Target, finding: Finding, log: _CommitLog
    ) -> list[EventItem]:
        data = await mstore.load_alert_data(connection, finding.finding_id)
        kind, feature = _alert_key(finding)
        assert finding.resolved_at is not None
        if data is not None:
            proto = json_format.ParseDict(data, monitoring_pb2.Alert())
            proto.state = monitoring_pb2.ALERT_STATE_RESOLVED
            proto.resolve_time.FromDatetime(finding.resolved_at)
            await mstore.save_alert(connection, _alert_row(finding, kind, feature, proto))
        log.info("resolved %s alert %s on %s of %s: %s", kind.value, finding.finding_id, feature, target.name, finding.resolution)
        return gov_events.alert_resolved_events(
            alert_id=finding.finding_id, kind=kind, severity=finding.severity, model_uid=target.model.uid,
            model_name=target.model.name, version=target.version.version, feature=feature,
            resolution=finding.resolution, resolve_time=finding.resolved_at,
        )

    async def _touch_model(
        self, connection: AsyncConnection, target: _Target, items: list[EventItem], *, force: bool, actor: str,
        activity: bool = True,
    ) -> None:
        """Record monitoring activity and re-evaluate the model's policies after alerts changed.

        With `activity` False, as when a window closes by time without new data, the model's
        last activity stays where it was.
        """
        last = target.model.last_activity_time
        stale = last is None or utc_now() - last >= ACTIVITY_INTERVAL
        if not (force or stale or items):
            return
        model = await store.load_model(connection, target.model.uid, for_update=True)
        assert model is not None
        now = utc_now()
        if activity:
            model = record_activity(model, now)
        policy = await self.governance.policy(connection)
        context = EventContext(actor=actor, reason="production monitoring")
        items = items + await self.governance.reevaluate(connection, model, policy, now, context)
        await self.governance.record(connection, model.uid, items, context, now)

    # --- labels -----------------------------------------------------------------------------

    async def report_labels(self, request: rpc.ReportLabelsRequest, *, actor: str) -> rpc.ReportLabelsResponse:
        """Join labels to waiting production rows by request id and feed the error-rate test."""
        model_id, number = convert.parse_version_name(request.model_version, "model_version")
        if not request.request_ids:
            raise InvalidArgument("request_ids", [], "send one request id per label")
        ids = list(request.request_ids)
        check_request_ids(ids)
        if "" in ids:
            raise InvalidArgument(
                f"request_ids[{ids.index('')}]", "",
                "send the request id of the production row the label belongs to; rows reported without an id cannot be labelled",
                problem="is empty",
            )
        labels, label_type = mconv.column_values(request.labels, len(ids), "labels")

        async def work(connection: AsyncConnection) -> mon.LabelJoin:
            target = await _load_target(connection, model_id, number)
            state = await self._locked_state(connection, target)
            reference = await self._reference(connection, target)
            settings = await self._settings(connection, target, columns=None)
            mconv.check_labels(labels, label_type, settings.library.task.task, reference.profile)
            accumulator = mon.WindowAccumulator.from_bytes(state["accumulator"], reference.profile, settings.library)
            try:
                joined = accumulator.add_labels(ids, labels)
            except mon.DuplicateRequestIdError as error:
                raise _duplicate_error(error) from error
            except mon.MonitoringInputError as error:
                raise _input_error("labels", error) from error
            detector = mon.PageHinkley.from_bytes(state["page_hinkley"])
            detections = int(state["window_detections"]) + _update_page_hinkley(detector, joined, settings)
            await mstore.save_state(connection, _next_state(
                state, accumulator, settings, detections=detections, page_hinkley=detector.to_bytes()
            ))
            await self._touch_model(connection, target, [], force=False, actor=actor)
            return joined

        joined = await self.governance.execute("ReportLabels", work)
        unmatched = [ids[position] for position in joined.unmatched_positions.tolist()]
        return rpc.ReportLabelsResponse(
            matched_count=joined.matched,
            unmatched_request_ids=unmatched[:MAX_REPORTED_UNMATCHED],
            unmatched_count=joined.unmatched,
        )

    # --- reports and alerts -----------------------------------------------------------------

    async def drift_report(self, request: rpc.GetDriftReportRequest) -> monitoring_pb2.DriftReport:
        """Return a version's windows, newest first, the open one included on the first page."""
        model_id, number = _parse_suffixed(request.name, "driftReport")
        if request.page_size < 0:
            raise InvalidArgument("page_size", request.page_size, "send 0 for 10, or a size up to 100", problem="is negative")
        size = min(request.page_size or DRIFT_REPORT_DEFAULT_PAGE, DRIFT_REPORT_MAX_PAGE)
        windows = drift_windows_table.c
        async with read_connection(self.engine, "GetDriftReport") as connection:
            target = await _load_target(connection, model_id, number)
            settings_row = await mstore.load_config(connection, target.model.uid, number)
            reference = await mstore.load_reference(connection, target.model.uid, number)
            state = await mstore.read_state(connection, target.model.uid, number)
            statement = sa.select(drift_windows_table).where(windows.model_uid == target.model.uid, windows.version == number)
            order = parse_order_by("", {"window_index": windows.window_index}, tiebreaker=windows.window_index, default="window_index desc")
            page = await fetch_page(
                connection, statement, order, page_size=size, page_token=request.page_token, key=self.token_key,
                fingerprint_parts=["driftReport", target.model.uid, str(number)],
            )
        report = monitoring_pb2.DriftReport(
            name=request.name,
            model_uid=target.model.uid,
            config=_config_message(target, settings_row, reference),
            reference_rows=0 if reference is None else reference["row_count"],
            next_page_token=page.next_page_token,
        )
        if not request.page_token and state is not None and state["window_rows"] > 0:
            report.windows.append(_open_window(state))
        for row in page.rows:
            report.windows.append(monitoring_pb2.DriftWindow.FromString(row.report))
        return report

    async def list_alerts(self, request: rpc.ListAlertsRequest, scope: ModelScope | None = None) -> rpc.ListAlertsResponse:
        """List alerts newest first, filtered by model, version, kind, state, severity and the caller's scope."""
        alerts = alerts_table.c
        statement = sa.select(alerts_table)
        if scope is not None:
            statement = statement.where(alerts.model_uid.in_(models_in_scope(scope)))
        kind = convert.alert_kind_from_proto(request.kind)
        min_severity = convert.min_severity_from_proto(request.min_severity)
        if request.state not in (monitoring_pb2.ALERT_STATE_UNSPECIFIED, *_ALERT_STATES):
            raise InvalidArgument("state", request.state, "set ALERT_STATE_OPEN, ALERT_STATE_RESOLVED or leave it unset")
        async with read_connection(self.engine, "ListAlerts") as connection:
            if request.model:
                model = await _load_model(connection, convert.parse_model_name(request.model, "model"), "model")
                statement = statement.where(alerts.model_uid == model.uid)
            if request.model_version:
                model_id, number = convert.parse_version_name(request.model_version, "model_version")
                target = await _load_target(connection, model_id, number, field="model_version")
                statement = statement.where(alerts.model_uid == target.model.uid, alerts.version == number)
            if kind is not None:
                statement = statement.where(alerts.kind == kind.value)
            if request.state in _ALERT_STATES:
                statement = statement.where(alerts.is_open.is_(_ALERT_STATES[request.state]))
            if min_severity is not None:
                statement = statement.where(alerts.severity >= int(min_severity))
            order = parse_order_by("", {"open_time": alerts.open_time}, tiebreaker=alerts.alert_id, default="open_time desc")
            page = await fetch_page(
                connection, statement, order, page_size=request.page_size, page_token=request.page_token,
                key=self.token_key,
                fingerprint_parts=["alerts", request.model, request.model_version, str(request.kind), str(request.state), str(request.min_severity)],
            )
            total = await count_rows(connection, statement)
            names = await store.model_names(connection, {row.model_uid for row in page.rows})
        response = rpc.ListAlertsResponse(next_page_token=page.next_page_token, total_size=total)
        for row in page.rows:
            alert = json_format.ParseDict(row.data, monitoring_pb2.Alert())
            model_name = names.get(row.model_uid, "")
            alert.model = model_name
            alert.model_version = convert.version_name(model_name, row.version) if model_name else ""
            response.alerts.append(alert)
        return response

    # --- config -----------------------------------------------------------------------------

    async def set_config(self, request: rpc.SetMonitoringConfigRequest, *, actor: str) -> monitoring_pb2.MonitoringConfig:
        """Validate and store a version's monitoring config; it applies from the next batch."""
        model_id, number = _parse_suffixed(request.config.name, "monitoringConfig", field="config.name")

        async def work(connection: AsyncConnection) -> tuple[monitoring_pb2.MonitoringConfig, _CommitLog]:
            log = _CommitLog()
            target = await _load_target(connection, model_id, number, field="config.name")
            reference = await mstore.load_reference(connection, target.model.uid, number)
            columns = None
            if reference is not None:
                profile = (await self._reference(connection, target)).profile
                columns = list(profile.monitored_columns)
                requested = request.config.prediction_column
                if requested and requested != reference["prediction_column"]:
                    raise InvalidArgument(
                        "config.prediction_column", requested,
                        f"name the reference data's prediction column {reference['prediction_column']!r}, "
                        "or upload reference data with this prediction column",
                    )
            settings = mconv.settings_from_proto(request.config, mconv.task_type_of(target.model.task_type), columns)
            mconv.check_min_window_rows(settings)
            current = await mstore.load_config(connection, target.model.uid, number)
            if request.config.etag and (current is None or current["etag"] != request.config.etag):
                raise Aborted(
                    f"the monitoring config of {target.name} changed since etag {request.config.etag!r}; "
                    "read it again and reapply your change", reason="STALE_CONFIG",
                )
            data = mconv.config_to_json(request.config)
            row = {
                "model_uid": target.model.uid, "version": number, "data": data, "etag": mconv.config_etag(data),
                "updated_by": actor, "update_time": utc_now(),
            }
            await mstore.save_config(connection, row)
            log.info("monitoring config of %s set by %s: %s", target.name, actor, request.reason or "no reason given")
            await self._apply_window_rule(connection, target, settings, actor=actor, log=log)
            return _config_message(target, row, reference), log

        config, log = await self.governance.execute("SetMonitoringConfig", work)
        log.write()
        return config

    async def _apply_window_rule(
        self, connection: AsyncConnection, target: _Target, settings: mconv.MonitoringSettings, *, actor: str, log: _CommitLog
    ) -> None:
        """Apply a new window rule to the open window at once.

        A window that already contains `window_rows` rows or more closes now, with all its rows,
        because its rows are only kept as aggregates and cannot be split. Otherwise the window's
        due time follows the new `window_duration`, or is cleared.
        """
        state = await mstore.lock_state(connection, target.model.uid, target.version.version)
        if state is None:
            return
        window = settings.library.window
        if window.max_rows is None or state["window_rows"] < window.max_rows:
            due = _due_time(state["window_arrival_time"], window.max_duration_seconds)
            await mstore.set_due_time(connection, target.model.uid, target.version.version, due)
            return
        reference = await self._reference(connection, target)
        accumulator = mon.WindowAccumulator.from_bytes(state["accumulator"], reference.profile, settings.library)
        stats = accumulator.close(utc_now().timestamp())
        items = await self._close_window(connection, target, reference, settings, stats, int(state["window_detections"]), log)
        await mstore.save_state(connection, _next_state(state, accumulator, settings, detections=0))
        await self._touch_model(connection, target, items, force=True, actor=actor, activity=False)

    # --- shared reads -----------------------------------------------------------------------

    async def _settings(self, connection: AsyncConnection, target: _Target, *, columns: Sequence[str] | None) -> mconv.MonitoringSettings:
        row = await mstore.load_config(connection, target.model.uid, target.version.version)
        config = mconv.config_from_json(row["data"]) if row is not None else monitoring_pb2.MonitoringConfig()
        return mconv.settings_from_proto(config, mconv.task_type_of(target.model.task_type), columns)

    async def _reference(self, connection: AsyncConnection, target: _Target) -> _Reference:
        row = await mstore.load_reference(connection, target.model.uid, target.version.version)
        if row is None:
            raise FailedPrecondition(
                f"{target.name} has no reference data: upload it with UploadReferenceData first",
                field="model_version", reason="NO_REFERENCE_DATA",
            )
        key = (target.model.uid, target.version.version, row["sha256"])
        profile = self._profiles.get(key)
        if profile is None:
            profile = mon.ReferenceProfile.from_bytes(row["profile"])
            self._profiles[key] = profile
            while len(self._profiles) > PROFILE_CACHE_SIZE:
                self._profiles.popitem(last=False)
        self._profiles.move_to_end(key)
        return _Reference(profile, dict(row["column_types"]), row["sha256"])


# --- reference upload -----------------------------------------------------------------------


class _ReferenceUpload:
    """Batches of one UploadReferenceData stream, checked as they arrive."""

    def __init__(self) -> None:
        self.name = ""
        self.prediction = ""
        self.label = ""
        self.types: dict[str, str] = {}
        self.parts: dict[str, list[np.ndarray]] = {}
        self.rows = 0
        self.digest = hashlib.sha256()

    def add(self, request: rpc.UploadReferenceDataRequest) -> None:
        if not self.name:
            self.name = request.model_version
            self.prediction = request.prediction_column
            self.label = request.label_column
        elif request.model_version and request.model_version != self.name:
            raise InvalidArgument(
                "model_version", request.model_version, f"leave it empty or repeat {self.name!r}", problem="differs from the first message"
            )
        columns = mconv.batch_columns(request.batch, "batch")
        if not self.types:
            self.types = dict(columns.types)
            self.parts = {name: [] for name in columns.types}
        elif columns.types != self.types:
            raise InvalidArgument(
                "batch.columns", sorted(columns.types.items()),
                f"send the same columns with the same value types in every batch: {sorted(self.types.items())}",
                problem="differ from the first batch",
            )
        self.rows += columns.row_count
        if self.rows > MAX_REFERENCE_ROWS:
            raise InvalidArgument("batch.row_count", self.rows, f"send at most {MAX_REFERENCE_ROWS} reference rows; a sample is enough", problem="is too large")
        for name, values in columns.values.items():
            self.parts[name].append(values)
        mconv.batch_sha256(self.digest, request.batch)

    def check_complete(self) -> None:
        if not self.name:
            raise InvalidArgument("model_version", "", "send at least one message naming models/{model}/versions/{version}")
        if self.rows == 0:
            raise InvalidArgument("batch.row_count", 0, "send at least one reference row")
        for field, column in (("prediction_column", self.prediction), ("label_column", self.label)):
            if column and column not in self.types:
                raise InvalidArgument(field, column, f"name one of the uploaded columns: {sample_of(self.types, 20)}", problem="is not a column")
        if self.prediction and self.prediction == self.label:
            raise InvalidArgument("label_column", self.label, "name different columns for the prediction and the label")
        if not set(self.types) - {self.prediction, self.label}:
            raise InvalidArgument("batch.columns", list(self.types), "send at least one feature column besides the prediction and label")

    def build_profile(self, name: str) -> mon.ReferenceProfile:
        columns = {column: _concatenate(parts) for column, parts in self.parts.items()}
        try:
            return mon.build_reference_profile(
                columns,
                categorical=[column for column, kind in self.types.items() if kind != mconv.DOUBLE],
                prediction=self.prediction or None,
                label=self.label or None,
                model_version=name,
            )
        except mon.MonitoringInputError as error:
            raise _input_error("batch.columns", error) from error


def _concatenate(parts: list[np.ndarray]) -> np.ndarray:
    if any(isinstance(part, np.ma.MaskedArray) for part in parts):
        return np.ma.concatenate(parts)
    return np.concatenate(parts)


# --- helpers --------------------------------------------------------------------------------


async def _load_model(connection: AsyncConnection, model_id: str, field: str) -> PortfolioModel:
    model = await store.load_model_by_name(connection, model_id)
    if model is None:
        raise NotFound(f"model models/{model_id} not found in governance's portfolio", field=field)
    return model


async def _load_target(connection: AsyncConnection, model_id: str, number: int, *, field: str = "model_version") -> _Target:
    model = await _load_model(connection, model_id, field)
    return _Target(model, model.get_version(number))


def _stream_name(current: str, sent: str, index: int) -> str:
    if not current:
        return convert.require_first_version(sent)
    if sent and sent != current:
        raise InvalidArgument("model_version", sent, f"leave it empty or repeat {current!r}", problem=f"in message {index} differs from the first message")
    return current


def _parse_suffixed(name: str, suffix: str, *, field: str = "name") -> tuple[str, int]:
    example = f"models/churn/versions/3/{suffix}"
    if not name.endswith(f"/{suffix}"):
        raise InvalidArgument(field, name, f"use the form 'models/{{model}}/versions/{{version}}/{suffix}', such as '{example}'")
    return convert.parse_version_name(name.removesuffix(f"/{suffix}"), field)


def _request_ids(ids: Sequence[str], rows: int) -> list[str | None] | None:
    if not ids:
        return None
    if len(ids) != rows:
        raise InvalidArgument("request_ids", f"{len(ids)} ids", f"send one id per row ({rows}) or none", problem="do not match the rows")
    check_request_ids(ids)
    # An empty id marks a row without one: it counts in the window but is never joined with a label.
    return [request_id or None for request_id in ids]


def _observe_time(times: Sequence[Any], rows: int) -> dt.datetime:
    """Return the batch's time: its latest observe time, or now when it has none."""
    if not times:
        return utc_now()
    if len(times) != rows:
        raise InvalidArgument("observe_times", f"{len(times)} times", f"send one time per row ({rows}) or none", problem="do not match the rows")
    moments = [request_time(stamp, f"observe_times[{index}]") for index, stamp in enumerate(times)]
    latest = max(moments)
    now = utc_now()
    if latest > now + MAX_OBSERVE_TIME_AHEAD:
        raise InvalidArgument(
            f"observe_times[{moments.index(latest)}]", rfc3339(latest),
            f"send times at most {int(MAX_OBSERVE_TIME_AHEAD.total_seconds())} seconds past the server's clock "
            f"(now {rfc3339(now)}); check the sender's clock and time zone",
            problem="is in the future",
        )
    return latest


def _check_types(reference: _Reference, columns: mconv.Columns) -> None:
    for name, kind in columns.types.items():
        expected = reference.column_types.get(name)
        if expected is None:
            continue
        numeric = expected == mconv.DOUBLE
        if numeric != (kind == mconv.DOUBLE):
            raise InvalidArgument(
                "batch.columns", name,
                f"send {'double_values' if numeric else 'string_values or int64_values'} as in the reference data",
                problem=f"has {kind} values but the reference data has {expected}",
            )


def _input_error(field: str, error: mon.MonitoringInputError) -> InvalidArgument:
    return InvalidArgument(field, error.column, str(error), problem="is invalid")


def _duplicate_error(error: mon.DuplicateRequestIdError) -> ModelwardError:
    """Map a repeated request id to INVALID_ARGUMENT, or to ALREADY_EXISTS when an earlier batch stored it."""
    if error.earlier:
        position = error.positions[0]
        return AlreadyExists(
            f"request_ids[{position}] {error.request_id!r} was already reported in an earlier batch and still "
            "waits for its label: send each row once (a retried stream should resend only the messages "
            "that were not acknowledged), with a request id unique per version",
            field=f"request_ids[{position}]", reason="DUPLICATE_REQUEST_ID",
        )
    rows = sample_of(error.positions)
    return InvalidArgument(
        "request_ids", error.request_id, "send each request id once, so that a label matches exactly one prediction",
        problem=f"appears at rows {rows}",
    )


def _registered_metrics(version: PortfolioVersion) -> dict[str, float]:
    """Return the version's registered metrics by canonical name, preferring the test split."""
    found: dict[str, float] = {}
    for metric in version.metrics:
        name = mconv.canonical_metric(metric.name)
        if name not in found or metric.dataset_split == "test":
            found[name] = metric.value
    return found


def _update_page_hinkley(detector: mon.PageHinkley, joined: mon.LabelJoin, settings: mconv.MonitoringSettings) -> int:
    """Feed joined rows with a prediction to the detector; return how many drifts it detected."""
    predictions = joined.predictions
    if predictions.shape[0] == 0:
        return 0
    if predictions.dtype.kind == "f":
        present = ~np.isnan(predictions)
    else:
        present = np.array([value is not None for value in predictions.tolist()], dtype=bool)
    if not present.any():
        return 0
    errors = mon.error_values(predictions[present], joined.labels[present], settings.library.task)
    return len(detector.update_many(errors[np.isfinite(errors)]))


def _fresh_state(target: _Target, accumulator: mon.WindowAccumulator) -> dict[str, Any]:
    return {
        "model_uid": target.model.uid,
        "version": target.version.version,
        "accumulator": accumulator.to_bytes(),
        "page_hinkley": mon.PageHinkley().to_bytes(),
        "window_index": 0,
        "window_start_time": None,
        "window_rows": 0,
        "window_detections": 0,
        "window_arrival_time": None,
        "window_due_time": None,
        "batch_count": 0,
        "row_count": 0,
        "update_time": utc_now(),
    }


def _next_state(
    state: Any, accumulator: mon.WindowAccumulator, settings: mconv.MonitoringSettings, *, detections: int,
    batches: int = 0, rows: int = 0, page_hinkley: bytes | None = None,
) -> dict[str, Any]:
    opened = accumulator.window_opened_at
    arrival = _arrival_time(state, accumulator)
    return {
        "model_uid": state["model_uid"],
        "version": state["version"],
        "accumulator": accumulator.to_bytes(),
        "page_hinkley": state["page_hinkley"] if page_hinkley is None else page_hinkley,
        "window_index": accumulator.window_index,
        "window_start_time": None if opened is None else dt.datetime.fromtimestamp(opened, dt.UTC),
        "window_rows": accumulator.n_rows,
        "window_detections": detections,
        "window_arrival_time": arrival,
        "window_due_time": _due_time(arrival, settings.library.window.max_duration_seconds),
        "batch_count": state["batch_count"] + batches,
        "row_count": state["row_count"] + rows,
        "update_time": utc_now(),
    }


def _arrival_time(state: Any, accumulator: mon.WindowAccumulator) -> dt.datetime | None:
    """Return when the open window's first row reached this service, by the server's clock."""
    if accumulator.n_rows == 0:
        return None
    same_window = accumulator.window_index == state["window_index"] and state["window_rows"] > 0
    if same_window and state["window_arrival_time"] is not None:
        return state["window_arrival_time"]  # type: ignore[no-any-return]
    return utc_now()


def _due_time(arrival: dt.datetime | None, duration: float | None) -> dt.datetime | None:
    """Return when a window closes by time, by the server's clock: one duration after its first row arrived."""
    if arrival is None or duration is None:
        return None
    return arrival + dt.timedelta(seconds=duration)


def _is_due(state: Any, now: dt.datetime) -> bool:
    due = state["window_due_time"]
    return due is not None and state["window_rows"] > 0 and due <= now


def _open_window(state: Any) -> monitoring_pb2.DriftWindow:
    window = monitoring_pb2.DriftWindow(window_index=state["window_index"], row_count=state["window_rows"], complete=False)
    if state["window_start_time"] is not None:
        window.start_time.FromDatetime(state["window_start_time"])
    return window


def _config_message(target: _Target, row: Any, reference: Any) -> monitoring_pb2.MonitoringConfig:
    config = mconv.config_from_json(row["data"]) if row is not None else monitoring_pb2.MonitoringConfig()
    config.name = f"{target.name}/monitoringConfig"
    if row is not None:
        config.etag = row["etag"]
        config.update_time.FromDatetime(row["update_time"])
    if not config.prediction_column and reference is not None:
        config.prediction_column = reference["prediction_column"]
    return config


def _alert_key(finding: Finding) -> AlertKey:
    _, kind, feature = (finding.key.check_id.split(".", 2) + ["", ""])[:3]
    return AlertKind(kind), feature


def _method_to_proto(method: str) -> monitoring_pb2.DriftMethod:
    return convert.DRIFT_METHOD_TO_PROTO.get(method, monitoring_pb2.DRIFT_METHOD_UNSPECIFIED)


def _alert_row(finding: Finding, kind: AlertKind, feature: str, proto: monitoring_pb2.Alert) -> dict[str, Any]:
    return {
        "alert_id": finding.finding_id,
        "model_uid": finding.key.model_uid,
        "version": finding.key.version,
        "kind": kind.value,
        "feature": feature,
        "severity": int(finding.severity),
        "is_open": finding.is_open,
        "open_time": finding.opened_at,
        "resolve_time": finding.resolved_at,
        "data": json_format.MessageToDict(proto, preserving_proto_field_name=True),
    }


def _alert_events(alert_id: str, alert: AlertDraft, window: gov_events.AlertWindow, model: PortfolioModel) -> list[EventItem]:
    numbers = alert.numbers
    if alert.kind in (AlertKind.DATA_DRIFT, AlertKind.PREDICTION_DRIFT):
        return gov_events.drift_detected_events(
            alert_id=alert_id, kind=alert.kind, severity=alert.severity, window=window, feature=alert.feature,
            method=alert.method if alert.method in convert.DRIFT_METHOD_TO_PROTO else "",
            value=alert.value,
            warning_threshold=float(numbers.get("warning_threshold") or 0.0),
            critical_threshold=float(numbers.get("critical_threshold") or 0.0),
            p_value=_optional_float(numbers.get("p_value")),
            max_p_value=float(numbers.get("max_p_value") or 0.0),
            risk_tier=model.risk_tier,
        )
    if alert.kind is AlertKind.CONCEPT_DRIFT:
        return gov_events.concept_drift_detected_events(
            alert_id=alert_id, severity=alert.severity, window=window, metric=alert.feature,
            reference_value=float(numbers.get("registered") or 0.0),
            window_value=float(numbers.get("value") or 0.0),
            degradation=float(numbers.get("degradation") or numbers.get("detections") or 0.0),
            warning_threshold=float(numbers.get("warning_threshold") or 0.0),
            critical_threshold=float(numbers.get("critical_threshold") or 0.0),
            labeled_rows=int(numbers.get("labeled_rows") or 0),
            min_labeled_rows=int(numbers.get("min_labeled_rows") or 0),
            risk_tier=model.risk_tier,
        )
    return gov_events.driver_shift_detected_events(
        alert_id=alert_id, severity=alert.severity, window=window, feature=alert.feature, method=alert.method,
        reference_importance=float(numbers.get("reference_importance") or 0.0),
        window_importance=float(numbers.get("window_importance") or 0.0),
        change=alert.value,
        warning_threshold=float(numbers.get("warning_threshold") or 0.0),
        critical_threshold=float(numbers.get("critical_threshold") or 0.0),
        risk_tier=model.risk_tier,
    )


def _optional_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]

