"""Both services over gRPC and JetStream: findings, promotions and flags."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import grpc
import pytest

from modelward_protos.governance.v1 import governance_service_pb2 as gov
from modelward_protos.governance.v1 import resources_pb2 as gres
from modelward_protos.registry.v1 import registry_service_pb2 as rpc
from modelward_protos.registry.v1 import resources_pb2 as res
from tests.support.auth import as_principal, grant_and_wait
from tests.support.builders import new_model, new_version
from tests.support.governance import governance_config, running_governance
from tests.support.registry import registry_config, running_registry


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.1)
    return await check()


def principal(name: str) -> tuple[tuple[str, str], ...]:
    return as_principal(name)


# Authors and requesters also hold the reviewer role, so separation of duties, not a missing
# role, is what stops them approving their own work.
FLOW_ROLES = [
    ("user:ana@example.com", "contributor"), ("user:ana@example.com", "reviewer"),
    ("user:bob@example.com", "contributor"), ("user:bob@example.com", "reviewer"),
    ("user:carla@example.com", "reviewer"), ("user:dan@example.com", "reviewer"),
]


@pytest.fixture
async def stack(fresh_pg_url, nats_server, nats_prefix):
    registry_cfg = registry_config(fresh_pg_url(), nats_server.url, nats_prefix, governed_stages=("PRODUCTION",),
                                   governance_stream_name=f"{nats_prefix}_GOVERNANCE")
    async with running_registry(registry_cfg) as registry:
        config = governance_config(fresh_pg_url(), nats_server.url, nats_prefix, registry.target)
        async with running_governance(config) as governance:
            await grant_and_wait(registry, governance, FLOW_ROLES)
            yield registry, governance


async def _findings(governance, model: str) -> list[gres.Finding]:
    response = await governance.stub.ListFindings(gov.ListFindingsRequest(model=model, state=gres.FINDING_STATE_OPEN))
    return list(response.findings)


async def test_register_then_see_finding(stack) -> None:
    registry, governance = stack
    await registry.stub.CreateModel(new_model("ownerless", owner=""))
    await registry.stub.CreateModelVersion(new_version("ownerless", seed="o1", auc=0.6))

    async def has_findings() -> bool:
        try:
            return len(await _findings(governance, "models/ownerless")) >= 2
        except grpc.aio.AioRpcError:
            return False

    assert await eventually(has_findings)
    findings = await _findings(governance, "models/ownerless")
    kinds = {finding.kind for finding in findings}
    assert gres.FINDING_KIND_ORPHANED_MODEL in kinds
    assert gres.FINDING_KIND_POLICY_VIOLATION in kinds
    portfolio = await governance.stub.ListPortfolio(gov.ListPortfolioRequest())
    entry = next(entry for entry in portfolio.entries if entry.model == "models/ownerless")
    assert entry.orphaned


async def test_high_risk_promotion_needs_two_reviewers(stack) -> None:
    registry, governance = stack
    await registry.stub.CreateModel(new_model("fraud-score", owner="team:fraud"), metadata=principal("user:ana@example.com"))
    version = await registry.stub.CreateModelVersion(new_version("fraud-score", seed="f1", auc=0.93), metadata=principal("user:ana@example.com"))
    await registry.stub.TransitionStage(
        rpc.TransitionStageRequest(name=version.name, stage=res.STAGE_PRODUCTION), metadata=principal("user:bob@example.com")
    )

    async def promotion_open() -> bool:
        try:
            found = await governance.stub.GetPromotion(gov.GetPromotionRequest(name=version.name))
        except grpc.aio.AioRpcError:
            return False
        return found.state == gres.PROMOTION_STATE_AWAITING_DECISIONS

    assert await eventually(promotion_open)
    with pytest.raises(grpc.aio.AioRpcError) as own:
        await governance.stub.ApproveVersion(gov.ApproveVersionRequest(name=version.name, comment="mine"), metadata=principal("user:ana@example.com"))
    assert own.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "user:ana@example.com" in own.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as requester:
        await governance.stub.ApproveVersion(gov.ApproveVersionRequest(name=version.name, comment="ok"), metadata=principal("user:bob@example.com"))
    assert requester.value.code() == grpc.StatusCode.PERMISSION_DENIED

    first = await governance.stub.ApproveVersion(gov.ApproveVersionRequest(name=version.name, comment="metrics fine"), metadata=principal("user:carla@example.com"))
    assert first.state == gres.PROMOTION_STATE_AWAITING_DECISIONS
    current = await registry.stub.GetModelVersion(rpc.GetModelVersionRequest(name=version.name))
    assert current.stage == res.STAGE_NONE
    second = await governance.stub.ApproveVersion(gov.ApproveVersionRequest(name=version.name, comment="lineage fine"), metadata=principal("user:dan@example.com"))
    assert second.state == gres.PROMOTION_STATE_APPROVED

    async def in_production() -> bool:
        found = await registry.stub.GetModelVersion(rpc.GetModelVersionRequest(name=version.name))
        return found.stage == res.STAGE_PRODUCTION

    assert await eventually(in_production)

    async def deployment_allowed() -> bool:
        # Governance learns of the stage change from the registry's stream, a moment later.
        checked = await governance.stub.CheckDeployment(gov.CheckDeploymentRequest(model="models/fraud-score", version=1))
        return checked.allowed

    assert await eventually(deployment_allowed)
    decision = await governance.stub.CheckDeployment(gov.CheckDeploymentRequest(model="models/fraud-score", version=1))
    assert decision.allowed, [reason.message for reason in decision.reasons]


async def test_under_performing_version_is_blocked(stack) -> None:
    registry, governance = stack
    await registry.stub.CreateModel(new_model("weak"), metadata=principal("user:ana@example.com"))
    version = await registry.stub.CreateModelVersion(new_version("weak", seed="w1", auc=0.55), metadata=principal("user:ana@example.com"))
    await registry.stub.TransitionStage(rpc.TransitionStageRequest(name=version.name, stage=res.STAGE_PRODUCTION))

    async def rejected() -> bool:
        try:
            listed = await governance.stub.ListPromotions(gov.ListPromotionsRequest(model="models/weak"))
        except grpc.aio.AioRpcError as error:
            # NOT_FOUND until governance has applied the model's first event.
            assert error.code() == grpc.StatusCode.NOT_FOUND, error.details()
            return False
        return any(p.state == gres.PROMOTION_STATE_REJECTED for p in listed.promotions)

    assert await eventually(rejected)
    listed = await governance.stub.ListPromotions(gov.ListPromotionsRequest(model="models/weak"))
    assert listed.promotions[0].failing_rule_ids
    assert listed.total_size == len(listed.promotions) == 1

    async def resolved_in_registry() -> bool:
        found = await registry.stub.GetModelVersion(rpc.GetModelVersionRequest(name=version.name))
        return found.pending_stage == res.STAGE_UNSPECIFIED

    assert await eventually(resolved_in_registry)
    found = await registry.stub.GetModelVersion(rpc.GetModelVersionRequest(name=version.name))
    assert found.stage == res.STAGE_NONE
    blocked = await governance.stub.CheckDeployment(gov.CheckDeploymentRequest(model="models/weak", version=1))
    assert not blocked.allowed


async def test_owner_deactivation_orphans_and_rename_keeps_owner(stack) -> None:
    registry, governance = stack
    await registry.stub.CreateModel(new_model("scoring", owner="user:eve@example.com"))
    await registry.stub.CreateModelVersion(new_version("scoring", seed="s1"))

    async def entry(name: str):
        listed = await governance.stub.ListPortfolio(gov.ListPortfolioRequest(filter=f'name = "{name}"'))
        return listed.entries[0] if listed.entries else None

    async def known() -> bool:
        found = await entry("scoring")
        return found is not None and bool(found.versions)

    assert await eventually(known)
    assert not (await entry("scoring")).orphaned
    await governance.stub.SetPrincipalActive(gov.SetPrincipalActiveRequest(principal="user:eve@example.com", active=False, reason="left the company"))
    assert (await entry("scoring")).orphaned
    await registry.stub.RenameModel(rpc.RenameModelRequest(name="models/scoring", new_model_id="scoring-v2"))

    async def renamed() -> bool:
        return await entry("scoring-v2") is not None

    assert await eventually(renamed)
    moved = await entry("scoring-v2")
    assert moved.owner == "user:eve@example.com"
    assert moved.orphaned
    await governance.stub.SetPrincipalActive(gov.SetPrincipalActiveRequest(principal="user:eve@example.com", active=True, reason="returned"))
    assert not (await entry("scoring-v2")).orphaned


async def test_same_artifact_under_two_models_is_redundant(stack) -> None:
    registry, governance = stack
    await registry.stub.CreateModel(new_model("original"))
    await registry.stub.CreateModel(new_model("copy", owner="team:other"))
    await registry.stub.CreateModelVersion(new_version("original", seed="shared"))
    await registry.stub.CreateModelVersion(new_version("copy", seed="shared"))

    async def flagged() -> bool:
        listed = await governance.stub.ListPortfolio(gov.ListPortfolioRequest(filter='name = "copy"'))
        return bool(listed.entries) and "models/original" in listed.entries[0].redundant_with

    assert await eventually(flagged)
    findings = await _findings(governance, "models/original")
    redundant = [f for f in findings if f.kind == gres.FINDING_KIND_REDUNDANT_MODEL]
    assert redundant


async def test_many_aliases_keep_errors_short(stack) -> None:
    registry, governance = stack
    await registry.stub.CreateModel(new_model("crowded"))
    await registry.stub.CreateModelVersion(new_version("crowded", seed="c1"))
    names = [f"a{index:03d}-" + "x" * 59 for index in range(100)]
    for alias in names:
        await registry.stub.SetAlias(rpc.SetAliasRequest(name="models/crowded/versions/1", alias=alias))

    with pytest.raises(grpc.aio.AioRpcError) as too_many:
        await registry.stub.SetAlias(rpc.SetAliasRequest(name="models/crowded/versions/1", alias="one-more"))
    assert too_many.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "100" in too_many.value.details()
    moved = await registry.stub.SetAlias(rpc.SetAliasRequest(name="models/crowded/versions/1", alias=names[0]))
    assert len(moved.aliases) == 100, "setting an existing alias again stays within the limit"

    async def governance_has_aliases() -> bool:
        try:
            await governance.stub.CheckDeployment(gov.CheckDeploymentRequest(model="models/crowded", alias=names[-1]))
        except grpc.aio.AioRpcError:
            return False
        return True

    assert await eventually(governance_has_aliases)
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await governance.stub.CheckDeployment(gov.CheckDeploymentRequest(model="models/crowded", alias="nope"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert "and 95 more" in missing.value.details()
    assert len(missing.value.details()) < 1000

    with pytest.raises(grpc.aio.AioRpcError) as no_version:
        await governance.stub.CheckDeployment(gov.CheckDeploymentRequest(model="models/crowded", version=7))
    assert no_version.value.code() == grpc.StatusCode.NOT_FOUND
    assert "versions are 1" in no_version.value.details()
