"""Exceptions raised by the SDK.

Every failed call raises a subclass of `RpcError` chosen by the gRPC status code. It carries the
status code, the server's message and the `google.rpc.Status` details the server attached: the
modelward services send `ErrorInfo` (a machine-readable reason, and the field in its metadata)
and, for INVALID_ARGUMENT, `BadRequest` with one violation naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2, message
from google.rpc import error_details_pb2
from grpc_status import rpc_status


class ModelwardSdkError(Exception):
    """Root of every error the SDK raises."""


class ConfigurationError(ModelwardSdkError):
    """The SDK cannot tell where a service is or how to reach it."""


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class RpcError(ModelwardSdkError):
    """A call failed with a gRPC status other than OK."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        method: str = "",
        details: tuple[message.Message, ...] = (),
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.method = method
        # Unpacked google.rpc details; types the SDK does not know stay packed as Any.
        self.details = details

    @property
    def field_violations(self) -> tuple[FieldViolation, ...]:
        violations: list[FieldViolation] = []
        for detail in self.details:
            if isinstance(detail, error_details_pb2.BadRequest):
                violations.extend(FieldViolation(v.field, v.description) for v in detail.field_violations)
        return tuple(violations)

    @property
    def reason(self) -> str:
        """ErrorInfo.reason, such as `INVALID_ARGUMENT` or `RETRY_FAILED`; empty when absent."""
        info = self._error_info()
        return info.reason if info else ""

    @property
    def field(self) -> str:
        """Request field the error is about, from ErrorInfo or BadRequest; empty when none."""
        info = self._error_info()
        if info and info.metadata.get("field"):
            return info.metadata["field"]
        violations = self.field_violations
        return violations[0].field if violations else ""

    def _error_info(self) -> error_details_pb2.ErrorInfo | None:
        for detail in self.details:
            if isinstance(detail, error_details_pb2.ErrorInfo):
                return detail
        return None


class InvalidArgumentError(RpcError):
    pass


class NotFoundError(RpcError):
    pass


class AlreadyExistsError(RpcError):
    pass


class FailedPreconditionError(RpcError):
    pass


class AbortedError(RpcError):
    """A concurrent change won; read the resource again and retry with the new etag."""


class PermissionDeniedError(RpcError):
    pass


class UnauthenticatedError(RpcError):
    pass


class UnavailableError(RpcError):
    pass


class CancelledCallError(RpcError):
    """The call was cancelled before it finished, by the server (it was shutting down) or the client."""


class DeadlineExceededError(RpcError):
    pass


class ResourceExhaustedError(RpcError):
    pass


_BY_CODE: dict[grpc.StatusCode, type[RpcError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.ABORTED: AbortedError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.CANCELLED: CancelledCallError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
}

_DETAIL_TYPES: tuple[type[message.Message], ...] = (
    error_details_pb2.ErrorInfo,
    error_details_pb2.BadRequest,
    error_details_pb2.PreconditionFailure,
    error_details_pb2.RetryInfo,
    error_details_pb2.ResourceInfo,
    error_details_pb2.QuotaFailure,
    error_details_pb2.DebugInfo,
    error_details_pb2.Help,
    error_details_pb2.LocalizedMessage,
)


def error_class(code: grpc.StatusCode) -> type[RpcError]:
    return _BY_CODE.get(code, RpcError)


def from_grpc_error(error: grpc.RpcError, method: str = "") -> RpcError:
    """Convert a grpc error (sync or aio) into the RpcError subclass for its status code."""
    code: grpc.StatusCode = error.code()  # type: ignore[attr-defined]
    text: str = error.details() or ""  # type: ignore[attr-defined]
    details: tuple[message.Message, ...] = ()
    try:
        status = rpc_status.from_call(error)  # type: ignore[arg-type]
    except ValueError:
        # The trailing status disagrees with the call's code or message: keep the plain status.
        status = None
    if status is not None:
        details = tuple(_unpack(detail) for detail in status.details)
    return error_class(code)(code, text, method=method, details=details)


def _unpack(packed: any_pb2.Any) -> message.Message:
    for detail_type in _DETAIL_TYPES:
        if packed.Is(detail_type.DESCRIPTOR):
            unpacked = detail_type()
            packed.Unpack(unpacked)
            return unpacked
    return packed
