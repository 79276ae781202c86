"""Governance event payloads (`modelward.events.v1`) built from domain changes.

Every builder returns a list of `(event_type_name, payload, subject)` records in the order the
events should be appended, and an empty list when nothing changed. The type name is the
payload's message name, the last part of the CloudEvents type
`modelward.governance.v1.<MessageName>`. The subject is the resource name the event is about,
sent as `ce-subject`: `findings/{finding}`, `promotions/{promotion}`, `models/{model}`,
`policies/{revision}`, `principals/{principal}` or `alerts/{alert}`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

from google.protobuf.message import Message

from modelward_common.timeutil import rfc3339
from modelward_governance.domain import promotion as promotions
from modelward_governance.domain.alerts import AlertKind
from modelward_governance.domain.findings import Finding, FindingChanges, FindingKey, FindingKind
from modelward_governance.domain.orphans import OrphanReason, OrphanReasonCode, OrphanStatus
from modelward_governance.domain.policy import Policy, Rule
from modelward_governance.domain.portfolio import ModelState, PortfolioModel, RiskTier
from modelward_governance.domain.principals import PrincipalDirectory
from modelward_governance.domain.redundancy import (
    MatchKind,
    RedundancyChanges,
    RedundancyMatch,
    RedundancyPair,
)
from modelward_governance.domain.severity import Severity
from modelward_governance.entrypoints.convert import (
    ALERT_KIND_TO_PROTO,
    FINDING_KIND_TO_PROTO,
    MATCH_KIND_TO_PROTO,
    ORPHAN_REASON_TO_PROTO,
    RISK_TIER_TO_PROTO,
    SEVERITY_TO_PROTO,
    STAGE_TO_PROTO,
    alert_name,
    drift_method_to_proto,
    evidence_struct,
    finding_name,
    policy_name,
    promotion_name,
    reviewer_decision_to_proto,
    rule_result_to_proto,
)
from modelward_protos.events.v1 import governance_events_pb2 as events_pb2
from modelward_protos.governance.v1 import monitoring_pb2

EventRecord: TypeAlias = tuple[str, Message, str]


# Default for the builders whose caller has no finding changes to name the findings from.
NO_FINDING_CHANGES = FindingChanges()


def _record(payload: Message, subject: str) -> EventRecord:
    return (payload.DESCRIPTOR.name, payload, subject)


def principal_subject(principal: str) -> str:
    return f"principals/{principal}"


# --- findings -------------------------------------------------------------------------------


def finding_events(
    changes: FindingChanges, *, model_name: str, policy_revision: int
) -> list[EventRecord]:
    """Build FindingResolved for each resolved finding, then FindingOpened for each opened one.

    The findings must all be about one model, whose current name is `model_name`.
    `policy_revision` is the revision in force when the findings resolved. Resolved findings
    come first, so a finding replaced after a severity change closes before its successor opens.
    """
    uids = {finding.key.model_uid for finding in (*changes.resolved, *changes.opened)}
    if len(uids) > 1:
        raise ValueError(
            f"finding changes of several models ({', '.join(sorted(uids))}): "
            "build the events of each model separately"
        )
    records = [
        _record(_finding_resolved(finding, model_name, policy_revision), _subject(finding))
        for finding in changes.resolved
    ]
    records += [
        _record(_finding_opened(finding, model_name), _subject(finding))
        for finding in changes.opened
    ]
    return records


def _subject(finding: Finding) -> str:
    return finding_name(finding.finding_id)


def _finding_opened(finding: Finding, model_name: str) -> events_pb2.FindingOpened:
    return events_pb2.FindingOpened(
        finding=finding_name(finding.finding_id),
        kind=FINDING_KIND_TO_PROTO[finding.key.kind],
        severity=SEVERITY_TO_PROTO[finding.severity],
        model_uid=finding.key.model_uid,
        model=model_name,
        version=finding.key.version,
        rule_id=finding.key.check_id,
        blocks_promotion=finding.blocks_promotion,
        message=finding.message,
        evidence=evidence_struct(finding.evidence),
        policy_revision=finding.policy_revision,
        open_time=finding.opened_at,
    )


def _finding_resolved(
    finding: Finding, model_name: str, policy_revision: int
) -> events_pb2.FindingResolved:
    return events_pb2.FindingResolved(
        finding=finding_name(finding.finding_id),
        kind=FINDING_KIND_TO_PROTO[finding.key.kind],
        severity=SEVERITY_TO_PROTO[finding.severity],
        model_uid=finding.key.model_uid,
        model=model_name,
        version=finding.key.version,
        rule_id=finding.key.check_id,
        resolution=finding.resolution,
        policy_revision=policy_revision,
        resolve_time=finding.resolved_at,
    )


def _first_finding(
    findings: Iterable[Finding], model_uid: str, kind: FindingKind
) -> Finding | None:
    for finding in findings:
        if finding.key.model_uid == model_uid and finding.key.kind is kind:
            return finding
    return None


def _finding_with_key(findings: Iterable[Finding], keys: Container[FindingKey]) -> Finding | None:
    return next((finding for finding in findings if finding.key in keys), None)


def _finding_name_or_empty(finding: Finding | None) -> str:
    return "" if finding is None else finding_name(finding.finding_id)


# --- promotions -----------------------------------------------------------------------------


def promotion_events(
    update: promotions.PromotionUpdate, *, model_name: str | None = None
) -> list[EventRecord]:
    """Build the payloads of a promotion update's domain events, in their order.

    Pass the model's current `models/{model}` name when the model may have been renamed since
    the request. By default the name at request time is used.
    """
    records = []
    for event in update.events:
        promotion = event.promotion
        model = model_name or promotion.model_name
        payload: Message
        if isinstance(event, promotions.DecisionRecorded):
            payload = _decision_recorded(event, model)
        elif isinstance(event, promotions.PromotionApproved):
            payload = _promotion_approved(promotion, model)
        else:
            payload = _promotion_rejected(event, model)
        records.append(_record(payload, promotion_name(promotion.promotion_id)))
    return records


def _decision_recorded(
    event: promotions.DecisionRecorded, model_name: str
) -> events_pb2.ReviewerDecisionRecorded:
    promotion = event.promotion
    return events_pb2.ReviewerDecisionRecorded(
        promotion=promotion_name(promotion.promotion_id),
        model_uid=promotion.model_uid,
        model=model_name,
        version=promotion.version,
        target_stage=STAGE_TO_PROTO[promotion.target_stage],
        decision=reviewer_decision_to_proto(event.decision),
        # The event's promotion is the state right after this decision, so its approvers
        # include this decision.
        approval_count=len(promotion.approvers),
        required_approvals=promotion.required_approvals,
    )


def _promotion_approved(
    promotion: promotions.Promotion, model_name: str
) -> events_pb2.PromotionApproved:
    return events_pb2.PromotionApproved(
        promotion=promotion_name(promotion.promotion_id),
        model_uid=promotion.model_uid,
        model=model_name,
        version=promotion.version,
        target_stage=STAGE_TO_PROTO[promotion.target_stage],
        archive_existing=promotion.archive_existing,
        requested_by=promotion.requested_by,
        decisions=[reviewer_decision_to_proto(decision) for decision in promotion.decisions],
        required_approvals=promotion.required_approvals,
        policy_revision=promotion.policy_revision,
    )


def _promotion_rejected(
    event: promotions.PromotionRejected, model_name: str
) -> events_pb2.PromotionRejected:
    promotion = event.promotion
    return events_pb2.PromotionRejected(
        promotion=promotion_name(promotion.promotion_id),
        model_uid=promotion.model_uid,
        model=model_name,
        version=promotion.version,
        target_stage=STAGE_TO_PROTO[promotion.target_stage],
        requested_by=promotion.requested_by,
        decisions=[reviewer_decision_to_proto(decision) for decision in promotion.decisions],
        failing_rules=[rule_result_to_proto(check, model_name) for check in event.failing_checks],
        message=promotion.outcome_message,
        policy_revision=promotion.policy_revision,
    )


# --- orphaned models ------------------------------------------------------------------------


def orphan_events(
    model: PortfolioModel,
    previous: OrphanStatus,
    current: OrphanStatus,
    *,
    findings: FindingChanges = NO_FINDING_CHANGES,
    resolution: str = "",
) -> list[EventRecord]:
    """Build ModelFlaggedOrphaned when the model became orphaned, or ModelOrphanFlagCleared
    when it no longer is.

    A change of reasons while the model stays orphaned publishes no flag event, because the
    ORPHANED_MODEL findings that open and resolve already report it. `findings` are the finding
    changes of the same check and name the finding behind the flag. `resolution` replaces the
    resolution that is derived from the model and the previous reasons.
    """
    for status in (previous, current):
        if status.model_uid != model.uid:
            raise ValueError(
                f"orphan status of model uid {status.model_uid} passed with {model.name}"
            )
    if current.orphaned and not previous.orphaned:
        flagged = _model_flagged_orphaned(model, current, findings.opened)
        return [_record(flagged, model.name)]
    if previous.orphaned and not current.orphaned:
        cleared = events_pb2.ModelOrphanFlagCleared(
            model_uid=model.uid,
            model=model.name,
            owner=model.owner,
            resolution=resolution or _orphan_resolution(model, previous),
            finding=_finding_name_or_empty(
                _first_finding(findings.resolved, model.uid, FindingKind.ORPHANED_MODEL)
            ),
        )
        return [_record(cleared, model.name)]
    return []


def _model_flagged_orphaned(
    model: PortfolioModel, status: OrphanStatus, opened: Iterable[Finding]
) -> events_pb2.ModelFlaggedOrphaned:
    return events_pb2.ModelFlaggedOrphaned(
        model_uid=model.uid,
        model=model.name,
        owner=model.owner,
        team=model.team,
        risk_tier=RISK_TIER_TO_PROTO[model.risk_tier],
        reasons=[
            events_pb2.OrphanReason(
                code=ORPHAN_REASON_TO_PROTO[reason.code], message=reason.message
            )
            for reason in status.reasons
        ],
        # Like the orphan check, fall back to the creation time when no activity was recorded.
        last_activity_time=model.last_activity_time or model.create_time,
        finding=_finding_name_or_empty(
            _first_finding(opened, model.uid, FindingKind.ORPHANED_MODEL)
        ),
    )


def _orphan_resolution(model: PortfolioModel, previous: OrphanStatus) -> str:
    """Describe why each previous reason no longer applies, from the model as it is now."""
    if model.state is not ModelState.ACTIVE:
        return f"{model.name} is {model.state.value}"
    return "; ".join(_reason_cleared(model, reason) for reason in previous.reasons)


def _reason_cleared(model: PortfolioModel, reason: OrphanReason) -> str:
    if reason.code is OrphanReasonCode.NO_OWNER:
        return f"owner set to {model.owner}"
    if reason.code is OrphanReasonCode.OWNER_INACTIVE:
        previous_owner = reason.evidence.get("owner", "")
        if previous_owner == model.owner:
            return f"owner {model.owner} is active again"
        return f"owner changed from {previous_owner} to {model.owner}"
    if not model.production_versions():
        return "no version serves in production any more"
    last_activity = model.last_activity_time or model.create_time
    return f"activity recorded at {rfc3339(last_activity)}"


# --- redundant models -----------------------------------------------------------------------


def redundancy_events(
    model_uid: str,
    changes: RedundancyChanges,
    *,
    model_names: Mapping[str, str],
    findings: FindingChanges = NO_FINDING_CHANGES,
    resolution: str = "",
) -> list[EventRecord]:
    """Build RedundancyCleared for each cleared pair, then RedundancyDetected for each match.

    `model_uid` is the model that was checked, so each cleared pair is reported from its side.
    `model_names` maps the uid of every model in the changes to its current `models/{model}`
    name. `findings` are the REDUNDANT_MODEL finding changes of the same check and name the
    finding behind each pair. `resolution` replaces the resolution taken from the resolved
    finding or, without one, a generic one.
    """
    records = [
        _redundancy_cleared(model_uid, pair, model_names, findings.resolved, resolution)
        for pair in changes.cleared
    ]
    records += [
        _redundancy_detected(match, model_names, findings.opened) for match in changes.detected
    ]
    return records


def _redundancy_finding_key(kind: MatchKind, model_uid: str, other_uid: str) -> FindingKey:
    # The key that `redundancy.redundancy_finding_drafts` gives the finding on `model_uid`.
    check_id = f"redundant.{kind.value}.{other_uid}"
    return FindingKey(model_uid, 0, FindingKind.REDUNDANT_MODEL, check_id)


def _redundancy_detected(
    match: RedundancyMatch, model_names: Mapping[str, str], opened: Iterable[Finding]
) -> EventRecord:
    key = _redundancy_finding_key(match.kind, match.model_uid, match.other_model_uid)
    evidence = match.evidence
    model = _model_name(model_names, match.model_uid)
    detected = events_pb2.RedundancyDetected(
        match_kind=MATCH_KIND_TO_PROTO[match.kind],
        model_uid=match.model_uid,
        model=model,
        version=match.version,
        other_model_uid=match.other_model_uid,
        other_model=_model_name(model_names, match.other_model_uid),
        other_version=match.other_version,
        similarity=match.similarity,
        threshold=match.threshold,
        artifact_sha256=str(evidence.get("artifact_sha256", "")),
        training_dataset_sha256=str(evidence.get("training_dataset_sha256", "")),
        task_type=str(evidence.get("task_type", "")),
        shared_feature_count=_count(evidence, "shared_feature_count"),
        union_feature_count=_count(evidence, "union_feature_count"),
        finding=_finding_name_or_empty(_finding_with_key(opened, {key})),
    )
    return _record(detected, model)


def _redundancy_cleared(
    model_uid: str,
    pair: RedundancyPair,
    model_names: Mapping[str, str],
    resolved: Iterable[Finding],
    resolution: str,
) -> EventRecord:
    if model_uid not in pair.model_uids or len(pair.model_uids) != 2:
        raise ValueError(
            f"cleared pair {sorted(pair.model_uids)} does not pair model uid {model_uid} "
            "with another model"
        )
    (other_uid,) = pair.model_uids - {model_uid}
    model, other = _model_name(model_names, model_uid), _model_name(model_names, other_uid)
    # The finding is on whichever model was checked when the pair was detected.
    keys = {
        _redundancy_finding_key(pair.kind, model_uid, other_uid),
        _redundancy_finding_key(pair.kind, other_uid, model_uid),
    }
    finding = _finding_with_key(resolved, keys)
    generic = f"{model} and {other} no longer match by {pair.kind.value.replace('_', ' ')}"
    cleared = events_pb2.RedundancyCleared(
        match_kind=MATCH_KIND_TO_PROTO[pair.kind],
        model_uid=model_uid,
        model=model,
        other_model_uid=other_uid,
        other_model=other,
        resolution=resolution or (finding.resolution if finding else "") or generic,
        finding=_finding_name_or_empty(finding),
    )
    return _record(cleared, model)


def _model_name(model_names: Mapping[str, str], model_uid: str) -> str:
    name = model_names.get(model_uid)
    if name is None:
        raise ValueError(
            f"no model name for model uid {model_uid}: pass the name of every model in the changes"
        )
    return name


def _count(evidence: Mapping[str, object], key: str) -> int:
    value = evidence.get(key, 0)
    return value if isinstance(value, int) else 0


# --- policies and principals ----------------------------------------------------------------


def policy_changed_events(
    policy: Policy, *, author: str, reason: str, previous: Policy | None = None
) -> list[EventRecord]:
    """Build PolicyChanged for a newly stored revision, compared with the revision it replaces.

    A rule counts as changed when any of its fields other than its line in the YAML text
    differs, so moving a rule within the text does not change it.
    """
    rules = {rule.id: _definition(rule) for rule in policy.rules}
    before = {} if previous is None else {rule.id: _definition(rule) for rule in previous.rules}
    changed = events_pb2.PolicyChanged(
        policy=policy_name(policy.revision),
        revision=policy.revision,
        sha256=policy.sha256,
        previous_revision=0 if previous is None else previous.revision,
        previous_sha256="" if previous is None else previous.sha256,
        author=author,
        reason=reason,
        rule_count=len(policy.rules),
        added_rule_ids=[rule_id for rule_id in rules if rule_id not in before],
        removed_rule_ids=[rule_id for rule_id in before if rule_id not in rules],
        changed_rule_ids=[
            rule_id
            for rule_id, rule in rules.items()
            if rule_id in before and before[rule_id] != rule
        ],
    )
    return [_record(changed, policy_name(policy.revision))]


def _definition(rule: Rule) -> Rule:
    return dataclasses.replace(rule, line=0)


def principal_events(
    principal: str,
    *,
    before: PrincipalDirectory,
    after: PrincipalDirectory,
    reason: str,
    changed_by: str,
    owned_model_uids: Iterable[str] = (),
) -> list[EventRecord]:
    """Build PrincipalDeactivated or PrincipalReactivated when the principal's state changed.

    `owned_model_uids` are the models the principal owns. Setting the state a principal
    already has publishes nothing.
    """
    was_active, active = before.is_active(principal), after.is_active(principal)
    if was_active == active:
        return []
    message = events_pb2.PrincipalReactivated if active else events_pb2.PrincipalDeactivated
    payload = message(
        principal=principal,
        reason=reason,
        changed_by=changed_by,
        owned_model_uids=sorted(set(owned_model_uids)),
    )
    return [_record(payload, principal_subject(principal))]


# --- monitoring alerts ----------------------------------------------------------------------


@dataclass(frozen=True)
class AlertWindow:
    """The model version and production window that an alert is about."""

    model_uid: str
    # `models/{model}` when the alert is published.
    model_name: str
    version: int
    window_index: int
    start_time: datetime | None = None
    end_time: datetime | None = None
    window_rows: int = 0
    reference_rows: int = 0


def _monitored_window(window: AlertWindow) -> events_pb2.MonitoredWindow:
    return events_pb2.MonitoredWindow(
        model_uid=window.model_uid,
        model=window.model_name,
        version=window.version,
        window_index=window.window_index,
        window_start_time=window.start_time,
        window_end_time=window.end_time,
        window_rows=window.window_rows,
        reference_rows=window.reference_rows,
    )


_DISTRIBUTION_KINDS = frozenset({AlertKind.DATA_DRIFT, AlertKind.PREDICTION_DRIFT})


def drift_detected_events(
    *,
    alert_id: str,
    kind: AlertKind,
    severity: Severity,
    window: AlertWindow,
    feature: str,
    method: str,
    value: float,
    warning_threshold: float,
    critical_threshold: float,
    p_value: float | None = None,
    max_p_value: float = 0.0,
    risk_tier: RiskTier = RiskTier.UNSPECIFIED,
) -> list[EventRecord]:
    """Build DriftDetected for a feature's or the prediction's distribution.

    `kind` is DATA_DRIFT or PREDICTION_DRIFT, and `feature` is the column, which is the
    prediction column for PREDICTION_DRIFT. `method` is a drift method name such as `psi`, or
    empty for a change of the missing-value rate, which no drift method measures.
    """
    if kind not in _DISTRIBUTION_KINDS:
        raise ValueError(
            f"DriftDetected needs kind data_drift or prediction_drift, got {kind.value}: "
            "use concept_drift_detected_events or driver_shift_detected_events"
        )
    statistic = monitoring_pb2.DriftStatistic(
        method=drift_method_to_proto(method) if method else monitoring_pb2.DRIFT_METHOD_UNSPECIFIED,
        value=value,
        p_value=p_value,
        warning_threshold=warning_threshold,
        critical_threshold=critical_threshold,
        max_p_value=max_p_value,
        severity=SEVERITY_TO_PROTO[severity],
    )
    detected = events_pb2.DriftDetected(
        alert=alert_name(alert_id),
        kind=ALERT_KIND_TO_PROTO[kind],
        severity=SEVERITY_TO_PROTO[severity],
        window=_monitored_window(window),
        feature=feature,
        statistic=statistic,
        risk_tier=RISK_TIER_TO_PROTO[risk_tier],
    )
    return [_record(detected, alert_name(alert_id))]


def concept_drift_detected_events(
    *,
    alert_id: str,
    severity: Severity,
    window: AlertWindow,
    metric: str,
    reference_value: float,
    window_value: float,
    degradation: float,
    warning_threshold: float,
    critical_threshold: float,
    labeled_rows: int,
    min_labeled_rows: int,
    risk_tier: RiskTier = RiskTier.UNSPECIFIED,
) -> list[EventRecord]:
    """Build ConceptDriftDetected. `degradation` is in the metric's unit and positive when the
    window is worse, which for a metric such as rmse means higher."""
    concept_drift = monitoring_pb2.ConceptDrift(
        metric=metric,
        reference_value=reference_value,
        window_value=window_value,
        degradation=degradation,
        warning_threshold=warning_threshold,
        critical_threshold=critical_threshold,
        labeled_rows=labeled_rows,
        min_labeled_rows=min_labeled_rows,
        severity=SEVERITY_TO_PROTO[severity],
    )
    detected = events_pb2.ConceptDriftDetected(
        alert=alert_name(alert_id),
        severity=SEVERITY_TO_PROTO[severity],
        window=_monitored_window(window),
        concept_drift=concept_drift,
        risk_tier=RISK_TIER_TO_PROTO[risk_tier],
    )
    return [_record(detected, alert_name(alert_id))]


def driver_shift_detected_events(
    *,
    alert_id: str,
    severity: Severity,
    window: AlertWindow,
    feature: str,
    method: str,
    reference_importance: float,
    window_importance: float,
    warning_threshold: float,
    critical_threshold: float,
    risk_tier: RiskTier = RiskTier.UNSPECIFIED,
    change: float | None = None,
) -> list[EventRecord]:
    """Build DriverShiftDetected. Importances are shares in [0, 1], and `method` names how they
    were computed, such as `mutual_information`. `change` is the effect size the thresholds
    apply to, and defaults to the absolute change of the importance share."""
    driver_shift = monitoring_pb2.DriverShift(
        feature=feature,
        method=method,
        reference_importance=reference_importance,
        window_importance=window_importance,
        change=abs(window_importance - reference_importance) if change is None else change,
        warning_threshold=warning_threshold,
        critical_threshold=critical_threshold,
        severity=SEVERITY_TO_PROTO[severity],
    )
    detected = events_pb2.DriverShiftDetected(
        alert=alert_name(alert_id),
        severity=SEVERITY_TO_PROTO[severity],
        window=_monitored_window(window),
        driver_shift=driver_shift,
        risk_tier=RISK_TIER_TO_PROTO[risk_tier],
    )
    return [_record(detected, alert_name(alert_id))]


def alert_resolved_events(
    *,
    alert_id: str,
    kind: AlertKind,
    severity: Severity,
    model_uid: str,
    model_name: str,
    version: int,
    feature: str,
    resolution: str,
    resolve_time: datetime,
) -> list[EventRecord]:
    """Build AlertResolved. `severity` is the alert's severity while it was open."""
    resolved = events_pb2.AlertResolved(
        alert=alert_name(alert_id),
        kind=ALERT_KIND_TO_PROTO[kind],
        severity=SEVERITY_TO_PROTO[severity],
        model_uid=model_uid,
        model=model_name,
        version=version,
        feature=feature,
        resolution=resolution,
        resolve_time=resolve_time,
    )
    return [_record(resolved, alert_name(alert_id))]
