"""examples/walkthrough.py against both services on PostgreSQL and a real nats-server."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import uuid
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.governance import governance_config, running_governance
from tests.support.registry import registry_config, running_registry

WALKTHROUGH = Path(__file__).resolve().parents[2] / "examples" / "walkthrough.py"


def _load_walkthrough() -> ModuleType:
    spec = importlib.util.spec_from_file_location("walkthrough", WALKTHROUGH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up in sys.modules while the class is built.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
async def walkthrough_result(fresh_pg_url, nats_server):
    prefix = f"t{uuid.uuid4().hex[:10]}"
    registry_cfg = registry_config(
        fresh_pg_url(), nats_server.url, prefix, governed_stages=("PRODUCTION",),
        governance_stream_name=f"{prefix}_GOVERNANCE",
    )
    async with running_registry(registry_cfg) as registry:
        config = governance_config(fresh_pg_url(), nats_server.url, prefix, registry.target)
        async with running_governance(config) as governance:
            module = _load_walkthrough()
            tokens = await _grant_walkthrough_roles(module, registry, governance)
            lines: list[str] = []
            # The walkthrough uses the blocking SDK, so it runs off the loop that serves both services.
            try:
                result = await asyncio.to_thread(
                    module.run_walkthrough, registry.target, f"127.0.0.1:{governance.port}", run_id="t",
                    out=lines.append, tokens=tokens,
                )
            finally:
                # pytest shows this output only when the walkthrough fails.
                print("\n".join(lines))
            yield result


async def _grant_walkthrough_roles(module: ModuleType, registry, governance) -> dict[str, str]:
    """Bind the roles each walkthrough principal needs and mint its token, when the services
    authenticate; return no tokens when they do not."""
    try:
        from tests.support.auth import grant_and_wait, issuer
    except ImportError:
        return {}
    # The author also holds the reviewer role, so separation of duties, not a missing role, is
    # what stops the author approving their own version.
    roles = [
        (module.AUTHOR, "contributor"), (module.AUTHOR, "reviewer"), (module.AUTHOR, "serving"),
        *[(reviewer, "reviewer") for reviewer in module.REVIEWERS],
        (module.RISK_OFFICE, "admin"),
    ]
    await grant_and_wait(registry, governance, roles)
    principals = {principal for principal, _ in roles}
    return {principal: issuer().mint(principal) for principal in principals}


async def test_redundant_and_ownerless_flagged(walkthrough_result) -> None:
    result = walkthrough_result
    models = result.models
    kinds_by_model = {(kind, model) for kind, model, _ in result.findings}
    assert ("redundant_model", models["copy"]) in kinds_by_model
    assert ("orphaned_model", models["ownerless"]) in kinds_by_model
    entries = {entry.model.removeprefix("models/"): entry for entry in result.portfolio}
    assert entries[models["ownerless"]].orphaned
    assert f"models/{models['screening']}" in entries[models["copy"]].redundant_with
    assert not entries[models["wine"]].orphaned


async def test_under_performing_version_rejected(walkthrough_result) -> None:
    decision = walkthrough_result.decisions["under_performing"]
    assert decision.state == "rejected"
    assert "auc-high-risk" in decision.failing_rule_ids
    assert decision.version.endswith("/versions/1")


async def test_high_risk_needs_two_reviewers(walkthrough_result) -> None:
    result = walkthrough_result
    decision = result.decisions["high_risk"]
    assert result.self_approval_error == "PERMISSION_DENIED"
    assert decision.state == "approved"
    assert decision.required_approvals == 2
    assert sorted(decision.approvals) == ["user:carla@example.com", "user:dan@example.com"]
    assert result.deployment_allowed_after_approval


async def test_drift_alerts_block_deployment(walkthrough_result) -> None:
    result = walkthrough_result
    if result.monitoring_error:
        # NOTE: the monitoring RPCs were not wired into governance when this test was written; the
        # walkthrough's monitoring steps follow the proto contract and this part runs once they are.
        pytest.skip(f"monitoring RPCs unavailable: {result.monitoring_error}")
    kinds = {kind for kind, _ in result.alerts}
    assert "data_drift" in kinds
    assert "concept_drift" in kinds
    assert "driver_shift" in kinds
    assert ("data_drift", "mean radius") in result.alerts
    assert result.deployment_denials_after_drift
    assert {"drift", "open_critical_finding"} & set(result.deployment_denials_after_drift)
