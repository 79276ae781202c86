"""List and client-streaming RPCs called with team and model bindings, on PostgreSQL and SQLite.

A scoped caller's list returns exactly the models its bindings reach: the filter runs in the
query, so pages keep their size and `total_size` counts only those models. A client-streaming
upload is authorised against the version named in its first message.
"""

from __future__ import annotations

import grpc
import numpy as np
import pytest
import sqlalchemy as sa

from modelward_common.db import create_engine
from modelward_governance.adapters.schema import alerts_table
from modelward_protos.governance.v1 import governance_service_pb2 as gov
from modelward_protos.governance.v1 import monitoring_pb2 as mon
from modelward_protos.registry.v1 import registry_service_pb2 as rpc
from modelward_protos.registry.v1 import resources_pb2 as res
from tests.e2e.test_governance_flow import eventually
from tests.e2e.test_governance_monitoring import fraud_batch, ints, scored_rows, set_config, split
from tests.support.auth import as_principal, grant, grant_and_wait
from tests.support.builders import new_model, new_version
from tests.support.governance import governance_config, running_governance
from tests.support.registry import registry_config, running_registry

VIEWER = "user:vera@example.com"
GLOBAL_VIEWER = "user:gus@example.com"
UNBOUND = "user:nora@example.com"
FRAUD_SERVING = "service:fraud-scorer"
FRAUD_CONTRIBUTOR = "user:fred@example.com"

# Team of each model, and its owner. VIEWER is bound as viewer to team `fraud` and to model
# `risk-z`, and owns `own-w`, so it may read every model but `growth-x`.
MODELS = {
    "fraud-a": ("fraud", "team:fraud"),
    "fraud-b": ("fraud", "team:fraud"),
    "fraud-c": ("fraud", "team:fraud"),
    "risk-z": ("risk", "team:risk"),
    "own-w": ("ops", VIEWER),
    "growth-x": ("growth", "team:growth"),
}
VISIBLE = {"fraud-a", "fraud-b", "fraud-c", "risk-z", "own-w"}


@pytest.fixture(params=["postgresql", "sqlite"])
async def stack(request, fresh_pg_url, fresh_sqlite_url, nats_server, nats_prefix):
    fresh = fresh_pg_url if request.param == "postgresql" else fresh_sqlite_url
    registry_cfg = registry_config(
        fresh(), nats_server.url, nats_prefix, governed_stages=("PRODUCTION",), governance_stream_name=f"{nats_prefix}_GOVERNANCE",
    )
    async with running_registry(registry_cfg) as registry:
        config = governance_config(fresh(), nats_server.url, nats_prefix, registry.target)
        async with running_governance(config) as governance:
            for model_id, (team, owner) in MODELS.items():
                await registry.stub.CreateModel(new_model(model_id, team=team, owner=owner))
                await registry.stub.CreateModelVersion(new_version(model_id, features=("amount", "age_days", "country")))
            await grant(registry.access, VIEWER, "viewer", team="fraud")
            await grant(registry.access, VIEWER, "viewer", model="models/risk-z")
            await grant(registry.access, FRAUD_SERVING, "serving", team="fraud")
            await grant(registry.access, FRAUD_CONTRIBUTOR, "contributor", team="fraud")
            await grant_and_wait(registry, governance, [(GLOBAL_VIEWER, "viewer")])

            async def portfolio_complete() -> bool:
                listed = await governance.stub.ListPortfolio(gov.ListPortfolioRequest(page_size=100))
                return len(listed.entries) == len(MODELS) and all(entry.versions for entry in listed.entries)

            assert await eventually(portfolio_complete)

            async def bindings_applied() -> bool:
                governance.app.access.invalidate()
                found = await governance.app.access.bindings_for([VIEWER, FRAUD_SERVING, FRAUD_CONTRIBUTOR])
                return len(found) == 4

            assert await eventually(bindings_applied)
            yield registry, governance


async def _pages(call, request, field: str, metadata) -> tuple[list[list[str]], int]:  # type: ignore[no-untyped-def]
    """Page through a list call; return each page's model names and the reported total."""
    pages: list[list[str]] = []
    totals = set()
    while True:
        response = await call(request, metadata=metadata)
        items = getattr(response, field)
        # Governance's items name their model in `model`; the registry's own name is the model's.
        pages.append([getattr(item, "model", "") or item.name for item in items])
        totals.add(getattr(response, "total_size", -1))
        if not response.next_page_token:
            break
        request.page_token = response.next_page_token
    assert len(totals) == 1, f"total_size changed between pages: {totals}"
    return pages, totals.pop()


async def test_registry_lists_only_reachable_models(stack) -> None:
    registry, _ = stack
    pages, total = await _pages(registry.stub.ListModels, rpc.ListModelsRequest(page_size=2), "models", as_principal(VIEWER))
    assert [len(page) for page in pages] == [2, 2, 1]
    assert {name.removeprefix("models/") for page in pages for name in page} == VISIBLE
    assert total == len(VISIBLE)

    growth = await registry.stub.ListModels(rpc.ListModelsRequest(filter='team = "growth"'), metadata=as_principal(VIEWER))
    assert list(growth.models) == []
    assert growth.total_size == 0
    everything = await registry.stub.ListModels(rpc.ListModelsRequest(page_size=100), metadata=as_principal(GLOBAL_VIEWER))
    assert everything.total_size == len(MODELS)

    pages, total = await _pages(
        registry.stub.ListModelVersions, rpc.ListModelVersionsRequest(parent="models/-", page_size=3), "model_versions",
        as_principal(VIEWER),
    )
    assert [len(page) for page in pages] == [3, 2]
    assert {name.split("/")[1] for page in pages for name in page} == VISIBLE
    assert total == len(VISIBLE)
    own = await registry.stub.ListModelVersions(rpc.ListModelVersionsRequest(parent="models/fraud-b"), metadata=as_principal(VIEWER))
    assert [version.name for version in own.model_versions] == ["models/fraud-b/versions/1"]


@pytest.mark.parametrize(
    ("request_message", "principal"),
    [
        (rpc.ListModelVersionsRequest(parent="models/growth-x"), VIEWER),
        (rpc.ListModelsRequest(), UNBOUND),
        (rpc.ListModelVersionsRequest(parent="models/-"), UNBOUND),
    ],
    ids=["other-team-parent", "no-binding-models", "no-binding-versions"],
)
async def test_registry_list_denied_outside_scope(stack, request_message, principal) -> None:
    registry, _ = stack
    call = registry.stub.ListModels if isinstance(request_message, rpc.ListModelsRequest) else registry.stub.ListModelVersions
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call(request_message, metadata=as_principal(principal))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert principal in caught.value.details()
    assert "models.read" in caught.value.details()


async def test_governance_lists_only_reachable_models(stack) -> None:
    registry, governance = stack
    viewer = as_principal(VIEWER)
    pages, total = await _pages(governance.stub.ListPortfolio, gov.ListPortfolioRequest(page_size=2), "entries", viewer)
    assert [len(page) for page in pages] == [2, 2, 1]
    assert {name.removeprefix("models/") for page in pages for name in page} == VISIBLE
    assert total == len(VISIBLE)

    dry_run = await governance.stub.DryRunPolicy(
        gov.DryRunPolicyRequest(yaml_text=(await governance.stub.GetPolicy(gov.GetPolicyRequest(), metadata=viewer)).yaml_text),
        metadata=viewer,
    )
    assert {result.model.removeprefix("models/") for result in dry_run.results} == VISIBLE
    assert dry_run.models_evaluated == len(VISIBLE)
    validated = await governance.stub.ValidatePolicy(gov.ValidatePolicyRequest(yaml_text="rules: []"), metadata=viewer)
    assert validated.sha256

    # Promotions of one visible and one hidden model.
    for model_id in ("fraud-a", "growth-x"):
        await registry.stub.TransitionStage(rpc.TransitionStageRequest(name=f"models/{model_id}/versions/1", stage=res.STAGE_PRODUCTION))

    async def both_requested() -> bool:
        listed = await governance.stub.ListPromotions(gov.ListPromotionsRequest())
        return len(listed.promotions) == 2

    assert await eventually(both_requested)
    promotions = await governance.stub.ListPromotions(gov.ListPromotionsRequest(page_size=1), metadata=viewer)
    assert [promotion.model_version for promotion in promotions.promotions] == ["models/fraud-a/versions/1"]
    assert promotions.next_page_token == ""

    everything = await governance.stub.ListFindings(gov.ListFindingsRequest(page_size=1000))
    assert {finding.model for finding in everything.findings} >= {"models/growth-x"}, "the default policy opens findings"
    pages, total = await _pages(governance.stub.ListFindings, gov.ListFindingsRequest(page_size=3), "findings", viewer)
    seen = [name for page in pages for name in page]
    assert all(len(page) <= 3 for page in pages)
    assert {name.removeprefix("models/") for name in seen} <= VISIBLE
    assert len(seen) == total == sum(1 for finding in everything.findings if finding.model.removeprefix("models/") in VISIBLE)


async def _alerts_of(governance, metadata=()) -> list[mon.Alert]:  # type: ignore[no-untyped-def]
    listed = await governance.stub.ListAlerts(gov.ListAlertsRequest(page_size=1000), metadata=metadata)
    assert listed.total_size == len(listed.alerts)
    return list(listed.alerts)


def _references(name: str, batches):  # type: ignore[no-untyped-def]
    async def requests():  # type: ignore[no-untyped-def]
        for index, item in enumerate(batches):
            yield gov.UploadReferenceDataRequest(model_version=name if index == 0 else "", batch=item, prediction_column="score")

    return requests()


def _production(names: list[str], batches):  # type: ignore[no-untyped-def]
    async def requests():  # type: ignore[no-untyped-def]
        for name, item in zip(names, batches, strict=True):
            yield gov.ReportProductionDataRequest(model_version=name, batch=item)

    return requests()


async def _alert_rows(governance) -> int:  # type: ignore[no-untyped-def]
    engine = create_engine(governance.config.database_url)
    try:
        async with engine.connect() as connection:
            return int(await connection.scalar(sa.select(sa.func.count()).select_from(alerts_table)))
    finally:
        await engine.dispose()


async def _windows(governance, name: str) -> int:  # type: ignore[no-untyped-def]
    report = await governance.stub.GetDriftReport(gov.GetDriftReportRequest(name=f"{name}/driftReport", page_size=100))
    return len(report.windows)


async def test_streams_checked_against_first_message(stack) -> None:
    _, governance = stack
    rng = np.random.default_rng(7)
    fraud, growth = "models/fraud-a/versions/1", "models/growth-x/versions/1"
    reference = [fraud_batch(part) for part in split(scored_rows(rng, 200), 100)]

    uploaded = await governance.stub.UploadReferenceData(_references(fraud, reference), metadata=as_principal(FRAUD_CONTRIBUTOR))
    assert uploaded.row_count == 200
    for principal in (FRAUD_CONTRIBUTOR, FRAUD_SERVING):
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await governance.stub.UploadReferenceData(_references(growth, reference), metadata=as_principal(principal))
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert growth in denied.value.details()
    await governance.stub.UploadReferenceData(_references(growth, reference))
    for name in (fraud, growth):
        await set_config(governance, name, window_rows=100)

    drifted = [fraud_batch(part) for part in split(scored_rows(rng, 200, shift=4.0), 100)]
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await governance.stub.ReportProductionData(_production([growth, growth], drifted), metadata=as_principal(FRAUD_SERVING))
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "monitoring.report" in denied.value.details()
    assert await _windows(governance, growth) == 0
    assert await _windows(governance, fraud) == 0
    assert await _alert_rows(governance) == 0

    # Production batches are stored as they arrive, so the first one stays. The message naming
    # the other model is rejected before any of its rows is stored.
    with pytest.raises(grpc.aio.AioRpcError) as switched:
        await governance.stub.ReportProductionData(_production([fraud, growth], drifted), metadata=as_principal(FRAUD_SERVING))
    assert switched.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert growth in switched.value.details()
    assert await _windows(governance, fraud) == 1
    assert await _windows(governance, growth) == 0

    reported = await governance.stub.ReportProductionData(_production([fraud, ""], drifted), metadata=as_principal(FRAUD_SERVING))
    assert reported.row_count == 200
    await governance.stub.ReportProductionData(_production([growth, ""], drifted))
    every_alert = await _alerts_of(governance)
    assert {alert.model for alert in every_alert} == {"models/fraud-a", "models/growth-x"}
    scoped = await _alerts_of(governance, as_principal(VIEWER))
    assert scoped
    assert {alert.model for alert in scoped} == {"models/fraud-a"}
    assert len(scoped) == sum(1 for alert in every_alert if alert.model == "models/fraud-a")


async def test_empty_stream_needs_global_permission(stack) -> None:
    _, governance = stack

    async def nothing():  # type: ignore[no-untyped-def]
        return
        yield

    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await governance.stub.ReportProductionData(nothing(), metadata=as_principal(FRAUD_SERVING))
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as empty:
        await governance.stub.ReportProductionData(nothing())
    assert empty.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "model_version" in empty.value.details()


async def test_stream_without_version_invalid_for_scoped(stack) -> None:
    _, governance = stack
    rng = np.random.default_rng(11)
    batches = [fraud_batch(part) for part in split(scored_rows(rng, 200), 100)]
    # The first message names no version and the second names the caller's own version.
    versionless = ["", "models/fraud-a/versions/1"]

    with pytest.raises(grpc.aio.AioRpcError) as as_admin:
        await governance.stub.ReportProductionData(_production(versionless, batches))
    assert as_admin.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    for principal in (FRAUD_SERVING, FRAUD_CONTRIBUTOR):
        with pytest.raises(grpc.aio.AioRpcError) as scoped:
            await governance.stub.ReportProductionData(_production(versionless, batches), metadata=as_principal(principal))
        assert scoped.value.code() == grpc.StatusCode.INVALID_ARGUMENT, scoped.value.details()
        assert scoped.value.details() == as_admin.value.details()
        assert "set models/{model}/versions/{version} in the first message" in scoped.value.details()

    with pytest.raises(grpc.aio.AioRpcError) as uploaded:
        await governance.stub.UploadReferenceData(_references("", batches), metadata=as_principal(FRAUD_CONTRIBUTOR))
    assert uploaded.value.code() == grpc.StatusCode.INVALID_ARGUMENT, uploaded.value.details()
    assert "model_version" in uploaded.value.details()

    with pytest.raises(grpc.aio.AioRpcError) as unbound:
        await governance.stub.ReportProductionData(_production(versionless, batches), metadata=as_principal(UNBOUND))
    assert unbound.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert await _windows(governance, "models/fraud-a/versions/1") == 0


async def test_labels_without_version_invalid_for_scoped(stack) -> None:
    _, governance = stack
    request = gov.ReportLabelsRequest(request_ids=["x"], labels=ints("label", [1]))

    with pytest.raises(grpc.aio.AioRpcError) as as_admin:
        await governance.stub.ReportLabels(request)
    assert as_admin.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    with pytest.raises(grpc.aio.AioRpcError) as scoped:
        await governance.stub.ReportLabels(request, metadata=as_principal(FRAUD_SERVING))
    assert scoped.value.code() == grpc.StatusCode.INVALID_ARGUMENT, scoped.value.details()
    assert scoped.value.details() == as_admin.value.details()
    assert "model_version" in scoped.value.details()

    # Without the permission anywhere, the caller learns nothing about the request.
    for principal in (UNBOUND, VIEWER):
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await governance.stub.ReportLabels(request, metadata=as_principal(principal))
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "monitoring.report" in denied.value.details()


async def test_owner_filter_canonical(stack) -> None:
    registry, governance = stack
    mixed_case = 'owner = "user:Vera@EXAMPLE.com"'

    models = await registry.stub.ListModels(rpc.ListModelsRequest(filter=mixed_case))
    assert [model.name for model in models.models] == ["models/own-w"]
    versions = await registry.stub.ListModelVersions(rpc.ListModelVersionsRequest(parent="models/-", filter=mixed_case))
    assert [version.name for version in versions.model_versions] == ["models/own-w/versions/1"]
    portfolio = await governance.stub.ListPortfolio(gov.ListPortfolioRequest(filter=mixed_case))
    assert [entry.model for entry in portfolio.entries] == ["models/own-w"]
    liked = await registry.stub.ListModels(rpc.ListModelsRequest(filter='owner LIKE "user:VERA%"'))
    assert [model.name for model in liked.models] == ["models/own-w"]
