"""examples/walkthrough.py against both services on PostgreSQL and a real nats-server.

One run gets a token per principal from the test issuer. The others have only the admin token, in
a data folder laid out as `modelward up` writes it, and provision their principals themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from modelward_protos.access.v1 import access_service_pb2 as access_pb
from modelward_sdk.names import enum_label
from tests.support.auth import issuer
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


@contextlib.asynccontextmanager
async def _services(fresh_pg_url, nats_server) -> AsyncIterator[tuple[Any, Any]]:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    registry_cfg = registry_config(
        fresh_pg_url(), nats_server.url, prefix, governed_stages=("PRODUCTION",),
        governance_stream_name=f"{prefix}_GOVERNANCE",
    )
    async with running_registry(registry_cfg) as registry:
        config = governance_config(fresh_pg_url(), nats_server.url, prefix, registry.target)
        async with running_governance(config) as governance:
            yield registry, governance


async def _run(module: ModuleType, *args: Any, **kwargs: Any) -> Any:
    lines: list[str] = []
    # The walkthrough uses the blocking SDK, so it runs off the loop that serves both services.
    try:
        return await asyncio.to_thread(module.run_walkthrough, *args, out=lines.append, **kwargs)
    finally:
        # pytest shows this output only when a test fails.
        print("\n".join(lines))


@pytest.fixture(scope="module")
async def walkthrough_result(fresh_pg_url, nats_server):
    async with _services(fresh_pg_url, nats_server) as (registry, governance):
        module = _load_walkthrough()
        tokens = await _grant_walkthrough_roles(module, registry, governance)
        yield await _run(module, registry.target, f"127.0.0.1:{governance.port}", run_id="t", tokens=tokens)


@pytest.fixture(scope="module")
async def admin_only_runs(fresh_pg_url, nats_server, tmp_path_factory):
    """Run the walkthrough twice on one stack, as the README does: no tokens mapping, and the
    addresses and the admin token only in the data folder that MODELWARD_HOME names."""
    async with _services(fresh_pg_url, nats_server) as (registry, governance):
        home = tmp_path_factory.mktemp("modelward-home")
        endpoints = {"registry": registry.target, "governance": f"127.0.0.1:{governance.port}"}
        (home / "endpoints.json").write_text(json.dumps(endpoints), encoding="utf-8")
        (home / "admin-token").write_text(issuer().admin_token + "\n", encoding="utf-8")
        module = _load_walkthrough()
        with pytest.MonkeyPatch.context() as patch:
            for variable in ("MODELWARD_TOKEN", "MODELWARD_REGISTRY", "MODELWARD_GOVERNANCE", "MODELWARD_PRINCIPAL"):
                patch.delenv(variable, raising=False)
            patch.setenv("MODELWARD_HOME", str(home))
            first = await _run(module)
            second = await _run(module)
        bindings = (await registry.access.ListRoleBindings(access_pb.ListRoleBindingsRequest(page_size=1000))).role_bindings
        tokens = (await registry.access.ListApiTokens(
            access_pb.ListApiTokensRequest(page_size=1000, show_revoked=True)
        )).api_tokens
        yield module, (first, second), list(bindings), list(tokens)


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
    kinds = {kind for kind, _ in result.alerts}
    assert "data_drift" in kinds
    assert "concept_drift" in kinds
    assert "driver_shift" in kinds
    assert ("data_drift", "mean radius") in result.alerts
    assert result.deployment_denials_after_drift
    assert {"drift", "open_critical_finding"} & set(result.deployment_denials_after_drift)


async def test_admin_only_run_separates_duties(admin_only_runs) -> None:
    _, runs, _, _ = admin_only_runs
    for result in runs:
        kinds_by_model = {(kind, model) for kind, model, _ in result.findings}
        assert ("redundant_model", result.models["copy"]) in kinds_by_model
        assert ("orphaned_model", result.models["ownerless"]) in kinds_by_model
        assert result.decisions["under_performing"].state == "rejected"
        assert "auc-high-risk" in result.decisions["under_performing"].failing_rule_ids
        assert result.self_approval_error == "PERMISSION_DENIED"
        assert result.decisions["high_risk"].state == "approved"
        assert sorted(result.decisions["high_risk"].approvals) == ["user:carla@example.com", "user:dan@example.com"]
        assert result.deployment_allowed_after_approval


async def test_admin_only_rerun_adds_no_bindings(admin_only_runs) -> None:
    module, runs, bindings, _ = admin_only_runs
    assert runs[0].models["screening"] != runs[1].models["screening"]
    bound = sorted((binding.principal, enum_label(access_pb.Role, binding.role)) for binding in bindings)
    assert bound == sorted(module.CAST_ROLES)
    assert all(not binding.scope.team and not binding.scope.model_uid for binding in bindings)


async def test_admin_only_runs_revoke_tokens(admin_only_runs) -> None:
    module, _, _, tokens = admin_only_runs
    principals = {principal for principal, _ in module.CAST_ROLES}
    assert len(tokens) == 2 * len(principals)
    assert {token.principal for token in tokens} == principals
    for token in tokens:
        assert token.HasField("revoke_time"), f"{token.name} of {token.principal} is not revoked"
        assert token.HasField("expire_time")
