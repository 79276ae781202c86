from __future__ import annotations

import math

from modelward_governance.domain.alerts import AlertKind, OpenAlert
from modelward_governance.domain.evaluation import (
    RuleResult,
    evaluate_model,
    evaluate_version,
    promotion_checks,
)
from modelward_governance.domain.policy import Policy, RuleKind
from modelward_governance.domain.policy_yaml import default_policy_text, parse_policy
from modelward_governance.domain.portfolio import (
    Metric,
    ModelState,
    PortfolioModel,
    PortfolioVersion,
    RiskTier,
    Stage,
)
from modelward_governance.domain.severity import Severity
from tests.unit.governance.builders import T0, days, make_model, make_version

NOW = T0 + days(30)


def default_policy() -> Policy:
    return parse_policy(default_policy_text(), revision=4)


def result_of(results: tuple[RuleResult, ...], rule_id: str) -> RuleResult:
    matching = [result for result in results if result.rule_id == rule_id]
    assert len(matching) == 1, f"expected one result for {rule_id}, got {matching}"
    return matching[0]


def version_result(
    model: PortfolioModel, version: PortfolioVersion, rule_id: str, **kwargs: object
) -> RuleResult:
    results = evaluate_version(default_policy(), model, version, now=NOW, **kwargs)  # type: ignore[arg-type]
    return result_of(results, rule_id)


def test_complete_model_is_compliant() -> None:
    model = make_model(make_version(1))

    evaluation = evaluate_model(default_policy(), model, now=NOW)

    assert evaluation.compliant, [result.message for result in evaluation.failures()]
    assert evaluation.policy_revision == 4
    assert set(evaluation.version_results) == {1}


def test_owner_required_fails_without_owner() -> None:
    model = make_model(make_version(1), owner="")

    result = result_of(evaluate_model(default_policy(), model, now=NOW).model_results, "owner")

    assert not result.passed
    assert result.version is None
    assert result.severity is Severity.ERROR
    assert result.blocks_promotion
    assert "no owner" in result.message


def test_required_model_metadata_lists_missing() -> None:
    model = make_model(make_version(1), team="", risk_tier=RiskTier.UNSPECIFIED, tags={})

    result = result_of(
        evaluate_model(default_policy(), model, now=NOW).model_results, "model-metadata"
    )

    assert not result.passed
    assert result.evidence["missing_fields"] == ["team", "risk_tier"]
    assert result.evidence["missing_tags"] == ["domain"]
    assert result.message == "the model is missing fields team, risk_tier and tags domain"


def test_required_version_metadata() -> None:
    version = make_version(1, description="", has_signature=False)

    result = version_result(make_model(version), version, "version-metadata")

    assert not result.passed
    assert result.evidence["missing_fields"] == ["description", "signature"]
    assert result.severity is Severity.WARNING


def test_metric_threshold_pass_fail_missing_and_nan() -> None:
    cases = [
        (
            (Metric("auc", 0.8, "test"),),
            True,
            "auc on split 'test' is 0.8, which meets auc >= 0.75",
        ),
        ((Metric("auc", 0.7, "test"),), False, "auc on split 'test' is 0.7; expected auc >= 0.75"),
        (
            (Metric("auc", 0.9, "validation"),),
            False,
            "metric auc on split 'test' is not reported; expected auc >= 0.75",
        ),
        (
            (Metric("auc", math.nan, "test"),),
            False,
            "auc on split 'test' is nan; expected auc >= 0.75",
        ),
    ]
    for metrics, passed, message in cases:
        version = make_version(1, metrics=metrics)

        result = version_result(make_model(version), version, "auc-high-risk")

        assert result.passed is passed, metrics
        assert result.message == message


def test_metric_threshold_depends_on_risk_tier() -> None:
    version = make_version(1, metrics=(Metric("auc", 0.72, "test"),))
    low = make_model(version, risk_tier=RiskTier.LOW)
    medium = make_model(version, risk_tier=RiskTier.MEDIUM)

    low_result = version_result(low, version, "auc-high-risk")
    medium_result = version_result(medium, version, "auc-medium-risk")

    assert low_result.passed
    assert not low_result.applicable
    assert medium_result.passed
    assert medium_result.applicable


def test_lineage_required_names_missing_fields() -> None:
    version = make_version(1, training_dataset_sha256="", code_commit="")

    result = version_result(make_model(version), version, "lineage")

    assert not result.passed
    assert result.evidence["missing"] == ["training_dataset_sha256", "code_commit"]


def test_forbidden_features_case_insensitive() -> None:
    version = make_version(1, feature_names=("tenure", "Gender", "AGE"))

    result = version_result(make_model(version), version, "protected-attributes")

    assert not result.passed
    assert result.severity is Severity.CRITICAL
    assert result.evidence["found"] == ["AGE", "Gender"]


def test_approvals_required_for_production_versions() -> None:
    unapproved = make_version(1, stage=Stage.PRODUCTION)
    approved = make_version(
        1, stage=Stage.PRODUCTION, approved_by=("user:r1@example.com", "user:r2@example.com")
    )
    draft = make_version(1)

    assert not version_result(make_model(unapproved), unapproved, "approvals-high").passed
    assert version_result(make_model(approved), approved, "approvals-high").passed
    assert not version_result(make_model(draft), draft, "approvals-high").applicable


def test_max_days_without_review() -> None:
    reviewed = make_version(1, stage=Stage.PRODUCTION, last_review_time=NOW - days(100))
    stale = make_version(1, stage=Stage.PRODUCTION, last_review_time=NOW - days(200))

    assert version_result(make_model(reviewed), reviewed, "high-risk-review").passed
    result = version_result(make_model(stale), stale, "high-risk-review")
    assert not result.passed
    assert result.evidence["max_days"] == 180
    assert "last reviewed 200 days ago" in result.message


def test_drift_requires_review_after_critical_alert() -> None:
    version = make_version(1, stage=Stage.PRODUCTION, last_review_time=NOW - days(10))
    model = make_model(version)
    critical = OpenAlert(
        "alert-1", model.uid, 1, AlertKind.DATA_DRIFT, Severity.CRITICAL, NOW - days(2), "income"
    )
    warning = OpenAlert(
        "alert-2", model.uid, 1, AlertKind.DATA_DRIFT, Severity.WARNING, NOW - days(2)
    )
    before_review = OpenAlert(
        "alert-3", model.uid, 1, AlertKind.CONCEPT_DRIFT, Severity.CRITICAL, NOW - days(20)
    )

    failing = version_result(
        model, version, "drift-re-review", open_alerts=(critical, warning, before_review)
    )
    passing = version_result(
        model, version, "drift-re-review", open_alerts=(warning, before_review)
    )

    assert not failing.passed
    assert failing.evidence["alert_ids"] == ["alert-1"]
    assert "needs a re-review" in failing.message
    assert passing.passed


def test_promotion_checks_leave_out_review_rules() -> None:
    version = make_version(1)
    model = make_model(version, owner="")

    checks = promotion_checks(default_policy(), model, version, now=NOW)

    kinds = {check.kind for check in checks}
    assert RuleKind.APPROVALS_REQUIRED not in kinds
    assert RuleKind.MAX_DAYS_WITHOUT_REVIEW not in kinds
    assert RuleKind.DRIFT_REQUIRES_REVIEW not in kinds
    assert not result_of(checks, "owner").passed


def test_archived_model_gets_no_results() -> None:
    model = make_model(make_version(1, stage=Stage.PRODUCTION), owner="", state=ModelState.ARCHIVED)

    evaluation = evaluate_model(default_policy(), model, now=NOW)

    assert evaluation.all_results() == ()
    assert evaluation.compliant


def test_results_carry_policy_identity() -> None:
    policy = default_policy()
    version = make_version(1)

    results = evaluate_version(policy, make_model(version), version, now=NOW)

    assert {result.policy_sha256 for result in results} == {policy.sha256}
    assert {result.policy_revision for result in results} == {4}
    assert {result.version for result in results} == {1}
