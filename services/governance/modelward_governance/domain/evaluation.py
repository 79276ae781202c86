"""Evaluate a policy against a model and its versions.

Evaluation reads a snapshot and returns results without changing any state. A dry run of a
candidate policy is therefore the same call with the candidate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from modelward_governance.domain.alerts import OpenAlert
from modelward_governance.domain.policy import (
    REVIEW_RULE_KINDS,
    ApprovalsRequiredRule,
    DriftRequiresReviewRule,
    ForbiddenFeaturesRule,
    LineageRequiredRule,
    MaxDaysWithoutReviewRule,
    MetricThresholdRule,
    OwnerRequiredRule,
    Policy,
    RequiredMetadataRule,
    Rule,
    RuleKind,
)
from modelward_governance.domain.portfolio import (
    ModelState,
    PortfolioModel,
    PortfolioVersion,
    RiskTier,
    Stage,
    evaluated_versions,
)
from modelward_governance.domain.severity import Severity


@dataclass(frozen=True)
class RuleResult:
    rule_id: str
    kind: RuleKind
    # True when the rule holds, and also when it does not apply.
    passed: bool
    # False when the rule's risk tiers or stages leave the model or version out.
    applicable: bool
    severity: Severity
    blocks_promotion: bool
    # Explanation of the outcome that names the values the rule compared.
    message: str
    # JSON-compatible values the rule read.
    evidence: Mapping[str, object]
    policy_revision: int
    policy_sha256: str
    model_uid: str
    # None for a rule about the model itself.
    version: int | None

    @property
    def failed(self) -> bool:
        return not self.passed


@dataclass(frozen=True)
class ModelEvaluation:
    model_uid: str
    policy_revision: int
    policy_sha256: str
    evaluated_at: datetime
    model_results: tuple[RuleResult, ...]
    # Results per evaluated version number.
    version_results: Mapping[int, tuple[RuleResult, ...]] = field(default_factory=dict)

    def all_results(self) -> tuple[RuleResult, ...]:
        results = list(self.model_results)
        for _, version_results in sorted(self.version_results.items()):
            results.extend(version_results)
        return tuple(results)

    def failures(self) -> tuple[RuleResult, ...]:
        return tuple(result for result in self.all_results() if result.failed)

    @property
    def compliant(self) -> bool:
        return not self.failures()


def evaluate_model(
    policy: Policy,
    model: PortfolioModel,
    *,
    now: datetime,
    open_alerts: Sequence[OpenAlert] = (),
) -> ModelEvaluation:
    """Evaluate every rule for the model and for each of its evaluated versions.

    The evaluated versions are those of `portfolio.evaluated_versions`. An archived or deleted
    model gets no results at all, so all its findings resolve.
    """
    if model.state is not ModelState.ACTIVE:
        return ModelEvaluation(model.uid, policy.revision, policy.sha256, now, ())
    version_results = {
        version.version: evaluate_version(policy, model, version, now=now, open_alerts=open_alerts)
        for version in evaluated_versions(model)
    }
    return ModelEvaluation(
        model_uid=model.uid,
        policy_revision=policy.revision,
        policy_sha256=policy.sha256,
        evaluated_at=now,
        model_results=evaluate_model_rules(policy, model),
        version_results=version_results,
    )


def evaluate_model_rules(policy: Policy, model: PortfolioModel) -> tuple[RuleResult, ...]:
    """Evaluate the rules about the model itself: `owner_required` and the model part of
    `required_metadata`."""
    results = []
    for rule in policy.rules:
        if isinstance(rule, OwnerRequiredRule) or (
            isinstance(rule, RequiredMetadataRule) and rule.checks_model
        ):
            results.append(_evaluate(rule, policy, model, None, None, ()))
    return tuple(results)


def evaluate_version(
    policy: Policy,
    model: PortfolioModel,
    version: PortfolioVersion,
    *,
    now: datetime,
    open_alerts: Sequence[OpenAlert] = (),
) -> tuple[RuleResult, ...]:
    """Evaluate every rule about a version, in policy order."""
    results = []
    for rule in policy.rules:
        if isinstance(rule, OwnerRequiredRule):
            continue
        if isinstance(rule, RequiredMetadataRule) and not rule.checks_version:
            continue
        results.append(_evaluate(rule, policy, model, version, now, open_alerts))
    return tuple(results)


def promotion_checks(
    policy: Policy, model: PortfolioModel, version: PortfolioVersion, *, now: datetime
) -> tuple[RuleResult, ...]:
    """Evaluate the automatic checks of a promotion: every rule except the review rules.

    Approvals are collected by the promotion itself, and a fresh approval satisfies the
    re-review rules, so `approvals_required`, `max_days_without_review` and
    `drift_requires_review` are left out.
    """
    model_results = evaluate_model_rules(policy, model)
    version_results = tuple(
        result
        for result in evaluate_version(policy, model, version, now=now)
        if result.kind not in REVIEW_RULE_KINDS
    )
    return model_results + version_results


def _evaluate(
    rule: Rule,
    policy: Policy,
    model: PortfolioModel,
    version: PortfolioVersion | None,
    now: datetime | None,
    open_alerts: Sequence[OpenAlert],
) -> RuleResult:
    def result(
        passed: bool, message: str, evidence: Mapping[str, object], applicable: bool = True
    ) -> RuleResult:
        return RuleResult(
            rule_id=rule.id,
            kind=rule.kind,
            passed=passed,
            applicable=applicable,
            severity=rule.severity,
            blocks_promotion=rule.blocks_promotion,
            message=message,
            evidence=evidence,
            policy_revision=policy.revision,
            policy_sha256=policy.sha256,
            model_uid=model.uid,
            version=None if version is None else version.version,
        )

    if not rule.applies_to(model.risk_tier):
        tiers = ", ".join(sorted(tier.value for tier in rule.risk_tiers))
        return result(
            True,
            f"does not apply: the model's risk tier is {model.risk_tier.value}, "
            f"the rule covers {tiers}",
            {
                "risk_tier": model.risk_tier.value,
                "rule_risk_tiers": sorted(tier.value for tier in rule.risk_tiers),
            },
            applicable=False,
        )

    if isinstance(rule, OwnerRequiredRule):
        return _owner_required(model, result)
    if isinstance(rule, RequiredMetadataRule):
        if version is None:
            return _required_model_metadata(rule, model, result)
        return _required_version_metadata(rule, version, result)

    assert version is not None and now is not None, f"rule {rule.id} needs a version"
    if isinstance(rule, MetricThresholdRule):
        return _metric_threshold(rule, version, result)
    if isinstance(rule, LineageRequiredRule):
        return _lineage_required(rule, version, result)
    if isinstance(rule, ForbiddenFeaturesRule):
        return _forbidden_features(rule, version, result)
    if isinstance(rule, ApprovalsRequiredRule):
        return _approvals_required(rule, version, result)
    if isinstance(rule, MaxDaysWithoutReviewRule):
        return _max_days_without_review(rule, version, now, result)
    return _drift_requires_review(rule, model, version, open_alerts, result)


_Result = Callable[..., RuleResult]


def _owner_required(model: PortfolioModel, result: _Result) -> RuleResult:
    if model.owner.strip():
        return result(True, f"owner is {model.owner}", {"owner": model.owner})
    return result(False, "the model has no owner: set one with UpdateModel", {"owner": ""})


def _missing(values: Mapping[str, object], required: Sequence[str]) -> list[str]:
    return [name for name in required if not values.get(name)]


def _required_model_metadata(
    rule: RequiredMetadataRule, model: PortfolioModel, result: _Result
) -> RuleResult:
    values: dict[str, object] = {
        "description": model.description.strip(),
        "owner": model.owner.strip(),
        "team": model.team.strip(),
        "risk_tier": model.risk_tier is not RiskTier.UNSPECIFIED,
        "task_type": model.task_type.strip(),
    }
    missing_fields = _missing(values, rule.model_fields)
    missing_tags = [tag for tag in rule.model_tags if not model.tags.get(tag, "").strip()]
    return _metadata_result(
        "model", missing_fields, missing_tags, rule.model_fields, rule.model_tags, result
    )


def _required_version_metadata(
    rule: RequiredMetadataRule, version: PortfolioVersion, result: _Result
) -> RuleResult:
    values: dict[str, object] = {
        "description": version.description.strip(),
        "signature": version.has_signature,
        "feature_names": version.feature_names,
        "metrics": version.metrics,
    }
    missing_fields = _missing(values, rule.version_fields)
    missing_tags = [tag for tag in rule.version_tags if not version.tags.get(tag, "").strip()]
    return _metadata_result(
        f"version {version.version}",
        missing_fields,
        missing_tags,
        rule.version_fields,
        rule.version_tags,
        result,
    )


def _metadata_result(
    subject: str,
    missing_fields: list[str],
    missing_tags: list[str],
    required_fields: Sequence[str],
    required_tags: Sequence[str],
    result: _Result,
) -> RuleResult:
    evidence = {
        "required_fields": list(required_fields),
        "required_tags": list(required_tags),
        "missing_fields": missing_fields,
        "missing_tags": missing_tags,
    }
    if not missing_fields and not missing_tags:
        return result(True, f"the {subject} has every required field and tag", evidence)
    parts = []
    if missing_fields:
        parts.append(f"fields {', '.join(missing_fields)}")
    if missing_tags:
        parts.append(f"tags {', '.join(missing_tags)}")
    return result(False, f"the {subject} is missing {' and '.join(parts)}", evidence)


def _metric_threshold(
    rule: MetricThresholdRule, version: PortfolioVersion, result: _Result
) -> RuleResult:
    where = f" on split {rule.dataset_split!r}" if rule.dataset_split else ""
    expected = f"{rule.metric} {rule.operator} {rule.threshold:g}"
    evidence: dict[str, object] = {
        "metric": rule.metric,
        "operator": rule.operator,
        "threshold": rule.threshold,
        "dataset_split": rule.dataset_split,
    }
    metric = version.metric(rule.metric, rule.dataset_split)
    if metric is None:
        return result(
            False,
            f"metric {rule.metric}{where} is not reported; expected {expected}",
            {**evidence, "actual": None},
        )
    evidence = {**evidence, "actual": metric.value, "actual_split": metric.dataset_split}
    if rule.holds_for(metric.value):
        return result(
            True, f"{rule.metric}{where} is {metric.value:g}, which meets {expected}", evidence
        )
    return result(False, f"{rule.metric}{where} is {metric.value:g}; expected {expected}", evidence)


def _lineage_required(
    rule: LineageRequiredRule, version: PortfolioVersion, result: _Result
) -> RuleResult:
    values = {name: getattr(version, name).strip() for name in rule.fields}
    missing = [name for name in rule.fields if not values[name]]
    evidence = {"required": list(rule.fields), "missing": missing, "values": values}
    if missing:
        return result(
            False, f"version {version.version} is missing lineage {', '.join(missing)}", evidence
        )
    return result(True, f"version {version.version} records {', '.join(rule.fields)}", evidence)


def _forbidden_features(
    rule: ForbiddenFeaturesRule, version: PortfolioVersion, result: _Result
) -> RuleResult:
    found = rule.forbidden_in(version.feature_names)
    evidence = {"forbidden": sorted(rule.features), "found": list(found)}
    if found:
        return result(
            False, f"version {version.version} uses forbidden features {', '.join(found)}", evidence
        )
    return result(True, f"version {version.version} uses none of the forbidden features", evidence)


def _approvals_required(
    rule: ApprovalsRequiredRule, version: PortfolioVersion, result: _Result
) -> RuleResult:
    stages = sorted(stage.value for stage in rule.stages)
    evidence: dict[str, object] = {
        "required": rule.approvals,
        "approved_by": list(version.approved_by),
        "stage": version.stage.value,
        "stages": stages,
    }
    if version.stage not in rule.stages:
        return result(
            True,
            f"does not apply: version {version.version} is in stage {version.stage.value}",
            evidence,
            applicable=False,
        )
    count = len(set(version.approved_by))
    if count >= rule.approvals:
        return result(
            True, f"approved by {count} distinct reviewer(s), {rule.approvals} required", evidence
        )
    return result(
        False,
        f"version {version.version} is in {version.stage.value} with {count} distinct approval(s), "
        f"{rule.approvals} required: request a promotion so reviewers can approve it",
        evidence,
    )


def _max_days_without_review(
    rule: MaxDaysWithoutReviewRule, version: PortfolioVersion, now: datetime, result: _Result
) -> RuleResult:
    if version.stage is not Stage.PRODUCTION:
        return result(
            True,
            f"does not apply: version {version.version} is not in production",
            {"stage": version.stage.value},
            applicable=False,
        )
    # A version that reached production without a governance approval counts from its stage change.
    reviewed_at = version.last_review_time or version.stage_time or version.create_time
    age_days = (now - reviewed_at).total_seconds() / 86400
    evidence = {
        "last_review_time": reviewed_at.isoformat(),
        "age_days": round(age_days, 2),
        "max_days": rule.days,
    }
    if age_days <= rule.days:
        return result(
            True, f"last reviewed {age_days:.0f} day(s) ago, within {rule.days}", evidence
        )
    return result(
        False,
        f"version {version.version} was last reviewed {age_days:.0f} days ago, "
        f"more than {rule.days}: request a promotion to PRODUCTION again for a re-review",
        evidence,
    )


def _drift_requires_review(
    rule: DriftRequiresReviewRule,
    model: PortfolioModel,
    version: PortfolioVersion,
    open_alerts: Sequence[OpenAlert],
    result: _Result,
) -> RuleResult:
    if version.stage is not Stage.PRODUCTION:
        return result(
            True,
            f"does not apply: version {version.version} is not in production",
            {"stage": version.stage.value},
            applicable=False,
        )
    # An approval after the alert opened is the re-review that the rule requires.
    reviewed_at = version.last_review_time
    matching = sorted(
        (
            alert
            for alert in open_alerts
            if alert.model_uid == model.uid
            and alert.version == version.version
            and alert.kind in rule.alert_kinds
            and alert.severity >= rule.min_alert_severity
            and (reviewed_at is None or alert.opened_at > reviewed_at)
        ),
        key=lambda alert: (alert.opened_at, alert.alert_id),
    )
    evidence: dict[str, object] = {
        "alert_ids": [alert.alert_id for alert in matching],
        "min_alert_severity": rule.min_alert_severity.label,
        "last_review_time": reviewed_at.isoformat() if reviewed_at else None,
    }
    if not matching:
        return result(
            True,
            f"no open {rule.min_alert_severity.label} drift alert since the last review",
            evidence,
        )
    first = matching[0]
    evidence["first_alert"] = {
        "kind": first.kind.value,
        "severity": first.severity.label,
        "feature": first.feature,
    }
    detail = ", ".join(
        part for part in (first.kind.value, first.severity.label, first.feature) if part
    )
    return result(
        False,
        f"version {version.version} is in production with {len(matching)} open drift "
        f"alert(s) since its last review, first {first.alert_id} ({detail}): it needs a re-review",
        evidence,
    )
