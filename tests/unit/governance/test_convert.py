from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from google.protobuf import json_format

from modelward_common.errors import InvalidArgument
from modelward_governance.domain.alerts import AlertKind, OpenAlert
from modelward_governance.domain.deployment import DenialCode, check_deployment
from modelward_governance.domain.evaluation import ModelEvaluation, evaluate_model
from modelward_governance.domain.findings import (
    Finding,
    FindingKind,
    OpenFindingSummary,
    reconcile_findings,
    reconcile_policy_findings,
)
from modelward_governance.domain.orphans import OrphanReasonCode, OrphanStatus, assess_orphan
from modelward_governance.domain.policy import Policy, RuleKind
from modelward_governance.domain.policy_yaml import (
    default_policy_text,
    parse_policy,
    validate_policy,
)
from modelward_governance.domain.portfolio import (
    Metric,
    ModelState,
    PortfolioModel,
    RiskTier,
    Stage,
)
from modelward_governance.domain.principals import PrincipalDirectory
from modelward_governance.domain.promotion import (
    DecisionOutcome,
    Promotion,
    PromotionState,
    ReviewerDecision,
    approve,
    reject,
    request_promotion,
    run_checks,
)
from modelward_governance.domain.redundancy import MatchKind
from modelward_governance.domain.severity import Severity
from modelward_governance.entrypoints import convert
from modelward_protos.events.v1 import governance_events_pb2 as events_pb2
from modelward_protos.governance.v1 import governance_service_pb2 as service_pb2
from modelward_protos.governance.v1 import monitoring_pb2, resources_pb2
from modelward_protos.registry.v1 import resources_pb2 as registry_pb2
from tests.unit.governance.builders import T0, days, make_model, make_version

AUTHOR = "user:author@example.com"
REQUESTER = "user:requester@example.com"
REVIEWER_1 = "user:r1@example.com"
REVIEWER_2 = "user:r2@example.com"
NOW = T0 + days(1)
POLICY_TEXT = default_policy_text()


def default_policy(revision: int = 1) -> Policy:
    return parse_policy(POLICY_TEXT, source="default_policy.yaml", revision=revision)


def failing_model() -> PortfolioModel:
    """A HIGH-risk model whose version 1 fails `auc-high-risk` and whose owner is missing."""
    return make_model(make_version(1, metrics=(Metric("auc", 0.7, "test"),)), owner="")


def evaluation_of(model: PortfolioModel, policy: Policy | None = None) -> ModelEvaluation:
    return evaluate_model(policy or default_policy(), model, now=NOW)


def as_dict(struct: Any) -> dict[str, Any]:
    return json_format.MessageToDict(struct)


# --- enum mappings --------------------------------------------------------------------------

ENUM_MAPPINGS: list[tuple[type[enum.Enum], Mapping[Any, int], Any, str]] = [
    (Severity, convert.SEVERITY_TO_PROTO, resources_pb2.Severity, "SEVERITY_"),
    (RuleKind, convert.RULE_KIND_TO_PROTO, resources_pb2.RuleKind, "RULE_KIND_"),
    (FindingKind, convert.FINDING_KIND_TO_PROTO, resources_pb2.FindingKind, "FINDING_KIND_"),
    (
        PromotionState,
        convert.PROMOTION_STATE_TO_PROTO,
        resources_pb2.PromotionState,
        "PROMOTION_STATE_",
    ),
    (
        DecisionOutcome,
        convert.DECISION_OUTCOME_TO_PROTO,
        resources_pb2.DecisionOutcome,
        "DECISION_OUTCOME_",
    ),
    (DenialCode, convert.DENIAL_CODE_TO_PROTO, resources_pb2.DenialCode, "DENIAL_CODE_"),
    (AlertKind, convert.ALERT_KIND_TO_PROTO, monitoring_pb2.AlertKind, "ALERT_KIND_"),
    (RiskTier, convert.RISK_TIER_TO_PROTO, registry_pb2.RiskTier, "RISK_TIER_"),
    (Stage, convert.STAGE_TO_PROTO, registry_pb2.Stage, "STAGE_"),
    (ModelState, convert.MODEL_STATE_TO_PROTO, registry_pb2.ModelState, "MODEL_STATE_"),
    (
        OrphanReasonCode,
        convert.ORPHAN_REASON_TO_PROTO,
        events_pb2.OrphanReasonCode,
        "ORPHAN_REASON_CODE_",
    ),
    (
        MatchKind,
        convert.MATCH_KIND_TO_PROTO,
        events_pb2.RedundancyMatchKind,
        "REDUNDANCY_MATCH_KIND_",
    ),
]


@pytest.mark.parametrize(
    ("domain", "mapping", "proto_enum", "prefix"),
    ENUM_MAPPINGS,
    ids=[domain.__name__ for domain, *_ in ENUM_MAPPINGS],
)
def test_enum_maps_every_member_by_name(
    domain: type[enum.Enum], mapping: Mapping[Any, int], proto_enum: Any, prefix: str
) -> None:
    for member in domain:
        assert proto_enum.Name(mapping[member]) == prefix + member.name
    assert len(set(mapping.values())) == len(domain)


def test_enum_leaves_no_proto_value_unmapped() -> None:
    for domain, mapping, proto_enum, prefix in ENUM_MAPPINGS:
        unspecified = proto_enum.Value(prefix + "UNSPECIFIED")
        unmapped = set(proto_enum.values()) - set(mapping.values()) - {unspecified}
        assert unmapped == set(), domain.__name__


@pytest.mark.parametrize(
    ("from_proto", "mapping", "domain"),
    [
        (convert.min_severity_from_proto, convert.SEVERITY_TO_PROTO, Severity),
        (convert.finding_kind_from_proto, convert.FINDING_KIND_TO_PROTO, FindingKind),
        (convert.promotion_state_from_proto, convert.PROMOTION_STATE_TO_PROTO, PromotionState),
        (convert.alert_kind_from_proto, convert.ALERT_KIND_TO_PROTO, AlertKind),
    ],
)
def test_filter_from_proto_round_trips(
    from_proto: Any, mapping: Mapping[Any, int], domain: type[enum.Enum]
) -> None:
    for member in domain:
        assert from_proto(mapping[member]) is member
    assert from_proto(0) is None


def test_filter_from_proto_rejects_unknown_value() -> None:
    with pytest.raises(InvalidArgument) as raised:
        convert.min_severity_from_proto(99)

    assert raised.value.field == "min_severity"
    assert "SEVERITY_CRITICAL" in raised.value.message


def test_finding_open_from_proto() -> None:
    assert convert.finding_open_from_proto(resources_pb2.FINDING_STATE_OPEN) is True
    assert convert.finding_open_from_proto(resources_pb2.FINDING_STATE_RESOLVED) is False
    assert convert.finding_open_from_proto(resources_pb2.FINDING_STATE_UNSPECIFIED) is None
    with pytest.raises(InvalidArgument):
        convert.finding_open_from_proto(7)


def test_dead_letter_status_from_proto() -> None:
    assert convert.dead_letter_status_from_proto(resources_pb2.DEAD_LETTER_STATE_PARKED) == "PARKED"
    assert (
        convert.dead_letter_status_from_proto(resources_pb2.DEAD_LETTER_STATE_APPLIED) == "RETRIED"
    )
    assert convert.dead_letter_status_from_proto(0) is None
    with pytest.raises(InvalidArgument):
        convert.dead_letter_status_from_proto(9)


def test_required_stage_defaults_to_production() -> None:
    assert convert.required_stage_from_proto(registry_pb2.STAGE_UNSPECIFIED) is Stage.PRODUCTION
    for stage in Stage:
        if stage is not Stage.UNSPECIFIED:
            assert convert.required_stage_from_proto(convert.STAGE_TO_PROTO[stage]) is stage
    with pytest.raises(InvalidArgument) as raised:
        convert.required_stage_from_proto(42)
    assert raised.value.field == "required_stage"


def test_drift_method_maps_every_proto_method() -> None:
    for name, value in monitoring_pb2.DriftMethod.items():
        if value == monitoring_pb2.DRIFT_METHOD_UNSPECIFIED:
            continue
        short = name.removeprefix("DRIFT_METHOD_").lower()
        assert convert.drift_method_to_proto(short) == value
    assert convert.drift_method_to_proto("PSI") == monitoring_pb2.DRIFT_METHOD_PSI
    with pytest.raises(ValueError, match="unknown drift method 'entropy'"):
        convert.drift_method_to_proto("entropy")


# --- names and request targets --------------------------------------------------------------


def test_names_of_resources() -> None:
    assert convert.finding_name("f1") == "findings/f1"
    assert convert.promotion_name("p1") == "promotions/p1"
    assert convert.policy_name(3) == "policies/3"
    assert convert.policy_etag(3) == '"3"'
    assert convert.dead_letter_name(12) == "deadLetters/12"
    assert convert.alert_name("a1") == "alerts/a1"
    assert convert.version_name("models/churn", 2) == "models/churn/versions/2"


def test_parse_names() -> None:
    assert convert.parse_model_name("models/churn") == "churn"
    assert convert.parse_version_name("models/churn/versions/3") == ("churn", 3)
    assert convert.parse_compliance_name("models/churn/compliance") == "churn"
    assert convert.parse_promotion_name("promotions/p-1") == "p-1"
    assert convert.parse_policy_name("policies/7") == 7
    assert convert.parse_policy_name("policies/current") is None
    assert convert.parse_dead_letter_name("deadLetters/12") == 12


@pytest.mark.parametrize(
    ("parse", "name"),
    [
        (convert.parse_model_name, "models/"),
        (convert.parse_model_name, "models/churn/versions/1"),
        (convert.parse_model_name, "model/churn"),
        (convert.parse_version_name, "models/churn/versions/0"),
        (convert.parse_version_name, "models/churn/versions/01"),
        (convert.parse_version_name, "models/churn/versions/x"),
        (convert.parse_version_name, "models/churn/versions/1234567890123456789"),
        (convert.parse_version_name, "models//versions/1"),
        (convert.parse_compliance_name, "models/churn"),
        (convert.parse_promotion_name, "promotions/"),
        (convert.parse_policy_name, "policies/latest"),
        (convert.parse_policy_name, "policies/-1"),
        (convert.parse_dead_letter_name, "deadLetters/abc"),
        (convert.parse_dead_letter_name, "deadletters/1"),
    ],
)
def test_parse_names_rejects_malformed(parse: Any, name: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        parse(name, "name")

    assert raised.value.field == "name"
    assert repr(name) in raised.value.message


def test_deployment_target_from_proto() -> None:
    request = service_pb2.CheckDeploymentRequest(model="models/churn", alias="champion")

    target = convert.deployment_target_from_proto(request)

    assert target == convert.DeploymentTarget("churn", 0, "champion", Stage.PRODUCTION)


def test_deployment_target_reads_version_and_stage() -> None:
    request = service_pb2.CheckDeploymentRequest(
        model="models/churn", version=4, required_stage=registry_pb2.STAGE_STAGING
    )

    target = convert.deployment_target_from_proto(request)

    assert target == convert.DeploymentTarget("churn", 4, "", Stage.STAGING)


def test_deployment_target_rejects_bad_model_name() -> None:
    with pytest.raises(InvalidArgument) as raised:
        convert.deployment_target_from_proto(service_pb2.CheckDeploymentRequest(model="churn"))

    assert raised.value.field == "model"


# --- evidence -------------------------------------------------------------------------------


class Color(enum.Enum):
    RED = "red"


def test_json_safe_converts_each_type() -> None:
    plus_two = timezone(timedelta(hours=2))
    evidence = {
        "aware": datetime(2025, 1, 1, 14, 0, tzinfo=plus_two),
        "naive": datetime(2025, 1, 1, 12, 0),
        "severity": Severity.CRITICAL,
        "color": Color.RED,
        "tuple": (1, "a"),
        "set": frozenset({"b", "a"}),
        "nested": {1: {"deep": (True, None)}},
        "nan": math.nan,
        "inf": math.inf,
        "minus_inf": -math.inf,
        "big": 2**60,
        "flag": True,
        "date": datetime(2025, 1, 2).date(),
        "other": object,
    }

    safe = convert.json_safe(evidence)

    assert safe["aware"] == "2025-01-01T12:00:00.000000Z"
    assert safe["naive"] == "2025-01-01T12:00:00.000000Z"
    assert safe["severity"] == "CRITICAL"
    assert safe["color"] == "RED"
    assert safe["tuple"] == [1, "a"]
    assert safe["set"] == ["a", "b"]
    assert safe["nested"] == {"1": {"deep": [True, None]}}
    assert safe["nan"] == "NaN"
    assert safe["inf"] == "Infinity"
    assert safe["minus_inf"] == "-Infinity"
    assert safe["big"] == str(2**60)
    assert safe["flag"] is True
    assert safe["date"] == "2025-01-02"
    assert safe["other"] == str(object)


def test_evidence_struct_holds_evidence() -> None:
    struct = convert.evidence_struct({"metric": "auc", "actual": 0.71, "found": ("age",)})

    assert as_dict(struct) == {"metric": "auc", "actual": 0.71, "found": ["age"]}


# --- rule results, compliance and dry runs ---------------------------------------------------


def test_rule_result_to_proto_for_version_rule() -> None:
    model = failing_model()
    policy = default_policy()
    evaluation = evaluation_of(model, policy)
    result = next(r for r in evaluation.version_results[1] if r.rule_id == "auc-high-risk")

    message = convert.rule_result_to_proto(result, model.name)

    assert message.rule_id == "auc-high-risk"
    assert message.kind == resources_pb2.RULE_KIND_METRIC_THRESHOLD
    assert message.passed is False
    assert message.applicable is True
    assert message.severity == resources_pb2.SEVERITY_ERROR
    assert message.blocks_promotion is True
    assert message.message == result.message
    assert message.model_version == "models/churn/versions/1"
    assert message.policy_revision == 1
    assert message.policy_sha256 == policy.sha256
    evidence = as_dict(message.evidence)
    assert evidence["metric"] == "auc"
    assert evidence["actual"] == 0.7
    assert evidence["threshold"] == 0.75


def test_rule_result_to_proto_for_model_rule() -> None:
    model = failing_model()
    result = next(r for r in evaluation_of(model).model_results if r.rule_id == "owner")

    message = convert.rule_result_to_proto(result, model.name)

    assert message.kind == resources_pb2.RULE_KIND_OWNER_REQUIRED
    assert message.passed is False
    assert message.model_version == ""


def test_rule_result_to_proto_not_applicable() -> None:
    model = make_model(make_version(1))
    results = evaluation_of(model).version_results[1]
    result = next(r for r in results if r.rule_id == "auc-medium-risk")

    message = convert.rule_result_to_proto(result, model.name)

    assert message.passed is True
    assert message.applicable is False
    assert as_dict(message.evidence)["rule_risk_tiers"] == ["medium"]


def test_model_compliance_to_proto() -> None:
    model = make_model(
        make_version(1, stage=Stage.PRODUCTION),
        make_version(2, metrics=(Metric("auc", 0.7, "test"),)),
    )
    evaluation = evaluation_of(model)

    message = convert.model_compliance_to_proto(evaluation, model)

    assert message.name == "models/churn/compliance"
    assert message.model_uid == "uid-churn"
    assert message.policy_revision == 1
    assert message.policy_sha256 == evaluation.policy_sha256
    assert message.evaluate_time.ToDatetime(tzinfo=UTC) == NOW
    assert message.compliant is False
    assert len(message.model_results) == len(evaluation.model_results)
    assert [v.model_version for v in message.versions] == [
        "models/churn/versions/1",
        "models/churn/versions/2",
    ]
    assert message.versions[0].stage == registry_pb2.STAGE_PRODUCTION
    assert message.versions[1].stage == registry_pb2.STAGE_NONE
    assert message.versions[1].compliant is False
    assert len(message.versions[1].results) == len(evaluation.version_results[2])


def test_model_compliance_rejects_other_model() -> None:
    evaluation = evaluation_of(make_model(make_version(1)))
    other = make_model(make_version(1), uid="uid-other")

    with pytest.raises(ValueError, match="uid-churn"):
        convert.model_compliance_to_proto(evaluation, other)


def test_dry_run_results_report_newly_failing_and_passing() -> None:
    model = make_model(make_version(1), owner="")
    current = evaluation_of(model)
    stricter = POLICY_TEXT.replace("threshold: 0.75", "threshold: 0.9").replace(
        "  - id: owner\n    kind: owner_required\n    severity: error\n", ""
    )
    candidate = evaluation_of(model, parse_policy(stricter, revision=0))

    results = convert.dry_run_results_to_proto(model, candidate, current)

    assert [r.model_version for r in results] == ["", "models/churn/versions/1"]
    model_scope, version_scope = results
    assert model_scope.model == "models/churn"
    assert model_scope.newly_passing_rule_ids == ["owner"]
    assert model_scope.newly_failing_rule_ids == []
    assert version_scope.passed is False
    assert version_scope.newly_failing_rule_ids == ["auc-high-risk"]
    assert version_scope.newly_passing_rule_ids == []
    assert len(version_scope.results) == len(candidate.version_results[1])


def test_dry_run_results_without_current_policy() -> None:
    model = make_model(make_version(1))
    candidate = evaluation_of(model)

    results = convert.dry_run_results_to_proto(model, candidate)

    assert all(r.passed for r in results)
    assert all(not r.newly_failing_rule_ids for r in results)


# --- findings -------------------------------------------------------------------------------


def open_findings_of(model: PortfolioModel) -> tuple[Finding, ...]:
    return reconcile_policy_findings([], evaluation_of(model)).opened


def test_finding_to_proto_for_open_version_finding() -> None:
    model = failing_model()
    finding = next(f for f in open_findings_of(model) if f.key.check_id == "auc-high-risk")

    message = convert.finding_to_proto(finding, "models/churn-renamed")

    assert message.name == f"findings/{finding.finding_id}"
    assert message.kind == resources_pb2.FINDING_KIND_POLICY_VIOLATION
    assert message.severity == resources_pb2.SEVERITY_ERROR
    assert message.state == resources_pb2.FINDING_STATE_OPEN
    assert message.model == "models/churn-renamed"
    assert message.model_uid == "uid-churn"
    assert message.model_version == "models/churn-renamed/versions/1"
    assert message.rule_id == "auc-high-risk"
    assert message.blocks_promotion is True
    assert message.message == finding.message
    assert as_dict(message.evidence)["actual"] == 0.7
    assert message.policy_revision == 1
    assert message.open_time.ToDatetime(tzinfo=UTC) == NOW
    assert not message.HasField("resolve_time")
    assert message.resolution == ""


def test_finding_to_proto_for_resolved_model_finding() -> None:
    model = failing_model()
    opened = [f for f in open_findings_of(model) if f.key.check_id == "owner"]
    later = NOW + days(1)
    resolved = reconcile_findings(
        opened, [], now=later, resolution_for=lambda finding: "owner set"
    ).resolved[0]

    message = convert.finding_to_proto(resolved, model.name)

    assert message.state == resources_pb2.FINDING_STATE_RESOLVED
    assert message.model_version == ""
    assert message.resolve_time.ToDatetime(tzinfo=UTC) == later
    assert message.resolution == "owner set"


# --- policies -------------------------------------------------------------------------------


def test_policy_to_proto() -> None:
    policy = default_policy(revision=4)
    created = T0 + days(3)

    message = convert.policy_to_proto(
        policy, yaml_text=POLICY_TEXT, author=AUTHOR, reason="baseline", create_time=created
    )

    assert message.name == "policies/4"
    assert message.revision == 4
    assert message.sha256 == policy.sha256
    assert message.yaml_text == POLICY_TEXT
    assert message.author == AUTHOR
    assert message.reason == "baseline"
    assert message.create_time.ToDatetime(tzinfo=UTC) == created
    assert message.etag == '"4"'
    assert [rule.id for rule in message.rules] == [rule.id for rule in policy.rules]


def test_policy_rule_to_proto() -> None:
    rule = default_policy().get_rule("protected-attributes")

    message = convert.policy_rule_to_proto(rule)

    assert message.id == "protected-attributes"
    assert message.kind == resources_pb2.RULE_KIND_FORBIDDEN_FEATURES
    assert message.severity == resources_pb2.SEVERITY_CRITICAL
    assert message.blocks_promotion is True
    assert message.description == rule.description
    assert list(message.risk_tiers) == [
        registry_pb2.RISK_TIER_HIGH,
        registry_pb2.RISK_TIER_CRITICAL,
    ]
    assert message.line == rule.line
    assert message.line > 0


def test_policy_to_proto_rejects_other_text() -> None:
    with pytest.raises(ValueError, match="yaml_text does not match policy r1/"):
        convert.policy_to_proto(
            default_policy(), yaml_text=POLICY_TEXT + "\n", author="", reason="", create_time=T0
        )


INVALID_POLICY = """\
format_version: 1
name: broken
rules:
  - id: auc
    kind: metric_threshold
    severity: error
    metric: auc
    operator: ">="
    threshold: high
"""


def test_policy_problems_to_proto() -> None:
    problems = validate_policy(INVALID_POLICY, source="policy.yaml")

    messages = convert.policy_problems_to_proto(problems)

    assert len(messages) == len(problems) >= 1
    first, problem = messages[0], problems[0]
    assert first.line == problem.line == 9
    assert first.column == problem.column
    assert first.field == "rules[0].threshold"
    assert first.message == problem.message
    assert first.text.startswith("policy.yaml line 9: rules[0].threshold: ")


def test_validate_policy_response_for_invalid_text() -> None:
    problems = validate_policy(INVALID_POLICY)

    response = convert.validate_policy_response(INVALID_POLICY, problems, None)

    assert response.valid is False
    assert len(response.problems) == len(problems)
    assert list(response.rules) == []
    assert len(response.sha256) == 64


def test_validate_policy_response_for_valid_text() -> None:
    policy = default_policy()

    response = convert.validate_policy_response(POLICY_TEXT, (), policy)

    assert response.valid is True
    assert list(response.problems) == []
    assert len(response.rules) == len(policy.rules)
    assert response.sha256 == policy.sha256


# --- promotions -----------------------------------------------------------------------------


def requested(model: PortfolioModel) -> Promotion:
    return request_promotion(
        promotion_id="p-1",
        model=model,
        version=1,
        target_stage=Stage.PRODUCTION,
        requested_by=REQUESTER,
        requested_at=T0,
    )


def approved_promotion() -> Promotion:
    model = make_model(make_version(1, created_by=AUTHOR))
    promotion = run_checks(requested(model), default_policy(), model, now=NOW).promotion
    directory = PrincipalDirectory()
    promotion = approve(promotion, REVIEWER_1, "ok", at=NOW, principals=directory).promotion
    return approve(promotion, REVIEWER_2, "", at=NOW + days(1), principals=directory).promotion


def test_promotion_to_proto_for_approved_promotion() -> None:
    promotion = approved_promotion()

    message = convert.promotion_to_proto(promotion)

    assert message.name == "promotions/p-1"
    assert message.model == "models/churn"
    assert message.model_uid == "uid-churn"
    assert message.model_version == "models/churn/versions/1"
    assert message.version == 1
    assert message.target_stage == registry_pb2.STAGE_PRODUCTION
    assert message.archive_existing is True
    assert message.requested_by == REQUESTER
    assert message.version_author == AUTHOR
    assert message.risk_tier == registry_pb2.RISK_TIER_HIGH
    assert message.state == resources_pb2.PROMOTION_STATE_APPROVED
    assert len(message.checks) == len(promotion.checks) > 0
    assert all(check.model_version in ("", "models/churn/versions/1") for check in message.checks)
    assert message.required_approvals == 2
    assert [d.reviewer for d in message.decisions] == [REVIEWER_1, REVIEWER_2]
    assert list(message.failing_rule_ids) == []
    assert message.outcome_message == promotion.outcome_message
    assert message.policy_revision == 1
    assert message.policy_sha256 == promotion.policy_sha256
    assert message.request_time.ToDatetime(tzinfo=UTC) == T0
    assert message.check_time.ToDatetime(tzinfo=UTC) == NOW
    assert message.resolve_time.ToDatetime(tzinfo=UTC) == NOW + days(1)


def test_promotion_to_proto_uses_current_model_name() -> None:
    message = convert.promotion_to_proto(approved_promotion(), "models/churn-v2")

    assert message.model == "models/churn-v2"
    assert message.model_version == "models/churn-v2/versions/1"


def test_promotion_to_proto_for_rejected_by_checks() -> None:
    model = make_model(make_version(1, feature_names=("age", "plan")))
    promotion = run_checks(requested(model), default_policy(), model, now=NOW).promotion

    message = convert.promotion_to_proto(promotion)

    assert message.state == resources_pb2.PROMOTION_STATE_REJECTED
    assert list(message.failing_rule_ids) == ["protected-attributes"]
    assert message.HasField("resolve_time")


def test_promotion_to_proto_while_open() -> None:
    message = convert.promotion_to_proto(requested(make_model(make_version(1))))

    assert message.state == resources_pb2.PROMOTION_STATE_REQUESTED
    assert not message.HasField("check_time")
    assert not message.HasField("resolve_time")
    assert message.risk_tier == registry_pb2.RISK_TIER_HIGH


def test_reviewer_decision_to_proto() -> None:
    decision = ReviewerDecision(REVIEWER_1, DecisionOutcome.REJECT, "no lineage", NOW)

    message = convert.reviewer_decision_to_proto(decision)

    assert message.reviewer == REVIEWER_1
    assert message.outcome == resources_pb2.DECISION_OUTCOME_REJECT
    assert message.comment == "no lineage"
    assert message.decide_time.ToDatetime(tzinfo=UTC) == NOW


def test_promotion_to_proto_keeps_decision_order() -> None:
    model = make_model(make_version(1, created_by=AUTHOR))
    promotion = run_checks(requested(model), default_policy(), model, now=NOW).promotion
    directory = PrincipalDirectory()
    promotion = approve(promotion, REVIEWER_1, "ok", at=NOW, principals=directory).promotion
    promotion = reject(promotion, REVIEWER_2, "drift", at=NOW, principals=directory).promotion

    message = convert.promotion_to_proto(promotion)

    assert [d.outcome for d in message.decisions] == [
        resources_pb2.DECISION_OUTCOME_APPROVE,
        resources_pb2.DECISION_OUTCOME_REJECT,
    ]
    assert message.state == resources_pb2.PROMOTION_STATE_REJECTED


# --- portfolio ------------------------------------------------------------------------------


def portfolio_model() -> PortfolioModel:
    production = make_version(
        1,
        stage=Stage.PRODUCTION,
        last_review_time=T0 + days(2),
        approved_by=(REVIEWER_1, REVIEWER_2),
        evaluation_dataset_sha256="e" * 64,
    )
    candidate = make_version(
        2,
        stage=Stage.STAGING,
        pending_stage=Stage.PRODUCTION,
        metrics=(Metric("auc", 0.7, "test"),),
        create_time=T0 + days(5),
    )
    return make_model(production, candidate, aliases={"champion": 1, "challenger": 2}, owner="")


def test_portfolio_entry_to_proto() -> None:
    model = portfolio_model()
    findings = open_findings_of(model)
    other_model = open_findings_of(dataclasses.replace(failing_model(), uid="uid-other"))
    status = assess_orphan(model, PrincipalDirectory(), NOW)

    entry = convert.portfolio_entry_to_proto(
        model,
        open_findings=OpenFindingSummary.of(model.uid, (*findings, *other_model)),
        orphan_status=status,
        compliant=False,
        redundant_with=["models/b", "models/a", "models/b"],
    )

    assert entry.model == "models/churn"
    assert entry.model_uid == "uid-churn"
    assert entry.description == model.description
    assert entry.owner == ""
    assert entry.team == "retention"
    assert entry.risk_tier == registry_pb2.RISK_TIER_HIGH
    assert entry.task_type == "binary_classification"
    assert entry.state == registry_pb2.MODEL_STATE_ACTIVE
    assert dict(entry.tags) == {"domain": "marketing"}
    assert dict(entry.aliases) == {"champion": 1, "challenger": 2}
    assert entry.create_time.ToDatetime(tzinfo=UTC) == T0
    assert entry.last_activity_time.ToDatetime(tzinfo=UTC) == T0
    assert entry.open_findings_count == len(findings)
    assert entry.max_open_finding_severity == resources_pb2.SEVERITY_ERROR
    assert entry.compliant is False
    assert entry.orphaned is True
    assert list(entry.redundant_with) == ["models/a", "models/b"]
    per_version = [v.open_findings_count for v in entry.versions]
    assert per_version == [
        sum(1 for f in findings if f.key.version == 1),
        sum(1 for f in findings if f.key.version == 2),
    ]
    assert per_version[1] >= 1


def test_portfolio_entry_ignores_resolved_findings() -> None:
    model = make_model(make_version(1))
    resolved = reconcile_findings(
        open_findings_of(failing_model()), [], now=NOW, resolution_for=lambda finding: "fixed"
    ).resolved

    entry = convert.portfolio_entry_to_proto(
        model,
        open_findings=OpenFindingSummary.of(model.uid, resolved),
        orphan_status=OrphanStatus(model.uid),
        compliant=True,
    )

    assert entry.open_findings_count == 0
    assert entry.max_open_finding_severity == resources_pb2.SEVERITY_UNSPECIFIED
    assert entry.orphaned is False
    assert list(entry.redundant_with) == []


def test_portfolio_entry_rejects_other_orphan_status() -> None:
    with pytest.raises(ValueError, match="uid-other"):
        convert.portfolio_entry_to_proto(
            make_model(make_version(1)),
            open_findings=OpenFindingSummary(),
            orphan_status=OrphanStatus("uid-other"),
            compliant=True,
        )


def test_portfolio_version_to_proto() -> None:
    model = portfolio_model()

    production = convert.portfolio_version_to_proto(model, model.versions[1], 3)
    candidate = convert.portfolio_version_to_proto(model, model.versions[2])

    assert production.name == "models/churn/versions/1"
    assert production.version == 1
    assert production.stage == registry_pb2.STAGE_PRODUCTION
    assert production.pending_stage == registry_pb2.STAGE_UNSPECIFIED
    assert list(production.aliases) == ["champion"]
    assert production.artifact_sha256 == model.versions[1].artifact_sha256
    assert production.training_dataset_sha256 == model.versions[1].training_dataset_sha256
    assert production.evaluation_dataset_sha256 == "e" * 64
    assert production.code_commit == model.versions[1].code_commit
    assert list(production.feature_names) == ["tenure", "plan", "monthly_charges"]
    assert [(m.name, m.value, m.dataset_split) for m in production.metrics] == [
        ("auc", 0.82, "test")
    ]
    assert production.created_by == "user:author@example.com"
    assert production.create_time.ToDatetime(tzinfo=UTC) == T0
    assert production.stage_time.ToDatetime(tzinfo=UTC) == T0
    assert production.last_review_time.ToDatetime(tzinfo=UTC) == T0 + days(2)
    assert list(production.approved_by) == [REVIEWER_1, REVIEWER_2]
    assert production.open_findings_count == 3
    assert candidate.stage == registry_pb2.STAGE_STAGING
    assert candidate.pending_stage == registry_pb2.STAGE_PRODUCTION
    assert not candidate.HasField("last_review_time")
    assert list(candidate.aliases) == ["challenger"]


# --- deployment checks ----------------------------------------------------------------------


def test_check_deployment_response_lists_reasons() -> None:
    model = make_model(make_version(1, stage=Stage.PRODUCTION, last_review_time=T0), owner="")
    critical = dataclasses.replace(open_findings_of(failing_model())[0], severity=Severity.CRITICAL)
    alert = OpenAlert("al-1", model.uid, 1, AlertKind.DATA_DRIFT, Severity.CRITICAL, NOW, "plan")
    decision = check_deployment(
        model,
        model.versions[1],
        orphan_status=assess_orphan(model, PrincipalDirectory(), NOW),
        open_findings=[critical],
        open_alerts=[alert],
    )

    response = convert.check_deployment_response(
        decision, model_name=model.name, policy_revision=3, check_time=NOW
    )

    assert response.allowed is False
    assert response.model_version == "models/churn/versions/1"
    assert response.version == 1
    assert response.policy_revision == 3
    assert response.check_time.ToDatetime(tzinfo=UTC) == NOW
    assert [reason.code for reason in response.reasons] == [
        resources_pb2.DENIAL_CODE_ORPHANED,
        resources_pb2.DENIAL_CODE_DRIFT,
        resources_pb2.DENIAL_CODE_OPEN_CRITICAL_FINDING,
    ]
    orphaned, drift, finding = response.reasons
    assert orphaned.message == decision.reasons[0].message
    assert drift.alert == "alerts/al-1"
    assert drift.finding == ""
    assert finding.finding == f"findings/{critical.finding_id}"
    assert finding.rule_id == critical.key.check_id
    assert finding.alert == ""


def test_check_deployment_response_when_allowed() -> None:
    model = make_model(make_version(1, stage=Stage.PRODUCTION, last_review_time=T0))
    decision = check_deployment(model, model.versions[1], orphan_status=OrphanStatus(model.uid))

    response = convert.check_deployment_response(
        decision, model_name=model.name, policy_revision=1, check_time=NOW
    )

    assert response.allowed is True
    assert list(response.reasons) == []


# --- principals and dead letters ------------------------------------------------------------


def test_principal_to_proto() -> None:
    message = convert.principal_to_proto(
        AUTHOR, active=False, reason="left", updated_by=REVIEWER_1, update_time=NOW
    )

    assert message.principal == AUTHOR
    assert message.active is False
    assert message.reason == "left"
    assert message.updated_by == REVIEWER_1
    assert message.update_time.ToDatetime(tzinfo=UTC) == NOW


def test_principal_to_proto_never_changed() -> None:
    message = convert.principal_to_proto(AUTHOR, active=True)

    assert message.active is True
    assert not message.HasField("update_time")


def dead_letter_row(**changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "id": 12,
        "consumer": "governance",
        "event_id": "ev-1",
        "stream_id": "uid-churn",
        "stream_version": 4,
        "type": "ModelVersionCreated",
        "headers": {"ce-type": "modelward.registry.v1.ModelVersionCreated", "ce-id": "ev-1"},
        "payload": b"\x08\x01",
        "error": "FailedPrecondition: version 3 not in portfolio",
        "deliveries": 5,
        "parked_at": NOW,
        "status": "PARKED",
    }
    row.update(changes)
    return row


def test_dead_letter_to_proto() -> None:
    message = convert.dead_letter_to_proto(dead_letter_row())

    assert message.name == "deadLetters/12"
    assert message.event_id == "ev-1"
    assert message.event_type == "modelward.registry.v1.ModelVersionCreated"
    assert message.model_uid == "uid-churn"
    assert message.payload == b"\x08\x01"
    assert message.headers["ce-id"] == "ev-1"
    assert message.error == "FailedPrecondition: version 3 not in portfolio"
    assert message.attempts == 5
    assert not message.HasField("first_failure_time")
    assert message.last_failure_time.ToDatetime(tzinfo=UTC) == NOW
    assert message.state == resources_pb2.DEAD_LETTER_STATE_PARKED


def test_dead_letter_to_proto_after_retry() -> None:
    row = dead_letter_row(status="RETRIED", deliveries=1, headers={}, payload=None)

    message = convert.dead_letter_to_proto(row)

    assert message.state == resources_pb2.DEAD_LETTER_STATE_APPLIED
    assert message.event_type == "ModelVersionCreated"
    assert message.payload == b""
    assert message.first_failure_time.ToDatetime(tzinfo=UTC) == NOW


def test_dead_letter_to_proto_rejects_unknown_status() -> None:
    with pytest.raises(ValueError, match="dead letter 12 has unknown status 'LOST'"):
        convert.dead_letter_to_proto(dead_letter_row(status="LOST"))


def _big_entry(count: int, features: int = 200) -> resources_pb2.PortfolioEntry:
    versions = [
        make_version(number, feature_names=tuple(f"feature_{number}_{index:04d}" for index in range(features)))
        for number in range(1, count + 1)
    ]
    versions[2] = dataclasses.replace(versions[2], stage=Stage.PRODUCTION)
    versions[5] = dataclasses.replace(versions[5], stage=Stage.STAGING, pending_stage=Stage.PRODUCTION)
    model = make_model(*versions, aliases={"old-champion": 1})
    return convert.portfolio_entry_to_proto(
        model, open_findings=OpenFindingSummary(), orphan_status=OrphanStatus(model.uid), compliant=True
    )


def test_fit_entry_keeps_acted_on_then_newest() -> None:
    entry = _big_entry(400)
    assert entry.ByteSize() > 1_500_000

    convert.fit_portfolio_entry(entry, max_bytes=300_000)

    listed = [version.version for version in entry.versions]
    assert entry.ByteSize() <= 300_000
    assert entry.versions_omitted == 400 - len(listed)
    assert listed == sorted(listed)
    # Production (3), staging with a pending promotion (6), the aliased version (1), then the newest.
    assert listed[:3] == [1, 3, 6]
    assert listed[3:] == list(range(400 - len(listed) + 4, 401))


def test_fit_entry_leaves_small_entry_alone() -> None:
    entry = _big_entry(6, features=3)
    before = entry.SerializeToString()

    convert.fit_portfolio_entry(entry, max_bytes=300_000)

    assert entry.SerializeToString() == before
    assert entry.versions_omitted == 0


def test_fit_entry_uses_the_whole_budget() -> None:
    """The budget counts each version's field bytes exactly: one more version would not fit."""
    entry = _big_entry(50)
    convert.fit_portfolio_entry(entry, max_bytes=100_000)
    size = entry.ByteSize()
    smallest_left_out = min(
        version.ByteSize() for version in _big_entry(50).versions if version.version not in {listed.version for listed in entry.versions}
    )

    assert size <= 100_000
    assert size + smallest_left_out > 100_000


def test_fit_entry_keeps_production_before_aliases() -> None:
    versions = [
        make_version(number, feature_names=tuple(f"feature_{number}_{index:04d}" for index in range(400)))
        for number in (1, 2, 3)
    ]
    versions[0] = dataclasses.replace(versions[0], stage=Stage.PRODUCTION)
    model = make_model(*versions, aliases={"candidate": 2, "latest": 3})
    entry = convert.portfolio_entry_to_proto(
        model, open_findings=OpenFindingSummary(), orphan_status=OrphanStatus(model.uid), compliant=True
    )
    sizes = [version.ByteSize() for version in entry.versions]
    # Room for any one version, not for two.
    one_version = entry.ByteSize() - sum(sizes) + max(sizes)

    convert.fit_portfolio_entry(entry, max_bytes=one_version)

    assert [version.version for version in entry.versions] == [1]
    assert entry.versions_omitted == 2
