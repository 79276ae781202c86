"""Conversions between governance domain objects and the `modelward.governance.v1` messages.

The servicer loads state, calls the domain and passes the results here, so it needs no field
mapping of its own. Every function is pure. Enum mappings are built by name, for example
`Severity.CRITICAL` to `SEVERITY_CRITICAL`, so a domain member without a proto value of the
same name fails at import rather than in a request.
"""

from __future__ import annotations

import enum
import json
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from google.protobuf import struct_pb2

from modelward_common.errors import InvalidArgument
from modelward_common.timeutil import rfc3339
from modelward_governance.domain.alerts import AlertKind
from modelward_governance.domain.deployment import DenialCode, DenialReason, DeploymentDecision
from modelward_governance.domain.evaluation import ModelEvaluation, RuleResult
from modelward_governance.domain.findings import Finding, FindingKind, OpenFindingSummary
from modelward_governance.domain.orphans import OrphanReasonCode, OrphanStatus
from modelward_governance.domain.policy import Policy, Rule, RuleKind
from modelward_governance.domain.policy_yaml import PolicyProblem, policy_sha256
from modelward_governance.domain.portfolio import (
    ModelState,
    PortfolioModel,
    PortfolioVersion,
    RiskTier,
    Stage,
)
from modelward_governance.domain.promotion import (
    DecisionOutcome,
    Promotion,
    PromotionState,
    ReviewerDecision,
)
from modelward_governance.domain.redundancy import MatchKind
from modelward_governance.domain.severity import Severity
from modelward_protos.events.v1 import governance_events_pb2 as events_pb2
from modelward_protos.governance.v1 import governance_service_pb2 as service_pb2
from modelward_protos.governance.v1 import monitoring_pb2, resources_pb2
from modelward_protos.registry.v1 import resources_pb2 as registry_pb2

# --- enum mappings --------------------------------------------------------------------------

_Member = TypeVar("_Member", bound=enum.Enum)


def _by_name(domain: type[_Member], proto_enum: Any, prefix: str) -> dict[_Member, Any]:
    """Map each domain member to the proto enum value named `prefix + member.name`."""
    return {member: getattr(proto_enum, prefix + member.name) for member in domain}


def _inverse(mapping: Mapping[_Member, int]) -> dict[int, _Member]:
    return {value: member for member, value in mapping.items()}


SEVERITY_TO_PROTO: Mapping[Severity, resources_pb2.Severity] = _by_name(
    Severity, resources_pb2.Severity, "SEVERITY_"
)
RULE_KIND_TO_PROTO: Mapping[RuleKind, resources_pb2.RuleKind] = _by_name(
    RuleKind, resources_pb2.RuleKind, "RULE_KIND_"
)
FINDING_KIND_TO_PROTO: Mapping[FindingKind, resources_pb2.FindingKind] = _by_name(
    FindingKind, resources_pb2.FindingKind, "FINDING_KIND_"
)
PROMOTION_STATE_TO_PROTO: Mapping[PromotionState, resources_pb2.PromotionState] = _by_name(
    PromotionState, resources_pb2.PromotionState, "PROMOTION_STATE_"
)
DECISION_OUTCOME_TO_PROTO: Mapping[DecisionOutcome, resources_pb2.DecisionOutcome] = _by_name(
    DecisionOutcome, resources_pb2.DecisionOutcome, "DECISION_OUTCOME_"
)
DENIAL_CODE_TO_PROTO: Mapping[DenialCode, resources_pb2.DenialCode] = _by_name(
    DenialCode, resources_pb2.DenialCode, "DENIAL_CODE_"
)
ALERT_KIND_TO_PROTO: Mapping[AlertKind, monitoring_pb2.AlertKind] = _by_name(
    AlertKind, monitoring_pb2.AlertKind, "ALERT_KIND_"
)
RISK_TIER_TO_PROTO: Mapping[RiskTier, registry_pb2.RiskTier] = _by_name(
    RiskTier, registry_pb2.RiskTier, "RISK_TIER_"
)
STAGE_TO_PROTO: Mapping[Stage, registry_pb2.Stage] = _by_name(Stage, registry_pb2.Stage, "STAGE_")
MODEL_STATE_TO_PROTO: Mapping[ModelState, registry_pb2.ModelState] = _by_name(
    ModelState, registry_pb2.ModelState, "MODEL_STATE_"
)
ORPHAN_REASON_TO_PROTO: Mapping[OrphanReasonCode, events_pb2.OrphanReasonCode] = _by_name(
    OrphanReasonCode, events_pb2.OrphanReasonCode, "ORPHAN_REASON_CODE_"
)
MATCH_KIND_TO_PROTO: Mapping[MatchKind, events_pb2.RedundancyMatchKind] = _by_name(
    MatchKind, events_pb2.RedundancyMatchKind, "REDUNDANCY_MATCH_KIND_"
)

_SEVERITY_FROM_PROTO = _inverse(SEVERITY_TO_PROTO)
_FINDING_KIND_FROM_PROTO = _inverse(FINDING_KIND_TO_PROTO)
_PROMOTION_STATE_FROM_PROTO = _inverse(PROMOTION_STATE_TO_PROTO)
_ALERT_KIND_FROM_PROTO = _inverse(ALERT_KIND_TO_PROTO)
_STAGE_FROM_PROTO = _inverse(STAGE_TO_PROTO)

# Drift methods by the lowercase name that monitoring uses, such as `psi` or `chi_squared`.
DRIFT_METHOD_TO_PROTO: Mapping[str, monitoring_pb2.DriftMethod] = {
    value.name.removeprefix("DRIFT_METHOD_").lower(): getattr(monitoring_pb2, value.name)
    for value in monitoring_pb2.DriftMethod.DESCRIPTOR.values
    if value.number != monitoring_pb2.DRIFT_METHOD_UNSPECIFIED
}


def drift_method_to_proto(method: str) -> monitoring_pb2.DriftMethod:
    """Return the proto value of a drift method named like `psi`, raising ValueError if unknown."""
    found = DRIFT_METHOD_TO_PROTO.get(method.lower())
    if found is None:
        raise ValueError(
            f"unknown drift method {method!r}: expected one of {', '.join(DRIFT_METHOD_TO_PROTO)}"
        )
    return found


# --- enum filters and targets in requests ---------------------------------------------------


_Value = TypeVar("_Value")


def _filter_value(
    mapping: Mapping[int, _Value], value: int, field: str, proto_enum: Any
) -> _Value | None:
    """Return the mapped value of a request's enum filter, or None for UNSPECIFIED (no filter)."""
    if value == 0:
        return None
    if value not in mapping:
        raise InvalidArgument(
            field,
            value,
            f"use one of {', '.join(proto_enum.keys())}",
            problem="is not a known enum value",
        )
    return mapping[value]


def min_severity_from_proto(value: int, field: str = "min_severity") -> Severity | None:
    return _filter_value(_SEVERITY_FROM_PROTO, value, field, resources_pb2.Severity)


def finding_kind_from_proto(value: int, field: str = "kind") -> FindingKind | None:
    return _filter_value(_FINDING_KIND_FROM_PROTO, value, field, resources_pb2.FindingKind)


def promotion_state_from_proto(value: int, field: str = "state") -> PromotionState | None:
    return _filter_value(_PROMOTION_STATE_FROM_PROTO, value, field, resources_pb2.PromotionState)


def alert_kind_from_proto(value: int, field: str = "kind") -> AlertKind | None:
    return _filter_value(_ALERT_KIND_FROM_PROTO, value, field, monitoring_pb2.AlertKind)


def finding_open_from_proto(value: int, field: str = "state") -> bool | None:
    """Return True for FINDING_STATE_OPEN, False for RESOLVED and None for UNSPECIFIED."""
    states: Mapping[int, bool] = {
        resources_pb2.FINDING_STATE_OPEN: True,
        resources_pb2.FINDING_STATE_RESOLVED: False,
    }
    return _filter_value(states, value, field, resources_pb2.FindingState)


# Statuses of `dead_letters` rows: PARKED, then RETRIED once a retry applied the event.
_DEAD_LETTER_STATUS_FROM_PROTO: Mapping[int, str] = {
    resources_pb2.DEAD_LETTER_STATE_PARKED: "PARKED",
    resources_pb2.DEAD_LETTER_STATE_APPLIED: "RETRIED",
}
_DEAD_LETTER_STATE_FROM_STATUS = {
    "PARKED": resources_pb2.DEAD_LETTER_STATE_PARKED,
    "RETRIED": resources_pb2.DEAD_LETTER_STATE_APPLIED,
    "APPLIED": resources_pb2.DEAD_LETTER_STATE_APPLIED,
}


def dead_letter_status_from_proto(value: int, field: str = "state") -> str | None:
    """Return the `dead_letters.status` to list, or None for every status."""
    return _filter_value(
        _DEAD_LETTER_STATUS_FROM_PROTO, value, field, resources_pb2.DeadLetterState
    )


def required_stage_from_proto(value: int, field: str = "required_stage") -> Stage:
    """Return the stage a deployment check requires. STAGE_UNSPECIFIED means PRODUCTION."""
    found = _filter_value(_STAGE_FROM_PROTO, value, field, registry_pb2.Stage)
    return Stage.PRODUCTION if found is None else found


@dataclass(frozen=True)
class DeploymentTarget:
    """Model, version or alias, and required stage of a CheckDeployment request, ready for
    `portfolio.resolve_version` and `deployment.check_deployment`."""

    model_id: str
    # At most one of version and alias is set, and resolve_version rejects a target with neither.
    version: int
    alias: str
    required_stage: Stage


def deployment_target_from_proto(request: service_pb2.CheckDeploymentRequest) -> DeploymentTarget:
    return DeploymentTarget(
        model_id=parse_model_name(request.model, "model"),
        version=request.version,
        alias=request.alias,
        required_stage=required_stage_from_proto(request.required_stage),
    )


# --- resource names -------------------------------------------------------------------------


def finding_name(finding_id: str) -> str:
    return f"findings/{finding_id}"


def promotion_name(promotion_id: str) -> str:
    return f"promotions/{promotion_id}"


def policy_name(revision: int) -> str:
    return f"policies/{revision}"


def policy_etag(revision: int) -> str:
    """Return the etag of a policy revision: the revision number in double quotes, the same
    form as the registry's etags."""
    return f'"{revision}"'


def dead_letter_name(dead_letter_id: int | str) -> str:
    return f"deadLetters/{dead_letter_id}"


def alert_name(alert_id: str) -> str:
    return f"alerts/{alert_id}"


def version_name(model_name: str, version: int) -> str:
    """Return `models/{model}/versions/{version}` from a `models/{model}` name."""
    return f"{model_name}/versions/{version}"


def _name_parts(name: str, form: str, field: str, example: str) -> list[str]:
    """Return the variable segments of `name`, which must match `form` such as
    `models/{model}/versions/{version}` with every variable segment non-empty."""
    expected = form.split("/")
    parts = name.split("/")
    variable = [segment.startswith("{") for segment in expected]
    matches = len(parts) == len(expected) and all(
        bool(part) if is_variable else part == segment
        for part, segment, is_variable in zip(parts, expected, variable, strict=True)
    )
    if not matches:
        raise InvalidArgument(field, name, f"use the form '{form}', such as '{example}'")
    return [part for part, is_variable in zip(parts, variable, strict=True) if is_variable]


def _positive_number(text: str, name: str, field: str, what: str) -> int:
    # 18 digits stay below 2**63, the int64 limit of the revision and version fields.
    if not (text.isascii() and text.isdigit()) or text.startswith("0") or len(text) > 18:
        raise InvalidArgument(
            field, name, f"the {what} part must be a positive whole number without leading zeros"
        )
    return int(text)


def parse_model_name(name: str, field: str = "name") -> str:
    """Return the model id of `models/{model}`."""
    (model_id,) = _name_parts(name, "models/{model}", field, "models/churn")
    return model_id


def parse_version_name(name: str, field: str = "name") -> tuple[str, int]:
    """Return the model id and version number of `models/{model}/versions/{version}`."""
    model_id, number = _name_parts(
        name, "models/{model}/versions/{version}", field, "models/churn/versions/3"
    )
    return model_id, _positive_number(number, name, field, "version")


def require_first_version(name: str) -> str:
    """Return the version the first message of a monitoring stream names; raise InvalidArgument when it names none."""
    if not name:
        raise InvalidArgument("model_version", name, "set models/{model}/versions/{version} in the first message")
    return name


def parse_compliance_name(name: str, field: str = "name") -> str:
    """Return the model id of `models/{model}/compliance`."""
    (model_id,) = _name_parts(name, "models/{model}/compliance", field, "models/churn/compliance")
    return model_id


def parse_promotion_name(name: str, field: str = "name") -> str:
    (promotion_id,) = _name_parts(name, "promotions/{promotion}", field, "promotions/3f9a1c2b")
    return promotion_id


def parse_policy_name(name: str, field: str = "name") -> int | None:
    """Return the revision of `policies/{revision}`, or None for `policies/current`."""
    (revision,) = _name_parts(name, "policies/{revision}", field, "policies/current")
    if revision == "current":
        return None
    return _positive_number(revision, name, field, "revision")


def parse_dead_letter_name(name: str, field: str = "name") -> int:
    (dead_letter_id,) = _name_parts(name, "deadLetters/{dead_letter}", field, "deadLetters/12")
    return _positive_number(dead_letter_id, name, field, "dead letter id")


# --- evidence -------------------------------------------------------------------------------

# Struct numbers are doubles, which represent every integer up to 2**53 exactly.
_MAX_EXACT_INTEGER = 2**53


def json_safe(value: object) -> Any:
    """Convert evidence to values that a google.protobuf.Struct stores without loss.

    Datetimes become RFC 3339 strings in UTC, and a naive datetime counts as UTC, as it does
    for protobuf Timestamps. Enums become their names. Tuples, lists and sets become lists, with
    sets sorted, and mapping keys become strings. NaN, infinities and integers beyond 2**53
    become strings ('NaN', 'Infinity', '-Infinity', decimal digits) as in the proto3 JSON
    mapping, because a Struct number is a double. Any other object becomes its str().
    """
    # Enums first: a StrEnum is a str and an IntEnum is an int.
    if isinstance(value, enum.Enum):
        return value.name
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value) if abs(int(value)) <= _MAX_EXACT_INTEGER else str(int(value))
    if isinstance(value, numbers.Real):
        return _json_float(float(value))
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return rfc3339(aware)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (set, frozenset)):
        items = [json_safe(item) for item in value]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    if isinstance(value, (tuple, list)):
        return [json_safe(item) for item in value]
    return str(value)


def _json_float(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def evidence_struct(evidence: Mapping[str, object]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(json_safe(evidence))
    return struct


# --- rule results and compliance ------------------------------------------------------------


def rule_result_to_proto(result: RuleResult, model_name: str) -> resources_pb2.RuleResult:
    """Convert a rule result. `model_name` is the model's current `models/{model}` name."""
    return resources_pb2.RuleResult(
        rule_id=result.rule_id,
        kind=RULE_KIND_TO_PROTO[result.kind],
        passed=result.passed,
        applicable=result.applicable,
        severity=SEVERITY_TO_PROTO[result.severity],
        blocks_promotion=result.blocks_promotion,
        message=result.message,
        evidence=evidence_struct(result.evidence),
        model_version="" if result.version is None else version_name(model_name, result.version),
        policy_revision=result.policy_revision,
        policy_sha256=result.policy_sha256,
    )


def model_compliance_to_proto(
    evaluation: ModelEvaluation, model: PortfolioModel
) -> resources_pb2.ModelCompliance:
    """Convert an evaluation of `model`, which supplies the names and the version stages."""
    _require_same_model(evaluation.model_uid, model)
    versions = [
        resources_pb2.VersionCompliance(
            model_version=model.version_name(number),
            stage=STAGE_TO_PROTO[model.get_version(number).stage],
            compliant=all(result.passed for result in results),
            results=[rule_result_to_proto(result, model.name) for result in results],
        )
        for number, results in sorted(evaluation.version_results.items())
    ]
    return resources_pb2.ModelCompliance(
        name=f"{model.name}/compliance",
        model_uid=model.uid,
        policy_revision=evaluation.policy_revision,
        policy_sha256=evaluation.policy_sha256,
        evaluate_time=evaluation.evaluated_at,
        compliant=evaluation.compliant,
        model_results=[
            rule_result_to_proto(result, model.name) for result in evaluation.model_results
        ],
        versions=versions,
    )


def dry_run_results_to_proto(
    model: PortfolioModel, candidate: ModelEvaluation, current: ModelEvaluation | None = None
) -> list[service_pb2.DryRunResult]:
    """Convert a model's evaluation under a candidate policy into one result per scope.

    The scopes are the model's own rules and each evaluated version. `current` is the same
    model evaluated under the policy in force. Without it, no rule counts as newly failing or
    newly passing. A scope that has no results under either policy is left out.
    """
    _require_same_model(candidate.model_uid, model)
    scopes: list[tuple[str, Sequence[RuleResult], Sequence[RuleResult]]] = [
        ("", candidate.model_results, current.model_results if current else ())
    ]
    version_numbers = set(candidate.version_results)
    if current is not None:
        version_numbers |= set(current.version_results)
    for number in sorted(version_numbers):
        before = current.version_results.get(number, ()) if current else ()
        scopes.append(
            (model.version_name(number), candidate.version_results.get(number, ()), before)
        )
    return [
        _dry_run_result(model.name, scope, results, before)
        for scope, results, before in scopes
        if results or before
    ]


def _dry_run_result(
    model_name: str,
    scope: str,
    results: Sequence[RuleResult],
    before: Sequence[RuleResult],
) -> service_pb2.DryRunResult:
    failing = [result.rule_id for result in results if result.failed]
    failing_before = [result.rule_id for result in before if result.failed]
    return service_pb2.DryRunResult(
        model=model_name,
        model_version=scope,
        passed=not failing,
        results=[rule_result_to_proto(result, model_name) for result in results],
        newly_failing_rule_ids=[rule_id for rule_id in failing if rule_id not in failing_before],
        newly_passing_rule_ids=[rule_id for rule_id in failing_before if rule_id not in failing],
    )


def _require_same_model(model_uid: str, model: PortfolioModel) -> None:
    if model_uid != model.uid:
        raise ValueError(
            f"evaluation of model uid {model_uid} passed with {model.name} (uid {model.uid})"
        )


# --- findings -------------------------------------------------------------------------------


def finding_to_proto(finding: Finding, model_name: str) -> resources_pb2.Finding:
    """Convert a finding. `model_name` is the model's current `models/{model}` name."""
    key = finding.key
    return resources_pb2.Finding(
        name=finding_name(finding.finding_id),
        kind=FINDING_KIND_TO_PROTO[key.kind],
        severity=SEVERITY_TO_PROTO[finding.severity],
        state=(
            resources_pb2.FINDING_STATE_OPEN
            if finding.is_open
            else resources_pb2.FINDING_STATE_RESOLVED
        ),
        model=model_name,
        model_uid=key.model_uid,
        model_version=version_name(model_name, key.version) if key.version else "",
        rule_id=key.check_id,
        blocks_promotion=finding.blocks_promotion,
        message=finding.message,
        evidence=evidence_struct(finding.evidence),
        policy_revision=finding.policy_revision,
        open_time=finding.opened_at,
        resolve_time=finding.resolved_at,
        resolution=finding.resolution,
    )


# --- policies -------------------------------------------------------------------------------


def policy_rule_to_proto(rule: Rule) -> resources_pb2.PolicyRule:
    return resources_pb2.PolicyRule(
        id=rule.id,
        kind=RULE_KIND_TO_PROTO[rule.kind],
        severity=SEVERITY_TO_PROTO[rule.severity],
        blocks_promotion=rule.blocks_promotion,
        description=rule.description,
        risk_tiers=sorted(RISK_TIER_TO_PROTO[tier] for tier in rule.risk_tiers),
        line=rule.line,
    )


def policy_to_proto(
    policy: Policy, *, yaml_text: str, author: str, reason: str, create_time: datetime
) -> resources_pb2.Policy:
    """Convert a stored policy revision with the text and audit fields stored beside it.

    Raises ValueError when `yaml_text` does not hash to `policy.sha256`, which means the caller
    paired a policy with another revision's text.
    """
    if policy_sha256(yaml_text) != policy.sha256:
        raise ValueError(
            f"yaml_text does not match policy {policy.version}: its SHA-256 is "
            f"{policy_sha256(yaml_text)}, pass the text the policy was parsed from"
        )
    return resources_pb2.Policy(
        name=policy_name(policy.revision),
        revision=policy.revision,
        sha256=policy.sha256,
        yaml_text=yaml_text,
        author=author,
        reason=reason,
        create_time=create_time,
        rules=[policy_rule_to_proto(rule) for rule in policy.rules],
        etag=policy_etag(policy.revision),
    )


def policy_problem_to_proto(problem: PolicyProblem) -> resources_pb2.PolicyProblem:
    return resources_pb2.PolicyProblem(
        line=problem.line,
        column=problem.column,
        field=problem.field,
        message=problem.message,
        text=problem.text,
    )


def policy_problems_to_proto(
    problems: Iterable[PolicyProblem],
) -> list[resources_pb2.PolicyProblem]:
    return [policy_problem_to_proto(problem) for problem in problems]


def validate_policy_response(
    yaml_text: str, problems: Sequence[PolicyProblem], policy: Policy | None
) -> service_pb2.ValidatePolicyResponse:
    """Build the ValidatePolicy response. `policy` is the parsed policy, or None if invalid."""
    rules = [] if problems or policy is None else [policy_rule_to_proto(r) for r in policy.rules]
    return service_pb2.ValidatePolicyResponse(
        valid=not problems,
        problems=policy_problems_to_proto(problems),
        rules=rules,
        sha256=policy_sha256(yaml_text),
    )


# --- promotions -----------------------------------------------------------------------------


def reviewer_decision_to_proto(decision: ReviewerDecision) -> resources_pb2.ReviewerDecision:
    return resources_pb2.ReviewerDecision(
        reviewer=decision.reviewer,
        outcome=DECISION_OUTCOME_TO_PROTO[decision.outcome],
        comment=decision.comment,
        decide_time=decision.decided_at,
    )


def promotion_to_proto(
    promotion: Promotion, model_name: str | None = None
) -> resources_pb2.Promotion:
    """Convert a promotion. Pass the model's current `models/{model}` name when the model
    may have been renamed since the request. By default the name at request time is used."""
    model = model_name or promotion.model_name
    return resources_pb2.Promotion(
        name=promotion_name(promotion.promotion_id),
        model=model,
        model_uid=promotion.model_uid,
        model_version=version_name(model, promotion.version),
        version=promotion.version,
        target_stage=STAGE_TO_PROTO[promotion.target_stage],
        archive_existing=promotion.archive_existing,
        requested_by=promotion.requested_by,
        version_author=promotion.version_author,
        risk_tier=RISK_TIER_TO_PROTO[promotion.risk_tier],
        state=PROMOTION_STATE_TO_PROTO[promotion.state],
        checks=[rule_result_to_proto(check, model) for check in promotion.checks],
        required_approvals=promotion.required_approvals,
        decisions=[reviewer_decision_to_proto(decision) for decision in promotion.decisions],
        failing_rule_ids=list(promotion.failing_rule_ids),
        outcome_message=promotion.outcome_message,
        policy_revision=promotion.policy_revision,
        policy_sha256=promotion.policy_sha256,
        request_time=promotion.requested_at,
        check_time=promotion.checked_at,
        resolve_time=promotion.resolved_at,
    )


# --- portfolio ------------------------------------------------------------------------------


def portfolio_version_to_proto(
    model: PortfolioModel, version: PortfolioVersion, open_findings_count: int = 0
) -> resources_pb2.PortfolioVersion:
    pending = (
        STAGE_TO_PROTO[version.pending_stage]
        if version.pending_stage is not None
        else registry_pb2.STAGE_UNSPECIFIED
    )
    return resources_pb2.PortfolioVersion(
        name=model.version_name(version.version),
        version=version.version,
        stage=STAGE_TO_PROTO[version.stage],
        pending_stage=pending,
        aliases=model.aliases_of(version.version),
        artifact_sha256=version.artifact_sha256,
        training_dataset_sha256=version.training_dataset_sha256,
        evaluation_dataset_sha256=version.evaluation_dataset_sha256,
        code_commit=version.code_commit,
        feature_names=version.feature_names,
        metrics=[
            registry_pb2.Metric(
                name=metric.name, value=metric.value, dataset_split=metric.dataset_split
            )
            for metric in version.metrics
        ],
        created_by=version.created_by,
        create_time=version.create_time,
        stage_time=version.stage_time,
        last_review_time=version.last_review_time,
        approved_by=version.approved_by,
        open_findings_count=open_findings_count,
    )


def portfolio_entry_to_proto(
    model: PortfolioModel,
    *,
    open_findings: OpenFindingSummary,
    orphan_status: OrphanStatus,
    compliant: bool,
    redundant_with: Iterable[str] = (),
) -> resources_pb2.PortfolioEntry:
    """Convert a model with a summary of its open findings, orphan flag, compliance and redundancy flags.

    `redundant_with` are the `models/{model}` names of the models flagged as redundant with this one.
    """
    if orphan_status.model_uid != model.uid:
        raise ValueError(
            f"orphan status of model uid {orphan_status.model_uid} passed with {model.name}"
        )
    max_severity = open_findings.max_severity
    versions = [
        portfolio_version_to_proto(model, version, open_findings.count_by_version.get(number, 0))
        for number, version in sorted(model.versions.items())
    ]
    return resources_pb2.PortfolioEntry(
        model=model.name,
        model_uid=model.uid,
        description=model.description,
        owner=model.owner,
        team=model.team,
        risk_tier=RISK_TIER_TO_PROTO[model.risk_tier],
        task_type=model.task_type,
        state=MODEL_STATE_TO_PROTO[model.state],
        tags=dict(model.tags),
        aliases=dict(model.aliases),
        versions=versions,
        create_time=model.create_time,
        last_activity_time=model.last_activity_time,
        open_findings_count=open_findings.count,
        max_open_finding_severity=(
            SEVERITY_TO_PROTO[max_severity]
            if max_severity is not None
            else resources_pb2.SEVERITY_UNSPECIFIED
        ),
        compliant=compliant,
        orphaned=orphan_status.orphaned,
        redundant_with=sorted(set(redundant_with)),
    )


# Largest portfolio entry ListPortfolio sends, in bytes: a model with thousands of versions
# (one retrained every hour for months) would otherwise pass the 4 MiB that clients accept by default.
MAX_ENTRY_BYTES = 1_000_000


def fit_portfolio_entry(entry: resources_pb2.PortfolioEntry, max_bytes: int = MAX_ENTRY_BYTES) -> None:
    """Leave versions out of `entry` until it takes at most `max_bytes`, and count them in
    `versions_omitted`.

    Versions are kept in this order, each while it still fits: PRODUCTION, STAGING, a pending
    promotion, an alias, then the others; newest first within each. The kept ones stay in
    version order.
    """
    size = entry.ByteSize()
    if size <= max_bytes:
        return
    versions = list(entry.versions)
    sizes = {version.version: _field_size(version.ByteSize()) for version in versions}
    budget = max_bytes - (size - sum(sizes.values()))
    listed = []
    for version in sorted(versions, key=lambda version: (_keep_order(version), -version.version)):
        if sizes[version.version] <= budget:
            budget -= sizes[version.version]
            listed.append(version)
    listed.sort(key=lambda version: version.version)
    del entry.versions[:]
    entry.versions.extend(listed)
    entry.versions_omitted = len(versions) - len(listed)


def _keep_order(version: resources_pb2.PortfolioVersion) -> int:
    """Return the class of a version in the order `fit_portfolio_entry` keeps them, lowest first."""
    if version.stage == registry_pb2.STAGE_PRODUCTION:
        return 0
    if version.stage == registry_pb2.STAGE_STAGING:
        return 1
    if version.pending_stage != registry_pb2.STAGE_UNSPECIFIED:
        return 2
    return 3 if version.aliases else 4


def _field_size(message_size: int) -> int:
    """Return the bytes a repeated message field of `message_size` bytes takes: a one-byte tag
    (field numbers up to 15), the length as a varint of 7 bits per byte, and the message."""
    return 1 + max(1, (message_size.bit_length() + 6) // 7) + message_size


# --- deployment checks ----------------------------------------------------------------------


def denial_reason_to_proto(reason: DenialReason) -> resources_pb2.DenialReason:
    return resources_pb2.DenialReason(
        code=DENIAL_CODE_TO_PROTO[reason.code],
        message=reason.message,
        finding=finding_name(reason.finding_id) if reason.finding_id else "",
        rule_id=reason.rule_id,
        alert=alert_name(reason.alert_id) if reason.alert_id else "",
    )


def check_deployment_response(
    decision: DeploymentDecision, *, model_name: str, policy_revision: int, check_time: datetime
) -> service_pb2.CheckDeploymentResponse:
    """Convert a deployment decision checked under policy revision `policy_revision`."""
    return service_pb2.CheckDeploymentResponse(
        allowed=decision.allowed,
        model_version=version_name(model_name, decision.version),
        version=decision.version,
        reasons=[denial_reason_to_proto(reason) for reason in decision.reasons],
        policy_revision=policy_revision,
        check_time=check_time,
    )


# --- principals and dead letters ------------------------------------------------------------


def principal_to_proto(
    principal: str,
    *,
    active: bool,
    reason: str = "",
    updated_by: str = "",
    update_time: datetime | None = None,
) -> resources_pb2.Principal:
    """Convert a principal's state. A principal that was never changed is active."""
    return resources_pb2.Principal(
        principal=principal,
        active=active,
        reason=reason,
        updated_by=updated_by,
        update_time=update_time,
    )


def dead_letter_to_proto(row: Mapping[str, Any]) -> resources_pb2.DeadLetter:
    """Convert a row of the consumer's `dead_letters` table.

    The row has id, event_id, stream_id (the model uid), type, error, deliveries, parked_at
    and status, and usually headers and payload. Raises ValueError for a status other than
    PARKED or RETRIED.
    """
    status = row["status"]
    state = _DEAD_LETTER_STATE_FROM_STATUS.get(status)
    if state is None:
        raise ValueError(
            f"dead letter {row['id']} has unknown status {status!r}: expected PARKED or RETRIED"
        )
    headers = {str(key): str(value) for key, value in (row.get("headers") or {}).items()}
    deliveries = int(row["deliveries"])
    parked_at = row["parked_at"]
    return resources_pb2.DeadLetter(
        name=dead_letter_name(row["id"]),
        event_id=row["event_id"],
        # The row's type is the short name, and the ce-type header has the full CloudEvents type.
        event_type=headers.get("ce-type") or row["type"],
        model_uid=row["stream_id"],
        payload=bytes(row.get("payload") or b""),
        headers=headers,
        error=row["error"],
        attempts=deliveries,
        # The row keeps only the time it was parked, right after the last failure. The first
        # failure time is known only when there was a single attempt.
        first_failure_time=parked_at if deliveries <= 1 else None,
        last_failure_time=parked_at,
        state=state,
    )
