import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from modelward_protos.registry.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Severity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEVERITY_UNSPECIFIED: _ClassVar[Severity]
    SEVERITY_INFO: _ClassVar[Severity]
    SEVERITY_WARNING: _ClassVar[Severity]
    SEVERITY_ERROR: _ClassVar[Severity]
    SEVERITY_CRITICAL: _ClassVar[Severity]

class RuleKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RULE_KIND_UNSPECIFIED: _ClassVar[RuleKind]
    RULE_KIND_REQUIRED_METADATA: _ClassVar[RuleKind]
    RULE_KIND_OWNER_REQUIRED: _ClassVar[RuleKind]
    RULE_KIND_METRIC_THRESHOLD: _ClassVar[RuleKind]
    RULE_KIND_LINEAGE_REQUIRED: _ClassVar[RuleKind]
    RULE_KIND_FORBIDDEN_FEATURES: _ClassVar[RuleKind]
    RULE_KIND_APPROVALS_REQUIRED: _ClassVar[RuleKind]
    RULE_KIND_MAX_DAYS_WITHOUT_REVIEW: _ClassVar[RuleKind]
    RULE_KIND_DRIFT_REQUIRES_REVIEW: _ClassVar[RuleKind]

class FindingKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FINDING_KIND_UNSPECIFIED: _ClassVar[FindingKind]
    FINDING_KIND_POLICY_VIOLATION: _ClassVar[FindingKind]
    FINDING_KIND_ORPHANED_MODEL: _ClassVar[FindingKind]
    FINDING_KIND_REDUNDANT_MODEL: _ClassVar[FindingKind]
    FINDING_KIND_DRIFT: _ClassVar[FindingKind]

class FindingState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FINDING_STATE_UNSPECIFIED: _ClassVar[FindingState]
    FINDING_STATE_OPEN: _ClassVar[FindingState]
    FINDING_STATE_RESOLVED: _ClassVar[FindingState]

class PromotionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROMOTION_STATE_UNSPECIFIED: _ClassVar[PromotionState]
    PROMOTION_STATE_REQUESTED: _ClassVar[PromotionState]
    PROMOTION_STATE_AWAITING_DECISIONS: _ClassVar[PromotionState]
    PROMOTION_STATE_APPROVED: _ClassVar[PromotionState]
    PROMOTION_STATE_REJECTED: _ClassVar[PromotionState]
    PROMOTION_STATE_CANCELLED: _ClassVar[PromotionState]

class DecisionOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECISION_OUTCOME_UNSPECIFIED: _ClassVar[DecisionOutcome]
    DECISION_OUTCOME_APPROVE: _ClassVar[DecisionOutcome]
    DECISION_OUTCOME_REJECT: _ClassVar[DecisionOutcome]

class DenialCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DENIAL_CODE_UNSPECIFIED: _ClassVar[DenialCode]
    DENIAL_CODE_NOT_APPROVED: _ClassVar[DenialCode]
    DENIAL_CODE_OPEN_CRITICAL_FINDING: _ClassVar[DenialCode]
    DENIAL_CODE_ORPHANED: _ClassVar[DenialCode]
    DENIAL_CODE_ARCHIVED: _ClassVar[DenialCode]
    DENIAL_CODE_DELETED: _ClassVar[DenialCode]
    DENIAL_CODE_NOT_IN_PRODUCTION: _ClassVar[DenialCode]
    DENIAL_CODE_DRIFT: _ClassVar[DenialCode]
    DENIAL_CODE_BLOCKING_RULE_FAILED: _ClassVar[DenialCode]

class DeadLetterState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEAD_LETTER_STATE_UNSPECIFIED: _ClassVar[DeadLetterState]
    DEAD_LETTER_STATE_PARKED: _ClassVar[DeadLetterState]
    DEAD_LETTER_STATE_APPLIED: _ClassVar[DeadLetterState]
SEVERITY_UNSPECIFIED: Severity
SEVERITY_INFO: Severity
SEVERITY_WARNING: Severity
SEVERITY_ERROR: Severity
SEVERITY_CRITICAL: Severity
RULE_KIND_UNSPECIFIED: RuleKind
RULE_KIND_REQUIRED_METADATA: RuleKind
RULE_KIND_OWNER_REQUIRED: RuleKind
RULE_KIND_METRIC_THRESHOLD: RuleKind
RULE_KIND_LINEAGE_REQUIRED: RuleKind
RULE_KIND_FORBIDDEN_FEATURES: RuleKind
RULE_KIND_APPROVALS_REQUIRED: RuleKind
RULE_KIND_MAX_DAYS_WITHOUT_REVIEW: RuleKind
RULE_KIND_DRIFT_REQUIRES_REVIEW: RuleKind
FINDING_KIND_UNSPECIFIED: FindingKind
FINDING_KIND_POLICY_VIOLATION: FindingKind
FINDING_KIND_ORPHANED_MODEL: FindingKind
FINDING_KIND_REDUNDANT_MODEL: FindingKind
FINDING_KIND_DRIFT: FindingKind
FINDING_STATE_UNSPECIFIED: FindingState
FINDING_STATE_OPEN: FindingState
FINDING_STATE_RESOLVED: FindingState
PROMOTION_STATE_UNSPECIFIED: PromotionState
PROMOTION_STATE_REQUESTED: PromotionState
PROMOTION_STATE_AWAITING_DECISIONS: PromotionState
PROMOTION_STATE_APPROVED: PromotionState
PROMOTION_STATE_REJECTED: PromotionState
PROMOTION_STATE_CANCELLED: PromotionState
DECISION_OUTCOME_UNSPECIFIED: DecisionOutcome
DECISION_OUTCOME_APPROVE: DecisionOutcome
DECISION_OUTCOME_REJECT: DecisionOutcome
DENIAL_CODE_UNSPECIFIED: DenialCode
DENIAL_CODE_NOT_APPROVED: DenialCode
DENIAL_CODE_OPEN_CRITICAL_FINDING: DenialCode
DENIAL_CODE_ORPHANED: DenialCode
DENIAL_CODE_ARCHIVED: DenialCode
DENIAL_CODE_DELETED: DenialCode
DENIAL_CODE_NOT_IN_PRODUCTION: DenialCode
DENIAL_CODE_DRIFT: DenialCode
DENIAL_CODE_BLOCKING_RULE_FAILED: DenialCode
DEAD_LETTER_STATE_UNSPECIFIED: DeadLetterState
DEAD_LETTER_STATE_PARKED: DeadLetterState
DEAD_LETTER_STATE_APPLIED: DeadLetterState

class RuleResult(_message.Message):
    __slots__ = ("rule_id", "kind", "passed", "applicable", "severity", "blocks_promotion", "message", "evidence", "model_version", "policy_revision", "policy_sha256")
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    APPLICABLE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_PROMOTION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    POLICY_REVISION_FIELD_NUMBER: _ClassVar[int]
    POLICY_SHA256_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    kind: RuleKind
    passed: bool
    applicable: bool
    severity: Severity
    blocks_promotion: bool
    message: str
    evidence: _struct_pb2.Struct
    model_version: str
    policy_revision: int
    policy_sha256: str
    def __init__(self, rule_id: _Optional[str] = ..., kind: _Optional[_Union[RuleKind, str]] = ..., passed: _Optional[bool] = ..., applicable: _Optional[bool] = ..., severity: _Optional[_Union[Severity, str]] = ..., blocks_promotion: _Optional[bool] = ..., message: _Optional[str] = ..., evidence: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., model_version: _Optional[str] = ..., policy_revision: _Optional[int] = ..., policy_sha256: _Optional[str] = ...) -> None: ...

class Finding(_message.Message):
    __slots__ = ("name", "kind", "severity", "state", "model", "model_uid", "model_version", "rule_id", "blocks_promotion", "message", "evidence", "policy_revision", "open_time", "resolve_time", "resolution")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_PROMOTION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    POLICY_REVISION_FIELD_NUMBER: _ClassVar[int]
    OPEN_TIME_FIELD_NUMBER: _ClassVar[int]
    RESOLVE_TIME_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: FindingKind
    severity: Severity
    state: FindingState
    model: str
    model_uid: str
    model_version: str
    rule_id: str
    blocks_promotion: bool
    message: str
    evidence: _struct_pb2.Struct
    policy_revision: int
    open_time: _timestamp_pb2.Timestamp
    resolve_time: _timestamp_pb2.Timestamp
    resolution: str
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[_Union[FindingKind, str]] = ..., severity: _Optional[_Union[Severity, str]] = ..., state: _Optional[_Union[FindingState, str]] = ..., model: _Optional[str] = ..., model_uid: _Optional[str] = ..., model_version: _Optional[str] = ..., rule_id: _Optional[str] = ..., blocks_promotion: _Optional[bool] = ..., message: _Optional[str] = ..., evidence: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., policy_revision: _Optional[int] = ..., open_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolve_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolution: _Optional[str] = ...) -> None: ...

class PolicyRule(_message.Message):
    __slots__ = ("id", "kind", "severity", "blocks_promotion", "description", "risk_tiers", "line")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_PROMOTION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    RISK_TIERS_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: RuleKind
    severity: Severity
    blocks_promotion: bool
    description: str
    risk_tiers: _containers.RepeatedScalarFieldContainer[_resources_pb2.RiskTier]
    line: int
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[_Union[RuleKind, str]] = ..., severity: _Optional[_Union[Severity, str]] = ..., blocks_promotion: _Optional[bool] = ..., description: _Optional[str] = ..., risk_tiers: _Optional[_Iterable[_Union[_resources_pb2.RiskTier, str]]] = ..., line: _Optional[int] = ...) -> None: ...

class Policy(_message.Message):
    __slots__ = ("name", "revision", "sha256", "yaml_text", "author", "reason", "create_time", "rules", "etag")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    YAML_TEXT_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    name: str
    revision: int
    sha256: str
    yaml_text: str
    author: str
    reason: str
    create_time: _timestamp_pb2.Timestamp
    rules: _containers.RepeatedCompositeFieldContainer[PolicyRule]
    etag: str
    def __init__(self, name: _Optional[str] = ..., revision: _Optional[int] = ..., sha256: _Optional[str] = ..., yaml_text: _Optional[str] = ..., author: _Optional[str] = ..., reason: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., rules: _Optional[_Iterable[_Union[PolicyRule, _Mapping]]] = ..., etag: _Optional[str] = ...) -> None: ...

class PolicyProblem(_message.Message):
    __slots__ = ("line", "column", "field", "message", "text")
    LINE_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    line: int
    column: int
    field: str
    message: str
    text: str
    def __init__(self, line: _Optional[int] = ..., column: _Optional[int] = ..., field: _Optional[str] = ..., message: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class PortfolioVersion(_message.Message):
    __slots__ = ("name", "version", "stage", "pending_stage", "aliases", "artifact_sha256", "training_dataset_sha256", "evaluation_dataset_sha256", "code_commit", "feature_names", "metrics", "created_by", "create_time", "stage_time", "last_review_time", "approved_by", "open_findings_count")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    PENDING_STAGE_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_SHA256_FIELD_NUMBER: _ClassVar[int]
    TRAINING_DATASET_SHA256_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_DATASET_SHA256_FIELD_NUMBER: _ClassVar[int]
    CODE_COMMIT_FIELD_NUMBER: _ClassVar[int]
    FEATURE_NAMES_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    STAGE_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_REVIEW_TIME_FIELD_NUMBER: _ClassVar[int]
    APPROVED_BY_FIELD_NUMBER: _ClassVar[int]
    OPEN_FINDINGS_COUNT_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    stage: _resources_pb2.Stage
    pending_stage: _resources_pb2.Stage
    aliases: _containers.RepeatedScalarFieldContainer[str]
    artifact_sha256: str
    training_dataset_sha256: str
    evaluation_dataset_sha256: str
    code_commit: str
    feature_names: _containers.RepeatedScalarFieldContainer[str]
    metrics: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Metric]
    created_by: str
    create_time: _timestamp_pb2.Timestamp
    stage_time: _timestamp_pb2.Timestamp
    last_review_time: _timestamp_pb2.Timestamp
    approved_by: _containers.RepeatedScalarFieldContainer[str]
    open_findings_count: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., stage: _Optional[_Union[_resources_pb2.Stage, str]] = ..., pending_stage: _Optional[_Union[_resources_pb2.Stage, str]] = ..., aliases: _Optional[_Iterable[str]] = ..., artifact_sha256: _Optional[str] = ..., training_dataset_sha256: _Optional[str] = ..., evaluation_dataset_sha256: _Optional[str] = ..., code_commit: _Optional[str] = ..., feature_names: _Optional[_Iterable[str]] = ..., metrics: _Optional[_Iterable[_Union[_resources_pb2.Metric, _Mapping]]] = ..., created_by: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., stage_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_review_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., approved_by: _Optional[_Iterable[str]] = ..., open_findings_count: _Optional[int] = ...) -> None: ...

class PortfolioEntry(_message.Message):
    __slots__ = ("model", "model_uid", "description", "owner", "team", "risk_tier", "task_type", "state", "tags", "aliases", "versions", "create_time", "last_activity_time", "open_findings_count", "max_open_finding_severity", "compliant", "orphaned", "redundant_with", "versions_omitted")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class AliasesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    RISK_TIER_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVITY_TIME_FIELD_NUMBER: _ClassVar[int]
    OPEN_FINDINGS_COUNT_FIELD_NUMBER: _ClassVar[int]
    MAX_OPEN_FINDING_SEVERITY_FIELD_NUMBER: _ClassVar[int]
    COMPLIANT_FIELD_NUMBER: _ClassVar[int]
    ORPHANED_FIELD_NUMBER: _ClassVar[int]
    REDUNDANT_WITH_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_OMITTED_FIELD_NUMBER: _ClassVar[int]
    model: str
    model_uid: str
    description: str
    owner: str
    team: str
    risk_tier: _resources_pb2.RiskTier
    task_type: str
    state: _resources_pb2.ModelState
    tags: _containers.ScalarMap[str, str]
    aliases: _containers.ScalarMap[str, int]
    versions: _containers.RepeatedCompositeFieldContainer[PortfolioVersion]
    create_time: _timestamp_pb2.Timestamp
    last_activity_time: _timestamp_pb2.Timestamp
    open_findings_count: int
    max_open_finding_severity: Severity
    compliant: bool
    orphaned: bool
    redundant_with: _containers.RepeatedScalarFieldContainer[str]
    versions_omitted: int
    def __init__(self, model: _Optional[str] = ..., model_uid: _Optional[str] = ..., description: _Optional[str] = ..., owner: _Optional[str] = ..., team: _Optional[str] = ..., risk_tier: _Optional[_Union[_resources_pb2.RiskTier, str]] = ..., task_type: _Optional[str] = ..., state: _Optional[_Union[_resources_pb2.ModelState, str]] = ..., tags: _Optional[_Mapping[str, str]] = ..., aliases: _Optional[_Mapping[str, int]] = ..., versions: _Optional[_Iterable[_Union[PortfolioVersion, _Mapping]]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_activity_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., open_findings_count: _Optional[int] = ..., max_open_finding_severity: _Optional[_Union[Severity, str]] = ..., compliant: _Optional[bool] = ..., orphaned: _Optional[bool] = ..., redundant_with: _Optional[_Iterable[str]] = ..., versions_omitted: _Optional[int] = ...) -> None: ...

class VersionCompliance(_message.Message):
    __slots__ = ("model_version", "stage", "compliant", "results")
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    COMPLIANT_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    model_version: str
    stage: _resources_pb2.Stage
    compliant: bool
    results: _containers.RepeatedCompositeFieldContainer[RuleResult]
    def __init__(self, model_version: _Optional[str] = ..., stage: _Optional[_Union[_resources_pb2.Stage, str]] = ..., compliant: _Optional[bool] = ..., results: _Optional[_Iterable[_Union[RuleResult, _Mapping]]] = ...) -> None: ...

class ModelCompliance(_message.Message):
    __slots__ = ("name", "model_uid", "policy_revision", "policy_sha256", "evaluate_time", "compliant", "model_results", "versions")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    POLICY_REVISION_FIELD_NUMBER: _ClassVar[int]
    POLICY_SHA256_FIELD_NUMBER: _ClassVar[int]
    EVALUATE_TIME_FIELD_NUMBER: _ClassVar[int]
    COMPLIANT_FIELD_NUMBER: _ClassVar[int]
    MODEL_RESULTS_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    model_uid: str
    policy_revision: int
    policy_sha256: str
    evaluate_time: _timestamp_pb2.Timestamp
    compliant: bool
    model_results: _containers.RepeatedCompositeFieldContainer[RuleResult]
    versions: _containers.RepeatedCompositeFieldContainer[VersionCompliance]
    def __init__(self, name: _Optional[str] = ..., model_uid: _Optional[str] = ..., policy_revision: _Optional[int] = ..., policy_sha256: _Optional[str] = ..., evaluate_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., compliant: _Optional[bool] = ..., model_results: _Optional[_Iterable[_Union[RuleResult, _Mapping]]] = ..., versions: _Optional[_Iterable[_Union[VersionCompliance, _Mapping]]] = ...) -> None: ...

class ReviewerDecision(_message.Message):
    __slots__ = ("reviewer", "outcome", "comment", "decide_time")
    REVIEWER_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    DECIDE_TIME_FIELD_NUMBER: _ClassVar[int]
    reviewer: str
    outcome: DecisionOutcome
    comment: str
    decide_time: _timestamp_pb2.Timestamp
    def __init__(self, reviewer: _Optional[str] = ..., outcome: _Optional[_Union[DecisionOutcome, str]] = ..., comment: _Optional[str] = ..., decide_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Promotion(_message.Message):
    __slots__ = ("name", "model", "model_uid", "model_version", "version", "target_stage", "archive_existing", "requested_by", "version_author", "risk_tier", "state", "checks", "required_approvals", "decisions", "failing_rule_ids", "outcome_message", "policy_revision", "policy_sha256", "request_time", "check_time", "resolve_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TARGET_STAGE_FIELD_NUMBER: _ClassVar[int]
    ARCHIVE_EXISTING_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    VERSION_AUTHOR_FIELD_NUMBER: _ClassVar[int]
    RISK_TIER_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_APPROVALS_FIELD_NUMBER: _ClassVar[int]
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    FAILING_RULE_IDS_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    POLICY_REVISION_FIELD_NUMBER: _ClassVar[int]
    POLICY_SHA256_FIELD_NUMBER: _ClassVar[int]
    REQUEST_TIME_FIELD_NUMBER: _ClassVar[int]
    CHECK_TIME_FIELD_NUMBER: _ClassVar[int]
    RESOLVE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    model: str
    model_uid: str
    model_version: str
    version: int
    target_stage: _resources_pb2.Stage
    archive_existing: bool
    requested_by: str
    version_author: str
    risk_tier: _resources_pb2.RiskTier
    state: PromotionState
    checks: _containers.RepeatedCompositeFieldContainer[RuleResult]
    required_approvals: int
    decisions: _containers.RepeatedCompositeFieldContainer[ReviewerDecision]
    failing_rule_ids: _containers.RepeatedScalarFieldContainer[str]
    outcome_message: str
    policy_revision: int
    policy_sha256: str
    request_time: _timestamp_pb2.Timestamp
    check_time: _timestamp_pb2.Timestamp
    resolve_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., model: _Optional[str] = ..., model_uid: _Optional[str] = ..., model_version: _Optional[str] = ..., version: _Optional[int] = ..., target_stage: _Optional[_Union[_resources_pb2.Stage, str]] = ..., archive_existing: _Optional[bool] = ..., requested_by: _Optional[str] = ..., version_author: _Optional[str] = ..., risk_tier: _Optional[_Union[_resources_pb2.RiskTier, str]] = ..., state: _Optional[_Union[PromotionState, str]] = ..., checks: _Optional[_Iterable[_Union[RuleResult, _Mapping]]] = ..., required_approvals: _Optional[int] = ..., decisions: _Optional[_Iterable[_Union[ReviewerDecision, _Mapping]]] = ..., failing_rule_ids: _Optional[_Iterable[str]] = ..., outcome_message: _Optional[str] = ..., policy_revision: _Optional[int] = ..., policy_sha256: _Optional[str] = ..., request_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., check_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolve_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DenialReason(_message.Message):
    __slots__ = ("code", "message", "finding", "rule_id", "alert")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FINDING_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    ALERT_FIELD_NUMBER: _ClassVar[int]
    code: DenialCode
    message: str
    finding: str
    rule_id: str
    alert: str
    def __init__(self, code: _Optional[_Union[DenialCode, str]] = ..., message: _Optional[str] = ..., finding: _Optional[str] = ..., rule_id: _Optional[str] = ..., alert: _Optional[str] = ...) -> None: ...

class Principal(_message.Message):
    __slots__ = ("principal", "active", "reason", "updated_by", "update_time")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    principal: str
    active: bool
    reason: str
    updated_by: str
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, principal: _Optional[str] = ..., active: _Optional[bool] = ..., reason: _Optional[str] = ..., updated_by: _Optional[str] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DeadLetter(_message.Message):
    __slots__ = ("name", "event_id", "event_type", "subject", "stream", "stream_sequence", "model_uid", "payload", "headers", "error", "attempts", "first_failure_time", "last_failure_time", "state", "apply_time")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    STREAM_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    FIRST_FAILURE_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_FAILURE_TIME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    APPLY_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    event_id: str
    event_type: str
    subject: str
    stream: str
    stream_sequence: int
    model_uid: str
    payload: bytes
    headers: _containers.ScalarMap[str, str]
    error: str
    attempts: int
    first_failure_time: _timestamp_pb2.Timestamp
    last_failure_time: _timestamp_pb2.Timestamp
    state: DeadLetterState
    apply_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., event_id: _Optional[str] = ..., event_type: _Optional[str] = ..., subject: _Optional[str] = ..., stream: _Optional[str] = ..., stream_sequence: _Optional[int] = ..., model_uid: _Optional[str] = ..., payload: _Optional[bytes] = ..., headers: _Optional[_Mapping[str, str]] = ..., error: _Optional[str] = ..., attempts: _Optional[int] = ..., first_failure_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_failure_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state: _Optional[_Union[DeadLetterState, str]] = ..., apply_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
