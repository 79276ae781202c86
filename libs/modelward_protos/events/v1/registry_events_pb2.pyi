from modelward_protos.registry.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ModelCreated(_message.Message):
    __slots__ = ("model_uid", "model_id", "description", "owner", "team", "risk_tier", "task_type", "tags")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    RISK_TIER_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    model_uid: str
    model_id: str
    description: str
    owner: str
    team: str
    risk_tier: _resources_pb2.RiskTier
    task_type: str
    tags: _containers.ScalarMap[str, str]
    def __init__(self, model_uid: _Optional[str] = ..., model_id: _Optional[str] = ..., description: _Optional[str] = ..., owner: _Optional[str] = ..., team: _Optional[str] = ..., risk_tier: _Optional[_Union[_resources_pb2.RiskTier, str]] = ..., task_type: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ModelUpdated(_message.Message):
    __slots__ = ("model_uid", "update_mask", "description", "owner", "team", "risk_tier", "task_type", "tags")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    RISK_TIER_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    model_uid: str
    update_mask: _containers.RepeatedScalarFieldContainer[str]
    description: str
    owner: str
    team: str
    risk_tier: _resources_pb2.RiskTier
    task_type: str
    tags: _containers.ScalarMap[str, str]
    def __init__(self, model_uid: _Optional[str] = ..., update_mask: _Optional[_Iterable[str]] = ..., description: _Optional[str] = ..., owner: _Optional[str] = ..., team: _Optional[str] = ..., risk_tier: _Optional[_Union[_resources_pb2.RiskTier, str]] = ..., task_type: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ModelRenamed(_message.Message):
    __slots__ = ("model_uid", "old_model_id", "new_model_id")
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    OLD_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    NEW_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    model_uid: str
    old_model_id: str
    new_model_id: str
    def __init__(self, model_uid: _Optional[str] = ..., old_model_id: _Optional[str] = ..., new_model_id: _Optional[str] = ...) -> None: ...

class ModelArchived(_message.Message):
    __slots__ = ("model_uid",)
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    model_uid: str
    def __init__(self, model_uid: _Optional[str] = ...) -> None: ...

class ModelDeleted(_message.Message):
    __slots__ = ("model_uid",)
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    model_uid: str
    def __init__(self, model_uid: _Optional[str] = ...) -> None: ...

class ModelTagsSet(_message.Message):
    __slots__ = ("model_uid", "tags")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    model_uid: str
    tags: _containers.ScalarMap[str, str]
    def __init__(self, model_uid: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ModelTagsDeleted(_message.Message):
    __slots__ = ("model_uid", "keys")
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    model_uid: str
    keys: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, model_uid: _Optional[str] = ..., keys: _Optional[_Iterable[str]] = ...) -> None: ...

class ModelVersionCreated(_message.Message):
    __slots__ = ("model_uid", "model_version")
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    model_uid: str
    model_version: _resources_pb2.ModelVersion
    def __init__(self, model_uid: _Optional[str] = ..., model_version: _Optional[_Union[_resources_pb2.ModelVersion, _Mapping]] = ...) -> None: ...

class ModelVersionUpdated(_message.Message):
    __slots__ = ("model_uid", "version", "update_mask", "model_version")
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    model_uid: str
    version: int
    update_mask: _containers.RepeatedScalarFieldContainer[str]
    model_version: _resources_pb2.ModelVersion
    def __init__(self, model_uid: _Optional[str] = ..., version: _Optional[int] = ..., update_mask: _Optional[_Iterable[str]] = ..., model_version: _Optional[_Union[_resources_pb2.ModelVersion, _Mapping]] = ...) -> None: ...

class ModelVersionTagsSet(_message.Message):
    __slots__ = ("model_uid", "version", "tags")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    model_uid: str
    version: int
    tags: _containers.ScalarMap[str, str]
    def __init__(self, model_uid: _Optional[str] = ..., version: _Optional[int] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ModelVersionTagsDeleted(_message.Message):
    __slots__ = ("model_uid", "version", "keys")
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    model_uid: str
    version: int
    keys: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, model_uid: _Optional[str] = ..., version: _Optional[int] = ..., keys: _Optional[_Iterable[str]] = ...) -> None: ...

class AliasSet(_message.Message):
    __slots__ = ("model_uid", "alias", "version", "previous_version")
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_VERSION_FIELD_NUMBER: _ClassVar[int]
    model_uid: str
    alias: str
    version: int
    previous_version: int
    def __init__(self, model_uid: _Optional[str] = ..., alias: _Optional[str] = ..., version: _Optional[int] = ..., previous_version: _Optional[int] = ...) -> None: ...

class AliasDeleted(_message.Message):
    __slots__ = ("model_uid", "alias", "version")
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    model_uid: str
    alias: str
    version: int
    def __init__(self, model_uid: _Optional[str] = ..., alias: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class StageChanged(_message.Message):
    __slots__ = ("model_uid", "version", "from_stage", "to_stage")
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FROM_STAGE_FIELD_NUMBER: _ClassVar[int]
    TO_STAGE_FIELD_NUMBER: _ClassVar[int]
    model_uid: str
    version: int
    from_stage: _resources_pb2.Stage
    to_stage: _resources_pb2.Stage
    def __init__(self, model_uid: _Optional[str] = ..., version: _Optional[int] = ..., from_stage: _Optional[_Union[_resources_pb2.Stage, str]] = ..., to_stage: _Optional[_Union[_resources_pb2.Stage, str]] = ...) -> None: ...

class PromotionRequested(_message.Message):
    __slots__ = ("model_uid", "version", "target_stage", "requested_by", "archive_existing")
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TARGET_STAGE_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    ARCHIVE_EXISTING_FIELD_NUMBER: _ClassVar[int]
    model_uid: str
    version: int
    target_stage: _resources_pb2.Stage
    requested_by: str
    archive_existing: bool
    def __init__(self, model_uid: _Optional[str] = ..., version: _Optional[int] = ..., target_stage: _Optional[_Union[_resources_pb2.Stage, str]] = ..., requested_by: _Optional[str] = ..., archive_existing: _Optional[bool] = ...) -> None: ...

class PromotionResolved(_message.Message):
    __slots__ = ("model_uid", "version", "target_stage", "approved", "decision_event_id")
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TARGET_STAGE_FIELD_NUMBER: _ClassVar[int]
    APPROVED_FIELD_NUMBER: _ClassVar[int]
    DECISION_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    model_uid: str
    version: int
    target_stage: _resources_pb2.Stage
    approved: bool
    decision_event_id: str
    def __init__(self, model_uid: _Optional[str] = ..., version: _Optional[int] = ..., target_stage: _Optional[_Union[_resources_pb2.Stage, str]] = ..., approved: _Optional[bool] = ..., decision_event_id: _Optional[str] = ...) -> None: ...
