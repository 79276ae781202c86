import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MismatchKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MISMATCH_KIND_UNSPECIFIED: _ClassVar[MismatchKind]
    MISMATCH_KIND_HASH: _ClassVar[MismatchKind]
    MISMATCH_KIND_PREVIOUS_HASH: _ClassVar[MismatchKind]
    MISMATCH_KIND_MISSING_POSITION: _ClassVar[MismatchKind]
    MISMATCH_KIND_REORDERED: _ClassVar[MismatchKind]
    MISMATCH_KIND_UNCHAINED: _ClassVar[MismatchKind]
MISMATCH_KIND_UNSPECIFIED: MismatchKind
MISMATCH_KIND_HASH: MismatchKind
MISMATCH_KIND_PREVIOUS_HASH: MismatchKind
MISMATCH_KIND_MISSING_POSITION: MismatchKind
MISMATCH_KIND_REORDERED: MismatchKind
MISMATCH_KIND_UNCHAINED: MismatchKind

class VerifyAuditLogRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VerifyAuditLogResponse(_message.Message):
    __slots__ = ("intact", "events_checked", "last_position", "last_hash", "first_mismatch")
    INTACT_FIELD_NUMBER: _ClassVar[int]
    EVENTS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    LAST_POSITION_FIELD_NUMBER: _ClassVar[int]
    LAST_HASH_FIELD_NUMBER: _ClassVar[int]
    FIRST_MISMATCH_FIELD_NUMBER: _ClassVar[int]
    intact: bool
    events_checked: int
    last_position: int
    last_hash: str
    first_mismatch: ChainMismatch
    def __init__(self, intact: _Optional[bool] = ..., events_checked: _Optional[int] = ..., last_position: _Optional[int] = ..., last_hash: _Optional[str] = ..., first_mismatch: _Optional[_Union[ChainMismatch, _Mapping]] = ...) -> None: ...

class ChainMismatch(_message.Message):
    __slots__ = ("kind", "event_id", "position", "stream_id", "stream_version", "expected", "found", "description")
    KIND_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    STREAM_VERSION_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_FIELD_NUMBER: _ClassVar[int]
    FOUND_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    kind: MismatchKind
    event_id: str
    position: int
    stream_id: str
    stream_version: int
    expected: str
    found: str
    description: str
    def __init__(self, kind: _Optional[_Union[MismatchKind, str]] = ..., event_id: _Optional[str] = ..., position: _Optional[int] = ..., stream_id: _Optional[str] = ..., stream_version: _Optional[int] = ..., expected: _Optional[str] = ..., found: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class ExportAuditLogRequest(_message.Message):
    __slots__ = ("model", "team", "start_time", "end_time")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    model: str
    team: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, model: _Optional[str] = ..., team: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ExportAuditLogResponse(_message.Message):
    __slots__ = ("lines",)
    LINES_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, lines: _Optional[_Iterable[str]] = ...) -> None: ...
