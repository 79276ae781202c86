from __future__ import annotations

from modelward_governance.domain.alerts import AlertKind, OpenAlert
from modelward_governance.domain.deployment import DenialCode, check_deployment
from modelward_governance.domain.evaluation import evaluate_model
from modelward_governance.domain.findings import Finding, FindingKey, FindingKind
from modelward_governance.domain.orphans import OrphanStatus, assess_orphan
from modelward_governance.domain.policy_yaml import default_policy_text, parse_policy
from modelward_governance.domain.portfolio import ModelState, PortfolioModel, Stage
from modelward_governance.domain.principals import PrincipalDirectory
from modelward_governance.domain.severity import Severity
from tests.unit.governance.builders import T0, days, make_model, make_version

NOW = T0 + days(10)
APPROVED = {
    "stage": Stage.PRODUCTION,
    "last_review_time": T0 + days(1),
    "approved_by": ("user:r1@example.com", "user:r2@example.com"),
}


def decide(model: PortfolioModel, **kwargs: object) -> list[DenialCode]:
    version = model.get_version(1)
    orphan = assess_orphan(model, PrincipalDirectory(), NOW)
    decision = check_deployment(model, version, orphan_status=orphan, **kwargs)  # type: ignore[arg-type]
    assert decision.allowed is (not decision.reasons)
    return [reason.code for reason in decision.reasons]


def test_approved_production_version_is_allowed() -> None:
    assert decide(make_model(make_version(1, **APPROVED))) == []


def test_unapproved_draft_is_denied() -> None:
    assert decide(make_model(make_version(1))) == [
        DenialCode.NOT_IN_PRODUCTION,
        DenialCode.NOT_APPROVED,
    ]


def test_archived_and_deleted() -> None:
    archived_version = make_model(make_version(1, **{**APPROVED, "stage": Stage.ARCHIVED}))
    deleted_model = make_model(make_version(1, **APPROVED), state=ModelState.DELETED)

    assert decide(archived_version) == [DenialCode.ARCHIVED]
    assert decide(deleted_model) == [DenialCode.DELETED]


def test_orphaned_model_is_denied() -> None:
    assert decide(make_model(make_version(1, **APPROVED), owner="")) == [DenialCode.ORPHANED]


def test_critical_drift_and_finding_are_denied() -> None:
    model = make_model(make_version(1, **APPROVED))
    alert = OpenAlert(
        "alert-1", model.uid, 1, AlertKind.CONCEPT_DRIFT, Severity.CRITICAL, NOW, "auc"
    )
    warning = OpenAlert("alert-2", model.uid, 1, AlertKind.DATA_DRIFT, Severity.WARNING, NOW)
    finding = Finding(
        "f-1",
        FindingKey(model.uid, 1, FindingKind.POLICY_VIOLATION, "protected-attributes"),
        Severity.CRITICAL,
        True,
        "uses gender",
        {},
        1,
        NOW,
    )

    codes = decide(model, open_alerts=(alert, warning), open_findings=(finding,))

    assert codes == [DenialCode.DRIFT, DenialCode.OPEN_CRITICAL_FINDING]


def test_blocking_rule_failing_now_is_denied() -> None:
    model = make_model(make_version(1, **APPROVED, code_commit=""))
    results = evaluate_model(parse_policy(default_policy_text()), model, now=NOW).all_results()

    assert decide(model, current_results=results) == [DenialCode.BLOCKING_RULE_FAILED]


def test_other_stage_can_be_required() -> None:
    model = make_model(make_version(1, **{**APPROVED, "stage": Stage.STAGING}))
    version = model.get_version(1)

    decision = check_deployment(
        model, version, orphan_status=OrphanStatus(model.uid), required_stage=Stage.STAGING
    )

    assert decision.allowed
