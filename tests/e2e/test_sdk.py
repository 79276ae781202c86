"""The Python SDK against both services on PostgreSQL and a real nats-server."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import numpy as np
import pytest

from modelward_protos.governance.v1 import monitoring_pb2 as mon
from modelward_protos.registry.v1 import resources_pb2 as res
from modelward_sdk import (
    AbortedError,
    AlreadyExistsError,
    AsyncGovernanceClient,
    AsyncRegistryClient,
    GovernanceClient,
    InvalidArgumentError,
    NotFoundError,
    RegistryClient,
    dataset_digest,
)
from tests.support.sdk_stack import sdk_stack

AUTHOR = "user:ana@example.com"
ARTIFACT = res.Artifact(uri="s3://models/model.onnx", sha256="cd" * 32, format="onnx")


@pytest.fixture(scope="module")
async def stack(fresh_pg_url, nats_server):
    roles = [(AUTHOR, "contributor"), (AUTHOR, "serving")]
    async with sdk_stack(fresh_pg_url, nats_server.url, roles) as running:
        yield running


def _registry(stack) -> RegistryClient:
    return RegistryClient(stack.registry, token=stack.token(AUTHOR), timeout=10)


def _governance(stack) -> GovernanceClient:
    return GovernanceClient(stack.governance, token=stack.token(AUTHOR), timeout=10)


def _lifecycle(stack) -> dict[str, object]:
    seen: dict[str, object] = {}
    with _registry(stack) as registry:
        created = registry.create_model(
            "sdk-churn", owner="team:growth", team="growth", risk_tier="medium", task_type="binary_classification",
            description="churn for the SDK test", tags={"domain": "retail"}, request_id="sdk-test-create",
        )
        seen["again"] = registry.create_model(
            "sdk-churn", owner="team:growth", team="growth", risk_tier="medium", task_type="binary_classification",
            description="churn for the SDK test", tags={"domain": "retail"}, request_id="sdk-test-create",
        )
        seen["created"] = created
        seen["updated"] = registry.update_model("sdk-churn", description="new text", etag=created.etag)
        with pytest.raises(AbortedError):
            registry.update_model("sdk-churn", description="stale", etag=created.etag)
        training = {"tenure": np.arange(50, dtype=float), "plan": ["basic", "pro"] * 25}
        version = registry.create_model_version(
            "sdk-churn",
            artifact=res.Artifact(uri="s3://models/churn.onnx", sha256="ab" * 32, format="onnx"),
            lineage=res.Lineage(training_dataset=res.DatasetRef(uri="mem://train", sha256=dataset_digest(training),
                                                                row_count=50)),
            metrics={"auc": 0.81}, hyperparameters={"depth": 4}, feature_names=["tenure", "plan"],
        )
        seen["version"] = version
        seen["aliased"] = registry.set_alias(version.name, "champion")
        seen["resolved"] = registry.resolve_alias("sdk-churn", "champion")
        for index in range(5):
            registry.create_model(f"sdk-page-{index}", owner="team:paging")
        seen["paged"] = [m.model_id for m in registry.list_models(filter='owner = "team:paging"', page_size=2)]
        seen["history"] = [entry.type for entry in registry.history("sdk-churn", page_size=2)]
        with pytest.raises(NotFoundError) as missing:
            registry.get_model("sdk-missing")
        seen["missing"] = missing.value
        with pytest.raises(InvalidArgumentError) as invalid:
            registry.create_model("bad name!")
        seen["invalid"] = invalid.value
        with pytest.raises(AlreadyExistsError):
            registry.create_model("SDK-CHURN")
    return seen


async def test_sync_registry_lifecycle(stack) -> None:
    seen = await asyncio.to_thread(_lifecycle, stack)
    assert seen["again"].uid == seen["created"].uid
    assert seen["updated"].description == "new text"
    assert seen["version"].name == "models/sdk-churn/versions/1"
    assert seen["version"].hyperparameters["depth"] == "4"
    assert seen["resolved"].name == seen["version"].name
    assert seen["paged"] == [f"sdk-page-{index}" for index in range(5)]
    assert seen["history"][:2] == ["ModelCreated", "ModelUpdated"]
    assert "ModelVersionCreated" in seen["history"]
    assert seen["missing"].code.name == "NOT_FOUND"
    assert "sdk-missing" in seen["missing"].message
    assert seen["invalid"].field == "model_id"
    assert seen["invalid"].field_violations[0].field == "model_id"


async def test_async_clients(stack) -> None:
    async with AsyncRegistryClient(stack.registry, token=stack.token(AUTHOR), timeout=10) as registry:
        await registry.create_model("sdk-async", owner="team:async", risk_tier="low")
        version = await registry.create_model_version(
            "sdk-async", artifact=ARTIFACT, metrics={"rmse": 1.5}, feature_names=["x"]
        )
        names = [v.name async for v in registry.list_model_versions("sdk-async")]
    assert names == [version.name]
    async with AsyncGovernanceClient(stack.governance, token=stack.token(AUTHOR), timeout=10) as governance:
        deadline = time.monotonic() + 20
        entries = []
        while time.monotonic() < deadline:
            entries = [entry async for entry in governance.list_portfolio(filter='owner = "team:async"')]
            if entries and entries[0].versions:
                break
            await asyncio.sleep(0.2)
        assert [entry.model for entry in entries] == ["models/sdk-async"]
        decision = await governance.check_deployment("sdk-async", version=1)
    assert not decision.allowed
    assert decision.reasons


def _upload(stack) -> tuple[object, list[tuple[int, int]]]:
    progress: list[tuple[int, int]] = []
    with _registry(stack) as registry:
        registry.create_model("sdk-monitored", owner="team:growth", risk_tier="low", task_type="regression")
        version = registry.create_model_version(
            "sdk-monitored", artifact=ARTIFACT, feature_names=["x", "city"], metrics={"rmse": 1.0}
        )
    rng = np.random.default_rng(1)
    data = {"x": rng.normal(size=1200), "city": np.array(["Recife", "Natal", "Belém"])[rng.integers(0, 3, 1200)],
            "prediction": rng.normal(size=1200)}
    with _governance(stack) as governance:
        config = mon.MonitoringConfig(name=version.name, prediction_column="prediction")
        deadline = time.monotonic() + 20
        while True:
            # Governance learns of the version from the registry's events, a moment after it exists.
            try:
                governance.set_monitoring_config(config)
                break
            except NotFoundError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        response = governance.upload_reference_data(
            version.name, data, prediction_column="prediction", chunk_rows=500,
            progress=lambda done, total: progress.append((done, total)),
        )
    return response, progress


async def test_reference_upload_reports_progress(stack) -> None:
    response, progress = await asyncio.to_thread(_upload, stack)
    assert response.row_count == 1200
    assert set(response.column_names) == {"x", "city", "prediction"}
    assert progress == [(500, 1200), (1000, 1200), (1200, 1200)]


def _readme_sdk_example() -> str:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    return next(block for block in blocks if "from modelward_sdk import" in block)


async def test_readme_sdk_example_runs(stack, monkeypatch) -> None:
    monkeypatch.setenv("MODELWARD_REGISTRY", stack.registry)
    monkeypatch.setenv("MODELWARD_GOVERNANCE", stack.governance)
    monkeypatch.setenv("MODELWARD_TOKEN", stack.token())
    # The module's other tests use the README's model name on the same stack, so this run renames it.
    example = _readme_sdk_example().replace('"sdk-churn"', '"readme-churn"')
    code = compile(example, "README.md", "exec")

    namespace: dict[str, object] = {"__name__": "readme_example"}
    await asyncio.to_thread(exec, code, namespace)
    assert namespace["version"].name == "models/readme-churn/versions/1"
    assert isinstance(namespace["findings"], list)
