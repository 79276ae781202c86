import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from modelward_protos.governance.v1 import monitoring_pb2 as _monitoring_pb2
from modelward_protos.governance.v1 import resources_pb2 as _resources_pb2
from modelward_protos.registry.v1 import resources_pb2 as _resources_pb2_1
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OrphanReasonCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORPHAN_REASON_CODE_UNSPECIFIED: _ClassVar[OrphanReasonCode]
    ORPHAN_REASON_CODE_NO_OWNER: _ClassVar[OrphanReasonCode]
    ORPHAN_REASON_CODE_OWNER_INACTIVE: _ClassVar[OrphanReasonCode]
    ORPHAN_REASON_CODE_NO_ACTIVITY: _ClassVar[OrphanReasonCode]

class RedundancyMatchKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REDUNDANCY_MATCH_KIND_UNSPECIFIED: _ClassVar[RedundancyMatchKind]
    REDUNDANCY_MATCH_KIND_ARTIFACT_DIGEST: _ClassVar[RedundancyMatchKind]
    REDUNDANCY_MATCH_KIND_FEATURE_SIMILARITY: _ClassVar[RedundancyMatchKind]
ORPHAN_REASON_CODE_UNSPECIFIED: OrphanReasonCode
ORPHAN_REASON_CODE_NO_OWNER: OrphanReasonCode
ORPHAN_REASON_CODE_OWNER_INACTIVE: OrphanReasonCode
ORPHAN_REASON_CODE_NO_ACTIVITY: OrphanReasonCode
REDUNDANCY_MATCH_KIND_UNSPECIFIED: RedundancyMatchKind
REDUNDANCY_MATCH_KIND_ARTIFACT_DIGEST: RedundancyMatchKind
REDUNDANCY_MATCH_KIND_FEATURE_SIMILARITY: RedundancyMatchKind

class FindingOpened(_message.Message):
    __slots__ = ("finding", "kind", "severity", "model_uid", "model", "version", "rule_id", "blocks_promotion", "message", "evidence", "policy_revision", "open_time")
    FINDING_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_PROMOTION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    POLICY_REVISION_FIELD_NUMBER: _ClassVar[int]
    OPEN_TIME_FIELD_NUMBER: _ClassVar[int]
    finding: str
    kind: _resources_pb2.FindingKind
    severity: _resources_pb2.Severity
    model_uid: str
    model: str
    version: int
    rule_id: str
    blocks_promotion: bool
    message: str
    evidence: _struct_pb2.Struct
    policy_revision: int
    open_time: _timestamp_pb2.Timestamp
    def __init__(self, finding: _Optional[str] = ..., kind: _Optional[_Union[_resources_pb2.FindingKind, str]] = ..., severity: _Optional[_Union[_resources_pb2.Severity, str]] = ..., model_uid: _Optional[str] = ..., model: _Optional[str] = ..., version: _Optional[int] = ..., rule_id: _Optional[str] = ..., blocks_promotion: _Optional[bool] = ..., message: _Optional[str] = ..., evidence: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., policy_revision: _Optional[int] = ..., open_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FindingResolved(_message.Message):
    __slots__ = ("finding", "kind", "severity", "model_uid", "model", "version", "rule_id", "resolution", "policy_revision", "resolve_time")
    FINDING_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    POLICY_REVISION_FIELD_NUMBER: _ClassVar[int]
    RESOLVE_TIME_FIELD_NUMBER: _ClassVar[int]
    finding: str
    kind: _resources_pb2.FindingKind
    severity: _resources_pb2.Severity
    model_uid: str
    model: str
    version: int
    rule_id: str
    resolution: str
    policy_revision: int
    resolve_time: _timestamp_pb2.Timestamp
    def __init__(self, finding: _Optional[str] = ..., kind: _Optional[_Union[_resources_pb2.FindingKind, str]] = ..., severity: _Optional[_Union[_resources_pb2.Severity, str]] = ..., model_uid: _Optional[str] = ..., model: _Optional[str] = ..., version: _Optional[int] = ..., rule_id: _Optional[str] = ..., resolution: _Optional[str] = ..., policy_revision: _Optional[int] = ..., resolve_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PromotionApproved(_message.Message):
    __slots__ = ("promotion", "model_uid", "model", "version", "target_stage", "archive_existing", "requested_by", "decisions", "required_approvals", "policy_revision")
    PROMOTION_FIELD_NUMBER: _ClassVar[int]
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TARGET_STAGE_FIELD_NUMBER: _ClassVar[int]
    ARCHIVE_EXISTING_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_APPROVALS_FIELD_NUMBER: _ClassVar[int]
    POLICY_REVISION_FIELD_NUMBER: _ClassVar[int]
    promotion: str
    model_uid: str
    model: str
    version: int
    target_stage: _resources_pb2_1.Stage
    archive_existing: bool
    requested_by: str
    decisions: _containers.RepeatedCompositeFieldContainer[_resources_pb2.ReviewerDecision]
    required_approvals: int
    policy_revision: int
    def __init__(self, promotion: _Optional[str] = ..., model_uid: _Optional[str] = ..., model: _Optional[str] = ..., version: _Optional[int] = ..., target_stage: _Optional[_Union[_resources_pb2_1.Stage, str]] = ..., archive_existing: _Optional[bool] = ..., requested_by: _Optional[str] = ..., decisions: _Optional[_Iterable[_Union[_resources_pb2.ReviewerDecision, _Mapping]]] = ..., required_approvals: _Optional[int] = ..., policy_revision: _Optional[int] = ...) -> None: ...

class PromotionRejected(_message.Message):
    __slots__ = ("promotion", "model_uid", "model", "version", "target_stage", "requested_by", "decisions", "failing_rules", "message", "policy_revision")
    PROMOTION_FIELD_NUMBER: _ClassVar[int]
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TARGET_STAGE_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    FAILING_RULES_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    POLICY_REVISION_FIELD_NUMBER: _ClassVar[int]
    promotion: str
    model_uid: str
    model: str
    version: int
    target_stage: _resources_pb2_1.Stage
    requested_by: str
    decisions: _containers.RepeatedCompositeFieldContainer[_resources_pb2.ReviewerDecision]
    failing_rules: _containers.RepeatedCompositeFieldContainer[_resources_pb2.RuleResult]
    message: str
    policy_revision: int
    def __init__(self, promotion: _Optional[str] = ..., model_uid: _Optional[str] = ..., model: _Optional[str] = ..., version: _Optional[int] = ..., target_stage: _Optional[_Union[_resources_pb2_1.Stage, str]] = ..., requested_by: _Optional[str] = ..., decisions: _Optional[_Iterable[_Union[_resources_pb2.ReviewerDecision, _Mapping]]] = ..., failing_rules: _Optional[_Iterable[_Union[_resources_pb2.RuleResult, _Mapping]]] = ..., message: _Optional[str] = ..., policy_revision: _Optional[int] = ...) -> None: ...

class ReviewerDecisionRecorded(_message.Message):
    __slots__ = ("promotion", "model_uid", "model", "version", "target_stage", "decision", "approval_count", "required_approvals")
    PROMOTION_FIELD_NUMBER: _ClassVar[int]
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TARGET_STAGE_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_APPROVALS_FIELD_NUMBER: _ClassVar[int]
    promotion: str
    model_uid: str
    model: str
    version: int
    target_stage: _resources_pb2_1.Stage
    decision: _resources_pb2.ReviewerDecision
    approval_count: int
    required_approvals: int
    def __init__(self, promotion: _Optional[str] = ..., model_uid: _Optional[str] = ..., model: _Optional[str] = ..., version: _Optional[int] = ..., target_stage: _Optional[_Union[_resources_pb2_1.Stage, str]] = ..., decision: _Optional[_Union[_resources_pb2.ReviewerDecision, _Mapping]] = ..., approval_count: _Optional[int] = ..., required_approvals: _Optional[int] = ...) -> None: ...

class OrphanReason(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: OrphanReasonCode
    message: str
    def __init__(self, code: _Optional[_Union[OrphanReasonCode, str]] = ..., message: _Optional[str] = ...) -> None: ...

class ModelFlaggedOrphaned(_message.Message):
    __slots__ = ("model_uid", "model", "owner", "team", "risk_tier", "reasons", "last_activity_time", "finding")
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    RISK_TIER_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVITY_TIME_FIELD_NUMBER: _ClassVar[int]
    FINDING_FIELD_NUMBER: _ClassVar[int]
    model_uid: str
    model: str
    owner: str
    team: str
    risk_tier: _resources_pb2_1.RiskTier
    reasons: _containers.RepeatedCompositeFieldContainer[OrphanReason]
    last_activity_time: _timestamp_pb2.Timestamp
    finding: str
    def __init__(self, model_uid: _Optional[str] = ..., model: _Optional[str] = ..., owner: _Optional[str] = ..., team: _Optional[str] = ..., risk_tier: _Optional[_Union[_resources_pb2_1.RiskTier, str]] = ..., reasons: _Optional[_Iterable[_Union[OrphanReason, _Mapping]]] = ..., last_activity_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finding: _Optional[str] = ...) -> None: ...

class ModelOrphanFlagCleared(_message.Message):
    __slots__ = ("model_uid", "model", "owner", "resolution", "finding")
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    FINDING_FIELD_NUMBER: _ClassVar[int]
    model_uid: str
    model: str
    owner: str
    resolution: str
    finding: str
    def __init__(self, model_uid: _Optional[str] = ..., model: _Optional[str] = ..., owner: _Optional[str] = ..., resolution: _Optional[str] = ..., finding: _Optional[str] = ...) -> None: ...

class RedundancyDetected(_message.Message):
    __slots__ = ("match_kind", "model_uid", "model", "version", "other_model_uid", "other_model", "other_version", "similarity", "threshold", "artifact_sha256", "training_dataset_sha256", "task_type", "shared_feature_count", "union_feature_count", "finding")
    MATCH_KIND_FIELD_NUMBER: _ClassVar[int]
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    OTHER_MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    OTHER_MODEL_FIELD_NUMBER: _ClassVar[int]
    OTHER_VERSION_FIELD_NUMBER: _ClassVar[int]
    SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_SHA256_FIELD_NUMBER: _ClassVar[int]
    TRAINING_DATASET_SHA256_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    SHARED_FEATURE_COUNT_FIELD_NUMBER: _ClassVar[int]
    UNION_FEATURE_COUNT_FIELD_NUMBER: _ClassVar[int]
    FINDING_FIELD_NUMBER: _ClassVar[int]
    match_kind: RedundancyMatchKind
    model_uid: str
    model: str
    version: int
    other_model_uid: str
    other_model: str
    other_version: int
    similarity: float
    threshold: float
    artifact_sha256: str
    training_dataset_sha256: str
    task_type: str
    shared_feature_count: int
    union_feature_count: int
    finding: str
    def __init__(self, match_kind: _Optional[_Union[RedundancyMatchKind, str]] = ..., model_uid: _Optional[str] = ..., model: _Optional[str] = ..., version: _Optional[int] = ..., other_model_uid: _Optional[str] = ..., other_model: _Optional[str] = ..., other_version: _Optional[int] = ..., similarity: _Optional[float] = ..., threshold: _Optional[float] = ..., artifact_sha256: _Optional[str] = ..., training_dataset_sha256: _Optional[str] = ..., task_type: _Optional[str] = ..., shared_feature_count: _Optional[int] = ..., union_feature_count: _Optional[int] = ..., finding: _Optional[str] = ...) -> None: ...

class RedundancyCleared(_message.Message):
    __slots__ = ("match_kind", "model_uid", "model", "other_model_uid", "other_model", "resolution", "finding")
    MATCH_KIND_FIELD_NUMBER: _ClassVar[int]
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    OTHER_MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    OTHER_MODEL_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    FINDING_FIELD_NUMBER: _ClassVar[int]
    match_kind: RedundancyMatchKind
    model_uid: str
    model: str
    other_model_uid: str
    other_model: str
    resolution: str
    finding: str
    def __init__(self, match_kind: _Optional[_Union[RedundancyMatchKind, str]] = ..., model_uid: _Optional[str] = ..., model: _Optional[str] = ..., other_model_uid: _Optional[str] = ..., other_model: _Optional[str] = ..., resolution: _Optional[str] = ..., finding: _Optional[str] = ...) -> None: ...

class PolicyChanged(_message.Message):
    __slots__ = ("policy", "revision", "sha256", "previous_revision", "previous_sha256", "author", "reason", "rule_count", "added_rule_ids", "removed_rule_ids", "changed_rule_ids")
    POLICY_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_REVISION_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_SHA256_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RULE_COUNT_FIELD_NUMBER: _ClassVar[int]
    ADDED_RULE_IDS_FIELD_NUMBER: _ClassVar[int]
    REMOVED_RULE_IDS_FIELD_NUMBER: _ClassVar[int]
    CHANGED_RULE_IDS_FIELD_NUMBER: _ClassVar[int]
    policy: str
    revision: int
    sha256: str
    previous_revision: int
    previous_sha256: str
    author: str
    reason: str
    rule_count: int
    added_rule_ids: _containers.RepeatedScalarFieldContainer[str]
    removed_rule_ids: _containers.RepeatedScalarFieldContainer[str]
    changed_rule_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, policy: _Optional[str] = ..., revision: _Optional[int] = ..., sha256: _Optional[str] = ..., previous_revision: _Optional[int] = ..., previous_sha256: _Optional[str] = ..., author: _Optional[str] = ..., reason: _Optional[str] = ..., rule_count: _Optional[int] = ..., added_rule_ids: _Optional[_Iterable[str]] = ..., removed_rule_ids: _Optional[_Iterable[str]] = ..., changed_rule_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class PrincipalDeactivated(_message.Message):
    __slots__ = ("principal", "reason", "changed_by", "owned_model_uids")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CHANGED_BY_FIELD_NUMBER: _ClassVar[int]
    OWNED_MODEL_UIDS_FIELD_NUMBER: _ClassVar[int]
    principal: str
    reason: str
    changed_by: str
    owned_model_uids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, principal: _Optional[str] = ..., reason: _Optional[str] = ..., changed_by: _Optional[str] = ..., owned_model_uids: _Optional[_Iterable[str]] = ...) -> None: ...

class PrincipalReactivated(_message.Message):
    __slots__ = ("principal", "reason", "changed_by", "owned_model_uids")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CHANGED_BY_FIELD_NUMBER: _ClassVar[int]
    OWNED_MODEL_UIDS_FIELD_NUMBER: _ClassVar[int]
    principal: str
    reason: str
    changed_by: str
    owned_model_uids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, principal: _Optional[str] = ..., reason: _Optional[str] = ..., changed_by: _Optional[str] = ..., owned_model_uids: _Optional[_Iterable[str]] = ...) -> None: ...

class MonitoredWindow(_message.Message):
    __slots__ = ("model_uid", "model", "version", "window_index", "window_start_time", "window_end_time", "window_rows", "reference_rows")
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WINDOW_INDEX_FIELD_NUMBER: _ClassVar[int]
    WINDOW_START_TIME_FIELD_NUMBER: _ClassVar[int]
    WINDOW_END_TIME_FIELD_NUMBER: _ClassVar[int]
    WINDOW_ROWS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_ROWS_FIELD_NUMBER: _ClassVar[int]
    model_uid: str
    model: str
    version: int
    window_index: int
    window_start_time: _timestamp_pb2.Timestamp
    window_end_time: _timestamp_pb2.Timestamp
    window_rows: int
    reference_rows: int
    def __init__(self, model_uid: _Optional[str] = ..., model: _Optional[str] = ..., version: _Optional[int] = ..., window_index: _Optional[int] = ..., window_start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., window_end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., window_rows: _Optional[int] = ..., reference_rows: _Optional[int] = ...) -> None: ...

class DriftDetected(_message.Message):
    __slots__ = ("alert", "kind", "severity", "window", "feature", "statistic", "risk_tier")
    ALERT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    STATISTIC_FIELD_NUMBER: _ClassVar[int]
    RISK_TIER_FIELD_NUMBER: _ClassVar[int]
    alert: str
    kind: _monitoring_pb2.AlertKind
    severity: _resources_pb2.Severity
    window: MonitoredWindow
    feature: str
    statistic: _monitoring_pb2.DriftStatistic
    risk_tier: _resources_pb2_1.RiskTier
    def __init__(self, alert: _Optional[str] = ..., kind: _Optional[_Union[_monitoring_pb2.AlertKind, str]] = ..., severity: _Optional[_Union[_resources_pb2.Severity, str]] = ..., window: _Optional[_Union[MonitoredWindow, _Mapping]] = ..., feature: _Optional[str] = ..., statistic: _Optional[_Union[_monitoring_pb2.DriftStatistic, _Mapping]] = ..., risk_tier: _Optional[_Union[_resources_pb2_1.RiskTier, str]] = ...) -> None: ...

class ConceptDriftDetected(_message.Message):
    __slots__ = ("alert", "severity", "window", "concept_drift", "risk_tier")
    ALERT_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    CONCEPT_DRIFT_FIELD_NUMBER: _ClassVar[int]
    RISK_TIER_FIELD_NUMBER: _ClassVar[int]
    alert: str
    severity: _resources_pb2.Severity
    window: MonitoredWindow
    concept_drift: _monitoring_pb2.ConceptDrift
    risk_tier: _resources_pb2_1.RiskTier
    def __init__(self, alert: _Optional[str] = ..., severity: _Optional[_Union[_resources_pb2.Severity, str]] = ..., window: _Optional[_Union[MonitoredWindow, _Mapping]] = ..., concept_drift: _Optional[_Union[_monitoring_pb2.ConceptDrift, _Mapping]] = ..., risk_tier: _Optional[_Union[_resources_pb2_1.RiskTier, str]] = ...) -> None: ...

class DriverShiftDetected(_message.Message):
    __slots__ = ("alert", "severity", "window", "driver_shift", "risk_tier")
    ALERT_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    DRIVER_SHIFT_FIELD_NUMBER: _ClassVar[int]
    RISK_TIER_FIELD_NUMBER: _ClassVar[int]
    alert: str
    severity: _resources_pb2.Severity
    window: MonitoredWindow
    driver_shift: _monitoring_pb2.DriverShift
    risk_tier: _resources_pb2_1.RiskTier
    def __init__(self, alert: _Optional[str] = ..., severity: _Optional[_Union[_resources_pb2.Severity, str]] = ..., window: _Optional[_Union[MonitoredWindow, _Mapping]] = ..., driver_shift: _Optional[_Union[_monitoring_pb2.DriverShift, _Mapping]] = ..., risk_tier: _Optional[_Union[_resources_pb2_1.RiskTier, str]] = ...) -> None: ...

class AlertResolved(_message.Message):
    __slots__ = ("alert", "kind", "severity", "model_uid", "model", "version", "feature", "resolution", "resolve_time")
    ALERT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    RESOLVE_TIME_FIELD_NUMBER: _ClassVar[int]
    alert: str
    kind: _monitoring_pb2.AlertKind
    severity: _resources_pb2.Severity
    model_uid: str
    model: str
    version: int
    feature: str
    resolution: str
    resolve_time: _timestamp_pb2.Timestamp
    def __init__(self, alert: _Optional[str] = ..., kind: _Optional[_Union[_monitoring_pb2.AlertKind, str]] = ..., severity: _Optional[_Union[_resources_pb2.Severity, str]] = ..., model_uid: _Optional[str] = ..., model: _Optional[str] = ..., version: _Optional[int] = ..., feature: _Optional[str] = ..., resolution: _Optional[str] = ..., resolve_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
