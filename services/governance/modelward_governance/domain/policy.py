"""Policies as code: the rules governance evaluates, loaded from YAML by `policy_yaml`.

A policy is immutable. Its identity is the SHA-256 of its YAML text plus the revision number the
service assigns when it stores the policy (0 for a policy that was only parsed, as in a dry run).
"""

from __future__ import annotations

import dataclasses
import enum
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar, TypeAlias

from modelward_common.errors import NotFound, sample_of
from modelward_governance.domain.alerts import AlertKind
from modelward_governance.domain.portfolio import RiskTier, Stage
from modelward_governance.domain.severity import Severity


class RuleKind(enum.Enum):
    """Kind of a rule, spelled as in the `kind` field of the policy YAML."""

    REQUIRED_METADATA = "required_metadata"
    OWNER_REQUIRED = "owner_required"
    METRIC_THRESHOLD = "metric_threshold"
    LINEAGE_REQUIRED = "lineage_required"
    FORBIDDEN_FEATURES = "forbidden_features"
    APPROVALS_REQUIRED = "approvals_required"
    MAX_DAYS_WITHOUT_REVIEW = "max_days_without_review"
    DRIFT_REQUIRES_REVIEW = "drift_requires_review"


# Rules that a promotion satisfies by being reviewed, so they are not promotion checks.
REVIEW_RULE_KINDS = frozenset(
    {RuleKind.APPROVALS_REQUIRED, RuleKind.MAX_DAYS_WITHOUT_REVIEW, RuleKind.DRIFT_REQUIRES_REVIEW}
)

# Fields that `required_metadata` may name, and `lineage_required` may require.
MODEL_METADATA_FIELDS = ("description", "owner", "team", "risk_tier", "task_type")
VERSION_METADATA_FIELDS = ("description", "signature", "feature_names", "metrics")
LINEAGE_FIELDS = (
    "training_dataset_sha256",
    "evaluation_dataset_sha256",
    "code_repository",
    "code_commit",
    "pipeline_run_id",
    "artifact_sha256",
)
DEFAULT_LINEAGE_FIELDS = ("training_dataset_sha256", "code_commit")

COMPARISONS: Mapping[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}


@dataclass(frozen=True, kw_only=True)
class RuleBase:
    """Fields every rule has."""

    kind: ClassVar[RuleKind]

    id: str
    severity: Severity
    # A failing result of this rule rejects a promotion.
    blocks_promotion: bool
    description: str = ""
    # Risk tiers the rule applies to. Empty means every tier, RiskTier.UNSPECIFIED included.
    risk_tiers: frozenset[RiskTier] = frozenset()
    # 1-based line of the rule in the YAML text, 0 when the rule was built in code.
    line: int = 0

    def applies_to(self, risk_tier: RiskTier) -> bool:
        return not self.risk_tiers or risk_tier in self.risk_tiers


@dataclass(frozen=True, kw_only=True)
class RequiredMetadataRule(RuleBase):
    kind: ClassVar[RuleKind] = RuleKind.REQUIRED_METADATA

    model_fields: tuple[str, ...] = ()
    version_fields: tuple[str, ...] = ()
    model_tags: tuple[str, ...] = ()
    version_tags: tuple[str, ...] = ()

    @property
    def checks_model(self) -> bool:
        return bool(self.model_fields or self.model_tags)

    @property
    def checks_version(self) -> bool:
        return bool(self.version_fields or self.version_tags)


@dataclass(frozen=True, kw_only=True)
class OwnerRequiredRule(RuleBase):
    kind: ClassVar[RuleKind] = RuleKind.OWNER_REQUIRED


@dataclass(frozen=True, kw_only=True)
class MetricThresholdRule(RuleBase):
    kind: ClassVar[RuleKind] = RuleKind.METRIC_THRESHOLD

    metric: str
    # One of the keys of COMPARISONS, with the version's value on the left.
    operator: str
    threshold: float
    # Split the metric must be reported on. Empty accepts the first metric with this name.
    dataset_split: str = ""

    def holds_for(self, value: float) -> bool:
        """Return whether `value` satisfies the rule. NaN never does."""
        return not math.isnan(value) and COMPARISONS[self.operator](value, self.threshold)


@dataclass(frozen=True, kw_only=True)
class LineageRequiredRule(RuleBase):
    kind: ClassVar[RuleKind] = RuleKind.LINEAGE_REQUIRED

    fields: tuple[str, ...] = DEFAULT_LINEAGE_FIELDS


@dataclass(frozen=True, kw_only=True)
class ForbiddenFeaturesRule(RuleBase):
    kind: ClassVar[RuleKind] = RuleKind.FORBIDDEN_FEATURES

    # Compared case-insensitively, after `str.casefold`.
    features: frozenset[str]

    def forbidden_in(self, feature_names: tuple[str, ...]) -> tuple[str, ...]:
        """Return the version's feature names that the rule forbids, sorted."""
        return tuple(sorted(name for name in feature_names if name.casefold() in self.features))


@dataclass(frozen=True, kw_only=True)
class ApprovalsRequiredRule(RuleBase):
    kind: ClassVar[RuleKind] = RuleKind.APPROVALS_REQUIRED

    # Distinct eligible reviewers a promotion into one of `stages` needs.
    approvals: int
    stages: frozenset[Stage] = frozenset({Stage.PRODUCTION})


@dataclass(frozen=True, kw_only=True)
class MaxDaysWithoutReviewRule(RuleBase):
    kind: ClassVar[RuleKind] = RuleKind.MAX_DAYS_WITHOUT_REVIEW

    # A production version must have been approved within this many days.
    days: int


@dataclass(frozen=True, kw_only=True)
class DriftRequiresReviewRule(RuleBase):
    kind: ClassVar[RuleKind] = RuleKind.DRIFT_REQUIRES_REVIEW

    alert_kinds: frozenset[AlertKind] = frozenset(AlertKind)
    # Alerts below this severity are ignored.
    min_alert_severity: Severity = Severity.CRITICAL


Rule: TypeAlias = (
    RequiredMetadataRule
    | OwnerRequiredRule
    | MetricThresholdRule
    | LineageRequiredRule
    | ForbiddenFeaturesRule
    | ApprovalsRequiredRule
    | MaxDaysWithoutReviewRule
    | DriftRequiresReviewRule
)


@dataclass(frozen=True)
class RequiredApprovals:
    """How many distinct reviewers a promotion needs, and the rules that ask for them."""

    count: int
    rule_ids: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    name: str
    rules: tuple[Rule, ...]
    # Lowercase hexadecimal SHA-256 of the YAML text encoded as UTF-8.
    sha256: str
    # Revision number assigned when the service stored the policy, or 0 when it was only parsed.
    revision: int = 0
    description: str = ""

    @property
    def version(self) -> str:
        """Short identifier for messages, such as `r7/3f9a1c2b04de`."""
        return f"r{self.revision}/{self.sha256[:12]}"

    def with_revision(self, revision: int) -> Policy:
        return dataclasses.replace(self, revision=revision)

    def get_rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise NotFound(
            f"rule {rule_id!r} not found in policy {self.version}: its rules are "
            f"{sample_of(rule.id for rule in self.rules)}",
            field="rule_id",
        )

    def required_approvals(self, risk_tier: RiskTier, stage: Stage) -> RequiredApprovals:
        """Return the largest approval count among the rules for this tier and target stage."""
        applicable = [
            rule
            for rule in self.rules
            if isinstance(rule, ApprovalsRequiredRule)
            and rule.applies_to(risk_tier)
            and stage in rule.stages
        ]
        if not applicable:
            return RequiredApprovals(0, ())
        count = max(rule.approvals for rule in applicable)
        return RequiredApprovals(
            count, tuple(rule.id for rule in applicable if rule.approvals == count)
        )
