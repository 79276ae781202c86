"""Request builders with realistic defaults."""

from __future__ import annotations

import hashlib

from modelward_protos.registry.v1 import registry_service_pb2 as rpc
from modelward_protos.registry.v1 import resources_pb2 as res


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def new_model(model_id: str, *, owner: str = "team:fraud", risk: int = res.RISK_TIER_HIGH, **fields: object) -> rpc.CreateModelRequest:
    """Build a CreateModel request whose model satisfies the default policy's metadata rules."""
    values: dict[str, object] = {
        "owner": owner, "team": "fraud", "risk_tier": risk, "task_type": "binary_classification",
        "description": f"{model_id} for tests", "tags": {"domain": "payments"},
    }
    values.update(fields)
    model = res.Model(**values)
    return rpc.CreateModelRequest(model_id=model_id, model=model)


def new_version(
    model_id: str,
    *,
    seed: str = "v",
    auc: float = 0.9,
    hyperparameters: int = 20,
    metrics: int = 10,
    tags: int = 5,
    features: tuple[str, ...] = ("amount", "age_days", "country"),
) -> rpc.CreateModelVersionRequest:
    version = res.ModelVersion(
        description=f"trained from {seed}",
        artifact=res.Artifact(uri=f"s3://models/{model_id}/{seed}.onnx", sha256=digest(seed), size_bytes=1024, format="onnx"),
        lineage=res.Lineage(
            training_dataset=res.DatasetRef(uri="s3://data/train.parquet", sha256=digest("train"), row_count=1000),
            evaluation_dataset=res.DatasetRef(uri="s3://data/eval.parquet", sha256=digest("eval"), row_count=200),
            code_repository="https://git.example.com/fraud.git",
            code_commit="a" * 40,
            pipeline_run_id=f"run-{seed}",
        ),
        hyperparameters={f"param_{i}": str(i) for i in range(hyperparameters)},
        metrics=[res.Metric(name="auc", value=auc, dataset_split="test")]
        + [res.Metric(name=f"metric_{i}", value=i / 10, dataset_split="test") for i in range(metrics - 1)],
        feature_names=list(features),
        tags={f"tag_{i}": f"value {i}" for i in range(tags)},
        signature=res.Signature(inputs=[res.ColumnSpec(name=name, dtype="float64") for name in features]),
    )
    return rpc.CreateModelVersionRequest(parent=f"models/{model_id}", model_version=version)
