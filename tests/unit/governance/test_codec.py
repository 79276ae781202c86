"""The JSON codec of governance's stored dataclasses gives back equal values after a round trip
through JSON text, as the database's JSON columns store them."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from modelward_governance.adapters import codec
from modelward_governance.domain.evaluation import RuleKind, RuleResult
from modelward_governance.domain.findings import Finding, FindingKey, FindingKind
from modelward_governance.domain.portfolio import Stage
from modelward_governance.domain.promotion import DecisionOutcome, Promotion, PromotionState, ReviewerDecision
from modelward_governance.domain.redundancy import MatchKind, RedundancyPair
from modelward_governance.domain.severity import Severity
from tests.unit.governance.builders import T0, make_model, make_version


def _round_trip(value: Any) -> Any:
    return codec.load(type(value), json.loads(json.dumps(codec.encode(value))))


def _finding(**changes: Any) -> Finding:
    finding = Finding(
        finding_id="f-1",
        key=FindingKey("uid-churn", 2, FindingKind.REDUNDANT_MODEL, "redundant.feature_similarity.uid-x"),
        severity=Severity.WARNING,
        blocks_promotion=False,
        message="version 2 has near-duplicate features of version 1 of model uid-x",
        evidence={"similarity": 0.9, "shared_feature_count": 27, "task_type": "regression"},
        policy_revision=3,
        opened_at=T0,
    )
    return dataclasses.replace(finding, **changes)


def _promotion() -> Promotion:
    check = RuleResult(
        rule_id="auc-high", kind=next(iter(RuleKind)), passed=True, applicable=True, severity=Severity.ERROR,
        blocks_promotion=True, message="auc 0.82 is at least 0.75", evidence={"auc": 0.82},
        policy_revision=3, policy_sha256="e" * 64, model_uid="uid-churn", version=None,
    )
    return Promotion(
        promotion_id="p-1", model_uid="uid-churn", model_name="models/churn", version=2,
        target_stage=Stage.PRODUCTION, requested_by="user:ana@example.com",
        version_author="user:bo@example.com", requested_at=T0, state=PromotionState.APPROVED,
        checks=(check,), required_approvals=2, approval_rule_ids=("two-reviewers",),
        decisions=(ReviewerDecision("user:cy@example.com", next(iter(DecisionOutcome)), "fine", T0 + timedelta(hours=1)),),
        checked_at=T0, resolved_at=None,
    )


@pytest.mark.parametrize("value", [
    make_model(make_version(1), make_version(2, stage=Stage.PRODUCTION, feature_names=())),
    make_model(make_version(7, create_time=datetime(2025, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=-3))))),
    make_model(),
    _finding(),
    _finding(resolved_at=T0 + timedelta(days=1), resolution="the models no longer match", evidence={}),
    _promotion(),
    RedundancyPair(MatchKind.ARTIFACT_DIGEST, frozenset({"uid-a", "uid-b"})),
], ids=["model", "model-with-offset-time", "model-without-versions", "finding", "resolved-finding", "promotion", "pair"])
def test_round_trip_gives_equal_value(value: Any) -> None:
    assert _round_trip(value) == value


def test_integer_keys_and_enums_come_back_typed() -> None:
    model = _round_trip(make_model(make_version(3)))

    assert list(model.versions) == [3]
    assert model.versions[3].stage is Stage.NONE
    assert model.create_time == T0
    assert model.create_time.tzinfo == UTC


def test_missing_optional_fields_take_their_defaults() -> None:
    data = codec.encode(_finding())
    del data["resolution"]

    assert codec.load(Finding, data) == _finding()
