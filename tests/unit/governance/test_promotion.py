from __future__ import annotations

import pytest

from modelward_common.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from modelward_governance.domain.policy import Policy
from modelward_governance.domain.policy_yaml import default_policy_text, parse_policy
from modelward_governance.domain.portfolio import ModelState, PortfolioModel, RiskTier, Stage
from modelward_governance.domain.principals import PrincipalDirectory
from modelward_governance.domain.promotion import (
    DecisionRecorded,
    Promotion,
    PromotionApproved,
    PromotionRejected,
    PromotionState,
    approve,
    cancel,
    reject,
    request_promotion,
    run_checks,
)
from tests.unit.governance.builders import T0, days, make_model, make_version

AUTHOR = "user:author@example.com"
REQUESTER = "user:requester@example.com"
REVIEWER_1 = "user:r1@example.com"
REVIEWER_2 = "user:r2@example.com"
ACTIVE = PrincipalDirectory()
NOW = T0 + days(1)


def default_policy() -> Policy:
    return parse_policy(default_policy_text(), revision=2)


def requested(model: PortfolioModel | None = None) -> Promotion:
    return request_promotion(
        promotion_id="p-1",
        model=model or make_model(make_version(1, created_by=AUTHOR)),
        version=1,
        target_stage=Stage.PRODUCTION,
        requested_by=REQUESTER,
        requested_at=T0,
    )


def awaiting(model: PortfolioModel | None = None) -> Promotion:
    model = model or make_model(make_version(1, created_by=AUTHOR))
    update = run_checks(requested(model), default_policy(), model, now=NOW)
    assert update.promotion.state is PromotionState.AWAITING_DECISIONS
    return update.promotion


def test_request_records_author_and_requester() -> None:
    promotion = requested()

    assert promotion.state is PromotionState.REQUESTED
    assert promotion.version_author == AUTHOR
    assert promotion.requested_by == REQUESTER
    assert promotion.version_name == "models/churn/versions/1"


def test_request_rejects_bad_target_and_archived() -> None:
    with pytest.raises(InvalidArgument, match="target_stage 'archived' is invalid"):
        request_promotion(
            promotion_id="p",
            model=make_model(make_version(1)),
            version=1,
            target_stage=Stage.ARCHIVED,
            requested_by=REQUESTER,
            requested_at=T0,
        )
    with pytest.raises(FailedPrecondition, match="is archived"):
        requested(make_model(make_version(1), state=ModelState.ARCHIVED))


def test_high_risk_awaits_two_reviewers() -> None:
    promotion = awaiting()

    assert promotion.required_approvals == 2
    assert promotion.approval_rule_ids == ("approvals-high",)
    assert promotion.checks
    assert all(check.passed for check in promotion.checks)
    assert promotion.policy_revision == 2


def test_two_distinct_reviewers_approve_high_promotion() -> None:
    first = approve(awaiting(), REVIEWER_1, "looks good", at=NOW, principals=ACTIVE)
    second = approve(first.promotion, REVIEWER_2, "agreed", at=NOW + days(1), principals=ACTIVE)

    assert first.promotion.state is PromotionState.AWAITING_DECISIONS
    assert [type(event) for event in first.events] == [DecisionRecorded]
    assert second.promotion.state is PromotionState.APPROVED
    assert [type(event) for event in second.events] == [DecisionRecorded, PromotionApproved]
    assert second.promotion.approvers == (REVIEWER_1, REVIEWER_2)
    assert second.promotion.resolved_at == NOW + days(1)
    assert (
        second.promotion.outcome_message
        == f"approved by {REVIEWER_1}, {REVIEWER_2} (2 of 2 required)"
    )


def test_author_cannot_approve_own_version() -> None:
    with pytest.raises(PermissionDenied) as raised:
        approve(awaiting(), AUTHOR, "mine", at=NOW, principals=ACTIVE)

    assert raised.value.reason == "SEPARATION_OF_DUTIES"
    assert AUTHOR in raised.value.message
    assert "approvals-high" in raised.value.message


def test_requester_cannot_approve() -> None:
    with pytest.raises(PermissionDenied) as raised:
        approve(awaiting(), REQUESTER, "please", at=NOW, principals=ACTIVE)

    assert raised.value.reason == "SEPARATION_OF_DUTIES"
    assert f"{REQUESTER} requested the promotion" in raised.value.message


def test_same_reviewer_twice_is_rejected() -> None:
    first = approve(awaiting(), REVIEWER_1, "ok", at=NOW, principals=ACTIVE)

    with pytest.raises(FailedPrecondition) as raised:
        approve(first.promotion, REVIEWER_1, "ok again", at=NOW, principals=ACTIVE)

    assert raised.value.reason == "REVIEWER_ALREADY_DECIDED"
    assert "1 of 2 so far" in raised.value.message
    assert first.promotion.approvers == (REVIEWER_1,)


def test_inactive_reviewer_cannot_approve() -> None:
    directory = ACTIVE.with_active(REVIEWER_1, False)

    with pytest.raises(PermissionDenied) as raised:
        approve(awaiting(), REVIEWER_1, "ok", at=NOW, principals=directory)

    assert raised.value.reason == "PRINCIPAL_INACTIVE"


def test_any_rejection_rejects() -> None:
    first = approve(awaiting(), REVIEWER_1, "ok", at=NOW, principals=ACTIVE)

    update = reject(first.promotion, REVIEWER_2, "calibration is off", at=NOW, principals=ACTIVE)

    assert update.promotion.state is PromotionState.REJECTED
    assert [type(event) for event in update.events] == [DecisionRecorded, PromotionRejected]
    assert update.promotion.outcome_message == f"rejected by {REVIEWER_2}: calibration is off"


def test_rejection_needs_a_comment() -> None:
    with pytest.raises(InvalidArgument, match="comment '  ' is empty"):
        reject(awaiting(), REVIEWER_1, "  ", at=NOW, principals=ACTIVE)


def test_blocking_check_failure_rejects_with_rules() -> None:
    model = make_model(
        make_version(1, created_by=AUTHOR, feature_names=("tenure", "gender"), code_commit="")
    )

    update = run_checks(requested(model), default_policy(), model, now=NOW)

    assert update.promotion.state is PromotionState.REJECTED
    assert update.promotion.failing_rule_ids == ("lineage", "protected-attributes")
    event = update.events[0]
    assert isinstance(event, PromotionRejected)
    assert [check.rule_id for check in event.failing_checks] == ["lineage", "protected-attributes"]
    assert "rejected by 2 failing check(s)" in update.promotion.outcome_message


def test_non_blocking_failure_does_not_reject() -> None:
    model = make_model(make_version(1, created_by=AUTHOR, description=""))

    promotion = awaiting(model)

    failing = [check.rule_id for check in promotion.checks if not check.passed]
    assert failing == ["version-metadata"]


def test_no_required_approvals_approves_at_once() -> None:
    policy = parse_policy("format_version: 1\nname: open\nrules: []\n", revision=1)
    model = make_model(make_version(1, created_by=AUTHOR), risk_tier=RiskTier.LOW)

    update = run_checks(requested(model), policy, model, now=NOW)

    assert update.promotion.state is PromotionState.APPROVED
    assert [type(event) for event in update.events] == [PromotionApproved]


def test_decisions_after_outcome_are_rejected() -> None:
    rejected = reject(awaiting(), REVIEWER_1, "no", at=NOW, principals=ACTIVE).promotion

    with pytest.raises(FailedPrecondition) as raised:
        approve(rejected, REVIEWER_2, "yes", at=NOW, principals=ACTIVE)

    assert "is rejected and cannot be approved" in raised.value.message


def test_checks_run_only_once() -> None:
    promotion = awaiting()

    with pytest.raises(FailedPrecondition, match="cannot evaluate its checks"):
        run_checks(promotion, default_policy(), make_model(make_version(1)), now=NOW)


def test_cancel_open_promotion() -> None:
    update = cancel(awaiting(), "version 1 was archived", at=NOW)

    assert update.promotion.state is PromotionState.CANCELLED
    assert update.events == ()
    with pytest.raises(FailedPrecondition):
        cancel(update.promotion, "again", at=NOW)
