"""Production monitoring end to end: both services over gRPC, real NATS, PostgreSQL and SQLite."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import math
import time
from collections.abc import Iterable, Sequence

import grpc
import numpy as np
import pytest
from google.protobuf import duration_pb2, timestamp_pb2

from modelward_common.errors import Aborted

from modelward_protos.events.v1 import governance_events_pb2 as gev
from modelward_protos.governance.v1 import governance_service_pb2 as gov
from modelward_protos.governance.v1 import monitoring_pb2 as mon
from modelward_protos.governance.v1 import resources_pb2 as gres
from modelward_protos.registry.v1 import registry_service_pb2 as rpc
from modelward_protos.registry.v1 import resources_pb2 as res
from tests.e2e.test_governance_flow import FLOW_ROLES, eventually, principal
from tests.support.auth import grant_and_wait
from tests.support.builders import new_model, new_version
from tests.support.governance import governance_config, running_governance
from tests.support.registry import registry_config, running_registry

FEATURES = ("amount", "age_days", "country")


@pytest.fixture
async def stack(database_url, fresh_sqlite_url, nats_server, nats_prefix):
    registry_cfg = registry_config(
        fresh_sqlite_url(), nats_server.url, nats_prefix, governed_stages=("PRODUCTION",),
        governance_stream_name=f"{nats_prefix}_GOVERNANCE",
    )
    async with running_registry(registry_cfg) as registry:
        config = governance_config(database_url, nats_server.url, nats_prefix, registry.target)
        async with running_governance(config) as governance:
            await grant_and_wait(registry, governance, FLOW_ROLES)
            yield registry, governance


# --- data -----------------------------------------------------------------------------------


def double(name: str, values: Iterable[float | None]) -> mon.Column:
    listed = list(values)
    nulls = [value is None for value in listed]
    column = mon.Column(name=name, double_values=mon.DoubleValues(values=[0.0 if v is None else v for v in listed]))
    if any(nulls):
        column.null_mask.extend(nulls)
    return column


def strings(name: str, values: Iterable[str]) -> mon.Column:
    return mon.Column(name=name, string_values=mon.StringValues(values=list(values)))


def ints(name: str, values: Iterable[int]) -> mon.Column:
    return mon.Column(name=name, int64_values=mon.Int64Values(values=[int(v) for v in values]))


def batch(*columns: mon.Column) -> mon.ColumnarBatch:
    first = columns[0]
    rows = len(getattr(first, first.WhichOneof("values")).values)
    return mon.ColumnarBatch(row_count=rows, columns=list(columns))


def scored_rows(rng: np.random.Generator, rows: int, *, shift: float = 0.0) -> dict[str, np.ndarray]:
    """Rows of the fraud model: the score and the label both follow `amount`."""
    amount = rng.normal(shift, 1.0, rows)
    return {
        "amount": amount,
        "age_days": rng.normal(0.0, 1.0, rows),
        "country": rng.choice(["de", "fr", "it"], rows),
        "score": 1.0 / (1.0 + np.exp(-2.0 * amount)),
        "label": (amount + rng.normal(0.0, 0.5, rows) > shift).astype(int),
    }


def fraud_batch(data: dict[str, np.ndarray], *, label: bool = False) -> mon.ColumnarBatch:
    columns = [double("amount", data["amount"]), double("age_days", data["age_days"]),
               strings("country", data["country"]), double("score", data["score"])]
    if label:
        columns.append(ints("label", data["label"]))
    return batch(*columns)


async def upload(governance, name: str, batches: Sequence[mon.ColumnarBatch], *, prediction: str = "", label: str = ""):
    async def requests():
        for index, item in enumerate(batches):
            if index == 0:
                yield gov.UploadReferenceDataRequest(model_version=name, batch=item, prediction_column=prediction, label_column=label)
            else:
                yield gov.UploadReferenceDataRequest(batch=item)

    return await governance.stub.UploadReferenceData(requests())


async def report(governance, name: str, batches: Sequence[mon.ColumnarBatch], ids: Sequence[Sequence[str]] = ()):
    async def requests():
        for index, item in enumerate(batches):
            request_ids = ids[index] if ids else ()
            yield gov.ReportProductionDataRequest(model_version=name if index == 0 else "", batch=item, request_ids=request_ids)

    return await governance.stub.ReportProductionData(requests())


def split(data: dict[str, np.ndarray], size: int) -> list[dict[str, np.ndarray]]:
    rows = len(data["amount"])
    return [{key: values[start:start + size] for key, values in data.items()} for start in range(0, rows, size)]


async def set_config(governance, name: str, **fields) -> mon.MonitoringConfig:
    config = mon.MonitoringConfig(name=f"{name}/monitoringConfig", **fields)
    return await governance.stub.SetMonitoringConfig(gov.SetMonitoringConfigRequest(config=config, reason="test"))


async def known_version(registry, governance, model_id: str, *, seed: str, risk: int = res.RISK_TIER_HIGH, features=FEATURES, auc: float = 0.9) -> str:
    """Register a model version and wait until governance's portfolio has it."""
    try:
        await registry.stub.CreateModel(new_model(model_id, risk=risk), metadata=principal("user:ana@example.com"))
    except grpc.aio.AioRpcError as error:
        assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    created = await registry.stub.CreateModelVersion(
        new_version(model_id, seed=seed, features=features, auc=auc), metadata=principal("user:ana@example.com")
    )

    async def known() -> bool:
        listed = await governance.stub.ListPortfolio(gov.ListPortfolioRequest(filter=f'name = "{model_id}"'))
        return bool(listed.entries) and any(v.name == created.name for v in listed.entries[0].versions)

    assert await eventually(known)
    return created.name


async def governance_events(nats_client, stream: str) -> list[tuple[str, bytes]]:
    """Every message of the governance stream as (subject, payload), in stream order."""
    js = nats_client.jetstream()
    info = await js.stream_info(stream)
    messages = []
    for sequence in range(info.state.first_seq, info.state.last_seq + 1):
        message = await js.get_msg(stream, sequence)
        messages.append((message.subject, message.data))
    return messages


async def events_of(nats_client, prefix: str, event: str, *, at_least: int = 1) -> list[bytes]:
    subject = f"{prefix}.governance.v1.{event}"

    async def arrived() -> list[bytes]:
        return [data for found, data in await governance_events(nats_client, f"{prefix}_GOVERNANCE") if found == subject]

    async def enough() -> bool:
        return len(await arrived()) >= at_least

    assert await eventually(enough), f"fewer than {at_least} {event} on {subject}"
    return await arrived()


async def alerts(governance, name: str, state: int = mon.ALERT_STATE_UNSPECIFIED, kind: int = mon.ALERT_KIND_UNSPECIFIED) -> list[mon.Alert]:
    listed = await governance.stub.ListAlerts(gov.ListAlertsRequest(model_version=name, state=state, kind=kind))
    return list(listed.alerts)


def statistic(feature: mon.FeatureDrift, method: int) -> mon.DriftStatistic:
    return next(item for item in feature.statistics if item.method == method)


def feature_of(window: mon.DriftWindow, name: str) -> mon.FeatureDrift:
    return next(item for item in window.features if item.feature == name)


async def promote(registry, governance, name: str) -> None:
    """Move a high-risk version to production with the two approvals the default policy needs."""
    await registry.stub.TransitionStage(rpc.TransitionStageRequest(name=name, stage=res.STAGE_PRODUCTION), metadata=principal("user:bob@example.com"))

    async def awaiting() -> bool:
        try:
            found = await governance.stub.GetPromotion(gov.GetPromotionRequest(name=name))
        except grpc.aio.AioRpcError:
            return False
        return found.state == gres.PROMOTION_STATE_AWAITING_DECISIONS

    assert await eventually(awaiting)
    for reviewer in ("user:carla@example.com", "user:dan@example.com"):
        await governance.stub.ApproveVersion(gov.ApproveVersionRequest(name=name, comment="fine"), metadata=principal(reviewer))

    async def serving() -> bool:
        listed = await governance.stub.ListPortfolio(gov.ListPortfolioRequest(filter=f'name = "{name.split("/")[1]}"'))
        return any(v.name == name and v.stage == res.STAGE_PRODUCTION for v in listed.entries[0].versions)

    assert await eventually(serving)


# --- alerts, findings, policies and deployment ------------------------------------------------


async def test_drift_alert_blocks_deployment_until_resolved(stack, nats_client, nats_prefix) -> None:
    registry, governance = stack
    rng = np.random.default_rng(1)
    name = await known_version(registry, governance, "fraud", seed="f1")
    await promote(registry, governance, name)
    reference = scored_rows(rng, 2000)
    uploaded = await upload(governance, name, [fraud_batch(part, label=True) for part in split(reference, 500)], prediction="score", label="label")
    assert uploaded.row_count == 2000
    assert set(uploaded.column_names) == {"amount", "age_days", "country", "score", "label"}
    assert len(uploaded.sha256) == 64
    await set_config(governance, name, window_rows=500)

    await report(governance, name, [fraud_batch(part) for part in split(scored_rows(rng, 500), 100)])
    assert not await alerts(governance, name)
    allowed = await governance.stub.CheckDeployment(gov.CheckDeploymentRequest(model="models/fraud", version=1))
    assert allowed.allowed, [reason.message for reason in allowed.reasons]

    for _ in range(2):
        await report(governance, name, [fraud_batch(part) for part in split(scored_rows(rng, 500, shift=2.0), 100)])
    open_alerts = await alerts(governance, name, mon.ALERT_STATE_OPEN)
    amount = [alert for alert in open_alerts if alert.kind == mon.ALERT_KIND_DATA_DRIFT and alert.feature == "amount"]
    assert len(amount) == 1, "one alert per feature and kind across the two drifting windows"
    assert amount[0].severity == gres.SEVERITY_CRITICAL
    assert amount[0].window_index == 1
    assert amount[0].model == "models/fraud"
    assert amount[0].model_version == name
    assert any(alert.kind == mon.ALERT_KIND_PREDICTION_DRIFT and alert.feature == "score" for alert in open_alerts)

    findings = await governance.stub.ListFindings(gov.ListFindingsRequest(model="models/fraud", state=gres.FINDING_STATE_OPEN))
    rules = {finding.rule_id for finding in findings.findings}
    assert "drift.data_drift.amount" in rules
    assert "drift-re-review" in rules, "drift_requires_review sees the alert"
    blocked = await governance.stub.CheckDeployment(gov.CheckDeploymentRequest(model="models/fraud", version=1))
    assert not blocked.allowed
    codes = {reason.code for reason in blocked.reasons}
    assert gres.DENIAL_CODE_DRIFT in codes
    assert any(reason.rule_id == "drift-re-review" for reason in blocked.reasons)
    compliance = await governance.stub.GetModelCompliance(gov.GetModelComplianceRequest(name="models/fraud/compliance"))
    assert not compliance.compliant, "the compliance report agrees with CheckDeployment"
    review = [result for version in compliance.versions for result in version.results if result.rule_id == "drift-re-review"]
    assert review and not review[0].passed

    await report(governance, name, [fraud_batch(part) for part in split(scored_rows(rng, 500), 100)])
    assert not await alerts(governance, name, mon.ALERT_STATE_OPEN)
    resolved = await alerts(governance, name, mon.ALERT_STATE_RESOLVED, mon.ALERT_KIND_DATA_DRIFT)
    resolved_amount = [alert for alert in resolved if alert.feature == "amount"]
    assert len(resolved_amount) == 1
    assert resolved_amount[0].resolve_time.seconds > 0
    allowed_again = await governance.stub.CheckDeployment(gov.CheckDeploymentRequest(model="models/fraud", version=1))
    assert allowed_again.allowed, [reason.message for reason in allowed_again.reasons]

    detected = [gev.DriftDetected.FromString(data) for data in await events_of(nats_client, nats_prefix, "DriftDetected", at_least=2)]
    on_amount = [event for event in detected if event.feature == "amount"]
    assert len(on_amount) == 1
    assert on_amount[0].statistic.value >= on_amount[0].statistic.critical_threshold > 0
    assert on_amount[0].severity == gres.SEVERITY_CRITICAL
    assert on_amount[0].risk_tier == res.RISK_TIER_HIGH
    assert on_amount[0].window.window_rows == 500
    assert on_amount[0].window.reference_rows == 2000
    resolved_events = [gev.AlertResolved.FromString(data) for data in await events_of(nats_client, nats_prefix, "AlertResolved", at_least=2)]
    assert {event.feature for event in resolved_events} >= {"amount", "score"}
    opened = [gev.FindingOpened.FromString(data) for data in await events_of(nats_client, nats_prefix, "FindingOpened")]
    assert any(event.rule_id == "drift.data_drift.amount" for event in opened)

    report_page = await governance.stub.GetDriftReport(gov.GetDriftReportRequest(name=f"{name}/driftReport", page_size=2))
    assert [window.window_index for window in report_page.windows] == [3, 2]
    assert report_page.reference_rows == 2000
    assert report_page.config.window_rows == 500
    assert report_page.config.prediction_column == "score"
    rest = await governance.stub.GetDriftReport(gov.GetDriftReportRequest(name=f"{name}/driftReport", page_size=2, page_token=report_page.next_page_token))
    assert [window.window_index for window in rest.windows] == [1, 0]
    psi = statistic(feature_of(rest.windows[0], "amount"), mon.DRIFT_METHOD_PSI)
    assert psi.value >= 0.25
    assert (psi.warning_threshold, psi.critical_threshold) == (0.1, 0.25)
    assert psi.severity == gres.SEVERITY_CRITICAL
    ks = statistic(feature_of(rest.windows[0], "amount"), mon.DRIFT_METHOD_KOLMOGOROV_SMIRNOV)
    assert ks.p_value < ks.max_p_value
    assert math.isclose(ks.max_p_value, 0.05 / 3), "Bonferroni over the numeric columns amount, age_days, score"
    assert rest.windows[0].prediction.feature == "score"
    assert "drift" in rest.windows[0].details


# --- durability -----------------------------------------------------------------------------


async def test_restart_and_replicas_lose_no_batch(database_url, fresh_sqlite_url, nats_server, nats_prefix) -> None:
    rng = np.random.default_rng(2)
    registry_cfg = registry_config(fresh_sqlite_url(), nats_server.url, nats_prefix, governance_stream_name=f"{nats_prefix}_GOVERNANCE")
    async with running_registry(registry_cfg) as registry:
        config = governance_config(database_url, nats_server.url, nats_prefix, registry.target)
        async with running_governance(config) as governance:
            await grant_and_wait(registry, governance, FLOW_ROLES)
            name = await known_version(registry, governance, "durable", seed="d1")
            await upload(governance, name, [fraud_batch(scored_rows(rng, 1000))], prediction="score")
            await set_config(governance, name, window_rows=1000)
            await report(governance, name, [fraud_batch(part) for part in split(scored_rows(rng, 600), 50)])
            before = await governance.stub.GetDriftReport(gov.GetDriftReportRequest(name=f"{name}/driftReport"))
            assert [(w.row_count, w.complete) for w in before.windows] == [(600, False)]

        replica = governance_config(database_url, nats_server.url, nats_prefix, registry.target, run_consumer=False)
        async with running_governance(config) as first, running_governance(replica) as second:
            after = await first.stub.GetDriftReport(gov.GetDriftReportRequest(name=f"{name}/driftReport"))
            assert [(w.row_count, w.complete) for w in after.windows] == [(600, False)]

            async def send(instance, rows: int) -> None:
                for part in split(scored_rows(rng, rows), 20):
                    await report(instance, name, [fraud_batch(part)])

            await asyncio.gather(send(first, 200), send(second, 200))
            closed = await second.stub.GetDriftReport(gov.GetDriftReportRequest(name=f"{name}/driftReport"))
    assert [(w.window_index, w.row_count, w.complete) for w in closed.windows] == [(0, 1000, True)]


async def _drift_windows(governance, name: str) -> list[tuple[int, int, bool]]:
    report_page = await governance.stub.GetDriftReport(gov.GetDriftReportRequest(name=f"{name}/driftReport"))
    return [(w.window_index, w.row_count, w.complete) for w in report_page.windows]


@contextlib.asynccontextmanager
async def _timed_replicas(database_url, fresh_sqlite_url, nats_server, nats_prefix, model_id: str, *, interval: float):
    """Run a registry and two governance replicas on one database, with a version in 1 s windows."""
    registry_cfg = registry_config(fresh_sqlite_url(), nats_server.url, nats_prefix, governance_stream_name=f"{nats_prefix}_GOVERNANCE")
    async with running_registry(registry_cfg) as registry:
        config = governance_config(database_url, nats_server.url, nats_prefix, registry.target, window_close_interval=interval)
        replica = dataclasses.replace(config, run_consumer=False)
        async with running_governance(config) as first, running_governance(replica) as second:
            await grant_and_wait(registry, first, FLOW_ROLES)
            name = await known_version(registry, first, model_id, seed="t1")
            await upload(first, name, [fraud_batch(scored_rows(np.random.default_rng(0), 1000))], prediction="score")
            await set_config(first, name, window_duration=duration_pb2.Duration(seconds=1))
            yield first, second, name


async def test_duration_window_closes_without_new_data(database_url, fresh_sqlite_url, nats_server, nats_client, nats_prefix) -> None:
    rng = np.random.default_rng(5)
    async with _timed_replicas(database_url, fresh_sqlite_url, nats_server, nats_prefix, "timed", interval=0.2) as (first, second, name):
        await report(first, name, [fraud_batch(scored_rows(rng, 200, shift=3.0))])

        async def closed() -> bool:
            return await _drift_windows(second, name) == [(0, 200, True)]

        assert await eventually(closed, timeout=10.0), await _drift_windows(second, name)
        # Both replicas keep sweeping; neither closes the window a second time.
        await asyncio.sleep(1.0)
        assert await _drift_windows(first, name) == [(0, 200, True)]
        window = (await first.stub.GetDriftReport(gov.GetDriftReportRequest(name=f"{name}/driftReport"))).windows[0]
        assert window.end_time.ToDatetime() - window.start_time.ToDatetime() == dt.timedelta(seconds=1)

        opened = await alerts(first, name, mon.ALERT_STATE_OPEN, mon.ALERT_KIND_DATA_DRIFT)
        assert "amount" in {alert.feature for alert in opened}
        drift_events = [gev.DriftDetected.FromString(data) for data in await events_of(nats_client, nats_prefix, "DriftDetected")]
        drift_alerts = [alert for alert in await alerts(first, name) if alert.kind in (mon.ALERT_KIND_DATA_DRIFT, mon.ALERT_KIND_PREDICTION_DRIFT)]
        assert sorted(event.alert for event in drift_events) == sorted(alert.name for alert in drift_alerts), "one event per alert"


async def test_due_window_closed_once_by_two_replicas(database_url, fresh_sqlite_url, nats_server, nats_prefix) -> None:
    rng = np.random.default_rng(6)
    async with _timed_replicas(database_url, fresh_sqlite_url, nats_server, nats_prefix, "racing", interval=0) as (first, second, name):
        await report(first, name, [fraud_batch(scored_rows(rng, 30))])
        assert await first.app.monitoring.close_due_windows() == 0, "the window is not due yet"

        await asyncio.sleep(1.1)
        counts = await asyncio.gather(first.app.monitoring.close_due_windows(), second.app.monitoring.close_due_windows())
        assert sorted(counts) == [0, 1]
        assert await _drift_windows(first, name) == [(0, 30, True)]

        # With no sweep running, the next batch closes a due window even when its observe
        # times lie before the window's end.
        await report(first, name, [fraud_batch(scored_rows(rng, 20))])
        await asyncio.sleep(1.1)
        past = [timestamp_pb2.Timestamp(seconds=int(time.time()) - 30)] * 10

        async def late_rows():
            yield gov.ReportProductionDataRequest(model_version=name, batch=fraud_batch(scored_rows(rng, 10)), observe_times=past)

        await first.stub.ReportProductionData(late_rows())
        assert await _drift_windows(second, name) == [(2, 10, False), (1, 20, True), (0, 30, True)]


async def test_window_rows_split_inside_batch(stack) -> None:
    registry, governance = stack
    rng = np.random.default_rng(7)
    name = await known_version(registry, governance, "exact", seed="x1")
    await upload(governance, name, [fraud_batch(scored_rows(rng, 1000), label=True)], prediction="score", label="label")
    await set_config(governance, name, window_rows=100)
    served = scored_rows(rng, 250)
    ids = [f"req-{index}" for index in range(250)]
    sent = await report(governance, name, [fraud_batch(served)], [ids])
    assert sent.row_count == 250

    assert await _drift_windows(governance, name) == [(2, 50, False), (1, 100, True), (0, 100, True)]
    report_page = await governance.stub.GetDriftReport(gov.GetDriftReportRequest(name=f"{name}/driftReport"))
    first = report_page.windows[2]
    assert feature_of(first, "amount").window_rows == 100
    assert feature_of(first, "country").window_rows == 100

    joined = await governance.stub.ReportLabels(gov.ReportLabelsRequest(
        model_version=name, request_ids=["req-0", "req-99", "req-100", "req-249"], labels=ints("label", [1, 0, 1, 0]),
    ))
    assert joined.matched_count == 4
    assert joined.unmatched_count == 0


async def test_duplicate_request_ids_rejected(stack, nats_client, nats_prefix) -> None:
    registry, governance = stack
    name = await known_version(registry, governance, "unique", seed="u1", features=("amount",))
    await upload(governance, name, [batch(double("amount", np.linspace(0, 1, 100)))])
    await set_config(governance, name, window_rows=3)
    rows = batch(double("amount", [0.1, 0.2, 0.3]))
    await report(governance, name, [batch(double("amount", [0.4, 0.5]))], [["a", "b"]])
    state = await governance.stub.GetDriftReport(gov.GetDriftReportRequest(name=f"{name}/driftReport"))
    events_before = len(await governance_events(nats_client, f"{nats_prefix}_GOVERNANCE"))

    cases = [
        (report(governance, name, [rows], [["x", "y", "x"]]), grpc.StatusCode.INVALID_ARGUMENT, ("request_ids", "'x'", "rows 0, 2")),
        (report(governance, name, [rows], [["x", "b", "z"]]), grpc.StatusCode.ALREADY_EXISTS, ("request_ids[1]", "'b'", "earlier batch")),
        (governance.stub.ReportLabels(gov.ReportLabelsRequest(model_version=name, request_ids=["a", "b", "a"], labels=ints("label", [1, 0, 1]))),
         grpc.StatusCode.INVALID_ARGUMENT, ("request_ids", "'a'", "rows 0, 2")),
    ]
    for call, code, words in cases:
        await _rejected(call, code, *words)
    after = await governance.stub.GetDriftReport(gov.GetDriftReportRequest(name=f"{name}/driftReport"))
    assert after == state
    assert len(await governance_events(nats_client, f"{nats_prefix}_GOVERNANCE")) == events_before

    # A stream stores each message as it comes: the first message here closes window 0, and
    # the second repeats an id of the first and is rejected alone.
    stream = report(governance, name, [rows, rows], [["x", "y", "z"], ["w", "y", "v"]])
    await _rejected(stream, grpc.StatusCode.ALREADY_EXISTS, "request_ids[1]", "'y'")
    assert await _drift_windows(governance, name) == [(1, 2, False), (0, 3, True)]

    joined = await governance.stub.ReportLabels(gov.ReportLabelsRequest(model_version=name, request_ids=["a", "b"], labels=ints("label", [1, 0])))
    assert joined.matched_count == 2


# --- concept drift and driver shifts --------------------------------------------------------


async def test_labels_joined_later_raise_concept_drift(stack, nats_client, nats_prefix) -> None:
    registry, governance = stack
    rng = np.random.default_rng(3)
    name = await known_version(registry, governance, "churn", seed="c1", auc=0.9)
    await upload(governance, name, [fraud_batch(scored_rows(rng, 1000), label=True)], prediction="score", label="label")
    await set_config(governance, name, window_rows=400, concept_drift=mon.ConceptDriftConfig(metric="auc", warning=0.05, critical=0.2))

    served = scored_rows(rng, 400)
    ids = [f"req-{index}" for index in range(400)]
    await report(governance, name, [fraud_batch(part) for part in split(served, 100)], [ids[start:start + 100] for start in range(0, 400, 100)])
    # The world changed: the outcome is now the opposite of what the score predicts.
    joined = await governance.stub.ReportLabels(gov.ReportLabelsRequest(model_version=name, request_ids=[*ids, "unknown-1"], labels=ints("label", [*(1 - served["label"]), 1])))
    assert joined.matched_count == 400
    assert list(joined.unmatched_request_ids) == ["unknown-1"]
    assert joined.unmatched_count == 1
    await report(governance, name, [fraud_batch(scored_rows(rng, 400))])

    concept = await alerts(governance, name, mon.ALERT_STATE_OPEN, mon.ALERT_KIND_CONCEPT_DRIFT)
    assert [alert.feature for alert in concept] == ["auc"]
    assert concept[0].severity == gres.SEVERITY_CRITICAL
    events = [gev.ConceptDriftDetected.FromString(data) for data in await events_of(nats_client, nats_prefix, "ConceptDriftDetected")]
    assert events[0].concept_drift.metric == "auc"
    assert events[0].concept_drift.reference_value == pytest.approx(0.9)
    assert events[0].concept_drift.window_value < 0.3
    assert events[0].concept_drift.degradation > 0.6
    assert events[0].concept_drift.labeled_rows == 400
    drift_report = await governance.stub.GetDriftReport(gov.GetDriftReportRequest(name=f"{name}/driftReport"))
    window = next(w for w in drift_report.windows if w.window_index == 1)
    assert window.concept_drift.labeled_rows == 400
    assert window.concept_drift.critical_threshold == 0.2


async def test_changed_relation_with_stable_marginals_shifts_drivers(stack, nats_client, nats_prefix) -> None:
    registry, governance = stack
    rng = np.random.default_rng(4)
    name = await known_version(registry, governance, "drivers", seed="r1", features=("x1", "x2"))

    def rows(count: int, driver: str) -> mon.ColumnarBatch:
        x1, x2 = rng.normal(0, 1, count), rng.normal(0, 1, count)
        score = 1.0 / (1.0 + np.exp(-3.0 * (x1 if driver == "x1" else x2)))
        return batch(double("x1", x1), double("x2", x2), double("score", score))

    await upload(governance, name, [rows(2000, "x1")], prediction="score")
    await set_config(governance, name, window_rows=1000)
    await report(governance, name, [rows(1000, "x2")])

    open_alerts = await alerts(governance, name, mon.ALERT_STATE_OPEN)
    shifted = {alert.feature for alert in open_alerts if alert.kind == mon.ALERT_KIND_DRIVER_SHIFT}
    assert shifted == {"x1", "x2"}
    assert not [alert for alert in open_alerts if alert.kind in (mon.ALERT_KIND_DATA_DRIFT, mon.ALERT_KIND_PREDICTION_DRIFT)]
    events = [gev.DriverShiftDetected.FromString(data) for data in await events_of(nats_client, nats_prefix, "DriverShiftDetected", at_least=2)]
    by_feature = {event.driver_shift.feature: event.driver_shift for event in events}
    assert by_feature["x1"].reference_importance > 0.8
    assert by_feature["x1"].window_importance < 0.2
    assert by_feature["x1"].change >= by_feature["x1"].warning_threshold


# --- edge cases -----------------------------------------------------------------------------


async def test_edge_cases_through_the_rpcs(stack) -> None:
    registry, governance = stack
    features = ("uniform", "constant", "code", "sparse")
    name = await known_version(registry, governance, "edges", seed="e1", features=features)
    uniform = np.linspace(0.0, 1.0, 30)
    await upload(governance, name, [batch(
        double("uniform", uniform), double("constant", [5.0] * 30), ints("code", [0, 1, 2] * 10), double("sparse", uniform),
    )])
    await set_config(governance, name, window_rows=30)

    await report(governance, name, [batch(
        double("uniform", [0.05] * 30), double("constant", [5.0] * 30), ints("code", [0, 1, 3] * 10), double("sparse", [None] * 30),
    )])
    await report(governance, name, [batch(
        double("uniform", [0.5] * 10 + [math.nan] * 10 + [None] * 10), double("constant", [5.0] * 30),
        ints("code", [0, 1, 2] * 10), double("sparse", uniform),
    )])
    drift_report = await governance.stub.GetDriftReport(gov.GetDriftReportRequest(name=f"{name}/driftReport"))
    second, first = drift_report.windows

    psi = statistic(feature_of(first, "uniform"), mon.DRIFT_METHOD_PSI)
    assert math.isfinite(psi.value), "empty bins give a finite PSI"
    assert psi.value > 1.0
    constant = feature_of(first, "constant")
    ks = statistic(constant, mon.DRIFT_METHOD_KOLMOGOROV_SMIRNOV)
    assert ks.value == 0.0
    assert ks.p_value == 1.0
    assert all(item.severity == gres.SEVERITY_UNSPECIFIED for item in constant.statistics)
    chi = statistic(feature_of(first, "code"), mon.DRIFT_METHOD_CHI_SQUARED)
    assert chi.value == pytest.approx(20.0)
    code_details = next(c for c in first.details["drift"]["features"] if c["column"] == "code")
    chi_details = next(m for m in code_details["metrics"] if m["method"] == "chi_squared")
    assert chi_details["details"]["dof"] == 3
    assert "3" in feature_of(first, "code").window_histogram.categories
    sparse = feature_of(first, "sparse")
    assert sparse.insufficient_data_reason, "a window without non-null values is reported as insufficient"
    assert not sparse.statistics
    assert sparse.window_null_fraction == 1.0
    assert statistic(feature_of(first, "uniform"), mon.DRIFT_METHOD_PSI).value > 0

    with_missing = feature_of(second, "uniform")
    assert with_missing.window_nan_fraction == pytest.approx(1 / 3)
    assert with_missing.window_null_fraction == pytest.approx(1 / 3)
    missing = next(c for c in second.details["drift"]["features"] if c["column"] == "uniform")["missing"]
    assert missing["change"] == pytest.approx(2 / 3)
    assert missing["severity"] == "warning", "the missing-rate change is reported against its threshold"

    single = await known_version(registry, governance, "edges", seed="e2", features=("uniform",))
    await upload(governance, single, [batch(double("uniform", uniform))])
    await set_config(governance, single, window_rows=1)
    await report(governance, single, [batch(double("uniform", [0.5])), batch(double("uniform", [0.7]))])
    windows = (await governance.stub.GetDriftReport(gov.GetDriftReportRequest(name=f"{single}/driftReport"))).windows
    assert [(w.window_index, w.row_count) for w in windows] == [(1, 1), (0, 1)]
    assert statistic(feature_of(windows[0], "uniform"), mon.DRIFT_METHOD_KOLMOGOROV_SMIRNOV).p_value > 0


# --- bad input ------------------------------------------------------------------------------


async def _rejected(call, code: grpc.StatusCode, *words: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    assert raised.value.code() == code, raised.value.details()
    for word in words:
        assert word in raised.value.details(), raised.value.details()


async def test_bad_input_writes_nothing(stack, nats_client, nats_prefix) -> None:
    registry, governance = stack
    name = await known_version(registry, governance, "strict", seed="s1", features=("amount",))
    no_reference = await known_version(registry, governance, "strict", seed="s2", features=("amount",))
    good = batch(double("amount", [0.1, 0.2, 0.3]))

    await _rejected(upload(governance, "models/strict/versions/9", [good]), grpc.StatusCode.NOT_FOUND, "models/strict/versions/9")
    await _rejected(upload(governance, "models/nobody/versions/1", [good]), grpc.StatusCode.NOT_FOUND, "models/nobody")
    await _rejected(report(governance, no_reference, [good]), grpc.StatusCode.FAILED_PRECONDITION, "UploadReferenceData")
    await _rejected(upload(governance, name, [good], prediction="score"), grpc.StatusCode.INVALID_ARGUMENT, "prediction_column", "score")
    await upload(governance, name, [batch(double("amount", np.linspace(0, 1, 100)))])
    await set_config(governance, name, window_rows=10)
    state = await governance.stub.GetDriftReport(gov.GetDriftReportRequest(name=f"{name}/driftReport"))
    events_before = len(await governance_events(nats_client, f"{nats_prefix}_GOVERNANCE"))

    short = mon.ColumnarBatch(row_count=3, columns=[double("amount", [0.1, 0.2])])
    untyped = mon.ColumnarBatch(row_count=1, columns=[mon.Column(name="amount")])
    infinite = batch(double("amount", [0.1, math.inf, 0.3]))
    wrong_type = batch(strings("amount", ["a", "b", "c"]))
    unknown = batch(double("amount", [0.1]), double("extra", [1.0]))
    cases = [
        (report(governance, name, [short]), grpc.StatusCode.INVALID_ARGUMENT, ("batch.columns[0].double_values", "amount")),
        (report(governance, name, [untyped]), grpc.StatusCode.INVALID_ARGUMENT, ("amount", "double_values, string_values or int64_values")),
        (report(governance, name, [infinite]), grpc.StatusCode.INVALID_ARGUMENT, ("amount", "inf")),
        (report(governance, name, [wrong_type]), grpc.StatusCode.INVALID_ARGUMENT, ("amount", "double")),
        (report(governance, name, [unknown]), grpc.StatusCode.INVALID_ARGUMENT, ("extra",)),
        (report(governance, name, [good], [["a", "b"]]), grpc.StatusCode.INVALID_ARGUMENT, ("request_ids",)),
        (report(governance, name, [good], [["a", "r" * 100_000, "c"]]), grpc.StatusCode.INVALID_ARGUMENT,
         ("request_ids[1]", "is too long", "at most 128 printable characters")),
        (report(governance, name, [good], [["a", "b", "c\x00"]]), grpc.StatusCode.INVALID_ARGUMENT,
         ("request_ids[2]", "control character")),
        (governance.stub.ReportLabels(gov.ReportLabelsRequest(model_version=name, request_ids=["r" * 129], labels=ints("label", [1]))),
         grpc.StatusCode.INVALID_ARGUMENT, ("request_ids[0]", "at most 128")),
        (governance.stub.SetMonitoringConfig(
            gov.SetMonitoringConfigRequest(config=mon.MonitoringConfig(name=f"{name}/monitoringConfig", window_rows=5)),
            metadata=(("x-request-id", "h" * 129),)),
         grpc.StatusCode.INVALID_ARGUMENT, ("x-request-id metadata", "at most 128")),
        (report(governance, "models/strict/versions/7", [good]), grpc.StatusCode.NOT_FOUND, ("models/strict/versions/7",)),
        (upload(governance, name, [infinite]), grpc.StatusCode.INVALID_ARGUMENT, ("amount", "inf")),
        (upload(governance, name, [batch(double("amount", [0.1]), double("am\x00ount", [0.2]))]), grpc.StatusCode.INVALID_ARGUMENT,
         ("batch.columns[1].name", r"'am\x00ount'", "without control characters")),
        (report(governance, name, [batch(double("amount\n", [0.1]))]), grpc.StatusCode.INVALID_ARGUMENT,
         ("batch.columns[0].name", "without control characters")),
        (report(governance, name, [batch(double("amount", [0.1]), double("\x1b[2J", [0.1]))]), grpc.StatusCode.INVALID_ARGUMENT,
         ("batch.columns[1].name", "without control characters")),
        (report(governance, name, [batch(double("a" * 257, [0.1]))]), grpc.StatusCode.INVALID_ARGUMENT,
         ("batch.columns[0].name", "1-256 characters")),
        (set_config(governance, name, window_rows=-5), grpc.StatusCode.INVALID_ARGUMENT, ("config.window_rows", "-5")),
        (set_config(governance, name, window_duration=duration_pb2.Duration(seconds=0)), grpc.StatusCode.INVALID_ARGUMENT, ("config.window_duration",)),
        (set_config(governance, name, thresholds=[mon.DriftThreshold(method=mon.DRIFT_METHOD_PSI, warning=0.3, critical=0.2)]),
         grpc.StatusCode.INVALID_ARGUMENT, ("config.thresholds[0].critical", "0.2")),
        (set_config(governance, name, thresholds=[mon.DriftThreshold(method=mon.DRIFT_METHOD_PSI, feature="nope", warning=0.3)]),
         grpc.StatusCode.INVALID_ARGUMENT, ("config.thresholds[0].feature", "nope")),
        (set_config(governance, name, concept_drift=mon.ConceptDriftConfig(metric="rmse")), grpc.StatusCode.INVALID_ARGUMENT, ("config.concept_drift.metric", "rmse")),
        (set_config(governance, name, etag="stale", window_rows=5), grpc.StatusCode.INVALID_ARGUMENT,
         ("config.etag", "'stale'", "32 lowercase hexadecimal digits")),
        (set_config(governance, name, etag="0" * 32, window_rows=5), grpc.StatusCode.ABORTED, ("changed since etag",)),
        (governance.stub.ReportLabels(gov.ReportLabelsRequest(model_version=name, request_ids=["a"], labels=ints("label", [1, 0]))),
         grpc.StatusCode.INVALID_ARGUMENT, ("labels.int64_values", "one value per row")),
        (governance.stub.GetDriftReport(gov.GetDriftReportRequest(name=name)), grpc.StatusCode.INVALID_ARGUMENT, ("driftReport",)),
        (governance.stub.ListAlerts(gov.ListAlertsRequest(model="models/nobody")), grpc.StatusCode.NOT_FOUND, ("models/nobody",)),
    ]
    for call, code, words in cases:
        await _rejected(call, code, *words)

    after = await governance.stub.GetDriftReport(gov.GetDriftReportRequest(name=f"{name}/driftReport"))
    assert after == state
    assert len(await governance_events(nats_client, f"{nats_prefix}_GOVERNANCE")) == events_before


async def _report_at(governance, name: str, times: Sequence[timestamp_pb2.Timestamp]):
    item = batch(double("amount", [0.1] * len(times)))
    request = gov.ReportProductionDataRequest(model_version=name, batch=item, observe_times=times)

    async def requests():
        yield request

    return await governance.stub.ReportProductionData(requests())


async def test_invalid_observe_times_rejected(stack, nats_client, nats_prefix) -> None:
    registry, governance = stack
    name = await known_version(registry, governance, "clock", seed="c1", features=("amount",))
    await upload(governance, name, [batch(double("amount", np.linspace(0, 1, 50)))])
    await set_config(governance, name, window_duration=duration_pb2.Duration(seconds=60))
    state = await governance.stub.GetDriftReport(gov.GetDriftReportRequest(name=f"{name}/driftReport"))
    events_before = len(await governance_events(nats_client, f"{nats_prefix}_GOVERNANCE"))

    now = int(time.time())
    cases = [
        ([timestamp_pb2.Timestamp(seconds=now), timestamp_pb2.Timestamp(seconds=-99_999_999_999_999)],
         ("observe_times[1]", "-99999999999999", "253402300799")),
        ([timestamp_pb2.Timestamp(seconds=now, nanos=2_000_000_000)], ("observe_times[0]", "nanos", "999999999")),
        ([timestamp_pb2.Timestamp(seconds=now, nanos=-5)], ("observe_times[0]", "nanos=-5")),
        ([timestamp_pb2.Timestamp(seconds=now), timestamp_pb2.Timestamp(seconds=253_402_300_000)],
         ("observe_times[1]", "9999-12-31", "in the future", "300 seconds")),
        ([timestamp_pb2.Timestamp(seconds=now + 3600)], ("observe_times[0]", "in the future")),
    ]
    for times, words in cases:
        await _rejected(_report_at(governance, name, times), grpc.StatusCode.INVALID_ARGUMENT, *words)

    after = await governance.stub.GetDriftReport(gov.GetDriftReportRequest(name=f"{name}/driftReport"))
    assert after == state
    assert len(await governance_events(nats_client, f"{nats_prefix}_GOVERNANCE")) == events_before

    accepted = await _report_at(governance, name, [timestamp_pb2.Timestamp(seconds=now + 60)])
    assert accepted.row_count == 1, "a time within the allowed clock skew is accepted"


# --- small windows, request ids, labels and window rules -------------------------------------


async def test_small_windows_alert_only_on_drift(stack) -> None:
    registry, governance = stack
    rng = np.random.default_rng(11)
    name = await known_version(registry, governance, "lowtraffic", seed="l1", features=("a",))
    await upload(governance, name, [batch(double("a", rng.normal(0, 1, 200)))])
    await set_config(governance, name, window_rows=30)

    for _ in range(5):
        await report(governance, name, [batch(double("a", rng.normal(0, 1, 30)))])
    windows = (await governance.stub.GetDriftReport(gov.GetDriftReportRequest(name=f"{name}/driftReport"))).windows
    psi_values = [statistic(feature_of(window, "a"), mon.DRIFT_METHOD_PSI).value for window in windows]
    assert max(psi_values) >= 0.25, "PSI of 30 undrifted rows crosses its critical threshold"
    assert not await alerts(governance, name), "without a significant test the distances open no alert"

    await report(governance, name, [batch(double("a", rng.normal(2, 1, 30)))])
    opened = await alerts(governance, name, mon.ALERT_STATE_OPEN, mon.ALERT_KIND_DATA_DRIFT)
    assert [alert.feature for alert in opened] == ["a"]


async def test_empty_request_id_means_no_id(stack) -> None:
    registry, governance = stack
    name = await known_version(registry, governance, "partialids", seed="p1", features=("amount",))
    await upload(governance, name, [batch(double("amount", np.linspace(0, 1, 100)))])
    await set_config(governance, name, window_rows=100)

    rows = batch(double("amount", [0.1, 0.2, 0.3]))
    await report(governance, name, [rows], [["e1", "", ""]])
    await report(governance, name, [rows], [["e2", "", "e3"]])
    assert await _drift_windows(governance, name) == [(0, 6, False)]

    await _rejected(
        governance.stub.ReportLabels(gov.ReportLabelsRequest(model_version=name, request_ids=["e1", ""], labels=ints("label", [1, 0]))),
        grpc.StatusCode.INVALID_ARGUMENT, "request_ids[1]", "is empty",
    )
    joined = await governance.stub.ReportLabels(gov.ReportLabelsRequest(
        model_version=name, request_ids=["e1", "e2", "e3"], labels=ints("label", [1, 0, 1]),
    ))
    assert joined.matched_count == 3


async def test_labels_checked_against_task(stack, nats_client, nats_prefix) -> None:
    registry, governance = stack
    rng = np.random.default_rng(12)
    name = await known_version(registry, governance, "labelled", seed="b1")
    await upload(governance, name, [fraud_batch(scored_rows(rng, 500), label=True)], prediction="score", label="label")
    await set_config(governance, name, window_rows=1000)
    ids = [f"r{index}" for index in range(4)]
    await report(governance, name, [fraud_batch(scored_rows(rng, 4))], [ids])
    state = await governance.stub.GetDriftReport(gov.GetDriftReportRequest(name=f"{name}/driftReport"))
    events_before = len(await governance_events(nats_client, f"{nats_prefix}_GOVERNANCE"))

    cases = [
        (strings("label", ["yes", "no", "yes", "no"]), ("labels.string_values[0]", "'yes'", "0, 1")),
        (double("label", [1.0, 7.5, 0.0, 1.0]), ("labels.double_values[1]", "7.5", "0, 1")),
        (ints("label", [0, 1, 2, 1]), ("labels.int64_values[2]", "2", "binary_classification")),
    ]
    for labels, words in cases:
        call = governance.stub.ReportLabels(gov.ReportLabelsRequest(model_version=name, request_ids=ids, labels=labels))
        await _rejected(call, grpc.StatusCode.INVALID_ARGUMENT, *words)
    assert await governance.stub.GetDriftReport(gov.GetDriftReportRequest(name=f"{name}/driftReport")) == state
    assert len(await governance_events(nats_client, f"{nats_prefix}_GOVERNANCE")) == events_before

    joined = await governance.stub.ReportLabels(gov.ReportLabelsRequest(
        model_version=name, request_ids=ids, labels=strings("label", ["1", "0", "1", "0"]),
    ))
    assert joined.matched_count == 4, "a label sent as the string '1' is the class 1"


async def test_config_checks_window_fields(stack) -> None:
    registry, governance = stack
    name = await known_version(registry, governance, "windowing", seed="w1", features=("amount",))
    await upload(governance, name, [batch(double("amount", np.linspace(0, 1, 100)))])
    cases = [
        ({"window_duration": duration_pb2.Duration(seconds=1, nanos=-5)}, ("config.window_duration", "nanos=-5", "sign of seconds")),
        ({"window_duration": duration_pb2.Duration(seconds=-1, nanos=5)}, ("config.window_duration",)),
        ({"window_duration": duration_pb2.Duration(seconds=1, nanos=1_000_000_000)}, ("config.window_duration",)),
        ({"window_rows": 10, "min_window_rows": 100}, ("config.min_window_rows", "100", "exceeds window_rows", "10 rows")),
        ({"driver_shift": mon.DriverShiftConfig(warning=2.5)}, ("config.driver_shift.warning", "[0, 2]")),
    ]
    for fields, words in cases:
        await _rejected(set_config(governance, name, **fields), grpc.StatusCode.INVALID_ARGUMENT, *words)
    stored = await set_config(governance, name, window_rows=10, min_window_rows=10, driver_shift=mon.DriverShiftConfig(warning=1.5, critical=2.0))
    assert stored.driver_shift.warning == 1.5


async def test_switch_to_rows_closes_full_window(stack, caplog) -> None:
    registry, governance = stack
    rng = np.random.default_rng(13)
    name = await known_version(registry, governance, "switched", seed="s1")
    await upload(governance, name, [fraud_batch(scored_rows(rng, 500))], prediction="score")
    await set_config(governance, name, window_duration=duration_pb2.Duration(seconds=3600))
    await report(governance, name, [fraud_batch(scored_rows(rng, 30))])

    await set_config(governance, name, window_rows=20)
    assert await _drift_windows(governance, name) == [(0, 30, True)], "the window already past 20 rows closes at once"
    await report(governance, name, [fraud_batch(scored_rows(rng, 45))])
    assert await _drift_windows(governance, name) == [(3, 5, False), (2, 20, True), (1, 20, True), (0, 30, True)]


async def test_window_close_logged_after_commit(database_url, fresh_sqlite_url, nats_server, nats_prefix, caplog, monkeypatch) -> None:
    rng = np.random.default_rng(14)
    caplog.set_level(logging.INFO, logger="modelward_governance.service_layer.monitoring")
    async with _timed_replicas(database_url, fresh_sqlite_url, nats_server, nats_prefix, "logged", interval=0) as (first, _, name):
        await report(first, name, [fraud_batch(scored_rows(rng, 30))])
        await asyncio.sleep(1.1)
        monitoring = first.app.monitoring
        touch = monitoring._touch_model

        async def failing_touch(*args, **kwargs) -> None:
            raise Aborted("test: the transaction fails after the window was evaluated")

        monkeypatch.setattr(monitoring, "_touch_model", failing_touch)
        assert await monitoring.close_due_windows() == 0
        assert not [record for record in caplog.records if "closed window 0" in record.getMessage()]

        monkeypatch.setattr(monitoring, "_touch_model", touch)
        assert await monitoring.close_due_windows() == 1
        assert len([record for record in caplog.records if "closed window 0" in record.getMessage()]) == 1


async def test_window_due_during_downtime_closes_at_start(database_url, fresh_sqlite_url, nats_server, nats_prefix) -> None:
    rng = np.random.default_rng(15)
    registry_cfg = registry_config(fresh_sqlite_url(), nats_server.url, nats_prefix, governance_stream_name=f"{nats_prefix}_GOVERNANCE")
    async with running_registry(registry_cfg) as registry:
        config = governance_config(database_url, nats_server.url, nats_prefix, registry.target, window_close_interval=3600)
        async with running_governance(config) as governance:
            await grant_and_wait(registry, governance, FLOW_ROLES)
            name = await known_version(registry, governance, "downtime", seed="d1")
            await upload(governance, name, [fraud_batch(scored_rows(rng, 500))], prediction="score")
            await set_config(governance, name, window_duration=duration_pb2.Duration(seconds=1))
            await report(governance, name, [fraud_batch(scored_rows(rng, 30))])
        await asyncio.sleep(1.2)
        async with running_governance(config) as restarted:

            async def closed() -> bool:
                return await _drift_windows(restarted, name) == [(0, 30, True)]

            assert await eventually(closed, timeout=10.0), await _drift_windows(restarted, name)
