import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from modelward_protos.governance.v1 import monitoring_pb2 as _monitoring_pb2
from modelward_protos.governance.v1 import resources_pb2 as _resources_pb2
from modelward_protos.registry.v1 import resources_pb2 as _resources_pb2_1
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListPortfolioRequest(_message.Message):
    __slots__ = ("filter", "page_size", "page_token", "order_by")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    filter: str
    page_size: int
    page_token: str
    order_by: str
    def __init__(self, filter: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., order_by: _Optional[str] = ...) -> None: ...

class ListPortfolioResponse(_message.Message):
    __slots__ = ("entries", "next_page_token", "total_size")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[_resources_pb2.PortfolioEntry]
    next_page_token: str
    total_size: int
    def __init__(self, entries: _Optional[_Iterable[_Union[_resources_pb2.PortfolioEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class GetModelComplianceRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetPolicyRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ReplacePolicyRequest(_message.Message):
    __slots__ = ("yaml_text", "etag", "reason")
    YAML_TEXT_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    yaml_text: str
    etag: str
    reason: str
    def __init__(self, yaml_text: _Optional[str] = ..., etag: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ValidatePolicyRequest(_message.Message):
    __slots__ = ("yaml_text",)
    YAML_TEXT_FIELD_NUMBER: _ClassVar[int]
    yaml_text: str
    def __init__(self, yaml_text: _Optional[str] = ...) -> None: ...

class ValidatePolicyResponse(_message.Message):
    __slots__ = ("valid", "problems", "rules", "sha256")
    VALID_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    problems: _containers.RepeatedCompositeFieldContainer[_resources_pb2.PolicyProblem]
    rules: _containers.RepeatedCompositeFieldContainer[_resources_pb2.PolicyRule]
    sha256: str
    def __init__(self, valid: _Optional[bool] = ..., problems: _Optional[_Iterable[_Union[_resources_pb2.PolicyProblem, _Mapping]]] = ..., rules: _Optional[_Iterable[_Union[_resources_pb2.PolicyRule, _Mapping]]] = ..., sha256: _Optional[str] = ...) -> None: ...

class DryRunPolicyRequest(_message.Message):
    __slots__ = ("yaml_text", "filter", "page_size", "page_token")
    YAML_TEXT_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    yaml_text: str
    filter: str
    page_size: int
    page_token: str
    def __init__(self, yaml_text: _Optional[str] = ..., filter: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class DryRunResult(_message.Message):
    __slots__ = ("model", "model_version", "passed", "results", "newly_failing_rule_ids", "newly_passing_rule_ids")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    NEWLY_FAILING_RULE_IDS_FIELD_NUMBER: _ClassVar[int]
    NEWLY_PASSING_RULE_IDS_FIELD_NUMBER: _ClassVar[int]
    model: str
    model_version: str
    passed: bool
    results: _containers.RepeatedCompositeFieldContainer[_resources_pb2.RuleResult]
    newly_failing_rule_ids: _containers.RepeatedScalarFieldContainer[str]
    newly_passing_rule_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, model: _Optional[str] = ..., model_version: _Optional[str] = ..., passed: _Optional[bool] = ..., results: _Optional[_Iterable[_Union[_resources_pb2.RuleResult, _Mapping]]] = ..., newly_failing_rule_ids: _Optional[_Iterable[str]] = ..., newly_passing_rule_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class DryRunPolicyResponse(_message.Message):
    __slots__ = ("results", "next_page_token", "sha256", "models_evaluated", "versions_evaluated", "findings_to_open", "findings_to_resolve")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    MODELS_EVALUATED_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_EVALUATED_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_TO_OPEN_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_TO_RESOLVE_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[DryRunResult]
    next_page_token: str
    sha256: str
    models_evaluated: int
    versions_evaluated: int
    findings_to_open: int
    findings_to_resolve: int
    def __init__(self, results: _Optional[_Iterable[_Union[DryRunResult, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., sha256: _Optional[str] = ..., models_evaluated: _Optional[int] = ..., versions_evaluated: _Optional[int] = ..., findings_to_open: _Optional[int] = ..., findings_to_resolve: _Optional[int] = ...) -> None: ...

class ListFindingsRequest(_message.Message):
    __slots__ = ("model", "kind", "min_severity", "state", "page_size", "page_token")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MIN_SEVERITY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    model: str
    kind: _resources_pb2.FindingKind
    min_severity: _resources_pb2.Severity
    state: _resources_pb2.FindingState
    page_size: int
    page_token: str
    def __init__(self, model: _Optional[str] = ..., kind: _Optional[_Union[_resources_pb2.FindingKind, str]] = ..., min_severity: _Optional[_Union[_resources_pb2.Severity, str]] = ..., state: _Optional[_Union[_resources_pb2.FindingState, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListFindingsResponse(_message.Message):
    __slots__ = ("findings", "next_page_token", "total_size")
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    findings: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Finding]
    next_page_token: str
    total_size: int
    def __init__(self, findings: _Optional[_Iterable[_Union[_resources_pb2.Finding, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class ApproveVersionRequest(_message.Message):
    __slots__ = ("name", "comment")
    NAME_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    name: str
    comment: str
    def __init__(self, name: _Optional[str] = ..., comment: _Optional[str] = ...) -> None: ...

class RejectVersionRequest(_message.Message):
    __slots__ = ("name", "comment")
    NAME_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    name: str
    comment: str
    def __init__(self, name: _Optional[str] = ..., comment: _Optional[str] = ...) -> None: ...

class GetPromotionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListPromotionsRequest(_message.Message):
    __slots__ = ("model", "state", "page_size", "page_token")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    model: str
    state: _resources_pb2.PromotionState
    page_size: int
    page_token: str
    def __init__(self, model: _Optional[str] = ..., state: _Optional[_Union[_resources_pb2.PromotionState, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPromotionsResponse(_message.Message):
    __slots__ = ("promotions", "next_page_token", "total_size")
    PROMOTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    promotions: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Promotion]
    next_page_token: str
    total_size: int
    def __init__(self, promotions: _Optional[_Iterable[_Union[_resources_pb2.Promotion, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class CheckDeploymentRequest(_message.Message):
    __slots__ = ("model", "version", "alias", "required_stage")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_STAGE_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: int
    alias: str
    required_stage: _resources_pb2_1.Stage
    def __init__(self, model: _Optional[str] = ..., version: _Optional[int] = ..., alias: _Optional[str] = ..., required_stage: _Optional[_Union[_resources_pb2_1.Stage, str]] = ...) -> None: ...

class CheckDeploymentResponse(_message.Message):
    __slots__ = ("allowed", "model_version", "version", "reasons", "policy_revision", "check_time")
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    POLICY_REVISION_FIELD_NUMBER: _ClassVar[int]
    CHECK_TIME_FIELD_NUMBER: _ClassVar[int]
    allowed: bool
    model_version: str
    version: int
    reasons: _containers.RepeatedCompositeFieldContainer[_resources_pb2.DenialReason]
    policy_revision: int
    check_time: _timestamp_pb2.Timestamp
    def __init__(self, allowed: _Optional[bool] = ..., model_version: _Optional[str] = ..., version: _Optional[int] = ..., reasons: _Optional[_Iterable[_Union[_resources_pb2.DenialReason, _Mapping]]] = ..., policy_revision: _Optional[int] = ..., check_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SetPrincipalActiveRequest(_message.Message):
    __slots__ = ("principal", "active", "reason")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    principal: str
    active: bool
    reason: str
    def __init__(self, principal: _Optional[str] = ..., active: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class ListDeadLettersRequest(_message.Message):
    __slots__ = ("state", "page_size", "page_token")
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    state: _resources_pb2.DeadLetterState
    page_size: int
    page_token: str
    def __init__(self, state: _Optional[_Union[_resources_pb2.DeadLetterState, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDeadLettersResponse(_message.Message):
    __slots__ = ("dead_letters", "next_page_token", "total_size")
    DEAD_LETTERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    dead_letters: _containers.RepeatedCompositeFieldContainer[_resources_pb2.DeadLetter]
    next_page_token: str
    total_size: int
    def __init__(self, dead_letters: _Optional[_Iterable[_Union[_resources_pb2.DeadLetter, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class RetryDeadLetterRequest(_message.Message):
    __slots__ = ("name", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class UploadReferenceDataRequest(_message.Message):
    __slots__ = ("model_version", "batch", "prediction_column", "label_column")
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    PREDICTION_COLUMN_FIELD_NUMBER: _ClassVar[int]
    LABEL_COLUMN_FIELD_NUMBER: _ClassVar[int]
    model_version: str
    batch: _monitoring_pb2.ColumnarBatch
    prediction_column: str
    label_column: str
    def __init__(self, model_version: _Optional[str] = ..., batch: _Optional[_Union[_monitoring_pb2.ColumnarBatch, _Mapping]] = ..., prediction_column: _Optional[str] = ..., label_column: _Optional[str] = ...) -> None: ...

class UploadReferenceDataResponse(_message.Message):
    __slots__ = ("model_version", "row_count", "column_names", "sha256")
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    COLUMN_NAMES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    model_version: str
    row_count: int
    column_names: _containers.RepeatedScalarFieldContainer[str]
    sha256: str
    def __init__(self, model_version: _Optional[str] = ..., row_count: _Optional[int] = ..., column_names: _Optional[_Iterable[str]] = ..., sha256: _Optional[str] = ...) -> None: ...

class ReportProductionDataRequest(_message.Message):
    __slots__ = ("model_version", "batch", "request_ids", "observe_times")
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    REQUEST_IDS_FIELD_NUMBER: _ClassVar[int]
    OBSERVE_TIMES_FIELD_NUMBER: _ClassVar[int]
    model_version: str
    batch: _monitoring_pb2.ColumnarBatch
    request_ids: _containers.RepeatedScalarFieldContainer[str]
    observe_times: _containers.RepeatedCompositeFieldContainer[_timestamp_pb2.Timestamp]
    def __init__(self, model_version: _Optional[str] = ..., batch: _Optional[_Union[_monitoring_pb2.ColumnarBatch, _Mapping]] = ..., request_ids: _Optional[_Iterable[str]] = ..., observe_times: _Optional[_Iterable[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]]] = ...) -> None: ...

class ReportProductionDataResponse(_message.Message):
    __slots__ = ("model_version", "row_count", "batch_count")
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    BATCH_COUNT_FIELD_NUMBER: _ClassVar[int]
    model_version: str
    row_count: int
    batch_count: int
    def __init__(self, model_version: _Optional[str] = ..., row_count: _Optional[int] = ..., batch_count: _Optional[int] = ...) -> None: ...

class ReportLabelsRequest(_message.Message):
    __slots__ = ("model_version", "request_ids", "labels")
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_IDS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    model_version: str
    request_ids: _containers.RepeatedScalarFieldContainer[str]
    labels: _monitoring_pb2.Column
    def __init__(self, model_version: _Optional[str] = ..., request_ids: _Optional[_Iterable[str]] = ..., labels: _Optional[_Union[_monitoring_pb2.Column, _Mapping]] = ...) -> None: ...

class ReportLabelsResponse(_message.Message):
    __slots__ = ("matched_count", "unmatched_request_ids", "unmatched_count")
    MATCHED_COUNT_FIELD_NUMBER: _ClassVar[int]
    UNMATCHED_REQUEST_IDS_FIELD_NUMBER: _ClassVar[int]
    UNMATCHED_COUNT_FIELD_NUMBER: _ClassVar[int]
    matched_count: int
    unmatched_request_ids: _containers.RepeatedScalarFieldContainer[str]
    unmatched_count: int
    def __init__(self, matched_count: _Optional[int] = ..., unmatched_request_ids: _Optional[_Iterable[str]] = ..., unmatched_count: _Optional[int] = ...) -> None: ...

class GetDriftReportRequest(_message.Message):
    __slots__ = ("name", "page_size", "page_token")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    name: str
    page_size: int
    page_token: str
    def __init__(self, name: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAlertsRequest(_message.Message):
    __slots__ = ("model", "model_version", "kind", "state", "min_severity", "page_size", "page_token")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MIN_SEVERITY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    model: str
    model_version: str
    kind: _monitoring_pb2.AlertKind
    state: _monitoring_pb2.AlertState
    min_severity: _resources_pb2.Severity
    page_size: int
    page_token: str
    def __init__(self, model: _Optional[str] = ..., model_version: _Optional[str] = ..., kind: _Optional[_Union[_monitoring_pb2.AlertKind, str]] = ..., state: _Optional[_Union[_monitoring_pb2.AlertState, str]] = ..., min_severity: _Optional[_Union[_resources_pb2.Severity, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAlertsResponse(_message.Message):
    __slots__ = ("alerts", "next_page_token", "total_size")
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    alerts: _containers.RepeatedCompositeFieldContainer[_monitoring_pb2.Alert]
    next_page_token: str
    total_size: int
    def __init__(self, alerts: _Optional[_Iterable[_Union[_monitoring_pb2.Alert, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class SetMonitoringConfigRequest(_message.Message):
    __slots__ = ("config", "reason")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    config: _monitoring_pb2.MonitoringConfig
    reason: str
    def __init__(self, config: _Optional[_Union[_monitoring_pb2.MonitoringConfig, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...
