"""Resource names and enum values from the short forms people type."""

from __future__ import annotations

from typing import Any


def model_name(model: str) -> str:
    """Return `models/{model}` for `churn` or `models/churn`."""
    return model if model.startswith("models/") else f"models/{model}"


def version_name(model: str, version: int | str | None = None) -> str:
    """Return `models/{model}/versions/{version}` from a model and number, or a full version name."""
    if version is None:
        if "/versions/" not in model:
            raise ValueError(f"{model!r} names no version: use models/<model>/versions/<n> or pass the number")
        return model_name(model)
    return f"{model_name(model)}/versions/{version}"


def enum_value(enum_type: Any, value: int | str) -> int:
    """Return the number of an enum value given as a number, a full name or a short name.

    For RiskTier, `3`, `RISK_TIER_HIGH`, `high` and `HIGH` all give 3.
    """
    if isinstance(value, int):
        return value
    prefix = enum_prefix(enum_type)
    wanted = value.strip().upper().replace("-", "_")
    for candidate in (wanted, prefix + wanted):
        if candidate in enum_type.keys():
            number: int = enum_type.Value(candidate)
            return number
    raise ValueError(f"{value!r} is not one of {', '.join(enum_choices(enum_type))}")


def enum_label(enum_type: Any, number: int) -> str:
    """Return the short lowercase name of an enum number, such as `high` for RISK_TIER_HIGH."""
    try:
        name: str = enum_type.Name(number)
    except ValueError:
        return str(number)
    return name.removeprefix(enum_prefix(enum_type)).lower()


def enum_choices(enum_type: Any) -> list[str]:
    """Short lowercase names of every value except the zero (unspecified) one."""
    return [enum_label(enum_type, number) for number in enum_type.values() if number != 0]


def enum_prefix(enum_type: Any) -> str:
    zero: str = enum_type.Name(0)
    return zero.removesuffix("UNSPECIFIED")
