"""Deployment checks: whether a version may serve, as serving platforms request through
CheckDeployment."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from modelward_governance.domain.alerts import OpenAlert
from modelward_governance.domain.evaluation import RuleResult
from modelward_governance.domain.findings import Finding, FindingKind
from modelward_governance.domain.orphans import OrphanStatus
from modelward_governance.domain.portfolio import (
    ModelState,
    PortfolioModel,
    PortfolioVersion,
    Stage,
)
from modelward_governance.domain.severity import Severity


class DenialCode(enum.Enum):
    """Reasons against a deployment, most serious first."""

    DELETED = "deleted"
    ARCHIVED = "archived"
    NOT_IN_PRODUCTION = "not_in_production"
    NOT_APPROVED = "not_approved"
    ORPHANED = "orphaned"
    DRIFT = "drift"
    OPEN_CRITICAL_FINDING = "open_critical_finding"
    BLOCKING_RULE_FAILED = "blocking_rule_failed"


_ORDER = {code: index for index, code in enumerate(DenialCode)}


@dataclass(frozen=True)
class DenialReason:
    code: DenialCode
    message: str
    finding_id: str = ""
    rule_id: str = ""
    alert_id: str = ""


@dataclass(frozen=True)
class DeploymentDecision:
    model_uid: str
    version: int
    # Every reason against the deployment, most serious first; empty when it is allowed.
    reasons: tuple[DenialReason, ...]

    @property
    def allowed(self) -> bool:
        return not self.reasons


def check_deployment(
    model: PortfolioModel,
    version: PortfolioVersion,
    *,
    orphan_status: OrphanStatus,
    open_findings: Sequence[Finding] = (),
    open_alerts: Sequence[OpenAlert] = (),
    current_results: Sequence[RuleResult] = (),
    required_stage: Stage = Stage.PRODUCTION,
) -> DeploymentDecision:
    """Collect every reason against serving `version` of `model` in `required_stage`.

    `current_results` are the model's and this version's results under the policy in force,
    from `evaluation.evaluate_model`. Findings of kind ORPHANED_MODEL and DRIFT are reported
    through ORPHANED and DRIFT rather than again as open critical findings.
    """
    reasons: list[DenialReason] = []
    name = model.version_name(version.version)

    if model.state is ModelState.DELETED:
        reasons.append(DenialReason(DenialCode.DELETED, f"{model.name} is deleted"))
    elif model.state is ModelState.ARCHIVED:
        reasons.append(DenialReason(DenialCode.ARCHIVED, f"{model.name} is archived"))
    if version.stage is Stage.ARCHIVED:
        reasons.append(DenialReason(DenialCode.ARCHIVED, f"{name} is archived"))
    elif version.stage is not required_stage:
        reasons.append(
            DenialReason(
                DenialCode.NOT_IN_PRODUCTION,
                f"{name} is in stage {version.stage.value}, not {required_stage.value}",
            )
        )
    if version.last_review_time is None:
        reasons.append(
            DenialReason(
                DenialCode.NOT_APPROVED,
                f"governance has not approved {name}: "
                "request a promotion and collect the approvals",
            )
        )
    for reason in orphan_status.reasons:
        reasons.append(DenialReason(DenialCode.ORPHANED, reason.message))

    reasons.extend(_drift_reasons(model, version, open_alerts))
    reasons.extend(_finding_reasons(model, version, open_findings))
    reasons.extend(_rule_reasons(version, current_results))
    reasons.sort(key=lambda reason: _ORDER[reason.code])
    return DeploymentDecision(model.uid, version.version, tuple(reasons))


def _drift_reasons(
    model: PortfolioModel, version: PortfolioVersion, open_alerts: Sequence[OpenAlert]
) -> list[DenialReason]:
    reasons = []
    for alert in open_alerts:
        if alert.model_uid != model.uid or alert.version != version.version:
            continue
        if alert.severity < Severity.CRITICAL:
            continue
        about = f" on {alert.feature}" if alert.feature else ""
        reasons.append(
            DenialReason(
                DenialCode.DRIFT,
                f"critical {alert.kind.value} alert {alert.alert_id}{about} is open since "
                f"{alert.opened_at.isoformat()}",
                alert_id=alert.alert_id,
            )
        )
    return reasons


def _finding_reasons(
    model: PortfolioModel, version: PortfolioVersion, open_findings: Sequence[Finding]
) -> list[DenialReason]:
    reasons = []
    for finding in open_findings:
        key = finding.key
        if key.model_uid != model.uid or key.version not in (0, version.version):
            continue
        if not finding.is_open or finding.severity < Severity.CRITICAL:
            continue
        if key.kind in (FindingKind.ORPHANED_MODEL, FindingKind.DRIFT):
            continue
        reasons.append(
            DenialReason(
                DenialCode.OPEN_CRITICAL_FINDING,
                f"critical finding {finding.finding_id} is open: {finding.message}",
                finding_id=finding.finding_id,
                rule_id=key.check_id,
            )
        )
    return reasons


def _rule_reasons(version: PortfolioVersion, results: Sequence[RuleResult]) -> list[DenialReason]:
    reasons = []
    for result in results:
        if result.version not in (None, version.version):
            continue
        if result.failed and result.blocks_promotion:
            reasons.append(
                DenialReason(
                    DenialCode.BLOCKING_RULE_FAILED,
                    f"rule {result.rule_id} fails: {result.message}",
                    rule_id=result.rule_id,
                )
            )
    return reasons
