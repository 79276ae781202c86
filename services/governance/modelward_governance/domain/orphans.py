"""Orphaned models: models without an accountable, active owner or recent activity.

A model is orphaned when it has no owner, when its owner is an inactive principal, or when one
of its versions serves in production and nothing happened to the model (no new version, no
promotion decision, no production data report) for longer than `OrphanConfig.max_idle_days`.
Ownership is read from the model keyed by its uid, so renaming a model never orphans it.
Archived and deleted models are never orphaned: nothing of them serves any more.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from modelward_common.errors import InvalidArgument
from modelward_governance.domain.findings import FindingDraft, FindingKey, FindingKind
from modelward_governance.domain.portfolio import ModelState, PortfolioModel
from modelward_governance.domain.principals import PrincipalDirectory
from modelward_governance.domain.severity import Severity


class OrphanReasonCode(enum.Enum):
    NO_OWNER = "no_owner"
    OWNER_INACTIVE = "owner_inactive"
    NO_ACTIVITY = "no_activity"


@dataclass(frozen=True)
class OrphanConfig:
    # Days without activity after which a model serving in production counts as orphaned.
    max_idle_days: int = 180
    # Severity of the findings opened for each reason.
    owner_severity: Severity = Severity.ERROR
    idle_severity: Severity = Severity.WARNING

    def __post_init__(self) -> None:
        if self.max_idle_days < 1:
            raise InvalidArgument(
                "max_idle_days", self.max_idle_days, "use a whole number of days, at least 1"
            )


@dataclass(frozen=True)
class OrphanReason:
    code: OrphanReasonCode
    message: str
    evidence: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class OrphanStatus:
    model_uid: str
    reasons: tuple[OrphanReason, ...] = ()

    @property
    def orphaned(self) -> bool:
        return bool(self.reasons)


def assess_orphan(
    model: PortfolioModel,
    principals: PrincipalDirectory,
    now: datetime,
    config: OrphanConfig = OrphanConfig(),
) -> OrphanStatus:
    """Return whether the model is orphaned, with every reason that applies."""
    if model.state is not ModelState.ACTIVE:
        return OrphanStatus(model.uid)

    reasons = []
    owner = model.owner.strip()
    if not owner:
        reasons.append(
            OrphanReason(OrphanReasonCode.NO_OWNER, f"{model.name} has no owner", {"owner": ""})
        )
    elif not principals.is_active(owner):
        reasons.append(
            OrphanReason(
                OrphanReasonCode.OWNER_INACTIVE,
                f"owner {owner} of {model.name} is inactive: assign an active owner",
                {"owner": owner},
            )
        )

    production = model.production_versions()
    last_activity = model.last_activity_time or model.create_time
    idle = now - last_activity
    if production and idle > timedelta(days=config.max_idle_days):
        reasons.append(
            OrphanReason(
                OrphanReasonCode.NO_ACTIVITY,
                f"{model.name} serves version(s) {', '.join(str(v.version) for v in production)} "
                "in production with no new version, decision or production data for "
                f"{idle.days} days, "
                f"more than {config.max_idle_days}",
                {
                    "last_activity_time": last_activity.isoformat(),
                    "idle_days": idle.days,
                    "max_idle_days": config.max_idle_days,
                    "production_versions": [v.version for v in production],
                },
            )
        )
    return OrphanStatus(model.uid, tuple(reasons))


def orphan_finding_drafts(
    status: OrphanStatus, config: OrphanConfig = OrphanConfig()
) -> tuple[FindingDraft, ...]:
    """Turn an orphan status into finding drafts of kind ORPHANED_MODEL, one per reason.

    Reconcile them with `findings.reconcile_findings` against the model's open ORPHANED_MODEL
    findings. The findings do not block promotions: the deployment check reports ORPHANED.
    """
    drafts = []
    for reason in status.reasons:
        severity = (
            config.idle_severity
            if reason.code is OrphanReasonCode.NO_ACTIVITY
            else config.owner_severity
        )
        drafts.append(
            FindingDraft(
                key=FindingKey(
                    status.model_uid, 0, FindingKind.ORPHANED_MODEL, f"orphaned.{reason.code.value}"
                ),
                severity=severity,
                blocks_promotion=False,
                message=reason.message,
                evidence=reason.evidence,
            )
        )
    return tuple(drafts)
