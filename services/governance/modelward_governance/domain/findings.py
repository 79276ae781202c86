"""Findings: which problems open and which resolve when a check runs again.

Every source of findings (policy rules, orphan checks, redundancy, drift) turns its current
failures into `FindingDraft`s and reconciles them with the findings still open for the same
model and kind. A finding is identified by its key (model, version, kind, check id), and it
stays open while the same key keeps failing at the same severity. A change of severity or of
`blocks_promotion` resolves it and opens a new one, so subscribers that filter by severity see
the change. A resolved finding is never reopened.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from modelward_governance.domain.evaluation import ModelEvaluation, RuleResult
from modelward_governance.domain.severity import Severity


class FindingKind(enum.Enum):
    POLICY_VIOLATION = "policy_violation"
    ORPHANED_MODEL = "orphaned_model"
    REDUNDANT_MODEL = "redundant_model"
    DRIFT = "drift"


@dataclass(frozen=True)
class FindingKey:
    model_uid: str
    # 0 for a finding about the whole model.
    version: int
    kind: FindingKind
    # Rule id for policy findings, or a check id such as `orphaned.no_owner`.
    check_id: str


@dataclass(frozen=True)
class FindingDraft:
    """A check that fails now, before it is matched with the open findings."""

    key: FindingKey
    severity: Severity
    blocks_promotion: bool
    message: str
    evidence: Mapping[str, object]
    policy_revision: int = 0


@dataclass(frozen=True)
class Finding:
    finding_id: str
    key: FindingKey
    severity: Severity
    blocks_promotion: bool
    message: str
    evidence: Mapping[str, object]
    policy_revision: int
    opened_at: datetime
    resolved_at: datetime | None = None
    # Why the finding resolved; empty while it is open.
    resolution: str = ""

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


@dataclass(frozen=True)
class FindingChanges:
    opened: tuple[Finding, ...] = ()
    # Copies of the open findings with `resolved_at` and `resolution` set.
    resolved: tuple[Finding, ...] = ()
    # Findings that stay open, with message and evidence refreshed from the latest check.
    kept: tuple[Finding, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.opened or self.resolved)


@dataclass(frozen=True)
class OpenFindingSummary:
    """Counts of a model's open findings by version (0: the model itself) and their highest severity."""

    count_by_version: Mapping[int, int] = dataclasses.field(default_factory=dict)
    max_severity: Severity | None = None

    @property
    def count(self) -> int:
        return sum(self.count_by_version.values())

    @classmethod
    def of(cls, model_uid: str, findings: Iterable[Finding]) -> OpenFindingSummary:
        """Summarize the open findings of `model_uid` among `findings`, ignoring the others."""
        counts: dict[int, int] = {}
        highest: Severity | None = None
        for finding in findings:
            if finding.is_open and finding.key.model_uid == model_uid:
                counts[finding.key.version] = counts.get(finding.key.version, 0) + 1
                highest = finding.severity if highest is None else max(highest, finding.severity)
        return cls(counts, highest)


def finding_id_for(key: FindingKey, opened_at: datetime) -> str:
    """Derive a finding's id from its key and opening time.

    The id is deterministic so that re-applying the same event after a crash opens the same
    finding instead of a duplicate.
    """
    parts = (key.model_uid, str(key.version), key.kind.value, key.check_id, opened_at.isoformat())
    text = "\x00".join(parts)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def reconcile_findings(
    open_findings: Iterable[Finding],
    failing: Iterable[FindingDraft],
    *,
    now: datetime,
    resolution_for: Callable[[Finding], str],
) -> FindingChanges:
    """Match the drafts of one check run with the findings it left open last time.

    `open_findings` must be exactly the open findings that this run can confirm or clear, which
    are those of the same model and kind. `resolution_for` returns why a finding that no longer
    fails was resolved.
    """
    drafts: dict[FindingKey, FindingDraft] = {}
    for failure in failing:
        drafts.setdefault(failure.key, failure)
    opened: list[Finding] = []
    resolved: list[Finding] = []
    kept: list[Finding] = []

    for finding in sorted(open_findings, key=lambda item: (item.opened_at, item.finding_id)):
        draft = drafts.pop(finding.key, None)
        if draft is None:
            resolved.append(_resolve(finding, now, resolution_for(finding)))
        elif (
            draft.severity != finding.severity or draft.blocks_promotion != finding.blocks_promotion
        ):
            change = f"severity {finding.severity.label} became {draft.severity.label}"
            if draft.blocks_promotion != finding.blocks_promotion:
                change = f"blocks_promotion became {str(draft.blocks_promotion).lower()}"
            resolved.append(_resolve(finding, now, f"replaced by a new finding: {change}"))
            opened.append(_open(draft, now))
        else:
            kept.append(
                dataclasses.replace(
                    finding,
                    message=draft.message,
                    evidence=draft.evidence,
                )
            )

    opened.extend(_open(draft, now) for draft in drafts.values())
    return FindingChanges(tuple(opened), tuple(resolved), tuple(kept))


def policy_finding_drafts(evaluation: ModelEvaluation) -> tuple[FindingDraft, ...]:
    """Turn the failing results of an evaluation into drafts of kind POLICY_VIOLATION."""
    return tuple(_draft_from_result(result) for result in evaluation.failures())


def reconcile_policy_findings(
    open_findings: Iterable[Finding], evaluation: ModelEvaluation
) -> FindingChanges:
    """Open and resolve the policy findings of one model after it was evaluated again.

    Only open POLICY_VIOLATION findings of the evaluated model are considered; the others are
    ignored and appear nowhere in the result.
    """
    in_scope = [
        finding
        for finding in open_findings
        if finding.key.kind is FindingKind.POLICY_VIOLATION
        and finding.key.model_uid == evaluation.model_uid
    ]
    results = {
        (0 if result.version is None else result.version, result.rule_id): result
        for result in evaluation.all_results()
    }

    def resolution_for(finding: Finding) -> str:
        result = results.get((finding.key.version, finding.key.check_id))
        if result is not None:
            revision = evaluation.policy_revision
            return (
                f"rule {result.rule_id} passes under policy revision {revision}: {result.message}"
            )
        if finding.key.version and finding.key.version not in evaluation.version_results:
            return (
                f"version {finding.key.version} is no longer evaluated: it was superseded or "
                "archived, or the model was archived or deleted"
            )
        if not evaluation.model_results and not evaluation.version_results:
            return "the model was archived or deleted"
        return f"rule {finding.key.check_id} is not in policy revision {evaluation.policy_revision}"

    return reconcile_findings(
        in_scope,
        policy_finding_drafts(evaluation),
        now=evaluation.evaluated_at,
        resolution_for=resolution_for,
    )


def _draft_from_result(result: RuleResult) -> FindingDraft:
    key = FindingKey(
        model_uid=result.model_uid,
        version=0 if result.version is None else result.version,
        kind=FindingKind.POLICY_VIOLATION,
        check_id=result.rule_id,
    )
    return FindingDraft(
        key=key,
        severity=result.severity,
        blocks_promotion=result.blocks_promotion,
        message=result.message,
        evidence=result.evidence,
        policy_revision=result.policy_revision,
    )


def _open(draft: FindingDraft, now: datetime) -> Finding:
    return Finding(
        finding_id=finding_id_for(draft.key, now),
        key=draft.key,
        severity=draft.severity,
        blocks_promotion=draft.blocks_promotion,
        message=draft.message,
        evidence=draft.evidence,
        policy_revision=draft.policy_revision,
        opened_at=now,
    )


def _resolve(finding: Finding, now: datetime, resolution: str) -> Finding:
    return dataclasses.replace(finding, resolved_at=now, resolution=resolution)
