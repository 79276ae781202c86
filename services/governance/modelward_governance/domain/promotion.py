"""The promotion workflow: automatic checks, then reviewers' decisions, then an outcome.

    REQUESTED --checks pass, approvals needed--> AWAITING_DECISIONS --enough approvals--> APPROVED
    REQUESTED --checks pass, no approval needed--> APPROVED
    REQUESTED --a blocking check fails--> REJECTED
    REQUESTED or AWAITING_DECISIONS --a reviewer rejects--> REJECTED
    REQUESTED or AWAITING_DECISIONS --cancel--> CANCELLED

Separation of duties: the principal that created the version and the one that requested the
promotion cannot approve it, inactive principals cannot decide, and each reviewer decides once,
so N approvals always come from N distinct principals. Each transition returns the new
`Promotion` with the domain events it produced, and leaves the input unchanged.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

from modelward_common.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from modelward_governance.domain.evaluation import RuleResult, promotion_checks
from modelward_governance.domain.policy import Policy
from modelward_governance.domain.portfolio import ModelState, PortfolioModel, RiskTier, Stage
from modelward_governance.domain.principals import PrincipalDirectory

GOVERNED_STAGES = frozenset({Stage.STAGING, Stage.PRODUCTION})


class PromotionState(enum.Enum):
    REQUESTED = "requested"
    AWAITING_DECISIONS = "awaiting_decisions"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


OPEN_STATES = frozenset({PromotionState.REQUESTED, PromotionState.AWAITING_DECISIONS})


class DecisionOutcome(enum.Enum):
    APPROVE = "approve"
    REJECT = "reject"


@dataclass(frozen=True)
class ReviewerDecision:
    reviewer: str
    outcome: DecisionOutcome
    comment: str
    decided_at: datetime


@dataclass(frozen=True)
class Promotion:
    promotion_id: str
    model_uid: str
    # `models/{model}` when the promotion was requested, for messages.
    model_name: str
    version: int
    target_stage: Stage
    requested_by: str
    # Principal that created the version.
    version_author: str
    requested_at: datetime
    archive_existing: bool = True
    state: PromotionState = PromotionState.REQUESTED
    risk_tier: RiskTier = RiskTier.UNSPECIFIED
    checks: tuple[RuleResult, ...] = ()
    required_approvals: int = 0
    # Rules that set `required_approvals`.
    approval_rule_ids: tuple[str, ...] = ()
    decisions: tuple[ReviewerDecision, ...] = ()
    # Rules whose failing checks rejected the promotion.
    failing_rule_ids: tuple[str, ...] = ()
    outcome_message: str = ""
    policy_revision: int = 0
    policy_sha256: str = ""
    checked_at: datetime | None = None
    resolved_at: datetime | None = None

    @property
    def version_name(self) -> str:
        return f"{self.model_name}/versions/{self.version}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def approvers(self) -> tuple[str, ...]:
        """Distinct approving reviewers, in the order they approved."""
        return tuple(
            dict.fromkeys(
                decision.reviewer
                for decision in self.decisions
                if decision.outcome is DecisionOutcome.APPROVE
            )
        )


@dataclass(frozen=True)
class DecisionRecorded:
    promotion: Promotion
    decision: ReviewerDecision


@dataclass(frozen=True)
class PromotionApproved:
    promotion: Promotion


@dataclass(frozen=True)
class PromotionRejected:
    promotion: Promotion
    # Failing checks with `blocks_promotion`; empty when a reviewer rejected.
    failing_checks: tuple[RuleResult, ...] = ()


PromotionEvent: TypeAlias = DecisionRecorded | PromotionApproved | PromotionRejected


@dataclass(frozen=True)
class PromotionUpdate:
    promotion: Promotion
    events: tuple[PromotionEvent, ...] = ()


def request_promotion(
    *,
    promotion_id: str,
    model: PortfolioModel,
    version: int,
    target_stage: Stage,
    requested_by: str,
    requested_at: datetime,
    archive_existing: bool = True,
) -> Promotion:
    """Open a promotion request, as read from the registry's PromotionRequested event."""
    if target_stage not in GOVERNED_STAGES:
        raise InvalidArgument(
            "target_stage", target_stage.value, "request a promotion to staging or production"
        )
    if model.state is not ModelState.ACTIVE:
        raise FailedPrecondition(
            f"{model.name} is {model.state.value}, so version {version} cannot be promoted",
            field="model",
            reason="MODEL_NOT_ACTIVE",
        )
    found = model.get_version(version)
    if found.stage is Stage.ARCHIVED:
        raise FailedPrecondition(
            f"{model.version_name(version)} is archived and cannot be promoted",
            field="version",
            reason="VERSION_ARCHIVED",
        )
    return Promotion(
        promotion_id=promotion_id,
        model_uid=model.uid,
        model_name=model.name,
        version=version,
        target_stage=target_stage,
        requested_by=requested_by,
        version_author=found.created_by,
        requested_at=requested_at,
        archive_existing=archive_existing,
        risk_tier=model.risk_tier,
    )


def run_checks(
    promotion: Promotion, policy: Policy, model: PortfolioModel, *, now: datetime
) -> PromotionUpdate:
    """Evaluate the promotion's automatic checks on the model as it is now and apply them."""
    checks = promotion_checks(policy, model, model.get_version(promotion.version), now=now)
    return apply_checks(promotion, policy, checks, risk_tier=model.risk_tier, at=now)


def apply_checks(
    promotion: Promotion,
    policy: Policy,
    checks: Sequence[RuleResult],
    *,
    risk_tier: RiskTier,
    at: datetime,
) -> PromotionUpdate:
    """Move a REQUESTED promotion on by its check results.

    A failing check with `blocks_promotion` rejects it, naming the failing rules. Otherwise the
    policy's approvals for the risk tier and target stage decide: none needed approves it at once,
    else it waits for that many distinct reviewers.
    """
    _require_state(promotion, {PromotionState.REQUESTED}, "evaluate its checks")
    required = policy.required_approvals(risk_tier, promotion.target_stage)
    checked = dataclasses.replace(
        promotion,
        checks=tuple(checks),
        risk_tier=risk_tier,
        required_approvals=required.count,
        approval_rule_ids=required.rule_ids,
        policy_revision=policy.revision,
        policy_sha256=policy.sha256,
        checked_at=at,
    )

    blocking = tuple(check for check in checks if check.failed and check.blocks_promotion)
    if blocking:
        listed = "; ".join(f"{check.rule_id}: {check.message}" for check in blocking)
        rejected = dataclasses.replace(
            checked,
            state=PromotionState.REJECTED,
            failing_rule_ids=tuple(dict.fromkeys(check.rule_id for check in blocking)),
            outcome_message=f"rejected by {len(blocking)} failing check(s): {listed}",
            resolved_at=at,
        )
        return PromotionUpdate(rejected, (PromotionRejected(rejected, blocking),))

    if required.count == 0:
        approved = dataclasses.replace(
            checked,
            state=PromotionState.APPROVED,
            outcome_message=(
                f"approved: checks passed and policy {policy.version} requires no reviewer for "
                f"{risk_tier.value} risk into {promotion.target_stage.value}"
            ),
            resolved_at=at,
        )
        return PromotionUpdate(approved, (PromotionApproved(approved),))

    return PromotionUpdate(dataclasses.replace(checked, state=PromotionState.AWAITING_DECISIONS))


def approve(
    promotion: Promotion,
    reviewer: str,
    comment: str,
    *,
    at: datetime,
    principals: PrincipalDirectory,
) -> PromotionUpdate:
    """Record an approval; the last approval needed approves the promotion.

    Raises PermissionDenied when the reviewer created the version, requested the promotion or
    is inactive, and FailedPrecondition when the promotion does not await decisions or the
    reviewer already decided on it.
    """
    _require_state(promotion, {PromotionState.AWAITING_DECISIONS}, "be approved")
    rules = ", ".join(promotion.approval_rule_ids) or "approvals_required"
    if reviewer == promotion.version_author:
        raise PermissionDenied(
            f"{reviewer} created {promotion.version_name} and cannot approve its promotion: "
            f"rule {rules} needs {promotion.required_approvals} reviewer(s) other than the "
            "version's author and the requester",
            field="reviewer",
            reason="SEPARATION_OF_DUTIES",
        )
    if reviewer == promotion.requested_by:
        raise PermissionDenied(
            f"{reviewer} requested the promotion of {promotion.version_name} "
            "and cannot approve it: "
            f"rule {rules} needs {promotion.required_approvals} reviewer(s) other than the "
            "version's author and the requester",
            field="reviewer",
            reason="SEPARATION_OF_DUTIES",
        )
    _require_active(reviewer, principals, promotion)
    _require_first_decision(promotion, reviewer)

    decision = ReviewerDecision(reviewer, DecisionOutcome.APPROVE, comment, at)
    decided = dataclasses.replace(promotion, decisions=promotion.decisions + (decision,))
    count = len(decided.approvers)
    if count < promotion.required_approvals:
        return PromotionUpdate(decided, (DecisionRecorded(decided, decision),))

    approved = dataclasses.replace(
        decided,
        state=PromotionState.APPROVED,
        outcome_message=(
            f"approved by {', '.join(decided.approvers)} "
            f"({count} of {promotion.required_approvals} required)"
        ),
        resolved_at=at,
    )
    return PromotionUpdate(
        approved, (DecisionRecorded(approved, decision), PromotionApproved(approved))
    )


def reject(
    promotion: Promotion,
    reviewer: str,
    comment: str,
    *,
    at: datetime,
    principals: PrincipalDirectory,
) -> PromotionUpdate:
    """Record a rejection, which rejects the promotion.

    The version's author and the requester may reject, which withdraws the request: separation
    of duties only limits who can let a version through. A reviewer who approved earlier may
    still reject. The comment is required so the requester learns why.
    """
    _require_state(promotion, OPEN_STATES, "be rejected")
    if not comment.strip():
        raise InvalidArgument(
            "comment", comment, "say why the version may not be promoted", problem="is empty"
        )
    _require_active(reviewer, principals, promotion)
    if any(
        d.reviewer == reviewer and d.outcome is DecisionOutcome.REJECT for d in promotion.decisions
    ):
        raise FailedPrecondition(
            f"{reviewer} already rejected {promotion.version_name}",
            field="reviewer",
            reason="REVIEWER_ALREADY_DECIDED",
        )

    decision = ReviewerDecision(reviewer, DecisionOutcome.REJECT, comment, at)
    rejected = dataclasses.replace(
        promotion,
        state=PromotionState.REJECTED,
        decisions=promotion.decisions + (decision,),
        outcome_message=f"rejected by {reviewer}: {comment}",
        resolved_at=at,
    )
    return PromotionUpdate(
        rejected, (DecisionRecorded(rejected, decision), PromotionRejected(rejected))
    )


def cancel(promotion: Promotion, reason: str, *, at: datetime) -> PromotionUpdate:
    """End an open promotion without a decision, for example when its version was archived.

    Returns no event: the registry's own event (archive, delete, new request) caused the
    cancellation, so subscribers already saw it.
    """
    _require_state(promotion, OPEN_STATES, "be cancelled")
    cancelled = dataclasses.replace(
        promotion,
        state=PromotionState.CANCELLED,
        outcome_message=f"cancelled: {reason}",
        resolved_at=at,
    )
    return PromotionUpdate(cancelled)


def _require_state(
    promotion: Promotion, allowed: frozenset[PromotionState] | set[PromotionState], action: str
) -> None:
    if promotion.state not in allowed:
        expected = " or ".join(sorted(state.value for state in allowed))
        raise FailedPrecondition(
            f"promotion {promotion.promotion_id} of {promotion.version_name} is "
            f"{promotion.state.value} and cannot {action}; it must be {expected}",
            field="promotion",
            reason="PROMOTION_NOT_" + "_OR_".join(sorted(state.name for state in allowed)),
        )


def _require_active(reviewer: str, principals: PrincipalDirectory, promotion: Promotion) -> None:
    if not principals.is_active(reviewer):
        raise PermissionDenied(
            f"{reviewer} is inactive and cannot decide on {promotion.version_name}: "
            "reactivate the principal with SetPrincipalActive or ask another reviewer",
            field="reviewer",
            reason="PRINCIPAL_INACTIVE",
        )


def _require_first_decision(promotion: Promotion, reviewer: str) -> None:
    previous = [decision for decision in promotion.decisions if decision.reviewer == reviewer]
    if previous:
        raise FailedPrecondition(
            f"{reviewer} already decided on {promotion.version_name} at "
            f"{previous[0].decided_at.isoformat()}; each reviewer counts once, so another "
            f"reviewer must approve "
            f"({len(promotion.approvers)} of {promotion.required_approvals} so far)",
            field="reviewer",
            reason="REVIEWER_ALREADY_DECIDED",
        )
