"""Errors raised by the monitoring library.

Every error subclasses ValueError, so callers that only know the standard library can still catch
it. The gRPC layer maps `MonitoringInputError` and `ConfigError` to INVALID_ARGUMENT. Messages
name the column or field, the value and the fix.
"""

from __future__ import annotations


class MonitoringInputError(ValueError):
    """Invalid reference sample, production batch or label set, naming the column at fault."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column


class NonFiniteValueError(MonitoringInputError):
    """A numeric column contains +inf or -inf, which no drift metric can use."""

    def __init__(self, column: str, row: int, value: float) -> None:
        super().__init__(
            column,
            f"column {column!r} contains {value} at row {row}: infinities are rejected; "
            "send a finite value, or None for a missing one",
        )
        self.row = row
        self.value = value


class ColumnTypeError(MonitoringInputError):
    """A column's values have a type the column's kind cannot take."""


class MissingColumnError(MonitoringInputError):
    """A column that the reference profile expects is absent from a batch."""


class UnexpectedColumnError(MonitoringInputError):
    """A batch contains a column that the reference profile does not know."""


class ColumnLengthError(MonitoringInputError):
    """A column's length differs from the other columns or from the request ids."""


class DuplicateRequestIdError(MonitoringInputError):
    """A request id appears twice in one call, or is still waiting for the label of an earlier row.

    `positions` are the rows of the call that carry `request_id`. `earlier` is True when the id
    belongs to a row of an earlier batch that still waits for its label.
    """

    def __init__(self, request_id: object, positions: list[int], *, earlier: bool) -> None:
        if earlier:
            message = (
                f"request id {request_id!r} at row {positions[0]} was already reported in an earlier "
                "batch and still waits for its label: send each row once, with an id unique per version"
            )
        else:
            shown = ", ".join(str(position) for position in positions[:5])
            if len(positions) > 5:
                shown += f" and {len(positions) - 5} more"
            message = (
                f"request id {request_id!r} appears at rows {shown}: "
                "send each id once, so that a label matches exactly one prediction"
            )
        super().__init__("request_ids", message)
        self.request_id = request_id
        self.positions = positions
        self.earlier = earlier


class ProfileFormatError(ValueError):
    """Bytes given to `ReferenceProfile.from_bytes` are not a profile this version can read."""


class ConfigError(ValueError):
    """A monitoring config field has an invalid value."""

    def __init__(self, field: str, value: object, fix: str) -> None:
        super().__init__(f"{field}={value!r} is invalid: {fix}")
        self.field = field
        self.value = value
