from __future__ import annotations

import dataclasses
from datetime import UTC
from typing import Any

import pytest
from google.protobuf import json_format
from google.protobuf.message import Message

from modelward_governance import events
from modelward_governance.domain.alerts import AlertKind
from modelward_governance.domain.evaluation import evaluate_model
from modelward_governance.domain.findings import (
    Finding,
    FindingChanges,
    reconcile_findings,
    reconcile_policy_findings,
)
from modelward_governance.domain.orphans import (
    OrphanStatus,
    assess_orphan,
    orphan_finding_drafts,
)
from modelward_governance.domain.policy import Policy
from modelward_governance.domain.policy_yaml import default_policy_text, parse_policy
from modelward_governance.domain.portfolio import (
    Metric,
    ModelState,
    PortfolioModel,
    RiskTier,
    Stage,
)
from modelward_governance.domain.principals import PrincipalDirectory
from modelward_governance.domain.promotion import (
    Promotion,
    PromotionUpdate,
    approve,
    reject,
    request_promotion,
    run_checks,
)
from modelward_governance.domain.redundancy import (
    MatchKind,
    RedundancyChanges,
    RedundancyIndex,
    RedundancyMatch,
    RedundancyPair,
    reconcile_redundancy,
    redundancy_finding_drafts,
    subject_for_model,
)
from modelward_governance.domain.severity import Severity
from modelward_protos.events.v1 import governance_events_pb2 as events_pb2
from modelward_protos.governance.v1 import monitoring_pb2, resources_pb2
from modelward_protos.registry.v1 import resources_pb2 as registry_pb2
from tests.unit.governance.builders import T0, days, make_model, make_version

AUTHOR = "user:author@example.com"
OWNER = "user:owner@example.com"
REQUESTER = "user:requester@example.com"
REVIEWER_1 = "user:r1@example.com"
REVIEWER_2 = "user:r2@example.com"
ACTIVE = PrincipalDirectory()
NOW = T0 + days(1)
POLICY_TEXT = default_policy_text()


def default_policy(revision: int = 1) -> Policy:
    return parse_policy(POLICY_TEXT, source="default_policy.yaml", revision=revision)


def types_and_subjects(records: list[events.EventRecord]) -> list[tuple[str, str]]:
    return [(event_type, subject) for event_type, _, subject in records]


def payload(records: list[events.EventRecord], index: int = 0) -> Any:
    event_type, message, _ = records[index]
    assert event_type == message.DESCRIPTOR.name
    return message


def as_dict(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message)


# --- findings -------------------------------------------------------------------------------


def failing_model() -> PortfolioModel:
    return make_model(make_version(1, metrics=(Metric("auc", 0.7, "test"),)))


def opened_findings(model: PortfolioModel) -> tuple[Finding, ...]:
    evaluation = evaluate_model(default_policy(), model, now=NOW)
    return reconcile_policy_findings([], evaluation).opened


def test_finding_events_for_opened_finding() -> None:
    (finding,) = opened_findings(failing_model())

    records = events.finding_events(
        FindingChanges(opened=(finding,)), model_name="models/churn", policy_revision=1
    )

    assert types_and_subjects(records) == [("FindingOpened", f"findings/{finding.finding_id}")]
    opened = payload(records)
    assert isinstance(opened, events_pb2.FindingOpened)
    assert opened.finding == f"findings/{finding.finding_id}"
    assert opened.kind == resources_pb2.FINDING_KIND_POLICY_VIOLATION
    assert opened.severity == resources_pb2.SEVERITY_ERROR
    assert opened.model_uid == "uid-churn"
    assert opened.model == "models/churn"
    assert opened.version == 1
    assert opened.rule_id == "auc-high-risk"
    assert opened.blocks_promotion is True
    assert opened.message == finding.message
    assert as_dict(opened.evidence)["actual"] == 0.7
    assert opened.policy_revision == 1
    assert opened.open_time.ToDatetime(tzinfo=UTC) == NOW


# The default policy with `auc-high-risk` raised from error to critical.
ESCALATED_TEXT = POLICY_TEXT.replace(
    "    severity: error\n    risk_tiers: [high, critical]\n    metric: auc",
    "    severity: critical\n    risk_tiers: [high, critical]\n    metric: auc",
)


def test_finding_events_resolve_before_replacement_opens() -> None:
    (finding,) = opened_findings(failing_model())
    later = NOW + days(1)
    escalated = evaluate_model(parse_policy(ESCALATED_TEXT, revision=2), failing_model(), now=later)
    changes = reconcile_policy_findings([finding], escalated)

    records = events.finding_events(changes, model_name="models/churn", policy_revision=2)

    assert [event_type for event_type, _, _ in records] == ["FindingResolved", "FindingOpened"]
    resolved, opened = payload(records, 0), payload(records, 1)
    assert resolved.finding == f"findings/{finding.finding_id}"
    assert resolved.severity == resources_pb2.SEVERITY_ERROR
    assert resolved.version == 1
    assert resolved.rule_id == "auc-high-risk"
    assert resolved.resolution.startswith("replaced by a new finding")
    assert resolved.policy_revision == 2
    assert resolved.resolve_time.ToDatetime(tzinfo=UTC) == later
    assert opened.severity == resources_pb2.SEVERITY_CRITICAL
    assert opened.policy_revision == 2


def test_finding_events_for_no_change() -> None:
    assert events.finding_events(FindingChanges(), model_name="models/x", policy_revision=1) == []


def test_finding_events_reject_several_models() -> None:
    (first,) = opened_findings(failing_model())
    (second,) = opened_findings(dataclasses.replace(failing_model(), uid="uid-other"))

    with pytest.raises(ValueError, match="several models"):
        events.finding_events(
            FindingChanges(opened=(first, second)), model_name="models/churn", policy_revision=1
        )


# --- promotions -----------------------------------------------------------------------------


def checked(model: PortfolioModel | None = None) -> PromotionUpdate:
    model = model or make_model(make_version(1, created_by=AUTHOR))
    promotion = request_promotion(
        promotion_id="p-1",
        model=model,
        version=1,
        target_stage=Stage.PRODUCTION,
        requested_by=REQUESTER,
        requested_at=T0,
    )
    return run_checks(promotion, default_policy(), model, now=NOW)


def awaiting() -> Promotion:
    return checked().promotion


def test_promotion_events_for_checks_awaiting_decisions() -> None:
    assert events.promotion_events(checked()) == []


def test_promotion_events_for_first_approval() -> None:
    update = approve(awaiting(), REVIEWER_1, "looks good", at=NOW, principals=ACTIVE)

    records = events.promotion_events(update)

    assert types_and_subjects(records) == [("ReviewerDecisionRecorded", "promotions/p-1")]
    recorded = payload(records)
    assert recorded.promotion == "promotions/p-1"
    assert recorded.model_uid == "uid-churn"
    assert recorded.model == "models/churn"
    assert recorded.version == 1
    assert recorded.target_stage == registry_pb2.STAGE_PRODUCTION
    assert recorded.decision.reviewer == REVIEWER_1
    assert recorded.decision.outcome == resources_pb2.DECISION_OUTCOME_APPROVE
    assert recorded.decision.comment == "looks good"
    assert recorded.approval_count == 1
    assert recorded.required_approvals == 2


def test_promotion_events_for_last_approval() -> None:
    first = approve(awaiting(), REVIEWER_1, "", at=NOW, principals=ACTIVE).promotion
    update = approve(first, REVIEWER_2, "", at=NOW + days(1), principals=ACTIVE)

    records = events.promotion_events(update, model_name="models/churn-v2")

    assert types_and_subjects(records) == [
        ("ReviewerDecisionRecorded", "promotions/p-1"),
        ("PromotionApproved", "promotions/p-1"),
    ]
    assert payload(records, 0).approval_count == 2
    approved = payload(records, 1)
    assert isinstance(approved, events_pb2.PromotionApproved)
    assert approved.model == "models/churn-v2"
    assert approved.version == 1
    assert approved.target_stage == registry_pb2.STAGE_PRODUCTION
    assert approved.archive_existing is True
    assert approved.requested_by == REQUESTER
    assert [d.reviewer for d in approved.decisions] == [REVIEWER_1, REVIEWER_2]
    assert approved.required_approvals == 2
    assert approved.policy_revision == 1


def test_promotion_events_for_failing_checks() -> None:
    model = make_model(make_version(1, feature_names=("age", "plan")))

    records = events.promotion_events(checked(model))

    assert types_and_subjects(records) == [("PromotionRejected", "promotions/p-1")]
    rejected = payload(records)
    assert isinstance(rejected, events_pb2.PromotionRejected)
    assert rejected.requested_by == REQUESTER
    assert list(rejected.decisions) == []
    assert [rule.rule_id for rule in rejected.failing_rules] == ["protected-attributes"]
    assert rejected.failing_rules[0].model_version == "models/churn/versions/1"
    assert rejected.failing_rules[0].passed is False
    assert rejected.message.startswith("rejected by 1 failing check(s)")
    assert rejected.policy_revision == 1


def test_promotion_events_for_reviewer_rejection() -> None:
    update = reject(awaiting(), REVIEWER_1, "no drift monitoring", at=NOW, principals=ACTIVE)

    records = events.promotion_events(update)

    assert [event_type for event_type, _, _ in records] == [
        "ReviewerDecisionRecorded",
        "PromotionRejected",
    ]
    recorded, rejected = payload(records, 0), payload(records, 1)
    assert recorded.decision.outcome == resources_pb2.DECISION_OUTCOME_REJECT
    assert recorded.approval_count == 0
    assert list(rejected.failing_rules) == []
    assert [d.comment for d in rejected.decisions] == ["no drift monitoring"]
    assert rejected.message == f"rejected by {REVIEWER_1}: no drift monitoring"


# --- orphaned models ------------------------------------------------------------------------


def orphan_changes(model: PortfolioModel, status: OrphanStatus) -> FindingChanges:
    return reconcile_findings(
        [], orphan_finding_drafts(status), now=NOW, resolution_for=lambda finding: ""
    )


def test_orphan_events_when_model_loses_owner() -> None:
    model = make_model(make_version(1), owner="", risk_tier=RiskTier.MEDIUM)
    previous = OrphanStatus(model.uid)
    current = assess_orphan(model, ACTIVE, NOW)
    findings = orphan_changes(model, current)

    records = events.orphan_events(model, previous, current, findings=findings)

    assert types_and_subjects(records) == [("ModelFlaggedOrphaned", "models/churn")]
    flagged = payload(records)
    assert flagged.model_uid == "uid-churn"
    assert flagged.model == "models/churn"
    assert flagged.owner == ""
    assert flagged.team == "retention"
    assert flagged.risk_tier == registry_pb2.RISK_TIER_MEDIUM
    assert [reason.code for reason in flagged.reasons] == [events_pb2.ORPHAN_REASON_CODE_NO_OWNER]
    assert flagged.reasons[0].message == current.reasons[0].message
    assert flagged.last_activity_time.ToDatetime(tzinfo=UTC) == T0
    assert flagged.finding == f"findings/{findings.opened[0].finding_id}"


def test_orphan_events_without_findings() -> None:
    model = make_model(make_version(1), owner="")

    records = events.orphan_events(
        model, OrphanStatus(model.uid), assess_orphan(model, ACTIVE, NOW)
    )

    assert payload(records).finding == ""


def test_orphan_events_when_owner_is_set() -> None:
    before = make_model(make_version(1), owner="")
    previous = assess_orphan(before, ACTIVE, NOW)
    opened = orphan_changes(before, previous).opened
    after = dataclasses.replace(before, owner=OWNER)
    findings = reconcile_findings(opened, [], now=NOW, resolution_for=lambda finding: "owner set")

    records = events.orphan_events(
        after, previous, assess_orphan(after, ACTIVE, NOW), findings=findings
    )

    assert types_and_subjects(records) == [("ModelOrphanFlagCleared", "models/churn")]
    cleared = payload(records)
    assert cleared.owner == OWNER
    assert cleared.resolution == f"owner set to {OWNER}"
    assert cleared.finding == f"findings/{opened[0].finding_id}"


def test_orphan_events_when_owner_is_reactivated() -> None:
    model = make_model(make_version(1), owner=OWNER)
    previous = assess_orphan(model, PrincipalDirectory(frozenset({OWNER})), NOW)
    current = assess_orphan(model, ACTIVE, NOW)

    records = events.orphan_events(model, previous, current)

    assert payload(records).resolution == f"owner {OWNER} is active again"


def test_orphan_events_when_owner_is_replaced() -> None:
    model = make_model(make_version(1), owner=OWNER)
    previous = assess_orphan(model, PrincipalDirectory(frozenset({OWNER})), NOW)
    successor = dataclasses.replace(model, owner="team:retention")

    records = events.orphan_events(successor, previous, assess_orphan(successor, ACTIVE, NOW))

    assert payload(records).resolution == f"owner changed from {OWNER} to team:retention"


def test_orphan_events_when_idle_model_becomes_active() -> None:
    model = make_model(make_version(1, stage=Stage.PRODUCTION))
    late = T0 + days(400)
    previous = assess_orphan(model, ACTIVE, late)
    assert previous.orphaned
    active = dataclasses.replace(model, last_activity_time=late)

    records = events.orphan_events(active, previous, assess_orphan(active, ACTIVE, late))

    assert payload(records).resolution == "activity recorded at 2026-02-05T00:00:00.000000Z"


def test_orphan_events_when_model_is_archived() -> None:
    model = make_model(make_version(1), owner="")
    previous = assess_orphan(model, ACTIVE, NOW)
    archived = dataclasses.replace(model, state=ModelState.ARCHIVED)

    records = events.orphan_events(archived, previous, assess_orphan(archived, ACTIVE, NOW))

    assert payload(records).resolution == "models/churn is archived"


def test_orphan_events_use_given_resolution() -> None:
    model = make_model(make_version(1), owner="")
    previous = assess_orphan(model, ACTIVE, NOW)
    owned = dataclasses.replace(model, owner=OWNER)

    records = events.orphan_events(
        owned, previous, assess_orphan(owned, ACTIVE, NOW), resolution="handed to retention"
    )

    assert payload(records).resolution == "handed to retention"


def test_orphan_events_when_flag_does_not_change() -> None:
    model = make_model(make_version(1, stage=Stage.PRODUCTION), owner="")
    only_owner = assess_orphan(model, ACTIVE, NOW)
    owner_and_idle = assess_orphan(model, ACTIVE, T0 + days(400))
    assert len(owner_and_idle.reasons) == 2

    assert events.orphan_events(model, only_owner, owner_and_idle) == []
    assert events.orphan_events(model, OrphanStatus(model.uid), OrphanStatus(model.uid)) == []


def test_orphan_events_reject_other_model_status() -> None:
    model = make_model(make_version(1))

    with pytest.raises(ValueError, match="uid-other"):
        events.orphan_events(model, OrphanStatus("uid-other"), OrphanStatus(model.uid))


# --- redundant models -----------------------------------------------------------------------

NAMES = {"uid-a": "models/a", "uid-b": "models/b"}


def artifact_matches() -> tuple[RedundancyMatch, ...]:
    """Match model a against model b, which has the same artifact but other features."""
    index = RedundancyIndex()
    model_b = make_model(make_version(3), uid="uid-b", model_id="b")
    model_a = make_model(make_version(1, feature_names=("region",)), uid="uid-a", model_id="a")
    subject_b, subject_a = subject_for_model(model_b), subject_for_model(model_a)
    assert subject_a is not None and subject_b is not None
    index.upsert(subject_b)
    return index.find_matches(subject_a)


def redundancy_findings(matches: tuple[RedundancyMatch, ...]) -> FindingChanges:
    return reconcile_findings(
        [], redundancy_finding_drafts(matches), now=NOW, resolution_for=lambda finding: ""
    )


def test_redundancy_events_for_artifact_match() -> None:
    matches = artifact_matches()
    changes = reconcile_redundancy("uid-a", [], matches)
    findings = redundancy_findings(matches)

    records = events.redundancy_events("uid-a", changes, model_names=NAMES, findings=findings)

    assert types_and_subjects(records) == [("RedundancyDetected", "models/a")]
    detected = payload(records)
    assert detected.match_kind == events_pb2.REDUNDANCY_MATCH_KIND_ARTIFACT_DIGEST
    assert detected.model_uid == "uid-a"
    assert detected.model == "models/a"
    assert detected.version == 1
    assert detected.other_model_uid == "uid-b"
    assert detected.other_model == "models/b"
    assert detected.other_version == 3
    assert detected.similarity == 1.0
    assert detected.threshold == 1.0
    assert detected.artifact_sha256 == make_version(1).artifact_sha256
    assert detected.finding == f"findings/{findings.opened[0].finding_id}"


def test_redundancy_events_for_feature_match() -> None:
    match = RedundancyMatch(
        kind=MatchKind.FEATURE_SIMILARITY,
        model_uid="uid-a",
        version=2,
        other_model_uid="uid-b",
        other_version=5,
        similarity=0.9,
        threshold=0.8,
        evidence={
            "training_dataset_sha256": "d" * 64,
            "task_type": "regression",
            "shared_feature_count": 9,
            "union_feature_count": 10,
        },
    )

    records = events.redundancy_events(
        "uid-a", RedundancyChanges(detected=(match,)), model_names=NAMES
    )

    detected = payload(records)
    assert detected.match_kind == events_pb2.REDUNDANCY_MATCH_KIND_FEATURE_SIMILARITY
    assert detected.similarity == 0.9
    assert detected.threshold == 0.8
    assert detected.artifact_sha256 == ""
    assert detected.training_dataset_sha256 == "d" * 64
    assert detected.task_type == "regression"
    assert detected.shared_feature_count == 9
    assert detected.union_feature_count == 10
    assert detected.finding == ""


def test_redundancy_events_for_cleared_pair_from_other_side() -> None:
    matches = artifact_matches()
    opened = redundancy_findings(matches).opened
    resolved = reconcile_findings(
        opened, [], now=NOW, resolution_for=lambda finding: "models/b was deleted"
    )
    pair = matches[0].pair
    changes = reconcile_redundancy("uid-b", [pair], [])

    records = events.redundancy_events("uid-b", changes, model_names=NAMES, findings=resolved)

    assert types_and_subjects(records) == [("RedundancyCleared", "models/b")]
    cleared = payload(records)
    assert cleared.match_kind == events_pb2.REDUNDANCY_MATCH_KIND_ARTIFACT_DIGEST
    assert cleared.model_uid == "uid-b"
    assert cleared.model == "models/b"
    assert cleared.other_model_uid == "uid-a"
    assert cleared.other_model == "models/a"
    assert cleared.resolution == "models/b was deleted"
    assert cleared.finding == f"findings/{opened[0].finding_id}"


def test_redundancy_events_generic_resolution() -> None:
    pair = RedundancyPair(MatchKind.FEATURE_SIMILARITY, frozenset({"uid-a", "uid-b"}))

    records = events.redundancy_events(
        "uid-a", RedundancyChanges(cleared=(pair,)), model_names=NAMES
    )

    cleared = payload(records)
    assert cleared.resolution == "models/a and models/b no longer match by feature similarity"
    assert cleared.finding == ""


def test_redundancy_events_clear_before_detect() -> None:
    old_pair = RedundancyPair(MatchKind.FEATURE_SIMILARITY, frozenset({"uid-a", "uid-b"}))
    changes = RedundancyChanges(detected=artifact_matches(), cleared=(old_pair,))

    records = events.redundancy_events("uid-a", changes, model_names=NAMES)

    assert [event_type for event_type, _, _ in records] == [
        "RedundancyCleared",
        "RedundancyDetected",
    ]


def test_redundancy_events_reject_missing_name() -> None:
    with pytest.raises(ValueError, match="no model name for model uid uid-b"):
        events.redundancy_events(
            "uid-a",
            RedundancyChanges(detected=artifact_matches()),
            model_names={"uid-a": "models/a"},
        )


def test_redundancy_events_reject_pair_without_model() -> None:
    pair = RedundancyPair(MatchKind.ARTIFACT_DIGEST, frozenset({"uid-b", "uid-c"}))

    with pytest.raises(ValueError, match="does not pair model uid uid-a"):
        events.redundancy_events("uid-a", RedundancyChanges(cleared=(pair,)), model_names=NAMES)


# --- policies and principals ----------------------------------------------------------------


def test_policy_changed_events_for_first_revision() -> None:
    policy = default_policy()

    records = events.policy_changed_events(policy, author=AUTHOR, reason="baseline")

    assert types_and_subjects(records) == [("PolicyChanged", "policies/1")]
    changed = payload(records)
    assert changed.policy == "policies/1"
    assert changed.revision == 1
    assert changed.sha256 == policy.sha256
    assert changed.previous_revision == 0
    assert changed.previous_sha256 == ""
    assert changed.author == AUTHOR
    assert changed.reason == "baseline"
    assert changed.rule_count == len(policy.rules)
    assert list(changed.added_rule_ids) == [rule.id for rule in policy.rules]
    assert list(changed.removed_rule_ids) == []
    assert list(changed.changed_rule_ids) == []


def test_policy_changed_events_compare_rules() -> None:
    previous = default_policy()
    text = "# a comment line moves every rule down one line\n" + POLICY_TEXT.replace(
        "threshold: 0.75", "threshold: 0.8"
    ).replace("  - id: annual-review\n", "  - id: yearly-review\n")
    policy = parse_policy(text, revision=2)

    records = events.policy_changed_events(
        policy, author=AUTHOR, reason="stricter", previous=previous
    )

    changed = payload(records)
    assert changed.previous_revision == 1
    assert changed.previous_sha256 == previous.sha256
    assert list(changed.added_rule_ids) == ["yearly-review"]
    assert list(changed.removed_rule_ids) == ["annual-review"]
    assert list(changed.changed_rule_ids) == ["auc-high-risk"]


def test_principal_events_for_deactivation() -> None:
    before = PrincipalDirectory()
    after = before.with_active(OWNER, False)

    records = events.principal_events(
        OWNER,
        before=before,
        after=after,
        reason="left the company",
        changed_by=AUTHOR,
        owned_model_uids=["uid-b", "uid-a", "uid-b"],
    )

    assert types_and_subjects(records) == [("PrincipalDeactivated", f"principals/{OWNER}")]
    deactivated = payload(records)
    assert deactivated.principal == OWNER
    assert deactivated.reason == "left the company"
    assert deactivated.changed_by == AUTHOR
    assert list(deactivated.owned_model_uids) == ["uid-a", "uid-b"]


def test_principal_events_for_reactivation() -> None:
    before = PrincipalDirectory(frozenset({OWNER}))

    records = events.principal_events(
        OWNER,
        before=before,
        after=before.with_active(OWNER, True),
        reason="back",
        changed_by=AUTHOR,
    )

    assert types_and_subjects(records) == [("PrincipalReactivated", f"principals/{OWNER}")]
    assert payload(records).reason == "back"


def test_principal_events_without_change() -> None:
    directory = PrincipalDirectory()

    records = events.principal_events(
        OWNER, before=directory, after=directory, reason="again", changed_by=AUTHOR
    )

    assert records == []


# --- monitoring alerts ----------------------------------------------------------------------

WINDOW = events.AlertWindow(
    model_uid="uid-churn",
    model_name="models/churn",
    version=3,
    window_index=12,
    start_time=T0,
    end_time=NOW,
    window_rows=10_000,
    reference_rows=50_000,
)


def assert_window(window: events_pb2.MonitoredWindow) -> None:
    assert window.model_uid == "uid-churn"
    assert window.model == "models/churn"
    assert window.version == 3
    assert window.window_index == 12
    assert window.window_start_time.ToDatetime(tzinfo=UTC) == T0
    assert window.window_end_time.ToDatetime(tzinfo=UTC) == NOW
    assert window.window_rows == 10_000
    assert window.reference_rows == 50_000


def test_drift_detected_events() -> None:
    records = events.drift_detected_events(
        alert_id="al-1",
        kind=AlertKind.DATA_DRIFT,
        severity=Severity.CRITICAL,
        window=WINDOW,
        feature="income",
        method="kolmogorov_smirnov",
        value=0.31,
        warning_threshold=0.1,
        critical_threshold=0.2,
        p_value=0.001,
        max_p_value=0.01,
        risk_tier=RiskTier.HIGH,
    )

    assert types_and_subjects(records) == [("DriftDetected", "alerts/al-1")]
    detected = payload(records)
    assert detected.alert == "alerts/al-1"
    assert detected.kind == monitoring_pb2.ALERT_KIND_DATA_DRIFT
    assert detected.severity == resources_pb2.SEVERITY_CRITICAL
    assert_window(detected.window)
    assert detected.feature == "income"
    statistic = detected.statistic
    assert statistic.method == monitoring_pb2.DRIFT_METHOD_KOLMOGOROV_SMIRNOV
    assert statistic.value == 0.31
    assert statistic.HasField("p_value")
    assert statistic.p_value == 0.001
    assert statistic.warning_threshold == 0.1
    assert statistic.critical_threshold == 0.2
    assert statistic.max_p_value == 0.01
    assert statistic.severity == resources_pb2.SEVERITY_CRITICAL
    assert detected.risk_tier == registry_pb2.RISK_TIER_HIGH


def test_drift_detected_events_without_p_value() -> None:
    records = events.drift_detected_events(
        alert_id="al-2",
        kind=AlertKind.PREDICTION_DRIFT,
        severity=Severity.WARNING,
        window=events.AlertWindow("uid-churn", "models/churn", 3, 0),
        feature="score",
        method="psi",
        value=0.15,
        warning_threshold=0.1,
        critical_threshold=0.25,
    )

    detected = payload(records)
    assert detected.kind == monitoring_pb2.ALERT_KIND_PREDICTION_DRIFT
    assert not detected.statistic.HasField("p_value")
    assert not detected.window.HasField("window_start_time")
    assert detected.risk_tier == registry_pb2.RISK_TIER_UNSPECIFIED


@pytest.mark.parametrize("kind", [AlertKind.CONCEPT_DRIFT, AlertKind.DRIVER_SHIFT])
def test_drift_detected_events_reject_other_kinds(kind: AlertKind) -> None:
    with pytest.raises(ValueError, match=f"got {kind.value}"):
        events.drift_detected_events(
            alert_id="al-3",
            kind=kind,
            severity=Severity.WARNING,
            window=WINDOW,
            feature="income",
            method="psi",
            value=0.15,
            warning_threshold=0.1,
            critical_threshold=0.25,
        )


def test_concept_drift_detected_events() -> None:
    records = events.concept_drift_detected_events(
        alert_id="al-4",
        severity=Severity.WARNING,
        window=WINDOW,
        metric="auc",
        reference_value=0.82,
        window_value=0.76,
        degradation=0.06,
        warning_threshold=0.05,
        critical_threshold=0.1,
        labeled_rows=800,
        min_labeled_rows=500,
        risk_tier=RiskTier.LOW,
    )

    assert types_and_subjects(records) == [("ConceptDriftDetected", "alerts/al-4")]
    detected = payload(records)
    assert detected.alert == "alerts/al-4"
    assert detected.severity == resources_pb2.SEVERITY_WARNING
    assert_window(detected.window)
    drift = detected.concept_drift
    assert drift.metric == "auc"
    assert drift.reference_value == 0.82
    assert drift.window_value == 0.76
    assert drift.degradation == 0.06
    assert drift.warning_threshold == 0.05
    assert drift.critical_threshold == 0.1
    assert drift.labeled_rows == 800
    assert drift.min_labeled_rows == 500
    assert drift.severity == resources_pb2.SEVERITY_WARNING
    assert detected.risk_tier == registry_pb2.RISK_TIER_LOW


def test_driver_shift_detected_events() -> None:
    records = events.driver_shift_detected_events(
        alert_id="al-5",
        severity=Severity.CRITICAL,
        window=WINDOW,
        feature="tenure",
        method="permutation",
        reference_importance=0.4,
        window_importance=0.1,
        warning_threshold=0.1,
        critical_threshold=0.2,
        risk_tier=RiskTier.CRITICAL,
    )

    assert types_and_subjects(records) == [("DriverShiftDetected", "alerts/al-5")]
    detected = payload(records)
    assert_window(detected.window)
    shift = detected.driver_shift
    assert shift.feature == "tenure"
    assert shift.method == "permutation"
    assert shift.reference_importance == 0.4
    assert shift.window_importance == 0.1
    assert shift.change == pytest.approx(0.3)
    assert shift.warning_threshold == 0.1
    assert shift.critical_threshold == 0.2
    assert shift.severity == resources_pb2.SEVERITY_CRITICAL
    assert detected.severity == resources_pb2.SEVERITY_CRITICAL
    assert detected.risk_tier == registry_pb2.RISK_TIER_CRITICAL


def test_alert_resolved_events() -> None:
    records = events.alert_resolved_events(
        alert_id="al-1",
        kind=AlertKind.DATA_DRIFT,
        severity=Severity.CRITICAL,
        model_uid="uid-churn",
        model_name="models/churn",
        version=3,
        feature="income",
        resolution="psi 0.04 below warning 0.1 in window 13",
        resolve_time=NOW,
    )

    assert types_and_subjects(records) == [("AlertResolved", "alerts/al-1")]
    resolved = payload(records)
    assert resolved.alert == "alerts/al-1"
    assert resolved.kind == monitoring_pb2.ALERT_KIND_DATA_DRIFT
    assert resolved.severity == resources_pb2.SEVERITY_CRITICAL
    assert resolved.model_uid == "uid-churn"
    assert resolved.model == "models/churn"
    assert resolved.version == 3
    assert resolved.feature == "income"
    assert resolved.resolution == "psi 0.04 below warning 0.1 in window 13"
    assert resolved.resolve_time.ToDatetime(tzinfo=UTC) == NOW


def test_every_event_message_has_a_builder() -> None:
    built = {
        "FindingOpened",
        "FindingResolved",
        "PromotionApproved",
        "PromotionRejected",
        "ReviewerDecisionRecorded",
        "ModelFlaggedOrphaned",
        "ModelOrphanFlagCleared",
        "RedundancyDetected",
        "RedundancyCleared",
        "PolicyChanged",
        "PrincipalDeactivated",
        "PrincipalReactivated",
        "DriftDetected",
        "ConceptDriftDetected",
        "DriverShiftDetected",
        "AlertResolved",
    }
    # Messages that are only parts of other payloads.
    parts = {"OrphanReason", "MonitoredWindow"}

    assert set(events_pb2.DESCRIPTOR.message_types_by_name) == built | parts
