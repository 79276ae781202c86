"""Builders for portfolio snapshots and registry events used by the governance unit tests."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from modelward_governance.domain.portfolio import (
    Metric,
    PortfolioModel,
    PortfolioVersion,
    RiskTier,
    Stage,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)
ARTIFACT = "a" * 64
DATASET = "d" * 64
COMMIT = "c" * 40


def days(count: float) -> timedelta:
    return timedelta(days=count)


def make_version(number: int = 1, **changes: Any) -> PortfolioVersion:
    """A version that passes every rule of the default policy unless `changes` break it."""
    version = PortfolioVersion(
        version=number,
        created_by="user:author@example.com",
        create_time=T0,
        description="gradient boosted trees",
        artifact_uri=f"s3://models/churn/{number}",
        artifact_sha256=ARTIFACT,
        training_dataset_sha256=DATASET,
        code_repository="https://git.example.com/churn",
        code_commit=COMMIT,
        has_signature=True,
        metrics=(Metric("auc", 0.82, "test"),),
        feature_names=("tenure", "plan", "monthly_charges"),
        stage=Stage.NONE,
        stage_time=T0,
    )
    return dataclasses.replace(version, **changes)


def make_model(*versions: PortfolioVersion, **changes: Any) -> PortfolioModel:
    """A HIGH-risk model with complete metadata and the given versions."""
    model = PortfolioModel(
        uid="uid-churn",
        model_id="churn",
        create_time=T0,
        description="predicts churn",
        owner="user:owner@example.com",
        team="retention",
        risk_tier=RiskTier.HIGH,
        task_type="binary_classification",
        tags={"domain": "marketing"},
        versions={version.version: version for version in versions},
        last_activity_time=T0,
    )
    return dataclasses.replace(model, **changes)
