import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from modelward_protos.governance.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DriftMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DRIFT_METHOD_UNSPECIFIED: _ClassVar[DriftMethod]
    DRIFT_METHOD_PSI: _ClassVar[DriftMethod]
    DRIFT_METHOD_KOLMOGOROV_SMIRNOV: _ClassVar[DriftMethod]
    DRIFT_METHOD_CHI_SQUARED: _ClassVar[DriftMethod]
    DRIFT_METHOD_JENSEN_SHANNON: _ClassVar[DriftMethod]
    DRIFT_METHOD_WASSERSTEIN: _ClassVar[DriftMethod]

class AlertKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_KIND_UNSPECIFIED: _ClassVar[AlertKind]
    ALERT_KIND_DATA_DRIFT: _ClassVar[AlertKind]
    ALERT_KIND_PREDICTION_DRIFT: _ClassVar[AlertKind]
    ALERT_KIND_CONCEPT_DRIFT: _ClassVar[AlertKind]
    ALERT_KIND_DRIVER_SHIFT: _ClassVar[AlertKind]

class AlertState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_STATE_UNSPECIFIED: _ClassVar[AlertState]
    ALERT_STATE_OPEN: _ClassVar[AlertState]
    ALERT_STATE_RESOLVED: _ClassVar[AlertState]
DRIFT_METHOD_UNSPECIFIED: DriftMethod
DRIFT_METHOD_PSI: DriftMethod
DRIFT_METHOD_KOLMOGOROV_SMIRNOV: DriftMethod
DRIFT_METHOD_CHI_SQUARED: DriftMethod
DRIFT_METHOD_JENSEN_SHANNON: DriftMethod
DRIFT_METHOD_WASSERSTEIN: DriftMethod
ALERT_KIND_UNSPECIFIED: AlertKind
ALERT_KIND_DATA_DRIFT: AlertKind
ALERT_KIND_PREDICTION_DRIFT: AlertKind
ALERT_KIND_CONCEPT_DRIFT: AlertKind
ALERT_KIND_DRIVER_SHIFT: AlertKind
ALERT_STATE_UNSPECIFIED: AlertState
ALERT_STATE_OPEN: AlertState
ALERT_STATE_RESOLVED: AlertState

class DoubleValues(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...

class StringValues(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ...) -> None: ...

class Int64Values(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, values: _Optional[_Iterable[int]] = ...) -> None: ...

class Column(_message.Message):
    __slots__ = ("name", "double_values", "string_values", "int64_values", "null_mask")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DOUBLE_VALUES_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUES_FIELD_NUMBER: _ClassVar[int]
    INT64_VALUES_FIELD_NUMBER: _ClassVar[int]
    NULL_MASK_FIELD_NUMBER: _ClassVar[int]
    name: str
    double_values: DoubleValues
    string_values: StringValues
    int64_values: Int64Values
    null_mask: _containers.RepeatedScalarFieldContainer[bool]
    def __init__(self, name: _Optional[str] = ..., double_values: _Optional[_Union[DoubleValues, _Mapping]] = ..., string_values: _Optional[_Union[StringValues, _Mapping]] = ..., int64_values: _Optional[_Union[Int64Values, _Mapping]] = ..., null_mask: _Optional[_Iterable[bool]] = ...) -> None: ...

class ColumnarBatch(_message.Message):
    __slots__ = ("row_count", "columns")
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    row_count: int
    columns: _containers.RepeatedCompositeFieldContainer[Column]
    def __init__(self, row_count: _Optional[int] = ..., columns: _Optional[_Iterable[_Union[Column, _Mapping]]] = ...) -> None: ...

class DriftThreshold(_message.Message):
    __slots__ = ("method", "feature", "warning", "critical", "max_p_value")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    WARNING_FIELD_NUMBER: _ClassVar[int]
    CRITICAL_FIELD_NUMBER: _ClassVar[int]
    MAX_P_VALUE_FIELD_NUMBER: _ClassVar[int]
    method: DriftMethod
    feature: str
    warning: float
    critical: float
    max_p_value: float
    def __init__(self, method: _Optional[_Union[DriftMethod, str]] = ..., feature: _Optional[str] = ..., warning: _Optional[float] = ..., critical: _Optional[float] = ..., max_p_value: _Optional[float] = ...) -> None: ...

class ConceptDriftConfig(_message.Message):
    __slots__ = ("metric", "warning", "critical", "min_labeled_rows")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    WARNING_FIELD_NUMBER: _ClassVar[int]
    CRITICAL_FIELD_NUMBER: _ClassVar[int]
    MIN_LABELED_ROWS_FIELD_NUMBER: _ClassVar[int]
    metric: str
    warning: float
    critical: float
    min_labeled_rows: int
    def __init__(self, metric: _Optional[str] = ..., warning: _Optional[float] = ..., critical: _Optional[float] = ..., min_labeled_rows: _Optional[int] = ...) -> None: ...

class DriverShiftConfig(_message.Message):
    __slots__ = ("warning", "critical")
    WARNING_FIELD_NUMBER: _ClassVar[int]
    CRITICAL_FIELD_NUMBER: _ClassVar[int]
    warning: float
    critical: float
    def __init__(self, warning: _Optional[float] = ..., critical: _Optional[float] = ...) -> None: ...

class MonitoringConfig(_message.Message):
    __slots__ = ("name", "window_rows", "window_duration", "min_window_rows", "thresholds", "prediction_column", "concept_drift", "driver_shift", "update_time", "etag")
    NAME_FIELD_NUMBER: _ClassVar[int]
    WINDOW_ROWS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_DURATION_FIELD_NUMBER: _ClassVar[int]
    MIN_WINDOW_ROWS_FIELD_NUMBER: _ClassVar[int]
    THRESHOLDS_FIELD_NUMBER: _ClassVar[int]
    PREDICTION_COLUMN_FIELD_NUMBER: _ClassVar[int]
    CONCEPT_DRIFT_FIELD_NUMBER: _ClassVar[int]
    DRIVER_SHIFT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    name: str
    window_rows: int
    window_duration: _duration_pb2.Duration
    min_window_rows: int
    thresholds: _containers.RepeatedCompositeFieldContainer[DriftThreshold]
    prediction_column: str
    concept_drift: ConceptDriftConfig
    driver_shift: DriverShiftConfig
    update_time: _timestamp_pb2.Timestamp
    etag: str
    def __init__(self, name: _Optional[str] = ..., window_rows: _Optional[int] = ..., window_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., min_window_rows: _Optional[int] = ..., thresholds: _Optional[_Iterable[_Union[DriftThreshold, _Mapping]]] = ..., prediction_column: _Optional[str] = ..., concept_drift: _Optional[_Union[ConceptDriftConfig, _Mapping]] = ..., driver_shift: _Optional[_Union[DriverShiftConfig, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ...) -> None: ...

class Histogram(_message.Message):
    __slots__ = ("bin_edges", "categories", "fractions")
    BIN_EDGES_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    FRACTIONS_FIELD_NUMBER: _ClassVar[int]
    bin_edges: _containers.RepeatedScalarFieldContainer[float]
    categories: _containers.RepeatedScalarFieldContainer[str]
    fractions: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, bin_edges: _Optional[_Iterable[float]] = ..., categories: _Optional[_Iterable[str]] = ..., fractions: _Optional[_Iterable[float]] = ...) -> None: ...

class DriftStatistic(_message.Message):
    __slots__ = ("method", "value", "p_value", "warning_threshold", "critical_threshold", "max_p_value", "severity")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    P_VALUE_FIELD_NUMBER: _ClassVar[int]
    WARNING_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    CRITICAL_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    MAX_P_VALUE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    method: DriftMethod
    value: float
    p_value: float
    warning_threshold: float
    critical_threshold: float
    max_p_value: float
    severity: _resources_pb2.Severity
    def __init__(self, method: _Optional[_Union[DriftMethod, str]] = ..., value: _Optional[float] = ..., p_value: _Optional[float] = ..., warning_threshold: _Optional[float] = ..., critical_threshold: _Optional[float] = ..., max_p_value: _Optional[float] = ..., severity: _Optional[_Union[_resources_pb2.Severity, str]] = ...) -> None: ...

class FeatureDrift(_message.Message):
    __slots__ = ("feature", "reference_rows", "window_rows", "reference_null_fraction", "window_null_fraction", "reference_nan_fraction", "window_nan_fraction", "statistics", "reference_histogram", "window_histogram", "insufficient_data_reason")
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_ROWS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_ROWS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_NULL_FRACTION_FIELD_NUMBER: _ClassVar[int]
    WINDOW_NULL_FRACTION_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_NAN_FRACTION_FIELD_NUMBER: _ClassVar[int]
    WINDOW_NAN_FRACTION_FIELD_NUMBER: _ClassVar[int]
    STATISTICS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_HISTOGRAM_FIELD_NUMBER: _ClassVar[int]
    WINDOW_HISTOGRAM_FIELD_NUMBER: _ClassVar[int]
    INSUFFICIENT_DATA_REASON_FIELD_NUMBER: _ClassVar[int]
    feature: str
    reference_rows: int
    window_rows: int
    reference_null_fraction: float
    window_null_fraction: float
    reference_nan_fraction: float
    window_nan_fraction: float
    statistics: _containers.RepeatedCompositeFieldContainer[DriftStatistic]
    reference_histogram: Histogram
    window_histogram: Histogram
    insufficient_data_reason: str
    def __init__(self, feature: _Optional[str] = ..., reference_rows: _Optional[int] = ..., window_rows: _Optional[int] = ..., reference_null_fraction: _Optional[float] = ..., window_null_fraction: _Optional[float] = ..., reference_nan_fraction: _Optional[float] = ..., window_nan_fraction: _Optional[float] = ..., statistics: _Optional[_Iterable[_Union[DriftStatistic, _Mapping]]] = ..., reference_histogram: _Optional[_Union[Histogram, _Mapping]] = ..., window_histogram: _Optional[_Union[Histogram, _Mapping]] = ..., insufficient_data_reason: _Optional[str] = ...) -> None: ...

class ConceptDrift(_message.Message):
    __slots__ = ("metric", "reference_value", "window_value", "degradation", "warning_threshold", "critical_threshold", "labeled_rows", "min_labeled_rows", "severity")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_VALUE_FIELD_NUMBER: _ClassVar[int]
    WINDOW_VALUE_FIELD_NUMBER: _ClassVar[int]
    DEGRADATION_FIELD_NUMBER: _ClassVar[int]
    WARNING_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    CRITICAL_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    LABELED_ROWS_FIELD_NUMBER: _ClassVar[int]
    MIN_LABELED_ROWS_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    metric: str
    reference_value: float
    window_value: float
    degradation: float
    warning_threshold: float
    critical_threshold: float
    labeled_rows: int
    min_labeled_rows: int
    severity: _resources_pb2.Severity
    def __init__(self, metric: _Optional[str] = ..., reference_value: _Optional[float] = ..., window_value: _Optional[float] = ..., degradation: _Optional[float] = ..., warning_threshold: _Optional[float] = ..., critical_threshold: _Optional[float] = ..., labeled_rows: _Optional[int] = ..., min_labeled_rows: _Optional[int] = ..., severity: _Optional[_Union[_resources_pb2.Severity, str]] = ...) -> None: ...

class DriverShift(_message.Message):
    __slots__ = ("feature", "method", "reference_importance", "window_importance", "change", "warning_threshold", "critical_threshold", "severity")
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_IMPORTANCE_FIELD_NUMBER: _ClassVar[int]
    WINDOW_IMPORTANCE_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    WARNING_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    CRITICAL_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    feature: str
    method: str
    reference_importance: float
    window_importance: float
    change: float
    warning_threshold: float
    critical_threshold: float
    severity: _resources_pb2.Severity
    def __init__(self, feature: _Optional[str] = ..., method: _Optional[str] = ..., reference_importance: _Optional[float] = ..., window_importance: _Optional[float] = ..., change: _Optional[float] = ..., warning_threshold: _Optional[float] = ..., critical_threshold: _Optional[float] = ..., severity: _Optional[_Union[_resources_pb2.Severity, str]] = ...) -> None: ...

class DriftWindow(_message.Message):
    __slots__ = ("window_index", "start_time", "end_time", "row_count", "complete", "features", "prediction", "concept_drift", "driver_shifts", "details")
    WINDOW_INDEX_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    PREDICTION_FIELD_NUMBER: _ClassVar[int]
    CONCEPT_DRIFT_FIELD_NUMBER: _ClassVar[int]
    DRIVER_SHIFTS_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    window_index: int
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    row_count: int
    complete: bool
    features: _containers.RepeatedCompositeFieldContainer[FeatureDrift]
    prediction: FeatureDrift
    concept_drift: ConceptDrift
    driver_shifts: _containers.RepeatedCompositeFieldContainer[DriverShift]
    details: _struct_pb2.Struct
    def __init__(self, window_index: _Optional[int] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., row_count: _Optional[int] = ..., complete: _Optional[bool] = ..., features: _Optional[_Iterable[_Union[FeatureDrift, _Mapping]]] = ..., prediction: _Optional[_Union[FeatureDrift, _Mapping]] = ..., concept_drift: _Optional[_Union[ConceptDrift, _Mapping]] = ..., driver_shifts: _Optional[_Iterable[_Union[DriverShift, _Mapping]]] = ..., details: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class DriftReport(_message.Message):
    __slots__ = ("name", "model_uid", "config", "reference_rows", "windows", "next_page_token")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_ROWS_FIELD_NUMBER: _ClassVar[int]
    WINDOWS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    name: str
    model_uid: str
    config: MonitoringConfig
    reference_rows: int
    windows: _containers.RepeatedCompositeFieldContainer[DriftWindow]
    next_page_token: str
    def __init__(self, name: _Optional[str] = ..., model_uid: _Optional[str] = ..., config: _Optional[_Union[MonitoringConfig, _Mapping]] = ..., reference_rows: _Optional[int] = ..., windows: _Optional[_Iterable[_Union[DriftWindow, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Alert(_message.Message):
    __slots__ = ("name", "kind", "severity", "state", "model", "model_uid", "model_version", "feature", "method", "value", "threshold", "window_index", "window_start_time", "window_end_time", "message", "open_time", "resolve_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    WINDOW_INDEX_FIELD_NUMBER: _ClassVar[int]
    WINDOW_START_TIME_FIELD_NUMBER: _ClassVar[int]
    WINDOW_END_TIME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    OPEN_TIME_FIELD_NUMBER: _ClassVar[int]
    RESOLVE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: AlertKind
    severity: _resources_pb2.Severity
    state: AlertState
    model: str
    model_uid: str
    model_version: str
    feature: str
    method: DriftMethod
    value: float
    threshold: float
    window_index: int
    window_start_time: _timestamp_pb2.Timestamp
    window_end_time: _timestamp_pb2.Timestamp
    message: str
    open_time: _timestamp_pb2.Timestamp
    resolve_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[_Union[AlertKind, str]] = ..., severity: _Optional[_Union[_resources_pb2.Severity, str]] = ..., state: _Optional[_Union[AlertState, str]] = ..., model: _Optional[str] = ..., model_uid: _Optional[str] = ..., model_version: _Optional[str] = ..., feature: _Optional[str] = ..., method: _Optional[_Union[DriftMethod, str]] = ..., value: _Optional[float] = ..., threshold: _Optional[float] = ..., window_index: _Optional[int] = ..., window_start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., window_end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., message: _Optional[str] = ..., open_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolve_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
