from modelward_protos.access.v1 import access_service_pb2 as _access_service_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RoleBindingCreated(_message.Message):
    __slots__ = ("binding_id", "principal", "role", "team", "model_uid")
    BINDING_ID_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    MODEL_UID_FIELD_NUMBER: _ClassVar[int]
    binding_id: str
    principal: str
    role: _access_service_pb2.Role
    team: str
    model_uid: str
    def __init__(self, binding_id: _Optional[str] = ..., principal: _Optional[str] = ..., role: _Optional[_Union[_access_service_pb2.Role, str]] = ..., team: _Optional[str] = ..., model_uid: _Optional[str] = ...) -> None: ...

class RoleBindingDeleted(_message.Message):
    __slots__ = ("binding_id",)
    BINDING_ID_FIELD_NUMBER: _ClassVar[int]
    binding_id: str
    def __init__(self, binding_id: _Optional[str] = ...) -> None: ...

class ApiTokenCreated(_message.Message):
    __slots__ = ("token_uid", "token_id", "principal", "display_name", "secret_sha256", "expire_unix")
    TOKEN_UID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    SECRET_SHA256_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_UNIX_FIELD_NUMBER: _ClassVar[int]
    token_uid: str
    token_id: str
    principal: str
    display_name: str
    secret_sha256: str
    expire_unix: int
    def __init__(self, token_uid: _Optional[str] = ..., token_id: _Optional[str] = ..., principal: _Optional[str] = ..., display_name: _Optional[str] = ..., secret_sha256: _Optional[str] = ..., expire_unix: _Optional[int] = ...) -> None: ...

class ApiTokenRevoked(_message.Message):
    __slots__ = ("token_uid", "token_id")
    TOKEN_UID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    token_uid: str
    token_id: str
    def __init__(self, token_uid: _Optional[str] = ..., token_id: _Optional[str] = ...) -> None: ...
