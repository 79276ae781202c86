"""One root error for modelward with a subclass per gRPC status.

Domain and storage code raise these; the gRPC error interceptor is the only place that turns
them into statuses. Every message names the field, the value and the fix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import grpc


class ModelwardError(Exception):
    """Root of every error a modelward service reports to its callers."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str, *, field: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        # Machine-readable cause in UPPER_SNAKE_CASE, sent as google.rpc.ErrorInfo.reason.
        self.reason = reason or type(self).__name__.upper()


class InvalidArgument(ModelwardError):
    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, field: str, value: object, fix: str, *, problem: str = "is invalid") -> None:
        shown = _show(value)
        super().__init__(f"{field} {shown} {problem}: {fix}", field=field, reason="INVALID_ARGUMENT")
        self.value = value
        # Every invalid field this error reports, itself first; sent as BadRequest field violations.
        self.violations: tuple[InvalidArgument, ...] = (self,)


# Field violations one error carries at most. gRPC sends the status details in a header that
# servers and clients cap (16 KiB by default), and each violation contains a whole message.
MAX_FIELD_VIOLATIONS = 20


class FieldViolations:
    """Run independent checks and collect their InvalidArgument errors, so that one error names
    every invalid field of a request instead of only the first."""

    def __init__(self) -> None:
        self.errors: list[InvalidArgument] = []

    def check(self, check: Callable[..., object], *args: Any, **kwargs: Any) -> None:
        try:
            check(*args, **kwargs)
        except InvalidArgument as error:
            self.errors.extend(error.violations)

    def raise_if_any(self) -> None:
        """Raise one InvalidArgument for every collected error. Its message starts with the first
        error's message and then names the other fields."""
        if not self.errors:
            return
        first = self.errors[0]
        if len(self.errors) == 1:
            raise first
        others = [error.field for error in self.errors[1:]]
        combined = InvalidArgument(first.field, first.value, "")
        combined.message = f"{first.message}; also invalid: {sample_of(others)}"
        combined.args = (combined.message,)
        combined.violations = tuple(self.errors[:MAX_FIELD_VIOLATIONS])
        raise combined


class NotFound(ModelwardError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(ModelwardError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(ModelwardError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Aborted(ModelwardError):
    """A concurrent change won: the caller should read again and retry."""

    code = grpc.StatusCode.ABORTED


class PermissionDenied(ModelwardError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(ModelwardError):
    code = grpc.StatusCode.UNAUTHENTICATED


class Unavailable(ModelwardError):
    """A dependency such as the database is unreachable; retrying later may succeed."""

    code = grpc.StatusCode.UNAVAILABLE


class ResourceExhausted(ModelwardError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED

    def __init__(self, message: str, *, field: str = "", reason: str = "", retry_delay: float | None = None) -> None:
        super().__init__(message, field=field, reason=reason)
        # Seconds after which a retry may succeed, sent as google.rpc.RetryInfo.
        self.retry_delay = retry_delay


class DeadlineExceeded(ModelwardError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


def sample_of(items: Iterable[object], limit: int = 5) -> str:
    """Name the first `limit` items and count the rest, so a message stays short.

    gRPC sends the status message in a header that servers and clients cap (16 KiB by
    default), so a message that listed a whole collection could fail as RESOURCE_EXHAUSTED.
    """
    names = [str(item) for item in items]
    if not names:
        return "none"
    text = ", ".join(names[:limit])
    hidden = len(names) - limit
    return f"{text} and {hidden} more" if hidden > 0 else text


def _show(value: object) -> str:
    if isinstance(value, str):
        text = value if len(value) <= 80 else value[:77] + "..."
        return repr(text)
    return repr(value)
